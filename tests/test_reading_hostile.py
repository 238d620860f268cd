"""Hostile place files built from real OSM names and points: read right, or refused with the reason.

Every file here is made from the shared extracts' real names (Beijing's 小区,
shops and stations; Monaco's and Andorra's accented "Résidence …", "Crèdit
Andorrà" …) written the way other programs write them: GBK, Latin-1 and Big5
CSV, UTF-8 files with one row in another encoding, RFC 4180 quoting with
doubled quotes, workbooks with hidden sheets or formulas never calculated,
GeoPackages with two layers, MultiPoints. The expected names are the ones
written, so each test fails when a reader garbles or drops them silently.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import osmium
import pandas as pd
import pytest
import shapely
import xlsxwriter
from conftest import raw_file

from coverage_planner._errors import DataError, InputError, InputErrors, ScenarioError
from coverage_planner.config import Scenario
from coverage_planner.places.cache import cached_read_places
from coverage_planner.places.reading import DuplicateNameWarning, read_places

CJK = re.compile("[\u4e00-\u9fff]")
ACCENTED = re.compile("[À-ÿ]")


def named_places(osm_path: Path, pattern: re.Pattern) -> pd.DataFrame:
    """Every node and way of an extract whose name matches, once per name: name, lon, lat (way: mean of nodes)."""
    rows, seen = [], set()
    for obj in osmium.FileProcessor(str(osm_path)).with_locations():
        name = dict(obj.tags).get("name")
        if not name or not pattern.search(name) or name in seen:
            continue
        if obj.is_node():
            xy = (obj.location.lon, obj.location.lat)
        elif obj.is_way():
            pts = [(n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()]
            if not pts:
                continue
            xy = tuple(np.mean(pts, axis=0))
        else:
            continue
        seen.add(name)
        rows.append((name, *xy))
    return pd.DataFrame(rows, columns=["name", "lon", "lat"])


@pytest.fixture(scope="module")
def beijing_names():
    """Real Chinese names of the Beijing Haidian extract (小区, shops, stations …)."""
    return named_places(raw_file("beijing_haidian_cau_map.osm"), CJK)


@pytest.fixture(scope="module")
def accented_names():
    """Real accented names of Monaco and Andorra that Latin-1 can write ("Résidence Le Golfe Bleu" …)."""
    frames = [named_places(raw_file(f), ACCENTED) for f in ("monaco.osm.pbf", "andorra.osm.pbf")]
    names = pd.concat(frames, ignore_index=True).drop_duplicates("name")
    latin1 = names["name"].map(lambda n: all(ord(ch) < 256 for ch in n))
    return names[latin1].reset_index(drop=True)


def encodable(frame: pd.DataFrame, encoding: str) -> pd.DataFrame:
    ok = frame["name"].map(lambda n: _encodes(n, encoding))
    return frame[ok].reset_index(drop=True)


def _encodes(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def write_csv(path: Path, frame: pd.DataFrame, encoding: str) -> Path:
    """The frame as CSV in an encoding, quoted as spreadsheets quote (RFC 4180)."""
    path.write_bytes(frame.to_csv(index=False, lineterminator="\r\n").encode(encoding))
    return path


def csv_text(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator="\n")


def problems(excinfo) -> list[InputError]:
    exc = excinfo.value
    return exc.errors if isinstance(exc, InputErrors) else [exc]


# ---------------------------------------------------------------- encodings


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_a_latin1_csv_of_real_accented_names_reads_every_name_exactly(tmp_path, accented_names, encoding):
    path = write_csv(tmp_path / "places.csv", accented_names, encoding)
    places = read_places(path)
    assert places["name"].tolist() == accented_names["name"].tolist()
    assert "Résidence Le Golfe Bleu" in set(places["name"])


def test_a_gbk_csv_of_real_beijing_names_reads_every_name_exactly(tmp_path, beijing_names):
    path = write_csv(tmp_path / "places.csv", beijing_names.rename(columns={"name": "名称"}), "gbk")
    assert read_places(path)["name"].tolist() == beijing_names["name"].tolist()


def test_a_big5_csv_of_real_names_reads_every_name_exactly(tmp_path, beijing_names):
    names = encodable(beijing_names, "big5")
    path = write_csv(tmp_path / "places.csv", names, "big5")
    assert read_places(path)["name"].tolist() == names["name"].tolist()


def test_a_utf8_file_with_one_gbk_row_is_refused_naming_that_row_only(tmp_path, beijing_names):
    text = csv_text(beijing_names)
    lines = text.splitlines(keepends=True)
    bad = 101  # spreadsheet row of lines[100]
    data = "".join(lines[:100]).encode("utf-8") + lines[100].encode("gbk") + "".join(lines[101:]).encode("utf-8")
    path = tmp_path / "places.csv"
    path.write_bytes(data)
    with pytest.raises(InputErrors) as excinfo:
        read_places(path)
    (error,) = problems(excinfo)
    assert error.row == bad and "not UTF-8" in error.detail and "GBK" in error.detail
    assert beijing_names["name"].iloc[99] in error.detail  # how the row reads in GBK, to find it


def test_a_utf8_file_with_one_latin1_row_is_refused_naming_that_row(tmp_path, accented_names):
    frame = accented_names
    lines = csv_text(frame).splitlines(keepends=True)
    row = int(frame.index[frame["name"] == "Résidence Le Golfe Bleu"][0]) + 1  # lines[row] is that place
    data = b"".join(line.encode("latin-1" if i == row else "utf-8") for i, line in enumerate(lines))
    path = tmp_path / "places.csv"
    path.write_bytes(data)
    with pytest.raises(InputErrors) as excinfo:
        read_places(path)
    (error,) = problems(excinfo)
    assert error.row == row + 1 and "Résidence Le Golfe Bleu" in error.detail and "Latin-1" in error.detail


def test_a_gbk_file_with_one_utf8_row_is_refused_naming_the_utf8_row(tmp_path, beijing_names):
    lines = csv_text(beijing_names).splitlines(keepends=True)
    odd = 40
    data = b"".join(line.encode("utf-8" if i == odd else "gbk") for i, line in enumerate(lines))
    path = tmp_path / "places.csv"
    path.write_bytes(data)
    with pytest.raises(InputErrors) as excinfo:
        read_places(path)
    (error,) = problems(excinfo)
    assert error.row == odd + 1 and "is UTF-8" in error.detail and beijing_names["name"].iloc[odd - 1] in error.detail


@pytest.mark.parametrize(
    "names, major, minor",
    [
        ("beijing", "utf-8", "gbk"),
        ("beijing", "gbk", "utf-8"),
        ("accented", "utf-8", "latin-1"),
        ("accented", "cp1252", "utf-8"),
    ],
)
def test_every_row_in_another_encoding_is_named_exactly(tmp_path, beijing_names, accented_names, names, major, minor):
    """Each real name in turn written in the other encoding: the file is refused naming that row and only it."""
    frame = (beijing_names if names == "beijing" else accented_names).head(200)
    lines = csv_text(frame).splitlines(keepends=True)
    path = tmp_path / "mixed.csv"
    for k in range(1, len(lines)):
        path.write_bytes(b"".join(line.encode(minor if i == k else major) for i, line in enumerate(lines)))
        with pytest.raises(InputErrors) as excinfo:
            read_places(path)
        assert [e.row for e in problems(excinfo)] == [k + 1], frame["name"].iloc[k - 1]


def test_a_gbk_row_that_is_valid_utf8_in_a_utf8_file_is_named(tmp_path, beijing_names):
    # 学知园 in GBK (D1A7 D6AA D4B0) is valid UTF-8 ('ѧ֪԰'): no decoding error betrays it.
    name = next(n for n in beijing_names["name"] if _decodes(n.encode("gbk"), "utf-8"))
    lines = csv_text(beijing_names).splitlines(keepends=True)
    k = int(np.flatnonzero(beijing_names["name"] == name)[0]) + 1
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"".join(line.encode("gbk" if i == k else "utf-8") for i, line in enumerate(lines)))
    with pytest.raises(InputErrors) as excinfo:
        read_places(path)
    (error,) = problems(excinfo)
    assert error.row == k + 1 and f"looks like GBK text ('{name}" in error.detail


def test_a_declared_encoding_is_used_and_a_wrong_one_names_the_rows(tmp_path, accented_names, beijing_names):
    latin = write_csv(tmp_path / "latin.csv", accented_names, "latin-1")
    assert read_places(latin, encoding="latin-1")["name"].tolist() == accented_names["name"].tolist()
    gbk = write_csv(tmp_path / "gbk.csv", beijing_names, "gbk")
    with pytest.raises(InputErrors) as excinfo:
        read_places(gbk, encoding="utf-8")
    rows = [e.row for e in problems(excinfo)]
    assert rows and all("not UTF-8" in e.detail for e in problems(excinfo))
    # Every row it names holds non-UTF-8 bytes, and no other row does.
    lines = gbk.read_bytes().split(b"\r\n")
    not_utf8 = [i + 1 for i, line in enumerate(lines) if not _decodes(line, "utf-8")]
    assert rows == not_utf8
    with pytest.raises(InputError, match="unknown text encoding 'klingon'"):
        read_places(gbk, encoding="klingon")


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def test_gbk_that_is_also_valid_utf8_is_refused_showing_both_readings(tmp_path, beijing_names):
    # Among the real names some are, in GBK, valid UTF-8 too: 学知园 is D1A7 D6AA D4B0.
    name = next(n for n in beijing_names["name"] if _decodes(n.encode("gbk"), "utf-8"))
    frame = beijing_names[beijing_names["name"] == name]
    path = write_csv(tmp_path / "one.csv", frame, "gbk")
    with pytest.raises(InputError, match="cannot tell the text encoding") as excinfo:
        read_places(path)
    message = str(excinfo.value)
    assert f"as GBK/GB18030 '{name}," in message and "as UTF-8" in message
    assert read_places(path, encoding="gbk")["name"].tolist() == [name]


@pytest.mark.parametrize("encoding", ["gbk", "big5", "cp1252", "latin-1"])
def test_no_small_file_of_real_names_is_read_with_a_wrong_encoding(tmp_path, beijing_names, accented_names, encoding):
    """Short files are where detection guesses: every one of 1, 2, 3 and 5 real names reads right or is refused."""
    names = encodable(accented_names if encoding in ("cp1252", "latin-1") else beijing_names, encoding).head(300)
    tried = right = 0
    for k in (1, 2, 3, 5):
        for start in range(0, len(names) - k + 1, k):
            chunk = names.iloc[start : start + k]
            path = write_csv(tmp_path / "chunk.csv", chunk, encoding)
            tried += 1
            try:
                got = read_places(path)["name"].tolist()
            except (InputError, InputErrors) as exc:
                assert "encoding" in str(exc)  # refused, saying why
                continue
            assert got == chunk["name"].tolist(), f"{encoding}: {chunk['name'].tolist()} read as {got}"
            right += 1
    assert tried > 50 and right / tried > 0.95


def test_utf16_without_a_byte_order_mark_gets_a_hint(tmp_path, beijing_names):
    path = tmp_path / "places.txt"
    path.write_bytes(beijing_names.to_csv(index=False, sep="\t").encode("utf-16-le"))
    with pytest.raises(InputError, match='declare encoding = "utf-16-le"'):
        read_places(path)
    assert read_places(path, encoding="utf-16-le")["name"].tolist() == beijing_names["name"].tolist()


# ---------------------------------------------------------------- quoting


def test_names_with_doubled_quotes_and_commas_round_trip(tmp_path, beijing_names):
    names = beijing_names.head(60).copy()
    # 华润"幸福里"小区: quotes inside a name, written doubled by every spreadsheet; some with a comma too.
    names["name"] = [
        f'{a}"{b}"' if i % 2 else f'{a}, "{b}"' for i, (a, b) in enumerate(zip(names["name"], names["name"][::-1]))
    ]
    for encoding in ("utf-8", "gbk"):
        path = write_csv(tmp_path / f"quoted-{encoding}.csv", names, encoding)
        assert '""' in path.read_bytes().decode(encoding)
        assert read_places(path)["name"].tolist() == names["name"].tolist()


def test_formula_like_names_written_by_pandas_are_not_split(tmp_path, beijing_names):
    names = beijing_names.head(5).copy()
    names["name"] = [f'=HYPERLINK("http://x/{i}","{n}")' for i, n in enumerate(names["name"])]
    path = write_csv(tmp_path / "places.csv", names, "utf-8")
    assert read_places(path)["name"].tolist() == names["name"].tolist()


def test_a_name_with_an_unquoted_comma_names_its_row(tmp_path, beijing_names):
    frame = beijing_names.head(30)
    text = csv_text(frame).splitlines()
    text[7] = text[7].replace(frame["name"].iloc[6], frame["name"].iloc[6] + ",北区", 1)
    path = tmp_path / "places.csv"
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    with pytest.raises(InputErrors) as excinfo:
        read_places(path)
    (error,) = problems(excinfo)
    assert error.row == 8 and "4 values but the header has 3" in error.detail and "double quotes" in error.detail


def test_a_semicolon_csv_with_decimal_commas_gets_a_hint(tmp_path, accented_names):
    frame = accented_names.head(4)
    text = frame.to_csv(index=False, sep=";", decimal=",")
    path = tmp_path / "places.csv"
    path.write_bytes(text.encode("cp1252"))
    with pytest.raises(InputErrors) as excinfo:
        read_places(path)
    errors = problems(excinfo)
    assert len(errors) == 8 and all("decimal comma; write" in e.detail for e in errors)
    first = f"{frame['lon'].iloc[0]}"
    assert f"write {first}" in errors[0].detail


def test_a_decimal_comma_in_a_weight_gets_a_hint(tmp_path):
    path = tmp_path / "places.csv"
    path.write_text('name,lon,lat,weight\nA,7.42,43.73,"0,5"\n', encoding="utf-8")
    with pytest.raises(InputErrors, match=r"'0,5' is not a number \(a decimal comma\? write 0\.5\)"):
        read_places(path)


# ---------------------------------------------------------------- workbooks


def workbook(path: Path, sheets: dict[str, pd.DataFrame], hidden: tuple[str, ...] = ()) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, frame in sheets.items():
        ws = book.create_sheet(title)
        ws.append(list(frame.columns))
        for row in frame.itertuples(index=False):
            ws.append(list(row))
        if title in hidden:
            ws.sheet_state = "hidden"
    book.save(path)
    return path


def test_a_hidden_first_sheet_is_not_read_instead_of_the_visible_one(tmp_path, beijing_names):
    old, current = beijing_names.head(20), beijing_names.iloc[20:60]
    path = workbook(tmp_path / "ledger.xlsx", {"旧版": old, "小区": current}, hidden=("旧版",))
    assert read_places(path)["name"].tolist() == current["name"].tolist()
    assert read_places(path, sheet="旧版")["name"].tolist() == old["name"].tolist()  # named: read


def test_two_visible_place_sheets_are_listed_until_one_is_named(tmp_path, beijing_names):
    path = workbook(tmp_path / "ledger.xlsx", {"2023": beijing_names.head(10), "2024": beijing_names.head(12)})
    with pytest.raises(InputError, match=r"2 sheets hold a place table \('2023', '2024'\)") as excinfo:
        read_places(path)
    assert excinfo.value.field == "sheet" and 'sheet = "2023"' in str(excinfo.value)
    assert len(read_places(path, sheet="2024")) == 12


def test_a_visible_notes_sheet_beside_the_place_sheet_needs_no_name(tmp_path, beijing_names):
    notes = pd.DataFrame({"说明": ["坐标为 WGS-84", "更新于 2024 年"]})
    path = workbook(tmp_path / "ledger.xlsx", {"说明": notes, "小区": beijing_names.head(9)})
    assert read_places(path)["name"].tolist() == beijing_names.head(9)["name"].tolist()


def test_a_place_table_only_on_a_hidden_sheet_is_said_so(tmp_path, beijing_names):
    notes = pd.DataFrame({"说明": ["见隐藏表"]})
    path = workbook(tmp_path / "ledger.xlsx", {"封面": notes, "数据": beijing_names.head(5)}, hidden=("数据",))
    with pytest.raises(InputError, match=r"hidden sheet\(s\) '数据' \(hidden\)"):
        read_places(path)


def test_formulas_without_saved_values_are_named_once_per_column(tmp_path, beijing_names):
    frame = beijing_names.head(40)
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["名称", "经度", "纬度"])
    for name, lon, lat in frame.itertuples(index=False):
        ws.append([name, f"=ROUND({lon},7)", f"=ROUND({lat},7)"])  # openpyxl saves no values
    path = tmp_path / "ledger.xlsx"
    book.save(path)
    with pytest.raises(InputErrors) as excinfo:
        read_places(path)
    errors = problems(excinfo)
    assert [e.field for e in errors] == ["经度", "纬度"]
    assert "column '纬度' holds formulas with no saved values (40 rows, 2–41" in errors[1].detail
    assert "save it" in errors[1].detail and "missing latitude" not in str(excinfo.value)


def test_formulas_with_values_saved_by_a_spreadsheet_are_read(tmp_path, beijing_names):
    frame = beijing_names.head(25)
    path = tmp_path / "ledger.xlsx"
    book = xlsxwriter.Workbook(str(path))  # like Excel: each formula with its value
    ws = book.add_worksheet("小区")
    for j, head in enumerate(["名称", "经度", "纬度"]):
        ws.write(0, j, head)
    for i, (name, lon, lat) in enumerate(frame.itertuples(index=False), 1):
        ws.write(i, 0, name)
        ws.write_formula(i, 1, f"=ROUND({lon},7)", None, round(lon, 7))
        ws.write_formula(i, 2, f"=ROUND({lat},7)", None, round(lat, 7))
    book.close()
    places = read_places(path)
    assert places["name"].tolist() == frame["name"].tolist()
    assert np.allclose(places.geometry.x, frame["lon"].round(7)) and np.allclose(
        places.geometry.y, frame["lat"].round(7)
    )


def test_decimal_commas_in_xlsx_text_cells_get_a_hint(tmp_path, accented_names):
    frame = accented_names.head(3).assign(lat=lambda f: f["lat"].map(lambda v: f"{v:.5f}".replace(".", ",")))
    path = workbook(tmp_path / "ledger.xlsx", {"places": frame})
    with pytest.raises(InputErrors) as excinfo:
        read_places(path)
    assert [e.row for e in problems(excinfo)] == [2, 3, 4]
    assert all("has a decimal comma; write" in e.detail for e in problems(excinfo))


# ---------------------------------------------------------------- GIS files


def test_a_geopackage_with_two_layers_is_listed_until_one_is_named(tmp_path, beijing_names):
    path = tmp_path / "places.gpkg"
    frame = gpd.GeoDataFrame(beijing_names, geometry=gpd.points_from_xy(beijing_names.lon, beijing_names.lat), crs=4326)
    frame.iloc[:10].drop(columns=["lon", "lat"]).to_file(path, layer="sites")
    frame.iloc[10:].drop(columns=["lon", "lat"]).to_file(path, layer="demand")
    with pytest.raises(InputError, match=r"2 layers with geometries \('sites', 'demand'\)"):
        read_places(path)
    assert read_places(path, layer="demand")["name"].tolist() == beijing_names["name"].iloc[10:].tolist()


def test_a_geopackage_attribute_table_is_no_candidate(tmp_path, beijing_names):
    """A layer without geometries (notes, metadata) does not make the file ambiguous."""
    import pyogrio

    path = tmp_path / "places.gpkg"
    frame = gpd.GeoDataFrame(beijing_names, geometry=gpd.points_from_xy(beijing_names.lon, beijing_names.lat), crs=4326)
    pyogrio.write_dataframe(pd.DataFrame({"note": ["来源: OSM"]}), path, layer="metadata")
    frame.drop(columns=["lon", "lat"]).to_file(path, layer="小区")
    assert sorted(map(tuple, pyogrio.list_layers(path).tolist()), key=str) == [("metadata", None), ("小区", "Point")]
    assert read_places(path)["name"].tolist() == beijing_names["name"].tolist()


def test_a_multipoint_of_several_points_is_refused_and_of_one_point_is_that_point(tmp_path, accented_names):
    xy = accented_names[["lon", "lat"]].to_numpy()
    geoms = [shapely.MultiPoint(xy[0:3]), shapely.Point(xy[3]), shapely.MultiPoint([xy[4]])]
    path = tmp_path / "places.geojson"
    gpd.GeoDataFrame({"name": accented_names["name"].iloc[:3]}, geometry=geoms, crs=4326).to_file(path)
    with pytest.raises(InputErrors) as excinfo:
        read_places(path)
    (error,) = problems(excinfo)
    assert error.row == 1 and "MultiPoint of 3 points" in error.detail
    path.unlink()
    gpd.GeoDataFrame({"name": accented_names["name"].iloc[:2]}, geometry=geoms[1:], crs=4326).to_file(path)
    places = read_places(path)
    assert places.geometry.iloc[1].equals(shapely.Point(xy[4])) and "footprint" not in places


# ---------------------------------------------------------------- sites sharing a name


def test_sites_sharing_a_real_name_are_warned_about_also_from_the_cache(tmp_path):
    # Monaco has several real amenities called "La Poste" (post offices in different streets).
    rows = []
    for obj in osmium.FileProcessor(str(raw_file("monaco.osm.pbf"))):
        tags = dict(obj.tags)
        if obj.is_node() and tags.get("name") == "La Poste":
            rows.append((f"n{obj.id}", tags["name"], obj.location.lon, obj.location.lat))
    assert len(rows) >= 2
    path = write_csv(tmp_path / "sites.csv", pd.DataFrame(rows, columns=["id", "name", "lon", "lat"]), "utf-8")
    for _ in range(2):  # read, then served from the cache
        with pytest.warns(DuplicateNameWarning, match=rf"{len(rows)} sites are named 'La Poste' \(rows 2, 3"):
            cached_read_places(path, "sites", tmp_path / "cache")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DuplicateNameWarning)
        read_places(path, "demand")  # demand places may share names


# ---------------------------------------------------------------- options and the cache


def test_the_places_cache_key_holds_sheet_layer_and_encoding(tmp_path, beijing_names):
    cache = tmp_path / "cache"
    book = workbook(tmp_path / "ledger.xlsx", {"A": beijing_names.head(3), "B": beijing_names.iloc[3:8]})
    assert len(cached_read_places(book, "demand", cache, sheet="A")) == 3
    assert len(cached_read_places(book, "demand", cache, sheet="B")) == 5

    gpkg = tmp_path / "places.gpkg"
    frame = gpd.GeoDataFrame(beijing_names, geometry=gpd.points_from_xy(beijing_names.lon, beijing_names.lat), crs=4326)
    frame.iloc[:4].drop(columns=["lon", "lat"]).to_file(gpkg, layer="a")
    frame.iloc[4:6].drop(columns=["lon", "lat"]).to_file(gpkg, layer="b")
    assert len(cached_read_places(gpkg, "demand", cache, layer="a")) == 4
    assert len(cached_read_places(gpkg, "demand", cache, layer="b")) == 2

    # Bytes that are text both in Big5 and in GBK: the declared encoding decides the names.
    names = [n for n in beijing_names["name"] if _encodes(n, "big5") and _decodes(n.encode("big5"), "gbk")][:5]
    path = write_csv(tmp_path / "names.csv", beijing_names[beijing_names["name"].isin(names)], "big5")
    as_big5 = cached_read_places(path, "demand", cache, encoding="big5")["name"].tolist()
    as_gbk = cached_read_places(path, "demand", cache, encoding="gbk")["name"].tolist()
    assert as_big5 == names and as_gbk == [n.encode("big5").decode("gbk") for n in names] and as_gbk != as_big5


def test_an_option_for_another_kind_of_file_is_refused(tmp_path, beijing_names):
    path = write_csv(tmp_path / "places.csv", beijing_names.head(2), "utf-8")
    with pytest.raises(DataError, match="sheet applies to .xlsx"):
        read_places(path, sheet="小区")
    book = workbook(tmp_path / "places.xlsx", {"小区": beijing_names.head(2)})
    with pytest.raises(DataError, match="encoding applies to .csv"):
        read_places(book, encoding="gbk")
    with pytest.raises(DataError, match="layer applies to .geojson"):
        read_places(book, layer="x")


@pytest.mark.parametrize(
    "section, message",
    [
        ('path = "sites.csv"\nsheet = "小区"', "sites.sheet': applies only to .xlsx, .xlsm files"),
        ('path = "sites.csv"\nlayer = "sites"', "sites.layer': applies only to .geojson"),
        ('path = "sites.xlsx"\nencoding = "gbk"', "sites.encoding': applies only to .csv"),
        ('path = "sites.csv"\nencoding = "klingon"', "unknown encoding 'klingon'"),
        ('path = "sites.xlsx"\nsheet = 3', "sites.sheet': must be text"),
    ],
)
def test_scenario_reading_options_are_checked_against_the_file(tmp_path, section, message):
    for name in ("sites.csv", "sites.xlsx", "demand.csv"):
        (tmp_path / name).write_bytes(b"")
    toml = tmp_path / "s.toml"
    toml.write_text(
        f'name = "t"\n[network]\npath = "demand.csv"\n[sites]\n{section}\n[demand]\npath = "demand.csv"\n',
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError, match=re.escape(message)):
        Scenario.from_toml(toml)


def test_a_scenario_reads_the_declared_sheet_and_encoding(tmp_path, beijing_names):
    """End to end on the Beijing extract: sites on the second sheet of a workbook, demand in declared GBK."""
    from coverage_planner import run_scenario

    osm = raw_file("beijing_haidian_cau_map.osm")
    inside = beijing_names[beijing_names.lon.between(116.344, 116.360) & beijing_names.lat.between(39.998, 40.009)]
    sites, demand = inside.iloc[:6], inside.iloc[6:]
    assert len(demand) > 50
    workbook(tmp_path / "sites.xlsx", {"旧": sites.head(2), "站点": sites}, hidden=())
    write_csv(tmp_path / "demand.csv", demand, "gbk")
    toml = tmp_path / "scenario.toml"
    toml.write_text(
        f'name = "t"\n[network]\npath = "{osm.as_posix()}"\n'
        '[sites]\npath = "sites.xlsx"\nsheet = "站点"\n'
        '[demand]\npath = "demand.csv"\nencoding = "gbk"\n[walk]\nthreshold_min = 10\n',
        encoding="utf-8",
    )
    scenario = Scenario.from_toml(toml)
    assert (scenario.sites.sheet, scenario.demand.encoding) == ("站点", "gbk")
    result = run_scenario(scenario)
    assert result.sites["name"].tolist() == sites["name"].tolist()
    assert sorted(result.demand["name"]) == sorted(demand["name"])


def test_csv_reading_is_rfc4180_as_the_standard_library_writes_it(tmp_path, beijing_names):
    """Independent writer: csv.writer with every quoting style reads back to the same cells."""
    names = [f'{n}"{m}", {n}' for n, m in zip(beijing_names["name"][:20], beijing_names["name"][20:40])]
    for quoting in (csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC):
        buffer = io.StringIO()
        writer = csv.writer(buffer, quoting=quoting)
        writer.writerow(["名称", "经度", "纬度"])
        writer.writerows(zip(names, beijing_names["lon"][:20], beijing_names["lat"][:20]))
        path = tmp_path / "places.csv"
        path.write_text(buffer.getvalue(), encoding="utf-8")
        assert read_places(path)["name"].tolist() == names
