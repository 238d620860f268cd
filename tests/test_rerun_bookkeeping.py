"""The cheaper bookkeeping of a rerun (remembered rows, a grown snap cache, cache keys) changes no answer.

Each shortcut is checked against the full computation it replaces: a place file parsed from
scratch, every point snapped afresh, a run without any cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np
import osmium
import pandas as pd
import pytest
from conftest import raw_file

from coverage_planner._errors import InputErrors
from coverage_planner.access import snap_cache
from coverage_planner.access.snap_cache import cached_snap_points
from coverage_planner.access.snapping import SNAP_FIELDS, snap_points
from coverage_planner.outputs.tables import write_outputs
from coverage_planner.pipeline import run_scenario
from coverage_planner.places import cache as places_cache
from coverage_planner.places import reading
from coverage_planner.places.reading import COLUMN_ALIASES, read_places


def _fresh_read(monkeypatch, path, kind, **options):
    """``read_places`` with no remembered rows: every row parsed."""
    with monkeypatch.context() as patch:
        patch.setattr(reading, "_ROWS", OrderedDict())
        patch.setattr(reading, "_ROWS_MAX", -1)
        return read_places(path, kind, **options)


def _assert_same_places(got, want):
    assert type(got) is type(want) and list(got.columns) == list(want.columns)
    assert got.crs == want.crs and got.geometry.name == want.geometry.name
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got.attrs == want.attrs


def _count_parsed_rows(monkeypatch):
    calls = []
    parse = reading._parse_row

    def counting(row, n, *args):
        calls.append(n)
        return parse(row, n, *args)

    monkeypatch.setattr(reading, "_parse_row", counting)
    return calls


_HEADER = "名称,经度,纬度,类型,人口,大门经度,大门纬度,坐标系,状态,楼层\n"
_ROWS_TEXT = [
    "司法所,111.6512,40.8123,司法所,120,,,,,3\n",
    '"工作室, 东",111.6601,40.8201,,80,111.6603,40.8204,wgs84,规划,\n',
    ",111.6455,40.8050,调解室,60,,,gcj02,,\n",  # blank name: the generated id stands in
    "社区 A,111.6702,40.8302,,45,,,bd09,placeholder,12\n",
]


def test_rows_remembered_from_the_last_read_give_a_fresh_parse(tmp_path, monkeypatch):
    path = tmp_path / "sites.csv"
    path.write_text(_HEADER + "".join(_ROWS_TEXT), encoding="utf-8")
    options = dict(keep_columns=["楼层"], weight_column="人口")
    first = read_places(path, "sites", **options)
    _assert_same_places(first, _fresh_read(monkeypatch, path, "sites", **options))

    # add-site appends a row; a planner edits another: only those two are parsed again.
    rows = list(_ROWS_TEXT)
    rows[1] = rows[1].replace("80", "95")
    rows.append("新增工作室,111.6801,40.8401,,30,,,,proposed,7\n")
    path.write_text(_HEADER + "".join(rows), encoding="utf-8")
    parsed = _count_parsed_rows(monkeypatch)
    again = read_places(path, "sites", **options)
    assert parsed == [3, 6]  # the edited row and the new one (rows numbered as in the sheet)
    monkeypatch.undo()
    fresh = _fresh_read(monkeypatch, path, "sites", **options)
    _assert_same_places(again, fresh)
    assert again.loc[1, "weight"] == 95.0 and again["name"].iloc[-1] == "新增工作室"


def test_rows_moved_down_or_read_with_other_options_are_parsed_again(tmp_path, monkeypatch):
    path = tmp_path / "demand.csv"
    path.write_text(_HEADER + "".join(_ROWS_TEXT), encoding="utf-8")
    read_places(path, "demand", keep_columns=["楼层"])
    # A row inserted at the top moves every row: their numbers (and generated ids) change.
    path.write_text(_HEADER + "顶部,111.6401,40.8001,,,,,,,\n" + "".join(_ROWS_TEXT), encoding="utf-8")
    parsed = _count_parsed_rows(monkeypatch)
    moved = read_places(path, "demand", keep_columns=["楼层"])
    assert parsed == [2, 3, 4, 5, 6]
    # Another default coordinate system, another kind: nothing is taken from the reads before.
    parsed.clear()
    as_gcj = read_places(path, "demand", keep_columns=["楼层"], default_crs="gcj02")
    as_sites = read_places(path, "sites", keep_columns=["楼层"])
    assert parsed == [2, 3, 4, 5, 6] * 2
    monkeypatch.undo()
    for got, kind, crs in ((moved, "demand", "wgs84"), (as_gcj, "demand", "gcj02"), (as_sites, "sites", "wgs84")):
        _assert_same_places(got, _fresh_read(monkeypatch, path, kind, keep_columns=["楼层"], default_crs=crs))
    assert not np.allclose(moved.geometry.x, as_gcj.geometry.x)  # the option did matter
    assert moved["id"].iloc[1] == "demand-3" and as_sites["id"].iloc[1] == "sites-3"


def test_a_remembered_row_keeps_its_problems(tmp_path, monkeypatch):
    path = tmp_path / "sites.csv"
    bad = "坏行,200,40.8,,,,,,作废,\n"  # longitude out of range and an unknown status
    path.write_text(_HEADER + _ROWS_TEXT[0] + bad, encoding="utf-8")
    with pytest.raises(InputErrors) as first:
        read_places(path, "sites", keep_columns=["楼层"])
    path.write_text(_HEADER + _ROWS_TEXT[0] + bad + _ROWS_TEXT[1] + _ROWS_TEXT[0], encoding="utf-8")
    with pytest.raises(InputErrors) as again:
        read_places(path, "sites", keep_columns=["楼层"])
    with pytest.raises(InputErrors) as fresh:
        _fresh_read(monkeypatch, path, "sites", keep_columns=["楼层"])
    described = [(e.row, e.field, str(e)) for e in again.value.errors]
    assert described == [(e.row, e.field, str(e)) for e in fresh.value.errors]
    assert [(e.row, e.field, str(e)) for e in first.value.errors] == described  # the same bad row, the same words
    assert {(3, "状态"), (3, "经度/纬度")} == {(row, field) for row, field, _ in described}


def test_cells_that_are_not_text_are_never_taken_from_memory():
    # 1, 1.0 and True are equal dict keys, but a cell of each reads differently.
    assert reading._row_key(["a", None], 2) == (2, "a", None)
    assert reading._row_key(["a", 1], 2) is None and reading._row_key([True], 2) is None


def test_the_place_cache_key_is_unchanged():
    """Entries written before the key's aliases part was remembered are still found (same key text)."""
    heads = [
        ["0" * 64, "sites", [], None, "wgs84", None, None, None, None, "1.2.3", "3.4.0"],
        ["f" * 64, "demand", ["楼层", "é"], "人口", "gcj02", "Sheet 1", 0, "gbk", "a" * 64, "unknown", "none"],
    ]
    for head in heads:
        assert places_cache._key_json(list(head)) == json.dumps([*head, COLUMN_ALIASES], ensure_ascii=False)


@pytest.fixture(scope="module")
def liechtenstein_places():
    """Real amenity nodes (sites) and building centroids (demand) of the Liechtenstein extract."""
    sites, demand = [], []
    for obj in osmium.FileProcessor(str(raw_file("liechtenstein-2013-08-03.osm.pbf"))).with_locations():
        tags = dict(obj.tags)
        if obj.is_node() and "amenity" in tags:
            sites.append((f"n{obj.id}", tags.get("name", tags["amenity"]), obj.location.lon, obj.location.lat))
        elif obj.is_way() and "building" in tags and len(demand) < 4000:
            xy = [(n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()]
            if len(xy) >= 3:
                lon, lat = np.mean(xy[:-1], axis=0)
                demand.append((f"w{obj.id}", f"building {obj.id}", lon, lat))
    columns = ["id", "name", "lon", "lat"]
    rng = np.random.default_rng(14)
    sites = pd.DataFrame(sites, columns=columns).drop_duplicates("id")
    demand = pd.DataFrame(demand, columns=columns)
    return (
        sites.iloc[np.sort(rng.choice(len(sites), 24, replace=False))].reset_index(drop=True),
        demand.iloc[np.sort(rng.choice(len(demand), 300, replace=False))].reset_index(drop=True),
    )


def test_a_snap_cache_grown_point_by_point_equals_snapping_every_point(liechtenstein, liechtenstein_places, tmp_path):
    sites, demand = liechtenstein_places
    lonlat = np.concatenate([demand[["lon", "lat"]].to_numpy(), sites[["lon", "lat"]].to_numpy()])
    cache = tmp_path / "cache"
    for end in (len(demand), len(demand) + 1, len(demand) + 3, len(lonlat)):  # grown in steps, as reruns do
        got, _ = cached_snap_points(liechtenstein, lonlat[:end], max_snap_m=300.0, cache_dir=cache)
    # Asked again in another order, with repeats: every point from the grown cache, none snapped anew.
    order = np.random.default_rng(0).permutation(np.r_[np.arange(len(lonlat)), np.arange(5)])
    again, n_snapped = cached_snap_points(liechtenstein, lonlat[order], max_snap_m=300.0, cache_dir=cache)
    assert n_snapped == 0
    snap_cache._MEMO.clear()  # and read back from the file
    from_file, _ = cached_snap_points(liechtenstein, lonlat[order], max_snap_m=300.0, cache_dir=cache)
    direct = snap_points(liechtenstein, lonlat, max_snap_m=300.0)
    for field in SNAP_FIELDS:
        want = getattr(direct, field)
        np.testing.assert_array_equal(getattr(got, field), want)
        np.testing.assert_array_equal(getattr(again, field), want[order])
        np.testing.assert_array_equal(getattr(from_file, field), want[order])


def _tables_digest(folder) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix != ".json"  # (the manifests name the cache files of the cached run)
    }


def _cached_scenario(folder: Path, osm: Path, name: str, *, sites: str = "sites.csv") -> Path:
    """A 10-minute scenario on ``osm`` with its caches in ``folder/cache`` (sites and demand CSVs beside it)."""
    toml = folder / "scenario.toml"
    toml.write_text(
        f'name = "{name}"\n[network]\npath = "{osm.as_posix()}"\ncache_dir = "cache"\n'
        f'[sites]\npath = "{sites}"\n[demand]\npath = "demand.csv"\n[walk]\nthreshold_min = 10\n',
        encoding="utf-8",
    )
    return toml


def test_reruns_after_appending_sites_equal_runs_without_caches(liechtenstein_places, tmp_path, monkeypatch):
    monkeypatch.setenv("COVERAGE_PLANNER_OUTPUT_PROCESSES", "1")
    sites, demand = liechtenstein_places
    osm = raw_file("liechtenstein-2013-08-03.osm.pbf")
    toml = _cached_scenario(tmp_path, osm, "rerun")
    demand.to_csv(tmp_path / "demand.csv", index=False)
    sites.iloc[:20].to_csv(tmp_path / "sites.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # amenity names repeat; not what this test checks
        result = run_scenario(toml, progress=False)
        for end in (21, 22, 24):  # one site appended, then another, then two
            sites.iloc[:end].to_csv(tmp_path / "sites.csv", index=False)
            rerun = run_scenario(toml, network=result.network, progress=False)
            fresh = run_scenario(toml, use_cache=False, progress=False)
            assert rerun.cache_stats["sites_computed"] == end - len(result.sites)
            for got, want in ((rerun.sites, fresh.sites), (rerun.demand, fresh.demand)):
                _assert_same_places(got, want)
            assert rerun.manifest == fresh.manifest
            write_outputs(rerun, tmp_path / f"rerun-{end}", lang="en")
            write_outputs(fresh, tmp_path / f"fresh-{end}", lang="en")
            assert _tables_digest(tmp_path / f"rerun-{end}") == _tables_digest(tmp_path / f"fresh-{end}")
            result = rerun
    assert len(os.listdir(tmp_path / "rerun-24")) >= 3


def test_a_place_frame_stored_column_by_column_comes_back_as_it_was(tmp_path):
    """Every kind of cell the places cache stores, in columns of each kind, read back in place."""
    import geopandas as gpd
    import shapely

    frame = gpd.GeoDataFrame(
        {
            "id": pd.Series(["a", "b", "c", "d"], dtype=object),  # (as read_places gives text: not str dtype)
            "mixed": ["3", 3.0, 3, None],  # text, float and int of one value stay apart
            "flag": [True, None, False, "x"],
            "weight": [1.0, 2.5, np.nan, 4.0],
            "source_row": np.array([2, 3, 4, 5], dtype=np.int64),
            "blank": [None, None, None, None],
            "geometry": shapely.points([(7.5, 47.1), (7.6, 47.2), (7.7, 47.3), (7.8, 47.4)]),
            "footprint": [None, shapely.box(7.5, 47.1, 7.6, 47.2), None, None],
        },
        geometry="geometry",
        crs="EPSG:4326",
    )
    frame["footprint"] = gpd.GeoSeries(frame["footprint"], crs="EPSG:4326")
    path = tmp_path / "places.arrays"
    assert places_cache._frame_to_file(frame, path) is True
    back = places_cache._frame_from_file(path)
    assert list(back.columns) == list(frame.columns) and back.dtypes.equals(frame.dtypes)
    for column in ("id", "mixed", "flag", "blank"):
        assert [(type(v), v) for v in back[column]] == [(type(v), v) for v in frame[column]]
    np.testing.assert_array_equal(back["weight"], frame["weight"])
    np.testing.assert_array_equal(back["source_row"], frame["source_row"])
    for column in ("geometry", "footprint"):
        assert [None if g is None else g.wkb for g in back[column]] == [
            None if g is None else g.wkb for g in frame[column]
        ]
        assert back[column].crs == frame[column].crs
    # A NumPy number in an object column comes back as a Python one: stored, but not exact.
    frame.loc[0, "mixed"] = np.float64(3.0)
    assert places_cache._frame_to_file(frame, path) is False
    assert type(places_cache._frame_from_file(path)["mixed"].iloc[0]) is float
    # A value of any other type: nothing stored.
    frame.loc[1, "mixed"] = (1, 2)
    path.unlink()
    assert places_cache._frame_to_file(frame, path) is False and not path.exists()


def test_a_rerun_follows_a_sites_link_pointed_elsewhere(liechtenstein_places, tmp_path, monkeypatch):
    """Each run resolves its inputs anew: the manifest and source_path name the file the link points to now."""
    monkeypatch.setenv("COVERAGE_PLANNER_OUTPUT_PROCESSES", "1")
    sites, demand = liechtenstein_places
    osm = raw_file("liechtenstein-2013-08-03.osm.pbf")
    for folder, end in (("one", 20), ("two", 22)):
        (tmp_path / folder).mkdir()
        sites.iloc[:end].to_csv(tmp_path / folder / "sites.csv", index=False)
    demand.to_csv(tmp_path / "demand.csv", index=False)
    (tmp_path / "now").symlink_to(tmp_path / "one")
    toml = _cached_scenario(tmp_path, osm, "link", sites="now/sites.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = run_scenario(toml, progress=False)
        (tmp_path / "now").unlink()
        (tmp_path / "now").symlink_to(tmp_path / "two")
        second = run_scenario(toml, network=first.network, progress=False)
    for result, folder, rows in ((first, "one", 20), (second, "two", 22)):
        assert result.sites.attrs["source_path"] == str(tmp_path.resolve() / folder / "sites.csv")
        assert result.manifest["inputs"]["sites"]["path"] == f"{folder}/sites.csv"
        assert result.manifest["inputs"]["sites"]["rows"] == rows
