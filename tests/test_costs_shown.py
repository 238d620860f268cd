"""Where a profile's costs show: the result's summary, the report, the map title and the walk-time bands (Monaco)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from cost_reference import frame, places_near_edges, reference_costs

import coverage_planner as cp
from coverage_planner.access.snapping import snap_points
from coverage_planner.network.graph import WalkNetwork
from coverage_planner.outputs.isochrones import isochrone_bands, reached_intervals
from coverage_planner.outputs.maps import map_heading
from coverage_planner.outputs.report import cost_paragraph, write_report
from coverage_planner.profiles import PROFILES

ELDERLY = PROFILES["elderly"]
THRESHOLD_MIN = 6.0


@pytest.fixture(scope="module")
def places(monaco):
    rng = np.random.default_rng(11)
    sites = frame(places_near_edges(monaco, 5, rng), "s")
    demand = frame(places_near_edges(monaco, 400, rng), "d")
    return sites, demand


@pytest.fixture(scope="module")
def elderly(monaco, places):
    sites, demand = places
    return cp.compute_coverage(monaco, sites, demand, profile="elderly", threshold_min=THRESHOLD_MIN, progress=False)


@pytest.fixture(scope="module")
def driving():
    from conftest import raw_file

    network = WalkNetwork.from_osm_file(raw_file("monaco.osm.pbf"), mode="drive")
    rng = np.random.default_rng(5)
    sites, demand = frame(places_near_edges(network, 3, rng), "s"), frame(places_near_edges(network, 150, rng), "d")
    return cp.compute_coverage(network, sites, demand, profile="drive", threshold_min=2, progress=False)


# ------------------------------------------------------------------ the result says what it ran on


def test_left_out_is_ordered_by_minutes_from_cost_not_by_metres(elderly):
    left = elderly.left_out()
    reached = left[left["walk_min"].notna()]
    minutes = reached["walk_min"].to_numpy()
    assert len(reached) > 20
    assert np.all(np.diff(minutes) <= 0)
    # The costs reorder places: metres alone would put them differently.
    assert not np.all(np.diff(reached["walk_m"].to_numpy()) <= 0)
    assert left["walk_min"].isna().sum() == 0 or left["walk_min"].iloc[-1:].isna().all()


def test_summary_says_drive_and_minutes_for_the_drive_profile(driving, elderly):
    text = repr(driving)
    assert "2 min drive" in text and "walk" not in text and " m at " not in text
    assert dict(driving._overview())["rule"].startswith("2 min drive")
    assert "6 min walk" in repr(elderly) and "with costs" in repr(elderly) and "elderly" in repr(elderly)


# ------------------------------------------------------------------ report and map name the profile and its costs


def test_cost_paragraph_names_every_cost_and_what_was_found(elderly, monaco, places):
    found = elderly.cost_model["found"]
    en = cost_paragraph(elderly.cost_model, "en")
    assert "steps ×2.5" in en and "main-road crossing wait 60 s" in en and "40 s at signals" in en
    assert "unpaved ×1.25" in en
    assert f"{found['steps_edges']:,} steps edges, {found['steps_m'] / 1000:.1f} km" in en
    assert f"{found['crossing_nodes']:,} main-road crossings without signals" in en
    zh = cost_paragraph(elderly.cost_model, "zh")
    assert "台阶 ×2.5" in zh and "60 秒" in zh and "40 秒" in zh and f"台阶 {found['steps_edges']:,} 段" in zh
    sites, demand = places
    frail = cp.compute_coverage(monaco, sites, demand, profile="frail", threshold_min=5, progress=False)
    steps = np.asarray(monaco.edge_highway, dtype=object) == "steps"
    expected = f"{int(steps.sum()):,} steps edges, {monaco.edge_length[steps].sum() / 1000:.1f} km, excluded"
    assert expected in cost_paragraph(frail.cost_model, "en")
    plain = cp.compute_coverage(monaco, sites, demand, threshold_min=5, progress=False)
    assert "no extra costs" in cost_paragraph(plain.cost_model, "en")


def test_report_shows_the_costs_and_why_places_are_far(elderly, tmp_path):
    write_report(elderly, tmp_path, lang="en", pdf=False)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "Profile and costs" in md and "steps ×2.5" in md
    header = next(line for line in md.splitlines() if "flights of steps" in line)
    assert "main-road crossings" in header and "extra minutes from costs" in header
    # Each row of the left-out table carries the place's own extra minutes.
    cells = [c.strip() for c in header.strip("|").split("|")]
    col = cells.index("extra minutes from costs")
    rows = md.splitlines()[md.splitlines().index(header) + 2 :]
    shown = []
    for line in rows:
        if not line.startswith("|"):
            break
        shown.append([c.strip() for c in line.strip("|").split("|")][col])
    left = elderly.left_out()
    possible = {f"{m:.1f}".replace("-0.0", "0.0") for m in left["cost_extra_min"].dropna()}
    assert shown and {x for x in shown if x} <= possible
    assert any(float(x) > 0 for x in shown if x)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Profile and costs" in html and "flights of steps" in html
    write_report(elderly, tmp_path / "zh", lang="zh", pdf=False)
    zh = (tmp_path / "zh" / "report.md").read_text(encoding="utf-8")
    assert "出行方式与成本" in zh and "台阶段数" in zh and "台阶与主干道过街计时" in zh
    # In the workbook the steps, crossings and extra minutes are numbers a planner can sort and sum.
    from openpyxl import load_workbook

    sheet = load_workbook(tmp_path / "zh" / "tables.xlsx")["left_out"]
    head = [c.value for c in sheet[1]]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    for column in ("台阶段数", "主干道过街", "成本增加分钟"):
        values = [r[head.index(column)] for r in rows if r[head.index(column)] is not None]
        assert values and all(isinstance(v, int | float) for v in values), column


def test_map_heading_names_the_profile(elderly, driving, monaco, places):
    assert map_heading(elderly, "zh") == "步行 6 分钟覆盖 · 老年人步速 3.6 公里/小时，台阶与主干道过街计时"
    assert "older pedestrians walking at 3.6 km/h, steps and main-road crossings timed" in map_heading(elderly, "en")
    assert map_heading(driving, "en").startswith("2-minute driving coverage")
    assert "km/h" not in map_heading(driving, "zh") and "驾车" in map_heading(driving, "zh")
    sites, demand = places
    plain = cp.compute_coverage(monaco, sites, demand, threshold_min=5, progress=False)
    assert "计时" not in map_heading(plain, "zh")


# ------------------------------------------------------------------ bands follow cost


def _in_intervals(intervals, site, edges, positions, tol=0.0):
    """Whether each (edge, position) lies in some reached stretch of ``site``."""
    part = intervals[intervals["site"] == site]
    out = np.zeros(len(edges), dtype=bool)
    for e, group in part.groupby("edge"):
        at = edges == e
        if at.any():
            a = positions[at][:, None]
            inside = (group["start_m"].to_numpy() - tol <= a) & (a <= group["end_m"].to_numpy() + tol)
            out[at] = inside.any(axis=1)
    return out


def test_elderly_band_stretches_are_those_networkx_reaches_on_the_same_costs(monaco):
    view = monaco.for_profile(ELDERLY)
    rng = np.random.default_rng(21)
    site_snap = snap_points(view, places_near_edges(view, 4, rng), max_snap_m=np.inf)
    # Points on the streets themselves: the band holds exactly the stretch a walk reaches.
    demand_snap = snap_points(view, places_near_edges(view, 1500, rng, jitter_m=0.0), max_snap_m=np.inf)
    limit = THRESHOLD_MIN * ELDERLY.metres_per_minute
    ref, _, _, _ = reference_costs(view, ELDERLY, site_snap, demand_snap, include_access_legs=True)
    ref = ref - demand_snap.leg_m[None, :]  # the band is the street reached; the places' own legs are ~0 here
    intervals = reached_intervals(view, site_snap, [limit], spent_m=site_snap.leg_m)
    plain = reached_intervals(monaco, site_snap, [limit], spent_m=site_snap.leg_m)
    checked = disagree_plain = 0
    for i in range(len(site_snap)):
        got = _in_intervals(intervals, i, demand_snap.edge, demand_snap.from_u_m)
        expected = ref[i] <= limit
        clear = np.abs(ref[i] - limit) > 0.5  # away from the cut, where rounding decides
        assert np.array_equal(got[clear], expected[clear]), f"site {i}"
        checked += int(expected[clear].sum())
        disagree_plain += int((_in_intervals(plain, i, demand_snap.edge, demand_snap.from_u_m) != expected).sum())
    assert checked > 50
    assert disagree_plain > 0  # metres alone would draw a different band: the costs matter here


def test_places_the_kernel_covers_lie_in_their_sites_band(elderly):
    bands = isochrone_bands(elderly, [THRESHOLD_MIN], simplify_m=0.0, buffer_m=5.0)
    demand = elderly.demand.reset_index(drop=True)
    by_site = dict(zip(bands["site_id"], bands.geometry))
    covered = demand[demand["covered"] & (demand["snap_m"] < 4.0)]
    assert len(covered) > 10
    metric = bands.estimate_utm_crs()
    for _, row in covered.iterrows():
        band = by_site[row["nearest_site_id"]]
        point = shapely.Point(row.geometry.x, row.geometry.y)
        pair = gpd.GeoSeries([band, point], crs=4326).to_crs(metric)
        distance = pair.iloc[0].distance(pair.iloc[1])
        assert distance < 1.0, row["demand_id"]


# ------------------------------------------------------------------ circuits travel on the costs


@pytest.mark.parametrize("direction", ["from_sites", "to_sites"])
def test_drive_circuit_leg_times_equal_networkx_on_the_directed_graph(direction):
    from conftest import raw_file
    from cost_reference import reference_costs

    from coverage_planner.plan.circuits import plan_circuits

    network = WalkNetwork.from_osm_file(raw_file("monaco.osm.pbf"), mode="drive")
    profile = PROFILES["drive"].with_costs(direction=direction)
    rng = np.random.default_rng(8)
    sites, demand = frame(places_near_edges(network, 2, rng), "s"), frame(places_near_edges(network, 60, rng), "d")
    result = cp.compute_coverage(network, sites, demand, profile=profile, threshold_min=1, progress=False)
    places = result.demand["demand_id"].iloc[:25].tolist()
    plan = plan_circuits(result, places=places, budget_min=40, stay_min=2, time_limit_s=1)
    assert len(plan.legs) > 5
    stop_ids = result.sites["id"].astype(str).tolist() + result.demand["demand_id"].astype(str).tolist()
    snap = cp.Snap.concat([result.site_snap, result.demand_snap])
    # Driven stop to stop, always along the streets' own directions, whichever way coverage was searched.
    forward = PROFILES["drive"].with_costs(direction="from_sites")
    ref, _, _, _ = reference_costs(network, forward, snap, snap, include_access_legs=result.matrix.include_access_legs)
    at = {s: k for k, s in enumerate(stop_ids)}
    mpm = result.metres_per_minute
    one_way_differs = 0
    for leg in plan.legs.itertuples():
        a, b = at[leg.from_id], at[leg.to_id]
        assert leg.minutes == pytest.approx(ref[a, b] / mpm, abs=1e-6)
        one_way_differs += abs(ref[a, b] - ref[b, a]) > 1.0
    assert one_way_differs > 0  # one-way streets make some legs differ from the way back
    # Lines follow the roads: every inner vertex lies on a drivable edge.
    edges = shapely.STRtree(network.edges_metric)
    for line in plan.legs.to_crs(network.crs).geometry:
        inner = shapely.points(shapely.get_coordinates(line)[1:-1])
        if len(inner):
            _, dist = edges.query_nearest(inner, return_distance=True, all_matches=False)
            assert dist.max() < 0.5


def test_walk_routes_on_costs_follow_the_chosen_route_and_give_its_real_metres(elderly):
    from coverage_planner.outputs.isochrones import walk_routes

    routes = walk_routes(elderly)
    assert len(routes) > 10
    # walk_m is the chosen (cheapest) route's real length: the drawn route is that route.
    assert np.allclose(routes["route_m"], routes["walk_m"], atol=0.06)
    demand = elderly.demand.reset_index(drop=True)
    extra = demand["cost_extra_min"].to_numpy(float)[routes["place"].to_numpy()]
    assert (extra > 0.5).sum() > 0  # some of these routes are costed, not plain metres
