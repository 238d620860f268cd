"""GCJ-02 / BD-09 <-> WGS-84 conversions, checked against published reference pairs."""

from __future__ import annotations

import coordTransform
import numpy as np
import pytest

from coverage_planner.places import china

# (WGS-84 lon, lat, GCJ-02 lon, lat) from googollee/eviltransform,
# python/test.py (TESTS: Shanghai, Shenzhen, Beijing).
EVILTRANSFORM_PAIRS = [
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),
]

# (WGS-84, GCJ-02, BD-09) lon/lat of city centres from hujiulong/gcoord,
# test/fixtures/china-cities.json: 锡林郭勒盟 (Inner Mongolia), 沈阳, 酒泉, 郑州.
GCOORD_CITIES = [
    ((116.0414035, 43.9312805), (116.0482308, 43.9334573), (116.0546232, 43.9397782)),
    ((123.4253306, 41.8032629), (123.4314787, 41.8057023), (123.438095, 41.8114013)),
    ((98.4937175, 39.7319946), (98.4943595, 39.7328234), (98.5008441, 39.7388949)),
    ((113.6192856, 34.7478004), (113.6253334, 34.7466173), (113.6317519, 34.7528605)),
]

# Outside GCJ-02's box: London, New York, Tokyo, Sydney.
OUTSIDE_CHINA = ([-0.1276, -74.006, 139.6917, 151.2093], [51.5072, 40.7128, 35.6895, -33.8688])

CONVERSIONS = [
    china.wgs84_to_gcj02,
    china.gcj02_to_wgs84,
    china.wgs84_to_bd09,
    china.bd09_to_wgs84,
    china.gcj02_to_bd09,
    china.bd09_to_gcj02,
]


def metres(lon1, lat1, lon2, lat2):
    """Haversine distance in metres (ample for sub-metre checks)."""
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * np.arcsin(np.sqrt(a))


def hohhot_grid(n=40):
    lon, lat = np.meshgrid(np.linspace(111.4, 112.1, n), np.linspace(40.6, 41.0, n))
    return lon.ravel(), lat.ravel()


@pytest.mark.parametrize("wlon, wlat, glon, glat", EVILTRANSFORM_PAIRS)
def test_wgs84_to_gcj02_matches_eviltransform_reference(wlon, wlat, glon, glat):
    lon, lat = china.wgs84_to_gcj02(wlon, wlat)
    assert lon == pytest.approx(glon, abs=1e-7)
    assert lat == pytest.approx(glat, abs=1e-7)


@pytest.mark.parametrize("wlon, wlat, glon, glat", EVILTRANSFORM_PAIRS)
def test_gcj02_to_wgs84_recovers_eviltransform_reference_within_a_centimetre(wlon, wlat, glon, glat):
    lon, lat = china.gcj02_to_wgs84(glon, glat)
    assert metres(lon, lat, wlon, wlat) < 0.01


@pytest.mark.parametrize("wgs, gcj, bd", GCOORD_CITIES)
def test_gcj02_to_wgs84_matches_gcoord_city_within_a_metre(wgs, gcj, bd):
    assert metres(*china.gcj02_to_wgs84(*gcj), *wgs) < 1.0


@pytest.mark.parametrize("wgs, gcj, bd", GCOORD_CITIES)
def test_bd09_to_gcj02_matches_gcoord_city_within_a_centimetre(wgs, gcj, bd):
    assert metres(*china.bd09_to_gcj02(*bd), *gcj) < 0.01


@pytest.mark.parametrize("wgs, gcj, bd", GCOORD_CITIES)
def test_bd09_to_wgs84_matches_gcoord_city_within_a_metre(wgs, gcj, bd):
    assert metres(*china.bd09_to_wgs84(*bd), *wgs) < 1.0


def test_conversions_match_gcoord_unit_tests_at_123e_45n():
    # hujiulong/gcoord test/unit/crs/GCJ02.spec.ts and BD09.spec.ts (toBeCloseTo 5 digits).
    assert np.allclose(china.gcj02_to_wgs84(123, 45), (122.99395597, 44.99804071), atol=5e-6)
    assert np.allclose(china.gcj02_to_bd09(123, 45), (123.00636499, 45.00636899), atol=5e-6)
    assert np.allclose(china.bd09_to_gcj02(123, 45), (122.99363304, 44.99365430), atol=5e-6)
    assert np.allclose(china.bd09_to_wgs84(123, 45), (122.98762210, 44.99171540), atol=5e-6)


def test_gcj02_round_trip_error_is_below_a_centimetre_across_hohhot():
    lon, lat = hohhot_grid()
    back = china.gcj02_to_wgs84(*china.wgs84_to_gcj02(lon, lat))
    assert metres(*back, lon, lat).max() < 0.01  # the brief asks < 1 m


def test_bd09_round_trip_error_is_below_a_centimetre_across_hohhot():
    lon, lat = hohhot_grid()
    back = china.bd09_to_wgs84(*china.wgs84_to_bd09(lon, lat))
    assert metres(*back, lon, lat).max() < 0.01


def test_exact_inverse_beats_the_library_one_step_inverse():
    lon, lat = hohhot_grid()
    glon, glat = china.wgs84_to_gcj02(lon, lat)
    rough = np.asarray(coordTransform.gcj02_to_wgs84(glon, glat))
    ours = china.gcj02_to_wgs84(glon, glat)
    assert metres(*ours, lon, lat).max() < metres(*rough, lon, lat).max()


def test_gcj02_shift_in_hohhot_is_hundreds_of_metres():
    lon, lat = hohhot_grid()
    shift = metres(*china.wgs84_to_gcj02(lon, lat), lon, lat)
    assert shift.min() > 200 and shift.max() < 800


@pytest.mark.parametrize("convert", CONVERSIONS, ids=lambda f: f.__name__)
def test_points_outside_china_are_returned_unchanged(convert):
    lon, lat = convert(*OUTSIDE_CHINA)
    assert np.array_equal(lon, OUTSIDE_CHINA[0])
    assert np.array_equal(lat, OUTSIDE_CHINA[1])


def test_in_china_agrees_with_the_library_box():
    lon = np.array([111.7, 73.66, 73.67, 135.04, 135.05, 100.0, 100.0, 139.7, -0.1])
    lat = np.array([40.8, 30.0, 30.0, 30.0, 30.0, 3.86, 53.54, 35.7, 51.5])
    expected = [not coordTransform.out_of_china(x, y) for x, y in zip(lon, lat, strict=True)]
    assert china.in_china(lon, lat).tolist() == expected


@pytest.mark.parametrize("convert", CONVERSIONS, ids=lambda f: f.__name__)
def test_arrays_keep_their_shape(convert):
    lon, lat = np.full((3, 4), 111.7), np.full((3, 4), 40.8)
    out_lon, out_lat = convert(lon, lat)
    assert out_lon.shape == out_lat.shape == (3, 4)


def test_scalars_give_scalars():
    lon, lat = china.gcj02_to_wgs84(111.7, 40.8)
    assert isinstance(lon, np.float64) and isinstance(lat, np.float64)


def test_empty_arrays_give_empty_arrays():
    lon, lat = china.bd09_to_wgs84([], [])
    assert lon.shape == lat.shape == (0,)


def test_nan_coordinates_stay_nan_and_do_not_disturb_others():
    lon, lat = china.gcj02_to_wgs84([np.nan, 111.7], [40.8, 40.8])
    assert np.isnan(lon[0]) and lat[0] == 40.8
    assert metres(lon[1], lat[1], *china.gcj02_to_wgs84(111.7, 40.8)) == 0


def test_inputs_are_not_modified():
    lon, lat = np.array([111.7, 111.8]), np.array([40.8, 40.9])
    china.bd09_to_wgs84(lon, lat)
    assert lon.tolist() == [111.7, 111.8] and lat.tolist() == [40.8, 40.9]


def test_to_wgs84_converts_each_point_by_its_own_crs():
    wlon, wlat, glon, glat = EVILTRANSFORM_PAIRS[2]
    blon, blat = china.wgs84_to_bd09(wlon, wlat)
    lon, lat = china.to_wgs84([wlon, glon, blon], [wlat, glat, blat], ["WGS-84", "高德", "百度"])
    assert metres(lon, lat, wlon, wlat).max() < 0.01


def test_to_wgs84_with_one_crs_name_converts_every_point():
    lon, lat = china.to_wgs84([116.38404722455657], [39.91334545536069], "gcj02")
    assert metres(lon[0], lat[0], 116.377817, 39.911954) < 0.01


@pytest.mark.parametrize(
    "spelling, name",
    [
        ("wgs84", "wgs84"),
        ("WGS-84", "wgs84"),
        ("WGS 84", "wgs84"),
        ("EPSG:4326", "wgs84"),
        ("GPS", "wgs84"),
        ("GCJ-02", "gcj02"),
        ("gcj02", "gcj02"),
        ("火星坐标", "gcj02"),
        ("火星坐标系", "gcj02"),
        ("高德", "gcj02"),
        ("国测局坐标", "gcj02"),
        ("BD-09", "bd09"),
        ("bd09ll", "bd09"),
        ("百度", "bd09"),
        ("百度坐标系", "bd09"),
        (" Baidu ", "bd09"),
    ],
)
def test_normalize_crs_accepts_common_spellings(spelling, name):
    assert china.normalize_crs(spelling) == name


def test_normalize_crs_rejects_unknown_names_listing_accepted_ones():
    with pytest.raises(ValueError, match=r"unknown coordinate system 'utm50'.*wgs84.*gcj02.*bd09"):
        china.normalize_crs("utm50")


def test_to_wgs84_rejects_unknown_crs_names():
    with pytest.raises(ValueError, match="unknown coordinate system"):
        china.to_wgs84([111.7], [40.8], ["sogou"])


def test_a_place_declared_gcj02_but_outside_china_is_named_by_row(tmp_path):
    from coverage_planner import InputErrors
    from coverage_planner.places.reading import read_places

    path = tmp_path / "sites.csv"
    path.write_text(
        "名称,经度,纬度,坐标系\n阳光社区,111.6712,40.8153,gcj02\n巴黎,2.3522,48.8566,gcj02\n错位,40.8153,111.6712,bd09\n",
        encoding="utf-8",
    )
    with pytest.raises(InputErrors) as caught:
        read_places(path, "sites")
    by_row = {e.row: str(e) for e in caught.value.errors}
    assert set(by_row) == {3, 4}  # the Hohhot row is fine
    assert "declared gcj02" in by_row[3] and "outside China" in by_row[3] and "经度/纬度" in by_row[3]
    assert "swapped" in by_row[4]


def test_a_place_outside_china_for_a_network_in_china_says_so():
    import geopandas as gpd

    from coverage_planner import InputErrors
    from coverage_planner.places.area import check_within_area

    hohhot = (111.55, 40.75, 111.80, 40.90)
    places = gpd.GeoDataFrame(
        {"source_row": [2, 3, 4]}, geometry=gpd.points_from_xy([111.67, 2.35, 113.0], [40.81, 48.86, 40.0]), crs=4326
    )
    with pytest.raises(InputErrors) as caught:
        check_within_area(places, hohhot, path="demand.csv")
    messages = {e.row: str(e) for e in caught.value.errors}
    assert set(messages) == {3, 4}
    assert "outside China" in messages[3]
    assert "outside China" not in messages[4] and "km outside" in messages[4]  # in China, just elsewhere
