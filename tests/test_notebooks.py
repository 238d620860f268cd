"""The notebooks run top to bottom, offline, with the public API; a failing cell fails the test."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_is_a_walkthrough_notebook():
    assert any(p.name.startswith("01-") for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom(path, tmp_path):
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    errors = [
        o
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_uses_only_the_public_api(path):
    source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    assert "coverage._" not in source and "from coverage._" not in source


def test_the_notebooks_are_what_the_generator_writes():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_notebooks", NOTEBOOKS[0].parents[1] / "tools" / "make_notebooks.py"
    )
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert sorted(generator.NOTEBOOKS) == [p.name for p in NOTEBOOKS]
    for path in NOTEBOOKS:
        cells = nbformat.read(path, as_version=4).cells
        assert [c.source for c in cells] == [c.source for c in generator.NOTEBOOKS[path.name]], path.name


def test_the_ledger_notebook_is_in_chinese_and_says_its_data_is_a_stand_in():
    (path,) = [p for p in NOTEBOOKS if p.name.startswith("03-")]
    cells = nbformat.read(path, as_version=4).cells
    text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    chinese = sum("\u4e00" <= ch <= "\u9fff" for ch in text)
    assert chinese > 0.3 * sum(ch.isalpha() for ch in text)
    assert "替身" in cells[0].source and "北京" in cells[0].source and "不是呼和浩特" in cells[0].source
    assert "wgs84_to_gcj02" in code and "'gcj02'" in code and "by_site()" in code and "write_ledger" in code


def test_the_service_planning_notebook_is_in_chinese_and_shows_every_planning_step():
    (path,) = [p for p in NOTEBOOKS if p.name.startswith("04-")]
    cells = nbformat.read(path, as_version=4).cells
    text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    chinese = sum("\u4e00" <= ch <= "\u9fff" for ch in text)
    assert chinese > 0.3 * sum(ch.isalpha() for ch in text)
    assert "替身" in cells[0].source and "不是呼和浩特" in cells[0].source and "假设值" in cells[0].source
    for call in ("allocate_capacity", "spread_volunteers", "two_stage_fca", "equity_summary", "plan_circuits"):
        assert f"cp.{call}(" in code, call
    assert "cp.plan_clinics(" in code and "service=plan.tables()" in code
