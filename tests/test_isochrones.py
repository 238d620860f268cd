"""Walk-time bands: reached stretches checked against NetworkX, places inside their bands, nesting, rings, unions."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from conftest import raw_file
from real_places import beijing_place_frames, write_beijing_scenario

from coverage_planner import compute_coverage, run_scenario, snap_points
from coverage_planner.outputs.isochrones import interval_lines, isochrone_bands, reached_intervals, union_bands

BUFFER_M, SIMPLIFY_M = 25.0, 2.0


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    """Real amenities (sites) and buildings (demand) of the Beijing Haidian extract, 10-minute threshold."""
    toml = write_beijing_scenario(
        tmp_path_factory.mktemp("iso"), raw_file("beijing_haidian_cau_map.osm"), threshold_min=10
    )
    return run_scenario(toml)


@pytest.fixture(scope="module")
def bands(result):
    return isochrone_bands(result, (5, 10), buffer_m=BUFFER_M, simplify_m=SIMPLIFY_M)


def _site_snap(result):
    return snap_points(result.network, np.column_stack([result.sites.geometry.x, result.sites.geometry.y]))


def _networkx_node_metres(network, snap, k, cutoff):
    """Walk metres from site k's snap point to every node, by NetworkX on `network.graph` (OSM node ids)."""
    g = nx.Graph()
    for a, b, length in network.graph.edges(data="length"):
        if a != b and (not g.has_edge(a, b) or g[a][b]["weight"] > length):
            g.add_edge(a, b, weight=length)
    ids = network.node_ids
    e = int(snap.edge[k])
    u, v = int(ids[network.edge_u[e]]), int(ids[network.edge_v[e]])
    g.add_edge("site", u, weight=float(snap.from_u_m[k]))
    to_v = float(snap.to_v_m[k])
    g.add_edge(
        "site", v, weight=min(to_v, g["site"][v]["weight"]) if g.has_edge("site", v) else to_v
    )  # a loop edge: u == v
    found = nx.single_source_dijkstra_path_length(g, "site", cutoff=cutoff, weight="weight")
    return np.array([found.get(int(n), np.inf) for n in ids])


def _expected_spans(network, snap, k, node_m, budget):
    """Per edge, the merged stretches a walk of ``budget`` metres covers, derived from node distances."""
    out = {}
    for e in range(network.n_edges):
        length = float(network.edge_length[e])
        left, right = budget - node_m[network.edge_u[e]], budget - node_m[network.edge_v[e]]
        spans = [(0.0, min(left, length))] if left > 0 else []
        spans += [(max(0.0, length - right), length)] if right > 0 else []
        if e == snap.edge[k]:
            pos = float(snap.from_u_m[k])
            spans.append((max(0.0, pos - budget), min(length, pos + budget)))
        if length == 0 and (left >= 0 or right >= 0):
            spans.append((0.0, 0.0))
        merged = []
        for a, b in sorted(spans):
            if merged and a <= merged[-1][1] + 1e-9:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        if merged:
            out[e] = merged
    return out


@pytest.mark.parametrize("limit_m", [150.0, 400.0, 900.0])
def test_reached_stretches_end_where_networkx_says_the_walk_runs_out(result, limit_m):
    net = result.network
    snap = _site_snap(result)
    got = reached_intervals(net, snap, [limit_m], spent_m=snap.leg_m)
    for k in range(len(snap)):
        budget = limit_m - snap.leg_m[k]  # the access leg is walked first
        expected = _expected_spans(net, snap, k, _networkx_node_metres(net, snap, k, max(budget, 0)), budget)
        mine = got[got["site"] == k].sort_values(["edge", "start_m"])
        assert set(mine["edge"]) == set(expected), f"site {k}: different edges reached"
        for e, rows in mine.groupby("edge"):
            spans = list(zip(rows["start_m"], rows["end_m"]))
            assert np.allclose(spans, expected[e], atol=1e-6), (k, e, spans, expected[e])


def test_some_edges_are_cut_and_cut_pieces_have_the_walked_share_of_the_edge(result):
    net = result.network
    snap = _site_snap(result)
    stretches = reached_intervals(net, snap, [400.0])
    length = net.edge_length[stretches["edge"]]
    cut = stretches[(stretches["start_m"] > 0) | (stretches["end_m"] < length)]
    assert len(cut) > 20  # the frontier of every walk crosses edges
    geod = pyproj.Geod(ellps="WGS84")
    pieces = shapely.transform(
        interval_lines(net, cut), lambda xy: np.column_stack(net.to_wgs84.transform(xy[:, 0], xy[:, 1]))
    )
    whole = net.edges_wgs84[cut["edge"].to_numpy()]
    share = np.array([geod.geometry_length(p) for p in pieces]) / np.array([geod.geometry_length(w) for w in whole])
    walked = (cut["end_m"] - cut["start_m"]).to_numpy() / net.edge_length[cut["edge"].to_numpy()]
    assert np.allclose(share, walked, atol=1e-3)


def test_every_place_within_a_band_lies_inside_its_nearest_sites_band(result, bands):
    net, demand = result.network, result.demand
    snap = snap_points(net, np.column_stack([demand.geometry.x, demand.geometry.y]))
    snapped = shapely.points(*net.to_metric.transform(snap.point_lonlat[:, 0], snap.point_lonlat[:, 1]))
    places = shapely.points(*net.to_metric.transform(demand.geometry.x.to_numpy(), demand.geometry.y.to_numpy()))
    polygons = bands.to_crs(net.crs).set_index(["site_id", "band_min"]).geometry
    checked = 0
    for band in (5.0, 10.0):
        within = np.flatnonzero(demand["walk_m"].to_numpy() <= band * result.metres_per_minute)
        for i in within:
            shape = polygons.loc[(demand["nearest_site_id"].iloc[i], band)]
            # Its street point is in the band (up to the outline simplification) ...
            assert shape.distance(snapped[i]) <= SIMPLIFY_M + 0.01, demand["demand_name"].iloc[i]
            # ... and the place itself no farther out than its own walk to the street, less the buffer.
            assert shape.distance(places[i]) <= max(0.0, snap.leg_m[i] - BUFFER_M) + SIMPLIFY_M + 0.01
            checked += 1
    assert checked > 150


def test_places_far_beyond_a_band_lie_outside_it(result, bands):
    net, demand = result.network, result.demand
    union = union_bands(bands).to_crs(net.crs).set_index("band_min").geometry
    far = demand[(demand["walk_m"] > 2 * 5 * result.metres_per_minute) & ~demand["off_network"]]
    points = shapely.points(*net.to_metric.transform(far.geometry.x.to_numpy(), far.geometry.y.to_numpy()))
    inside = shapely.contains(union.loc[5.0], points)
    assert len(far) >= 20 and not inside.any(), far.loc[inside, "demand_name"].tolist()


def test_bands_follow_streets_and_are_not_convex_hulls(result, bands):
    metric = bands.to_crs(result.network.crs)
    ten = metric[metric["band_min"] == 10].geometry
    assert (ten.area / ten.convex_hull.area).median() < 0.75


def test_larger_bands_contain_smaller_ones(result, bands):
    metric = bands.to_crs(result.network.crs)
    for site_id, frame in metric.groupby("site_id"):
        small, large = frame.sort_values("band_min").geometry.to_numpy()
        assert shapely.area(shapely.difference(small, shapely.buffer(large, SIMPLIFY_M + 0.01))) < 0.01, site_id
        assert large.area > small.area


def test_rings_are_the_differences_of_cumulative_bands(result, bands):
    cumulative = isochrone_bands(result, (5, 10), buffer_m=BUFFER_M, simplify_m=0).to_crs(result.network.crs)
    rings = isochrone_bands(result, (5, 10), buffer_m=BUFFER_M, simplify_m=0, rings=True).to_crs(result.network.crs)
    assert rings["band_from_min"].tolist()[:2] == [0.0, 5.0]
    for (_, ring), (_, full) in zip(rings.groupby("site_id"), cumulative.groupby("site_id")):
        inner, outer = ring.sort_values("band_min").geometry.to_numpy()
        ten = full.sort_values("band_min").geometry.iloc[1]
        # Disjoint but for the shared outline (the WGS-84 round trip moves it by millimetres).
        assert shapely.area(shapely.intersection(inner, outer)) < 1e-4 * ten.area
        assert inner.area + outer.area == pytest.approx(ten.area, rel=1e-4)


def test_union_of_all_sites_covers_every_sites_band(result, bands):
    union = union_bands(bands)
    assert union["band_min"].tolist() == [5.0, 10.0]
    metric_union = union.to_crs(result.network.crs).set_index("band_min").geometry
    for row in bands.to_crs(result.network.crs).itertuples():
        assert shapely.area(shapely.difference(row.geometry, metric_union.loc[row.band_min])) < 1.0


def test_bands_are_wgs84_with_one_row_per_site_and_band(result, bands):
    assert bands.crs.to_epsg() == 4326
    assert list(bands.columns) == ["site_id", "site_name", "band_min", "band_from_min", "geometry"]
    assert len(bands) == 2 * len(result.sites)
    west, south, east, north = result.network.bounds
    x0, y0, x1, y1 = bands.total_bounds
    assert west - 0.01 < x0 and x1 < east + 0.01 and south - 0.01 < y0 and y1 < north + 0.01


def test_a_site_off_the_network_gets_no_band(result):
    sites, demand = beijing_place_frames(raw_file("beijing_haidian_cau_map.osm"))
    west, south, _, _ = result.network.bounds
    # Placeholder site, not a real place: 5 km south-west of the extract, beyond the snap limit.
    far = pd.DataFrame(
        {
            "id": ["placeholder-far"],
            "name": ["placeholder"],
            "lon": [west - 0.05],
            "lat": [south - 0.03],
            "type": ["placeholder"],
        }
    )
    frame = pd.concat([sites.head(3), far], ignore_index=True)

    def to_gdf(t):
        return gpd.GeoDataFrame(t, geometry=gpd.points_from_xy(t["lon"], t["lat"]), crs=4326)

    run = compute_coverage(
        result.network,
        to_gdf(frame).assign(status=["real"] * 3 + ["placeholder"]),
        to_gdf(demand.head(20)),
        threshold_min=5,
    )
    assert run.sites["snap_edge"].iloc[3] == -1
    got = isochrone_bands(run, (5,))
    assert got["site_id"].tolist() == frame["id"].head(3).tolist()


def test_the_printed_maps_merged_stretches_cover_exactly_what_the_sites_reach(result):
    from coverage_planner.outputs.static_map import merged_stretches

    net = result.network
    snap = _site_snap(result)
    stretches = reached_intervals(net, snap, [250.0, 500.0, 750.0], spent_m=snap.leg_m)
    merged = merged_stretches(stretches)
    # Brute force: per limit and edge, sort the sites' stretches and merge overlapping or touching ones.
    expected = []
    for (limit, edge), group in stretches.groupby(["limit_m", "edge"], sort=True):
        pieces = sorted(zip(group["start_m"], group["end_m"]))
        runs = [list(pieces[0])]
        for a, b in pieces[1:]:
            if a <= runs[-1][1]:
                runs[-1][1] = max(runs[-1][1], b)
            else:
                runs.append([a, b])
        expected += [(limit, edge, a, b) for a, b in runs]
    got = list(merged[["limit_m", "edge", "start_m", "end_m"]].itertuples(index=False, name=None))
    assert len(got) == len(expected) and len(got) < len(stretches)  # real overlaps between sites, merged
    assert np.allclose(np.array(got, dtype=float), np.array(expected, dtype=float), rtol=0, atol=1e-6)
    assert merged_stretches(stretches.iloc[:0]).empty


def _substring_pieces(net, intervals):
    """Independent: shapely's substring of each edge's metric line, one row at a time (a Point for no length)."""
    from shapely.ops import substring

    out = []
    for e, a, b in zip(intervals["edge"], intervals["start_m"], intervals["end_m"]):
        line, n = net.edges_metric[e], net.edge_length[e]
        piece = line if a <= 0 and b >= n else substring(line, a / n, b / n, normalized=True)
        out.append(shapely.get_coordinates(piece))
    return out


def test_interval_pieces_are_shapelys_substrings_of_the_edges(result):
    from coverage_planner.outputs.isochrones import interval_coordinates

    net = result.network
    intervals = reached_intervals(net, _site_snap(result), [250.0, 500.0, 750.0])
    rng = np.random.default_rng(3)
    edges = rng.choice(len(net.edge_length), 300, replace=False)
    n = net.edge_length[edges]
    # Edge cases beside the real stretches: whole edges, from the start, to the end, no length, cut at a vertex.
    at_vertex = []
    offsets = net.coord_offsets
    for e in edges[:40]:
        xy = net.metric_coords[offsets[e] : offsets[e + 1]]
        if len(xy) > 2:
            metric = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
            at_vertex.append((e, metric[1] / metric[-1] * net.edge_length[e], net.edge_length[e]))
            at_vertex.append((e, 0.0, metric[-2] / metric[-1] * net.edge_length[e]))
    made = pd.DataFrame(
        {
            "edge": np.concatenate([edges, edges, edges, edges[:50]]),
            "start_m": np.concatenate([np.zeros(300), np.zeros(300), n * 0.3, n[:50] * 0.5]),
            "end_m": np.concatenate([n, n * 0.6, n, n[:50] * 0.5]),
        }
    )
    vertex_cuts = pd.DataFrame(at_vertex, columns=["edge", "start_m", "end_m"])
    assert len(vertex_cuts) > 5
    cases = pd.concat([intervals[["edge", "start_m", "end_m"]], made, vertex_cuts], ignore_index=True)
    got = interval_coordinates(net, cases)
    expected = _substring_pieces(net, cases)
    assert len(got) == len(expected) == len(cases)
    ties = 0
    for i, (g, x) in enumerate(zip(got, expected)):
        if g.shape != x.shape:  # a cut exactly at a vertex: substring may also keep the vertex, a repeated point
            x = _without_repeats(x)
            ties += 1
        assert g.shape == x.shape, (i, cases.iloc[i].to_dict(), g, x)
        assert np.allclose(g, x, rtol=0, atol=1e-6), (i, cases.iloc[i].to_dict())
    assert ties <= len(vertex_cuts)
    lines = interval_lines(net, cases)
    assert all(isinstance(g, shapely.Point) for g in lines[len(intervals) + 900 : len(intervals) + 950])
    assert shapely.get_num_coordinates(lines).sum() == sum(len(x) for x in got)
    assert interval_coordinates(net, cases.iloc[:0]) == []


def _without_repeats(xy: np.ndarray) -> np.ndarray:
    keep = np.concatenate([[True], np.hypot(*np.diff(xy, axis=0).T) > 1e-6])
    return xy[keep]


def test_the_union_of_bands_is_kept_on_disk_and_read_back_exactly(result, bands, tmp_path, monkeypatch):
    from coverage_planner._errors import CacheWarning
    from coverage_planner.outputs import isochrones

    isochrones.clear_band_cache()
    built = union_bands(bands, cache_dir=tmp_path)
    (stored,) = (tmp_path / "bands").glob("union-*.cparr")
    isochrones.clear_band_cache()  # not from memory: from the file
    monkeypatch.setattr(isochrones.shapely, "union_all", lambda *a, **k: pytest.fail("united again"))
    again = union_bands(bands, cache_dir=tmp_path)
    monkeypatch.undo()
    assert again.crs == built.crs and list(again.columns) == list(built.columns)
    assert again[["band_min", "band_from_min"]].equals(built[["band_min", "band_from_min"]])
    assert list(shapely.to_wkb(again.geometry.to_numpy())) == list(shapely.to_wkb(built.geometry.to_numpy()))
    # Other bands: another entry, never this one.
    fewer = union_bands(bands[bands["band_min"] == 5.0], cache_dir=tmp_path)
    assert len(list((tmp_path / "bands").glob("union-*.cparr"))) == 2 and len(fewer) == 1
    # A damaged file is said so and the union built again, equal to the first.
    stored.write_bytes(stored.read_bytes()[:-40])
    isochrones.clear_band_cache()
    with pytest.warns(CacheWarning, match="union is built again"):
        rebuilt = union_bands(bands, cache_dir=tmp_path)
    assert list(shapely.to_wkb(rebuilt.geometry.to_numpy())) == list(shapely.to_wkb(built.geometry.to_numpy()))
