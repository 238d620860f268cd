"""The terminal shows names, columns and paths literally: rich markup in data never styles or crashes the CLI."""

from __future__ import annotations

import pandas as pd
from conftest import raw_file
from real_places import write_beijing_scenario
from typer.testing import CliRunner

from coverage_planner.cli import app

runner = CliRunner()


def test_markup_in_names_columns_and_paths_prints_literally(tmp_path):
    folder = tmp_path / "in [red]x[/]"
    toml = write_beijing_scenario(folder, raw_file("beijing_haidian_cau_map.osm"), threshold_min=5)
    demand = pd.read_csv(folder / "demand.csv")
    demand["type"] = ["[bold]住宅[/]", "[/]", "[link=http://x]y[/link]"] * (len(demand) // 3) + ["[b]"] * (
        len(demand) % 3
    )
    demand.to_csv(folder / "demand.csv", index=False)
    toml.write_text(
        toml.read_text(encoding="utf-8").replace('path = "demand.csv"', 'path = "demand.csv"\nkeep_columns = ["[/]"]'),
        encoding="utf-8",
    )
    pd.read_csv(folder / "demand.csv").assign(**{"[/]": "v"}).to_csv(folder / "demand.csv", index=False)
    result = runner.invoke(app, ["run", str(toml), "--out", str(tmp_path / "out [bold]"), "--no-report", "--no-map"])
    assert result.exit_code == 0, result.output
    assert "[bold]住宅[/]" in result.output and "[link=http://x]y[/link]" in result.output
    assert "out [bold]" in result.output.replace("\n", "")


def test_an_error_naming_a_bracketed_file_keeps_the_brackets(tmp_path):
    result = runner.invoke(app, ["run", str(tmp_path / "[missing].toml"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "[missing].toml" in result.output
