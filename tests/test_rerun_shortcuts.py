"""The shortcuts of a rerun in one process (decoded place files kept in memory, caches) change no answer."""

from __future__ import annotations

import os
import shutil
import warnings

import pandas as pd
import pytest
from conftest import raw_file
from real_places import beijing_place_frames, write_beijing_scenario

from coverage_planner._errors import CacheWarning
from coverage_planner.pipeline import add_sites, run_scenario
from coverage_planner.places.cache import cached_read_places
from coverage_planner.places.reading import read_places


@pytest.fixture(scope="module")
def beijing_frames():
    return beijing_place_frames(raw_file("beijing_haidian_cau_map.osm"))


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(frame.drop(columns="geometry"))


def test_a_place_file_read_again_in_one_process_is_equal_and_its_own_copy(beijing_frames, tmp_path):
    _, demand = beijing_frames
    path = tmp_path / "demand.csv"
    demand.head(300).to_csv(path, index=False)
    direct = read_places(path, "demand")
    first = cached_read_places(path, "demand", tmp_path / "cache")  # read and stored
    second = cached_read_places(path, "demand", tmp_path / "cache")  # from this process's memory
    second.loc[0, "name"] = "changed by the caller"
    second.loc[1, "geometry"] = None
    third = cached_read_places(path, "demand", tmp_path / "cache")
    for frame in (first, third):
        assert list(frame.columns) == list(direct.columns) and frame.dtypes.equals(direct.dtypes)
        assert _plain(frame).equals(_plain(direct))
        assert frame.geometry.geom_equals_exact(direct.geometry, 0).all()
        assert frame.attrs["source_path"] == direct.attrs["source_path"]


def test_a_cache_file_changed_behind_the_memory_is_read_again(beijing_frames, tmp_path):
    _, demand = beijing_frames
    a, b = tmp_path / "a" / "demand.csv", tmp_path / "b" / "demand.csv"
    for path, rows in ((a, demand.head(50)), (b, demand.iloc[50:90])):
        path.parent.mkdir()
        rows.to_csv(path, index=False)
        cached_read_places(path, "demand", path.parent / "cache")
    (entry_a,) = (a.parent / "cache" / "places").glob("*.arrays")
    (entry_b,) = (b.parent / "cache" / "places").glob("*.arrays")
    shutil.copyfile(entry_b, entry_a)  # a valid entry, but of another file: served as found on disk
    assert list(cached_read_places(a, "demand", a.parent / "cache")["id"]) == list(demand["id"].iloc[50:90])
    entry_a.write_bytes(b"damaged")
    with pytest.warns(CacheWarning, match="failed verification"):
        again = cached_read_places(a, "demand", a.parent / "cache")
    assert _plain(again).equals(_plain(read_places(a, "demand")))


def test_a_cache_file_damaged_with_its_size_and_mtime_kept_is_read_again(beijing_frames, tmp_path):
    _, demand = beijing_frames
    path = tmp_path / "demand.csv"
    demand.head(60).to_csv(path, index=False)
    cached_read_places(path, "demand", tmp_path / "cache")  # written, and kept in memory
    (entry,) = (tmp_path / "cache" / "places").glob("*.arrays")
    stat = entry.stat()
    raw = bytearray(entry.read_bytes())
    raw[len(raw) // 2] ^= 0x20
    entry.write_bytes(bytes(raw))
    os.utime(entry, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as a copy keeping times would leave it
    with pytest.warns(CacheWarning, match="failed verification"):
        again = cached_read_places(path, "demand", tmp_path / "cache")
    assert _plain(again).equals(_plain(read_places(path, "demand")))


def test_add_site_rerun_equals_a_run_from_scratch(beijing_frames, tmp_path):
    sites, _ = beijing_frames
    toml = write_beijing_scenario(tmp_path / "in", raw_file("beijing_haidian_cau_map.osm"))
    toml.write_text(
        toml.read_text(encoding="utf-8").replace("[sites]", 'cache_dir = "cache"\n\n[sites]'), encoding="utf-8"
    )
    kept, added = sites.iloc[:-2], sites.iloc[-2:]
    kept.to_csv(toml.parent / "sites.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # shared site names are warned about; not what this test checks
        run_scenario(toml, progress=False)  # fills the caches, so the reruns below take every shortcut
        before, after, _ = add_sites(toml, added[["id", "name", "lon", "lat"]], progress=False)
        fresh = run_scenario(toml, use_cache=False, progress=False)
    assert after.cache_stats["sites_computed"] == len(added)  # only the new sites were walked from
    assert len(after.sites) == len(before.sites) + len(added)
    _assert_same_run(after, fresh)


def _assert_same_run(got, want):
    for a, b in ((got.demand, want.demand), (got.sites, want.sites)):
        assert list(a.columns) == list(b.columns) and a.dtypes.equals(b.dtypes)
        assert _plain(a).equals(_plain(b))
        assert a.geometry.geom_equals_exact(b.geometry, 0).all()
        assert a.attrs == b.attrs
    for name in ("site_ids", "demand_ids", "rows", "cols", "metres"):
        x, y = getattr(got.matrix, name), getattr(want.matrix, name)
        assert x.dtype == y.dtype and (x == y).all()
    assert got.manifest == want.manifest


@pytest.fixture(scope="module")
def beijing_network():
    from coverage_planner.network.graph import WalkNetwork

    return WalkNetwork.from_file(raw_file("beijing_haidian_cau_map.osm"))


def _places(frame: pd.DataFrame):
    import geopandas as gpd

    return gpd.GeoDataFrame(
        frame[["id", "name", "type"]], geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs="EPSG:4326"
    )


@pytest.mark.parametrize("profile", ["adult", "elderly"])
def test_with_sites_gives_the_demand_table_of_a_full_computation(beijing_frames, beijing_network, profile):
    """The result columns are overwritten in place on a copy: the same frame as computing from scratch."""
    from coverage_planner import compute_coverage, with_sites

    sites, demand = (_places(f) for f in beijing_frames)
    options = dict(threshold_min=10, profile=profile, progress=False)
    before = compute_coverage(beijing_network, sites.iloc[:-3], demand, **options)
    kept = before.demand.copy(deep=True)
    after = with_sites(before, sites.iloc[-3:])
    full = compute_coverage(beijing_network, sites, demand, **options)
    pd.testing.assert_frame_equal(after.demand, full.demand, check_exact=True)
    assert after.demand.columns.tolist() == full.demand.columns.tolist()
    assert (after.demand["nearest_site_id"] != before.demand["nearest_site_id"]).any()  # the new sites matter
    pd.testing.assert_frame_equal(before.demand, kept, check_exact=True)  # the earlier result is unchanged
    assert after.sites["demand_covered"].tolist() == full.sites["demand_covered"].tolist()


def test_with_sites_on_an_edited_result_drops_and_adds_the_result_columns(beijing_frames, beijing_network):
    from coverage_planner import compute_coverage, with_sites
    from coverage_planner.analysis import DEMAND_RESULT_COLUMNS

    sites, demand = (_places(f) for f in beijing_frames)
    before = compute_coverage(beijing_network, sites.iloc[:-3], demand, threshold_min=10, progress=False)
    before.demand["note"] = "checked"  # a column added after the run: it ends up among the place's own columns
    after = with_sites(before, sites.iloc[-3:])
    full = compute_coverage(beijing_network, sites, demand.assign(note="checked"), threshold_min=10, progress=False)
    columns = after.demand.columns.tolist()
    assert columns.index("note") == columns.index(DEMAND_RESULT_COLUMNS[2]) - 1
    assert sorted(columns) == sorted(full.demand.columns)
    pd.testing.assert_frame_equal(after.demand, full.demand[columns], check_exact=True)
