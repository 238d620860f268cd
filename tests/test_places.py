"""Reading and validating place files: formats, schema, coordinates and errors."""

from __future__ import annotations

import hashlib
import os

import geopandas as gpd
import numpy as np
import openpyxl
import pytest
from shapely.geometry import LineString, Point, Polygon

from coverage_planner._errors import DataError, InputError, InputErrors
from coverage_planner.places import china
from coverage_planner.places.reading import COLUMN_ALIASES, PLACE_COLUMNS, check_within_area, read_places

# Two residential compounds in Hohhot (WGS-84).
HOHHOT = [(111.7519, 40.8414), (111.6860, 40.8150)]
HOHHOT_BOUNDS = (111.55, 40.70, 111.90, 40.95)


def write_csv(tmp_path, text, name="places.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(tmp_path, rows, name="places.xlsx", merge=None):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "小区"
    for row in rows:
        sheet.append(row)
    if merge:
        sheet.merge_cells(merge)
    path = tmp_path / name
    book.save(path)
    return path


def messages(excinfo):
    return [str(e) for e in excinfo.value.errors]


def lonlat(frame, i):
    point = frame.geometry.iloc[i]
    return point.x, point.y


# ---------------------------------------------------------------- formats


def test_csv_gives_the_fixed_schema_in_wgs84(tmp_path):
    path = write_csv(tmp_path, "id,name,lon,lat\nA,East,111.7519,40.8414\nB,West,111.6860,40.8150\n")
    places = read_places(path)
    assert tuple(places.columns) == PLACE_COLUMNS
    assert places.crs.to_epsg() == 4326
    assert places["id"].tolist() == ["A", "B"]
    assert lonlat(places, 0) == HOHHOT[0]


def test_rows_keep_file_order_with_index_from_zero(tmp_path):
    path = write_csv(tmp_path, "id,lon,lat\nz,111.75,40.84\na,111.70,40.80\nm,111.72,40.82\n")
    places = read_places(path)
    assert places["id"].tolist() == ["z", "a", "m"]
    assert places.index.tolist() == [0, 1, 2]


def test_csv_with_utf8_bom_is_read(tmp_path):
    path = write_csv(tmp_path, "名称,经度,纬度\n东区,111.7519,40.8414\n", encoding="utf-8-sig")
    assert read_places(path)["name"].tolist() == ["东区"]


def test_csv_in_gbk_from_chinese_excel_is_read(tmp_path):
    path = write_csv(tmp_path, "名称,经度,纬度,所属区\n海东路社区,111.7519,40.8414,赛罕区\n", encoding="gbk")
    places = read_places(path)
    assert places["name"].tolist() == ["海东路社区"]
    assert places["district"].tolist() == ["赛罕区"]


def test_tab_separated_utf16_from_excel_unicode_text_is_read(tmp_path):
    path = write_csv(tmp_path, "名称\t经度\t纬度\n东区\t111.7519\t40.8414\n", name="places.txt", encoding="utf-16")
    assert read_places(path)["name"].tolist() == ["东区"]


def test_xlsx_is_read_with_typed_cells(tmp_path):
    path = write_xlsx(tmp_path, [["编号", "名称", "经度", "纬度"], [1001, "东区", 111.7519, 40.8414]])
    places = read_places(path)
    assert places["id"].tolist() == ["1001"]
    assert lonlat(places, 0) == HOHHOT[0]


def test_xlsx_title_row_above_header_is_skipped_and_rows_count_from_the_sheet(tmp_path):
    rows = [["呼和浩特市社区养老服务站点", None, None], ["名称", "经度", "纬度"], ["东区", 111.7519, 40.8414]]
    path = write_xlsx(tmp_path, rows, merge="A1:C1")
    places = read_places(path)
    assert places["name"].tolist() == ["东区"]
    assert places["source_row"].tolist() == [3]


def test_xlsx_sheet_can_be_chosen_by_name(tmp_path):
    path = write_xlsx(tmp_path, [["lon", "lat"], [111.7519, 40.8414]])
    assert len(read_places(path, sheet="小区")) == 1


def test_geojson_points_are_read(tmp_path):
    frame = gpd.GeoDataFrame({"id": ["A", "B"]}, geometry=[Point(p) for p in HOHHOT], crs=4326)
    path = tmp_path / "sites.geojson"
    frame.to_file(path, driver="GeoJSON")
    places = read_places(path, "sites")
    assert places["id"].tolist() == ["A", "B"]
    assert lonlat(places, 1) == pytest.approx(HOHHOT[1])
    assert "footprint" not in places


def test_polygons_keep_their_footprint_and_get_a_point_on_their_surface(tmp_path):
    # An L-shaped compound: its centroid lies outside it, a point on its surface does not.
    shape = Polygon(
        [(111.70, 40.80), (111.71, 40.80), (111.71, 40.801), (111.701, 40.801), (111.701, 40.81), (111.70, 40.81)]
    )
    path = tmp_path / "compounds.geojson"
    gpd.GeoDataFrame({"name": ["L"]}, geometry=[shape], crs=4326).to_file(path, driver="GeoJSON")
    places = read_places(path)
    assert places.geometry.iloc[0].within(shape)
    assert places["footprint"].iloc[0].equals(shape)
    assert places["footprint"].crs.to_epsg() == 4326


def test_lines_get_a_representative_point_on_the_line(tmp_path):
    line = LineString([(111.70, 40.80), (111.71, 40.80)])
    path = tmp_path / "paths.geojson"
    gpd.GeoDataFrame({"name": ["path"]}, geometry=[line], crs=4326).to_file(path, driver="GeoJSON")
    places = read_places(path)
    assert places.geometry.iloc[0].distance(line) < 1e-9


def test_gpkg_in_a_projected_crs_is_reprojected_to_wgs84(tmp_path):
    frame = gpd.GeoDataFrame({"id": ["A"]}, geometry=[Point(HOHHOT[0])], crs=4326).to_crs(32649)
    path = tmp_path / "sites.gpkg"
    frame.to_file(path, driver="GPKG")
    places = read_places(path, "sites")
    assert places.crs.to_epsg() == 4326
    assert lonlat(places, 0) == pytest.approx(HOHHOT[0], abs=1e-7)


def test_gpkg_layer_is_chosen_with_layer_or_sheet_and_two_layers_unnamed_are_listed(tmp_path):
    path = tmp_path / "layers.gpkg"
    for layer, point in zip(("sites", "other"), HOHHOT, strict=True):
        gpd.GeoDataFrame({"id": [layer]}, geometry=[Point(point)], crs=4326).to_file(path, layer=layer)
    with pytest.raises(InputError, match=r"2 layers with geometries \('sites', 'other'\); say which one"):
        read_places(path, "sites")
    assert read_places(path, "sites", layer="sites")["id"].tolist() == ["sites"]
    assert read_places(path, "sites", sheet="other")["id"].tolist() == ["other"]


def test_sheet_and_layer_together_are_a_data_error(tmp_path):
    path = tmp_path / "sites.gpkg"
    gpd.GeoDataFrame({"id": ["A"]}, geometry=[Point(HOHHOT[0])], crs=4326).to_file(path, layer="sites")
    with pytest.raises(DataError, match="not both"):
        read_places(path, sheet="sites", layer="sites")


def test_declared_gbk_reads_a_gbk_csv_and_a_declared_codec_name_is_normalised(tmp_path):
    path = write_csv(tmp_path, "名称,经度,纬度\n海东路社区,111.7519,40.8414\n", encoding="gbk")
    for name in ("gbk", "GB2312", "gb18030", "cp936"):
        assert read_places(path, encoding=name)["name"].tolist() == ["海东路社区"]


def test_a_title_row_wider_than_the_header_is_not_an_unquoted_delimiter(tmp_path):
    path = write_csv(tmp_path, "呼和浩特市站点清单,,,,\nid,lon,lat\nA,111.75,40.84\n")
    assert read_places(path)["id"].tolist() == ["A"]


def test_coordinates_with_a_decimal_comma_are_never_read_as_thousands(tmp_path):
    path = write_csv(tmp_path, 'id,lon,lat\nA,"111,752","40,841"\n')
    with pytest.raises(InputErrors) as excinfo:
        read_places(path)
    assert messages(excinfo) == [
        f"{path}, row 2, field 'lon': '111,752' has a decimal comma; write 111.752 (a point before the decimals)",
        f"{path}, row 2, field 'lat': '40,841' has a decimal comma; write 40.841 (a point before the decimals)",
    ]


def test_csv_title_rows_above_the_header_are_skipped(tmp_path):
    path = write_csv(tmp_path, "呼和浩特市站点清单,,\n制表 2024年,,\nid,lon,lat\nA,111.75,40.84\n")
    assert read_places(path)["source_row"].tolist() == [4]


def test_csv_with_semicolons_is_read(tmp_path):
    assert len(read_places(write_csv(tmp_path, "id;lon;lat\nA;111.75;40.84\n"))) == 1


def test_empty_unnamed_columns_are_ignored(tmp_path):
    assert len(read_places(write_csv(tmp_path, "id,lon,lat,,\nA,111.75,40.84,,\n"))) == 1


# ---------------------------------------------------------------- columns and values


def test_headers_match_aliases_case_insensitively_after_stripping(tmp_path):
    path = write_csv(tmp_path, " ID , Name ,LONGITUDE, Latitude ,Street\nA,East,111.7519,40.8414,昭乌达路\n")
    places = read_places(path)
    assert places[["id", "name", "subdistrict"]].iloc[0].tolist() == ["A", "East", "昭乌达路"]


def test_chinese_headers_fill_every_text_field(tmp_path):
    path = write_csv(
        tmp_path,
        "编号,名称,经度,纬度,类型,所属区,所属街道,所属社区,地址\n"
        "7,东区,111.75,40.84,小区,赛罕区,昭乌达路街道,东区社区,大学东街1号\n",
    )
    row = read_places(path).iloc[0]
    assert [row[c] for c in ("type", "district", "subdistrict", "community", "address")] == [
        "小区",
        "赛罕区",
        "昭乌达路街道",
        "东区社区",
        "大学东街1号",
    ]


def test_blank_text_fields_are_none(tmp_path):
    path = write_csv(tmp_path, "id,lon,lat,address\nA,111.75,40.84,\n")
    assert read_places(path)["address"].tolist() == [None]


def test_alias_table_is_exposed_for_docs():
    assert "经度" in COLUMN_ALIASES["lon"] and "纬度" in COLUMN_ALIASES["lat"]


def test_ids_are_generated_from_kind_and_sheet_row_without_an_id_column(tmp_path):
    path = write_csv(tmp_path, "name,lon,lat\nEast,111.75,40.84\n\nWest,111.70,40.80\n")
    assert read_places(path, "sites")["id"].tolist() == ["sites-2", "sites-4"]


def test_blank_name_falls_back_to_the_id(tmp_path):
    path = write_csv(tmp_path, "id,name,lon,lat\nA,,111.75,40.84\n")
    assert read_places(path)["name"].tolist() == ["A"]


def test_ids_keep_leading_zeros_from_csv(tmp_path):
    path = write_csv(tmp_path, "id,lon,lat\n007,111.75,40.84\n")
    assert read_places(path)["id"].tolist() == ["007"]


def test_weight_defaults_to_one(tmp_path):
    path = write_csv(tmp_path, "id,lon,lat\nA,111.75,40.84\n")
    assert read_places(path)["weight"].tolist() == [1.0]


def test_weight_column_gives_the_weight(tmp_path):
    path = write_csv(tmp_path, 'id,lon,lat,人口\nA,111.75,40.84,"1,200"\nB,111.70,40.80,300\n')
    places = read_places(path, weight_column="人口")
    assert places["weight"].tolist() == [1200.0, 300.0]
    assert places["population"].tolist() == [1200.0, 300.0]


def test_optional_numeric_columns_are_floats_and_community_class_is_text(tmp_path):
    path = write_csv(tmp_path, "id,lon,lat,户数,人口,重点服务对象,社区类别\nA,111.75,40.84,420,1100,,2\n")
    row = read_places(path).iloc[0]
    assert (row["households"], row["population"]) == (420.0, 1100.0)
    assert np.isnan(row["key_targets"])
    assert row["community_class"] == "2"


def test_keep_columns_are_carried_through_unchanged(tmp_path):
    path = write_csv(tmp_path, "id,lon,lat,备注\nA,111.75,40.84,临街底商\n")
    places = read_places(path, keep_columns=["备注"])
    assert places["备注"].tolist() == ["临街底商"]


def test_placeholder_status_is_kept_and_blank_status_is_real(tmp_path):
    path = write_csv(tmp_path, "id,lon,lat,status\nA,111.75,40.84,placeholder\nB,111.70,40.80,\n")
    assert read_places(path)["status"].tolist() == ["placeholder", "real"]


def test_default_crs_gcj02_converts_every_row_to_wgs84(tmp_path):
    glon, glat = china.wgs84_to_gcj02(*HOHHOT[0])
    path = write_csv(tmp_path, f"id,lon,lat\nA,{glon:.12f},{glat:.12f}\n")
    places = read_places(path, default_crs="GCJ-02")
    assert lonlat(places, 0) == pytest.approx(HOHHOT[0], abs=1e-8)


def test_crs_column_converts_each_row_by_its_own_system(tmp_path):
    glon, glat = china.wgs84_to_gcj02(*HOHHOT[0])
    blon, blat = china.wgs84_to_bd09(*HOHHOT[0])
    path = write_csv(
        tmp_path,
        "id,lon,lat,坐标系\n"
        f"a,{HOHHOT[0][0]},{HOHHOT[0][1]},\n"
        f"g,{glon:.12f},{glat:.12f},火星坐标\nb,{blon:.12f},{blat:.12f},百度\n",
    )
    places = read_places(path)
    for i in range(3):
        assert lonlat(places, i) == pytest.approx(HOHHOT[0], abs=1e-8)


def test_gcj02_polygons_are_shifted_whole_to_wgs84(tmp_path):
    square = Polygon([(111.70, 40.80), (111.71, 40.80), (111.71, 40.81), (111.70, 40.81)])
    path = tmp_path / "amap.geojson"
    gpd.GeoDataFrame({"crs": ["高德"]}, geometry=[square], crs=4326).to_file(path, driver="GeoJSON")
    places = read_places(path)
    x, y = china.gcj02_to_wgs84(111.70, 40.80)
    assert places["footprint"].iloc[0].exterior.coords[0] == pytest.approx((x, y), abs=1e-9)


def test_reading_never_modifies_the_input_file(tmp_path):
    path = write_xlsx(tmp_path, [["title"], ["lon", "lat"], [111.75, 40.84]])
    before = (hashlib.sha256(path.read_bytes()).hexdigest(), os.stat(path).st_mtime_ns)
    read_places(path)
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), os.stat(path).st_mtime_ns) == before


# ---------------------------------------------------------------- bad input


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_places(tmp_path / "nope.csv")


def test_empty_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="empty"):
        read_places(write_csv(tmp_path, "\n\n"))


def test_header_only_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no data rows"):
        read_places(write_csv(tmp_path, "id,lon,lat\n"))


def test_missing_coordinate_columns_list_found_columns_and_accepted_names(tmp_path):
    with pytest.raises(InputErrors) as excinfo:
        read_places(write_csv(tmp_path, "名称,地址\n东区,大学东街\n"))
    (message,) = messages(excinfo)
    assert "no longitude or latitude column" in message
    assert "'名称', '地址'" in message and "经度" in message and "纬度" in message


def test_missing_and_non_numeric_coordinates_name_row_and_field(tmp_path):
    path = write_csv(tmp_path, "名称,经度,纬度\n甲,111.75,\n乙,东经111度,40.8\n")
    with pytest.raises(InputErrors) as excinfo:
        read_places(path)
    assert messages(excinfo) == [
        f"{path}, row 2, field '纬度': missing latitude",
        f"{path}, row 3, field '经度': '东经111度' is not a number",
    ]


def test_out_of_range_coordinates_say_they_look_swapped(tmp_path):
    with pytest.raises(InputErrors) as excinfo:
        read_places(write_csv(tmp_path, "id,lon,lat\nA,40.8414,111.7519\n"))
    (error,) = excinfo.value.errors
    assert error.row == 2 and error.field == "lon/lat"
    assert "latitude 111.7519 is outside [-90, 90]" in str(error) and "looks swapped" in str(error)


def test_out_of_range_coordinates_without_a_swap_do_not_claim_one(tmp_path):
    with pytest.raises(InputErrors) as excinfo:
        read_places(write_csv(tmp_path, "id,lon,lat\nA,411.75,40.84\n"))
    assert "swapped" not in str(excinfo.value)


def test_unknown_columns_are_listed_with_a_suggestion_and_keep_columns_hint(tmp_path):
    with pytest.raises(InputErrors) as excinfo:
        read_places(write_csv(tmp_path, "id,longitud,lat,备注\nA,111.75,40.84,x\n"))
    text = str(excinfo.value)
    assert "unknown column(s) 'longitud' (did you mean 'longitude'?), '备注'" in text
    assert "keep_columns" in text


def test_duplicate_ids_name_both_rows(tmp_path):
    with pytest.raises(InputErrors) as excinfo:
        read_places(write_csv(tmp_path, "id,lon,lat\nA,111.75,40.84\nB,111.7,40.8\nA,111.71,40.81\n"))
    (error,) = excinfo.value.errors
    assert error.row == 4 and "duplicate id 'A': also used on row 2" in str(error)


@pytest.mark.parametrize("value, problem", [("-5", "is negative"), ("many", "is not a number"), ("", "missing weight")])
def test_bad_weights_are_errors(tmp_path, value, problem):
    path = write_csv(tmp_path, f"id,lon,lat,人口\nA,111.75,40.84,{value}\n")
    with pytest.raises(InputErrors) as excinfo:
        read_places(path, weight_column="人口")
    (error,) = excinfo.value.errors
    assert (error.row, error.field) == (2, "人口") and problem in str(error)


def test_weight_column_missing_from_the_file_is_an_error(tmp_path):
    with pytest.raises(InputErrors, match="weight column 'population' is not in the file"):
        read_places(write_csv(tmp_path, "id,lon,lat\nA,111.75,40.84\n"), weight_column="population")


def test_unknown_status_is_an_error(tmp_path):
    with pytest.raises(InputErrors, match="row 2, field 'status': unknown status 'maybe'"):
        read_places(write_csv(tmp_path, "id,lon,lat,status\nA,111.75,40.84,maybe\n"))


def test_unknown_crs_value_names_row_and_field(tmp_path):
    with pytest.raises(InputErrors, match="row 3, field '坐标系': unknown coordinate system '搜狗'"):
        read_places(write_csv(tmp_path, "id,lon,lat,坐标系\nA,111.75,40.84,wgs84\nB,111.7,40.8,搜狗\n"))


def test_all_row_problems_are_reported_in_one_pass(tmp_path):
    path = write_csv(tmp_path, "id,lon,lat,status\nA,x,40.8,\nA,111.7,40.8,\nC,111.7,40.8,maybe\n")
    with pytest.raises(InputErrors) as excinfo:
        read_places(path)
    assert [e.row for e in excinfo.value.errors] == [2, 3, 4]


def test_keep_column_missing_from_the_file_suggests_a_close_header(tmp_path):
    path = write_csv(tmp_path, "id,lon,lat,备注\nA,111.75,40.84,x\n")
    with pytest.raises(InputErrors, match="keep column '备 注' is not in the file \\(did you mean '备注'\\?\\)"):
        read_places(path, keep_columns=["备 注"])


def test_two_columns_for_the_same_field_are_an_error(tmp_path):
    with pytest.raises(InputErrors, match="columns 'lon' and '经度' both give the longitude"):
        read_places(write_csv(tmp_path, "id,lon,经度,lat\nA,111.75,111.75,40.84\n"))


def test_values_under_an_empty_header_are_an_unknown_column(tmp_path):
    with pytest.raises(InputErrors, match="column D, no header"):
        read_places(write_csv(tmp_path, "id,lon,lat,\nA,111.75,40.84,note\n"))


def test_binary_bytes_are_an_input_error(tmp_path):
    path = tmp_path / "places.csv"
    path.write_bytes(b"\xff\xff\x00\x01")
    with pytest.raises(InputError, match="binary, not CSV text"):
        read_places(path)


def test_features_without_geometry_are_errors(tmp_path):
    path = tmp_path / "sites.geojson"
    frame = gpd.GeoDataFrame({"id": ["A", "B"]}, geometry=[Point(HOHHOT[0]), None], crs=4326)
    frame.to_file(path, driver="GeoJSON")
    with pytest.raises(InputErrors, match="row 2, field 'geometry': missing geometry"):
        read_places(path, "sites")


def test_gcj02_is_refused_for_a_projected_gis_file(tmp_path):
    path = tmp_path / "utm.gpkg"
    gpd.GeoDataFrame({"id": ["A"]}, geometry=[Point(HOHHOT[0])], crs=4326).to_crs(32649).to_file(path)
    with pytest.raises(InputErrors, match="projected CRS"):
        read_places(path, default_crs="gcj02")


def test_unknown_gpkg_layer_lists_the_layers(tmp_path):
    path = tmp_path / "sites.gpkg"
    gpd.GeoDataFrame({"id": ["A"]}, geometry=[Point(HOHHOT[0])], crs=4326).to_file(path, layer="sites")
    with pytest.raises(InputError, match=r"no layer 'shops'; the file has \['sites'\]"):
        read_places(path, sheet="shops")


def test_corrupt_xlsx_is_an_input_error(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a workbook")
    with pytest.raises(InputError, match=r"cannot read as an Excel \.xlsx workbook"):
        read_places(path)


def test_corrupt_geojson_is_an_input_error(tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [')
    with pytest.raises(InputError, match="cannot read as a GIS vector file"):
        read_places(path)


def test_unknown_sheet_lists_the_sheets(tmp_path):
    path = write_xlsx(tmp_path, [["lon", "lat"], [111.75, 40.84]])
    with pytest.raises(InputError, match=r"no sheet 'Sheet9'; the workbook has \['小区'\]"):
        read_places(path, sheet="Sheet9")


def test_unsupported_file_type_is_an_input_error(tmp_path):
    path = tmp_path / "places.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(InputError, match=r"save it as \.xlsx or \.csv"):
        read_places(path)


def test_unknown_default_crs_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="unknown coordinate system 'utm'"):
        read_places(write_csv(tmp_path, "lon,lat\n111.75,40.84\n"), default_crs="utm")


def test_xlsx_row_problems_name_the_sheet_row_below_a_title(tmp_path):
    rows = [["站点清单"], ["名称", "经度", "纬度"], ["东区", 111.75, 40.84], ["西区", "n/a", 40.81]]
    with pytest.raises(InputErrors, match="row 4, field '经度': 'n/a' is not a number"):
        read_places(write_xlsx(tmp_path, rows))


def test_unknown_kind_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="kind must be one of"):
        read_places(write_csv(tmp_path, "lon,lat\n111.75,40.84\n"), "shops")


# ---------------------------------------------------------------- within the network's area


def places_at(tmp_path, points):
    lines = "".join(f"P{i},{x},{y}\n" for i, (x, y) in enumerate(points))
    return read_places(write_csv(tmp_path, "id,lon,lat\n" + lines))


def test_places_inside_the_network_area_pass(tmp_path):
    check_within_area(places_at(tmp_path, HOHHOT), HOHHOT_BOUNDS)


def test_places_just_outside_pass_within_the_margin(tmp_path):
    check_within_area(places_at(tmp_path, [(111.91, 40.84)]), HOHHOT_BOUNDS, margin_m=2000)


def test_places_outside_the_network_area_are_named_by_row(tmp_path):
    places = places_at(tmp_path, [HOHHOT[0], (111.0, 40.84), HOHHOT[1]])
    with pytest.raises(InputErrors) as excinfo:
        check_within_area(places, HOHHOT_BOUNDS, path="demand.csv")
    (error,) = excinfo.value.errors
    assert error.row == 3 and "km outside the walking network's area" in str(error)


def test_a_file_entirely_outside_the_area_gets_one_summary_hint(tmp_path):
    places = places_at(tmp_path, [(116.40, 39.90), (116.41, 39.91)])  # Beijing, not Hohhot
    with pytest.raises(InputErrors) as excinfo:
        check_within_area(places, HOHHOT_BOUNDS)
    assert "none of the 2 places lies within" in messages(excinfo)[0]
    assert [e.row for e in excinfo.value.errors] == [None, 2, 3]


def test_swapped_lon_lat_inside_valid_ranges_are_detected(tmp_path):
    bounds = (9.47, 47.05, 9.64, 47.27)  # Liechtenstein, where lat/lon are both valid either way
    with pytest.raises(InputErrors, match="lon/lat look swapped"):
        check_within_area(places_at(tmp_path, [(47.15, 9.52)]), bounds)


def test_compound_polygon_uses_its_gate_when_one_is_given(tmp_path):
    import json

    square = [[111.660, 40.820], [111.664, 40.820], [111.664, 40.823], [111.660, 40.823], [111.660, 40.820]]
    features = [
        {
            "type": "Feature",
            "properties": {"name": "有大门", "gate_lon": 111.664, "gate_lat": 40.8215},
            "geometry": {"type": "Polygon", "coordinates": [square]},
        },
        {"type": "Feature", "properties": {"name": "无大门"}, "geometry": {"type": "Polygon", "coordinates": [square]}},
    ]
    path = tmp_path / "compounds.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    places = read_places(path)
    assert (places.geometry.x[0], places.geometry.y[0]) == (111.664, 40.8215)
    assert places.footprint[1].contains(places.geometry[1])  # representative point without a gate
    assert places.footprint[0] is not None


def test_gate_with_only_one_coordinate_is_an_error(tmp_path):
    path = write_csv(tmp_path, "name,lon,lat,大门经度\nA,111.66,40.82,111.67\n")
    with pytest.raises(InputErrors, match="row 2, field '大门纬度'|row 2, field 'gate_lat'|gate needs both"):
        read_places(path)


def test_xlsx_with_merged_two_level_header_is_read(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["名称", "坐标", None, "类型"])
    sheet.append([None, "经度", "纬度", None])
    sheet.append(["体校家属院", 111.67, 40.83, "单位家属院"])
    sheet.merge_cells("A1:A2")
    sheet.merge_cells("B1:C1")
    sheet.merge_cells("D1:D2")
    path = tmp_path / "ledger.xlsx"
    book.save(path)
    places = read_places(path)
    assert places.loc[0, "name"] == "体校家属院" and places.loc[0, "type"] == "单位家属院"
    assert places.loc[0, "source_row"] == 3
    assert (places.geometry.x[0], places.geometry.y[0]) == (111.67, 40.83)
