"""The shipped Hohhot scenario: it parses, it invents no coordinates, its official codes match their source, and its ledger rules hold."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import RAW

from coverage_planner import InputErrors, Scenario, read_places
from coverage_planner.places.geocode import OsmGeocoder
from coverage_planner.places.ledger import TEMPLATE_COLUMNS, check_unique_names_per_community, normalise_compound_types

HOHHOT = Path(__file__).resolve().parents[1] / "data" / "hohhot"
REFERENCE = HOHHOT / "reference"
SHARED = RAW.parent / "hohhot"  # where the official tables were collected (shared/data/hohhot)
GUANGMINGLU = "150103003"  # 光明路街道's 统计用区划代码


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_every_community_of_guangminglu_is_listed_by_its_official_name_and_code():
    official = [r for r in rows_of(REFERENCE / "communities_nbs2023.csv") if r["streetCode"] == GUANGMINGLU]
    assert len(official) == 11
    listed = {r["区划代码"]: r for r in rows_of(HOHHOT / "communities.csv") if r["区划代码"]}
    assert set(listed) == {r["code"] for r in official}
    for r in official:
        row = listed[r["code"]]
        # The committee's official name, less its suffix: 阳光社区居委会 -> 阳光社区.
        assert re.sub("(社区居委会|社区居民委员会)$", "", r["name"]) + "社区" == row["名称"] == row["所属社区"]
        assert (row["所属街道"], row["区"], row["类型"]) == ("光明路街道", "回民区", "社区")


def test_the_codes_agree_with_the_official_subdistrict_and_district_tables():
    streets = {r["code"]: r for r in rows_of(REFERENCE / "subdistricts_nbs2023.csv")}
    districts = {r["CODE"]: r["NAME"] for r in rows_of(REFERENCE / "districts_census2020.csv")}
    for row in rows_of(HOHHOT / "communities.csv"):
        if row["区划代码"]:
            street = streets[row["区划代码"][:9]]
            assert street["name"] == row["所属街道"] and districts[street["areaCode"]] == row["区"]


def test_the_report_names_are_kept_and_those_not_in_the_official_list_carry_no_code():
    rows = {r["名称"]: r for r in rows_of(HOHHOT / "communities.csv")}
    official = {r["name"] for r in rows_of(REFERENCE / "communities_nbs2023.csv")}
    for name in ("阳光社区", "果园路社区", "富丽小区", "春育社区", "交通家园小区", "体校家属院"):
        assert name in rows
    for name in ("富丽小区", "春育社区", "交通家园小区", "体校家属院"):
        assert rows[name]["区划代码"] == ""
    assert not any(n.startswith("春育") for n in official)  # why 春育社区 has no code


def test_the_reference_tables_are_the_collected_files_unchanged():
    provenance = (REFERENCE / "PROVENANCE.md").read_text(encoding="utf-8")
    for name in ("communities_nbs2023.csv", "subdistricts_nbs2023.csv", "districts_census2020.csv"):
        digest = hashlib.sha256((REFERENCE / name).read_bytes()).hexdigest()
        assert f"{digest}  {name}" in provenance
        if not (SHARED / name).is_file():
            pytest.skip(f"the collected tables are not in {SHARED}")
        assert (REFERENCE / name).read_bytes() == (SHARED / name).read_bytes()
    census = {r["NAME"]: int(r["POPU"]) for r in rows_of(REFERENCE / "districts_census2020.csv")}
    readme = (HOHHOT / "README.md").read_text(encoding="utf-8")
    assert all(f"{d} {n:,}" in readme for d, n in census.items())


def test_no_shipped_row_has_coordinates_and_every_row_is_a_placeholder():
    for name in ("studios.csv", "communities.csv"):
        for row in rows_of(HOHHOT / name):
            assert row["经度"] == row["纬度"] == "" and row["状态"] == "占位" and row["地址查询"]


def test_scenario_names_the_four_central_districts_and_the_elderly_pace():
    scenario = Scenario.from_toml(HOHHOT / "scenario.toml")
    assert len(scenario.network.place) == 4
    assert all(d in " ".join(scenario.network.place) for d in ("新城区", "回民区", "玉泉区", "赛罕区"))
    assert scenario.walk.profile.name == "elderly" and scenario.walk.threshold_min == 15


@pytest.mark.parametrize("name", ["studios.csv", "communities.csv"])
def test_shipped_places_have_no_invented_coordinates(name, tmp_path):
    # Offline with an empty geocode cache, every row must fail for lack of a location: none is made up.
    with pytest.raises(InputErrors) as caught:
        read_places(
            HOHHOT / name,
            "sites",
            keep_columns=["工作重点"] if name == "studios.csv" else ["区划代码"],
            geocoder=OsmGeocoder(tmp_path / "cache.json", online=False),
        )
    rows = {e.row for e in caught.value.errors}
    assert len(rows) == sum(1 for _ in open(HOHHOT / name, encoding="utf-8")) - 1


def test_geocoded_studios_are_all_placeholders(tmp_path):
    studios = HOHHOT / "studios.csv"
    # A recorded geocoder answer (a stand-in point per query) as the first online run would cache it.
    queries = [line.split('"')[1] for line in studios.read_text(encoding="utf-8").splitlines()[1:]]
    cache = tmp_path / "geocode_cache.json"
    cache.write_text(
        json.dumps({q: {"found": True, "lon": 111.66 + i / 100, "lat": 40.82} for i, q in enumerate(queries)}),
        encoding="utf-8",
    )
    places = read_places(studios, "sites", keep_columns=["工作重点"], geocoder=OsmGeocoder(cache, online=False))
    assert len(places) == 5 and set(places["status"]) == {"placeholder"}
    assert places["location_source"].str.contains("not the real address").all()


def test_compound_types_map_loose_spellings_and_reject_unknown_ones(tmp_path):
    path = tmp_path / "ledger.csv"
    path.write_text(
        "名称,经度,纬度,类型,所属社区\n甲,111.66,40.82,商品房,阳光社区\n乙,111.67,40.82,老旧,阳光社区\n丙,111.68,40.82,别墅,阳光社区\n",
        encoding="utf-8",
    )
    places = read_places(path)
    with pytest.raises(InputErrors, match="row 4, field 'type': unknown compound type '别墅'"):
        normalise_compound_types(places, path)
    ok = normalise_compound_types(places.iloc[:2], path)
    assert ok["type"].tolist() == ["新建商品房小区", "老旧小区"]


def test_duplicate_names_in_one_community_are_named(tmp_path):
    path = tmp_path / "ledger.csv"
    path.write_text(
        "名称,经度,纬度,所属社区\n富丽小区,111.66,40.82,阳光社区\n富丽小区,111.67,40.82,阳光社区\n富丽小区,111.68,40.82,果园路社区\n",
        encoding="utf-8",
    )
    with pytest.raises(InputErrors, match="row 3.*appears twice in 阳光社区 \\(also row 2\\)"):
        check_unique_names_per_community(read_places(path), path)


@pytest.mark.parametrize("name", ["compounds_template.xlsx", "compounds_template.csv"])
def test_a_filled_template_is_read_directly(name, tmp_path):
    import openpyxl

    target = tmp_path / name
    shutil.copy(HOHHOT / name, target)
    row = [
        "体校家属院",
        "",
        111.67,
        40.83,
        "gcj02",
        "单位家属院",
        120,
        300,
        15,
        "春育社区",
        "呼伦贝尔北路街道",
        "发展型",
        "占位",
    ]
    if name.endswith(".xlsx"):
        book = openpyxl.load_workbook(target)
        book["小区台账"].append(row)
        book.save(target)
    else:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(",".join(map(str, row)) + "\n")
    places = read_places(target)
    assert list(TEMPLATE_COLUMNS)[0] == "名称"
    assert places.loc[0, "community_class"] == "发展型" and places.loc[0, "key_targets"] == 15
    assert places.loc[0, "status"] == "placeholder"
    assert abs(places.geometry.x[0] - 111.67) > 1e-4  # GCJ-02 was converted to WGS-84
