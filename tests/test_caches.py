"""Parsed networks and per-site walk rows are cached, never served stale."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from conftest import raw_file
from test_access import points_near_edges

from coverage_planner import snap_points
from coverage_planner._errors import CacheWarning
from coverage_planner.access.matrix import AccessMatrix
from coverage_planner.access.matrix_cache import cached_access_matrix
from coverage_planner.network.cache import cached_osm_network


def test_second_load_comes_from_the_cache_and_is_identical(tmp_path):
    path = raw_file("liechtenstein-2013-08-03.osm.pbf")
    first, hit1 = cached_osm_network(path, tmp_path)
    second, hit2 = cached_osm_network(path, tmp_path)
    assert (hit1, hit2) == (False, True)
    assert np.array_equal(first.node_ids, second.node_ids) and np.array_equal(first.edge_length, second.edge_length)
    assert list(first.edge_name) == list(second.edge_name) and list(first.edge_highway) == list(second.edge_highway)
    assert first.source == second.source
    assert all(np.array_equal(a, b) for a, b in zip(first.edge_coords, second.edge_coords))


def test_a_changed_osm_file_is_parsed_again(tmp_path):
    copy = tmp_path / "area.osm"
    shutil.copy(raw_file("beijing_haidian_cau_map.osm"), copy)
    before, _ = cached_osm_network(copy, tmp_path / "cache")
    text = copy.read_text(encoding="utf-8")
    # Drop one highway way: the cached network must not be served for the edited file.
    start = text.index("<way ")
    way_end = text.index("</way>", start) + len("</way>")
    while 'k="highway"' not in text[start:way_end]:
        start = text.index("<way ", way_end)
        way_end = text.index("</way>", start) + len("</way>")
    copy.write_text(text[:start] + text[way_end:], encoding="utf-8")
    after, hit = cached_osm_network(copy, tmp_path / "cache")
    assert not hit
    assert after.source.sha256 != before.source.sha256


def test_an_unreadable_network_cache_is_rebuilt(tmp_path):
    path = raw_file("beijing_haidian_cau_map.osm")
    cached_osm_network(path, tmp_path)
    for damaged in (tmp_path / "networks").glob("*.arrays"):
        damaged.write_bytes(b"garbage")
    network, hit = cached_osm_network(path, tmp_path)
    assert not hit and network.n_edges > 0


@pytest.fixture()
def places(monaco):
    rng = np.random.default_rng(21)
    site_xy = points_near_edges(monaco, 11, rng)
    return snap_points(monaco, site_xy), snap_points(monaco, points_near_edges(monaco, 300, rng)), site_xy


def test_adding_a_site_walks_only_from_the_new_site(monaco, places, tmp_path):
    sites, demand, site_xy = places
    ten = sites.take(np.arange(10))
    _, first = cached_access_matrix(monaco, ten, demand, 1500.0, tmp_path)
    matrix, second = cached_access_matrix(monaco, sites, demand, 1500.0, tmp_path)
    assert first["sites_computed"] == 10
    assert (second["sites_computed"], second["sites_reused"]) == (1, 10)
    full = AccessMatrix.compute(monaco, sites, demand, 1500.0)
    assert np.array_equal(matrix.rows, full.rows) and np.array_equal(matrix.cols, full.cols)
    assert np.array_equal(matrix.metres, full.metres)


def test_moving_a_site_computes_its_row_again(monaco, places, tmp_path):
    sites, demand, site_xy = places
    cached_access_matrix(monaco, sites, demand, 1500.0, tmp_path)
    moved_xy = site_xy.copy()
    moved_xy[3] += [0.002, 0.001]  # about 200 m away
    _, stats = cached_access_matrix(monaco, snap_points(monaco, moved_xy), demand, 1500.0, tmp_path)
    assert (stats["sites_computed"], stats["sites_reused"]) == (1, 10)


def test_unreadable_matrix_cache_is_rebuilt_and_said_so(monaco, places, tmp_path):
    sites, demand, site_xy = places
    cached_access_matrix(monaco, sites, demand, 1500.0, tmp_path)
    for damaged in (tmp_path / "matrices").glob("*.arrays"):
        damaged.write_bytes(b"not a zip file")
    matrix, stats = cached_access_matrix(monaco, sites, demand, 1500.0, tmp_path)
    assert stats["rebuilt"] and stats["sites_computed"] == len(sites)
    assert matrix.nnz == AccessMatrix.compute(monaco, sites, demand, 1500.0).nnz


def test_a_different_cutoff_never_reuses_rows(monaco, places, tmp_path):
    sites, demand, site_xy = places
    cached_access_matrix(monaco, sites, demand, 1500.0, tmp_path)
    _, stats = cached_access_matrix(monaco, sites, demand, 900.0, tmp_path)
    assert stats["sites_reused"] == 0


def test_run_says_when_it_rebuilt_an_unreadable_cache(tmp_path):
    from real_places import write_beijing_scenario
    from typer.testing import CliRunner

    from coverage_planner.cli import app

    toml = write_beijing_scenario(tmp_path / "in", raw_file("beijing_haidian_cau_map.osm"))
    toml.write_text(
        toml.read_text(encoding="utf-8").replace("[sites]", 'cache_dir = "cache"\n\n[sites]'), encoding="utf-8"
    )
    runner = CliRunner()
    assert runner.invoke(app, ["run", str(toml), "--out", str(tmp_path / "a"), "-q", "--no-report"]).exit_code == 0
    for damaged in (toml.parent / "cache" / "matrices").glob("*.arrays"):
        damaged.write_bytes(b"damaged")
    result = runner.invoke(app, ["run", str(toml), "--out", str(tmp_path / "b"), "-q", "--no-report"])
    assert result.exit_code == 0 and "rebuilt" in result.output
    assert (tmp_path / "a" / "coverage.csv").read_bytes() == (tmp_path / "b" / "coverage.csv").read_bytes()


def test_snaps_are_cached_per_place_and_equal_fresh_ones(liechtenstein, tmp_path):
    from coverage_planner.access.snap_cache import cached_snap_points

    rng = np.random.default_rng(8)
    lon0, lat0, lon1, lat1 = liechtenstein.bounds
    xy = np.column_stack([rng.uniform(lon0, lon1, 300), rng.uniform(lat0, lat1, 300)])
    first, snapped = cached_snap_points(liechtenstein, xy[:200], max_snap_m=250, cache_dir=tmp_path)
    assert snapped == 200
    # Old places come from the cache, new ones (and a repeated one) are snapped once.
    mixed = np.concatenate([xy[150:300], xy[:5], xy[250:251]])
    again, snapped = cached_snap_points(liechtenstein, mixed, max_snap_m=250, cache_dir=tmp_path)
    assert snapped == 100
    direct = snap_points(liechtenstein, mixed, max_snap_m=250)
    for field in ("edge", "from_u_m", "to_v_m", "leg_m", "component", "point_lonlat"):
        np.testing.assert_array_equal(getattr(again, field), getattr(direct, field), err_msg=field)
    # Another snap limit is another cache; a damaged file is only a slower run.
    assert cached_snap_points(liechtenstein, xy[:10], max_snap_m=100, cache_dir=tmp_path)[1] == 10
    for damaged in (tmp_path / "snaps").glob("*.arrays"):
        damaged.write_bytes(b"not a zip")
    redone, snapped = cached_snap_points(liechtenstein, xy[:200], max_snap_m=250, cache_dir=tmp_path)
    assert snapped == 200
    np.testing.assert_array_equal(redone.edge, first.edge)


def _flip_a_data_byte_keeping_size_and_mtime(path):
    """Damage a cache file as a disk or a careless copy might: same size, and the old modification time put back."""
    stat = path.stat()
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2 + 7] ^= 0x20
    path.write_bytes(bytes(raw))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_snaps_kept_in_memory_never_win_over_a_changed_file(liechtenstein, tmp_path):
    import warnings

    from coverage_planner.access.snap_cache import cached_snap_points

    rng = np.random.default_rng(9)
    lon0, lat0, lon1, lat1 = liechtenstein.bounds
    xy = np.column_stack([rng.uniform(lon0, lon1, 120), rng.uniform(lat0, lat1, 120)])
    direct = snap_points(liechtenstein, xy[:60], max_snap_m=250)
    assert cached_snap_points(liechtenstein, xy[:60], max_snap_m=250, cache_dir=tmp_path / "a")[1] == 60
    assert cached_snap_points(liechtenstein, xy[60:], max_snap_m=250, cache_dir=tmp_path / "b")[1] == 60
    again, snapped = cached_snap_points(liechtenstein, xy[:60], max_snap_m=250, cache_dir=tmp_path / "a")
    assert snapped == 0  # served from what this process wrote
    again.edge[:] = -7  # the caller's copy: what is kept stays as it was
    assert np.array_equal(
        cached_snap_points(liechtenstein, xy[:60], max_snap_m=250, cache_dir=tmp_path / "a")[0].edge, direct.edge
    )
    # A valid file of other places copied over the entry: the file on disk is what counts.
    (entry_a,) = (tmp_path / "a" / "snaps").glob("*.arrays")
    (entry_b,) = (tmp_path / "b" / "snaps").glob("*.arrays")
    shutil.copyfile(entry_b, entry_a)
    from_disk, snapped = cached_snap_points(liechtenstein, xy[:60], max_snap_m=250, cache_dir=tmp_path / "a")
    assert snapped == 60
    # Damaged in place with the size and the modification time kept: still read, refused and redone.
    _flip_a_data_byte_keeping_size_and_mtime(entry_a)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        redone, snapped = cached_snap_points(liechtenstein, xy[:60], max_snap_m=250, cache_dir=tmp_path / "a")
    assert snapped == 60 and any(issubclass(w.category, CacheWarning) for w in caught)
    for snap in (from_disk, redone):
        for field in ("edge", "from_u_m", "to_v_m", "leg_m", "component", "point_lonlat"):
            np.testing.assert_array_equal(getattr(snap, field), getattr(direct, field), err_msg=field)


def test_walk_rows_kept_in_memory_never_win_over_a_changed_file(monaco, places, tmp_path):
    sites, demand, site_xy = places
    full = AccessMatrix.compute(monaco, sites, demand, 1500.0)
    cached_access_matrix(monaco, sites.take(np.arange(4)), demand, 1500.0, tmp_path / "a")
    cached_access_matrix(monaco, sites.take(np.arange(4, len(sites))), demand, 1500.0, tmp_path / "b")
    matrix, stats = cached_access_matrix(monaco, sites.take(np.arange(4)), demand, 1500.0, tmp_path / "a")
    assert stats["sites_computed"] == 0  # served from what this process wrote
    matrix.metres[:] = 0.0  # the caller's copy: what is kept stays as it was
    (entry_a,) = (tmp_path / "a" / "matrices").glob("*.arrays")
    (entry_b,) = (tmp_path / "b" / "matrices").glob("*.arrays")
    shutil.copyfile(entry_b, entry_a)  # a valid file holding the other sites' rows
    matrix, stats = cached_access_matrix(monaco, sites, demand, 1500.0, tmp_path / "a")
    assert (stats["sites_computed"], stats["sites_reused"]) == (4, len(sites) - 4)
    for got in (matrix, cached_access_matrix(monaco, sites, demand, 1500.0, tmp_path / "a")[0]):
        assert np.array_equal(got.rows, full.rows) and np.array_equal(got.cols, full.cols)
        assert np.array_equal(got.metres, full.metres)
    _flip_a_data_byte_keeping_size_and_mtime(entry_a)
    with pytest.warns(CacheWarning, match="failed verification"):
        matrix, stats = cached_access_matrix(monaco, sites, demand, 1500.0, tmp_path / "a")
    assert stats["rebuilt"] and stats["sites_computed"] == len(sites)
    assert np.array_equal(matrix.metres, full.metres) and np.array_equal(matrix.cols, full.cols)


def test_array_files_round_trip_and_refuse_damage(tmp_path):
    from coverage_planner._cache.arrays import read_arrays, write_arrays

    arrays = {
        "ints": np.arange(7, dtype=np.int32),
        "xy": np.random.default_rng(1).random((5, 2)),
        "names": np.array(["阳光社区", "", "富丽小区"]),
        "empty": np.zeros(0),
        "scalar": np.array(4326),
    }
    path = write_arrays(tmp_path / "a.arrays", arrays, {"version": 3})
    meta, back = read_arrays(path)
    assert meta == {"version": 3} and list(back) == list(arrays)
    for name, array in arrays.items():
        np.testing.assert_array_equal(back[name], array)
        assert back[name].dtype == array.dtype and back[name].flags.writeable
    with pytest.raises(TypeError):
        write_arrays(tmp_path / "b.arrays", {"objects": np.array([None, "x"], dtype=object)})
    path.write_bytes(path.read_bytes()[:-100])  # truncated
    with pytest.raises(ValueError):
        read_arrays(path)


def test_place_files_come_back_from_the_cache_exactly(tmp_path):
    """Real building outlines (polygons, with blanks in text and number columns) through the places cache."""
    import geopandas as gpd
    import osmium
    import shapely

    from coverage_planner.places.cache import cached_read_places
    from coverage_planner.places.reading import read_places

    rows = []
    for way in osmium.FileProcessor(str(raw_file("beijing_haidian_cau_map.osm"))).with_locations():
        tags = dict(way.tags)
        if way.is_way() and "building" in tags and len(way.nodes) >= 4:
            ring = [(n.location.lon, n.location.lat) for n in way.nodes]
            if ring[0] == ring[-1]:
                rows.append(
                    {
                        "id": f"w{way.id}",
                        "name": tags.get("name"),
                        "levels": float(tags["building:levels"]) if tags.get("building:levels", "").isdigit() else None,
                        "geometry": shapely.Polygon(ring),
                    }
                )
    path = tmp_path / "buildings.gpkg"
    gpd.GeoDataFrame(rows[:200], crs=4326).to_file(path, layer="demand")
    direct = read_places(path, "demand", keep_columns=["levels"])
    first = cached_read_places(path, "demand", tmp_path / "cache", keep_columns=["levels"])
    (stored,) = (tmp_path / "cache" / "places").glob("*.arrays")
    remembered = cached_read_places(path, "demand", tmp_path / "cache", keep_columns=["levels"])
    stat = stored.stat()
    os.utime(stored, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # as if written by another process
    again = cached_read_places(path, "demand", tmp_path / "cache", keep_columns=["levels"])  # decoded
    for frame in (first, remembered, again):
        assert list(frame.columns) == list(direct.columns) and frame.dtypes.equals(direct.dtypes)
        plain = [c for c in direct.columns if not isinstance(direct[c].dtype, gpd.array.GeometryDtype)]
        assert frame[plain].equals(direct[plain])
        for column in ("geometry", "footprint"):
            assert frame[column].geom_equals_exact(direct[column], 0).all() and frame[column].crs == direct[column].crs
    assert direct["levels"].isna().any() and direct["levels"].notna().any()  # None and floats in one column
    stored.write_bytes(b"damaged")  # read from the source again
    assert (
        cached_read_places(path, "demand", tmp_path / "cache", keep_columns=["levels"])
        .drop(columns=["geometry", "footprint"])
        .equals(direct.drop(columns=["geometry", "footprint"]))
    )
