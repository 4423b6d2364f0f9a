"""grid.coords: published vectors, sub-centimetre round trips, types, the China box, crs."""

from __future__ import annotations

import numpy as np
import pytest

from dispatch.core.errors import InvalidInput
from grid.coords import (
    CRS_NAMES,
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    out_of_china,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

EARTH_RADIUS_M = 6371008.8


def haversine_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in metres, elementwise."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.subtract(lon2, lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(a))


@pytest.fixture(scope="module")
def china() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20240601)
    return rng.uniform(73.0, 135.0, 10_000), rng.uniform(18.0, 53.0, 10_000)


# ------------------------------------------------------------------ published vectors

# (wgs lon, wgs lat, gcj lon, gcj lat, tolerance): full-precision vectors are held to 1e-9°,
# which also pins the Krasovsky axis (WGS-84's a = 6378137 would be off by ~6e-8°).
WGS_TO_GCJ = [
    # googollee/eviltransform python/test.py TESTS (given there as lat, lng): Shanghai
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597, 1e-9),
    # ... Shenzhen
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766, 1e-9),
    # ... Beijing
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069, 1e-9),
    # wandergis/coordtransform test/app.js: wgs84togcj02(116.404, 39.915), Beijing
    (116.404, 39.915, 116.41024449916938, 39.91640428150164, 1e-9),
    # hujiulong/gcoord test/unit/crs/WGS84.spec.ts: WGS84.to.GCJ02([123, 45]), 8 decimals
    (123.0, 45.0, 123.00607541, 45.00197815, 1e-6),
]

# (gcj lon, gcj lat, bd lon, bd lat)
GCJ_TO_BD = [
    # wandergis/coordtransform test/app.js: gcj02tobd09(116.404, 39.915)
    (116.404, 39.915, 116.41036949371029, 39.92133699351021),
    # hujiulong/gcoord test/unit/crs/GCJ02.spec.ts: GCJ02.to.BD09([123, 45])
    (123.0, 45.0, 123.00636499, 45.00636899),
    # hujiulong/gcoord test/fixtures/china-cities.json (GCJ02 → BD09, 7 decimals): 郑州市
    (113.6253334, 34.7466173, 113.6317519, 34.7528605),
    # ... 沈阳市
    (123.4314787, 41.8057023, 123.438095, 41.8114013),
    # ... 那曲地区
    (92.0512438, 31.4762063, 92.0576832, 31.4824421),
    # ... 泉州市
    (118.6756787, 24.8741363, 118.6821251, 24.8804872),
]

@pytest.mark.parametrize(("lon", "lat", "want_lon", "want_lat", "tol"), WGS_TO_GCJ)
def test_wgs84_to_gcj02_matches_published_vectors(lon, lat, want_lon, want_lat, tol) -> None:
    got_lon, got_lat = wgs84_to_gcj02(lon, lat)
    assert got_lon == pytest.approx(want_lon, abs=tol)
    assert got_lat == pytest.approx(want_lat, abs=tol)


@pytest.mark.parametrize(("lon", "lat", "want_lon", "want_lat"), GCJ_TO_BD)
def test_gcj02_to_bd09_matches_published_vectors(lon, lat, want_lon, want_lat) -> None:
    got_lon, got_lat = gcj02_to_bd09(lon, lat)
    assert got_lon == pytest.approx(want_lon, abs=1e-6)
    assert got_lat == pytest.approx(want_lat, abs=1e-6)


def test_the_vectors_hold_when_given_as_one_array() -> None:
    lon, lat, want_lon, want_lat, _ = (np.array(col) for col in zip(*WGS_TO_GCJ, strict=True))
    got_lon, got_lat = wgs84_to_gcj02(lon, lat)
    np.testing.assert_allclose(got_lon, want_lon, rtol=0, atol=1e-6)
    np.testing.assert_allclose(got_lat, want_lat, rtol=0, atol=1e-6)


def test_the_offset_in_changyuan_is_a_few_hundred_metres() -> None:
    lon, lat = 114.67, 35.20  # 长垣市, Henan
    shift = haversine_m(lon, lat, *wgs84_to_gcj02(lon, lat))
    assert 200.0 < shift < 800.0


# ------------------------------------------------------------------ inverses


def test_gcj02_round_trip_is_sub_centimetre_over_china(china) -> None:
    lon, lat = china
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert np.abs(back_lon - lon).max() < 1e-7
    assert np.abs(back_lat - lat).max() < 1e-7
    assert haversine_m(lon, lat, back_lon, back_lat).max() < 0.01


def test_bd09_round_trips_are_sub_centimetre_over_china(china) -> None:
    lon, lat = china
    back_lon, back_lat = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert haversine_m(lon, lat, back_lon, back_lat).max() < 0.01
    gcj_lon, gcj_lat = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert haversine_m(lon, lat, gcj_lon, gcj_lat).max() < 0.01


def test_the_one_step_inverse_is_off_by_metres_which_is_why_we_iterate(china) -> None:
    lon, lat = china
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    fwd_lon, fwd_lat = wgs84_to_gcj02(gcj_lon, gcj_lat)
    one_step = haversine_m(lon, lat, 2 * gcj_lon - fwd_lon, 2 * gcj_lat - fwd_lat)
    ours = haversine_m(lon, lat, *gcj02_to_wgs84(gcj_lon, gcj_lat))
    assert one_step.max() > 1.0
    assert ours.max() < 0.01


def test_bd09_inverse_inverts_the_published_forward_vectors() -> None:
    for gcj_lon, gcj_lat, bd_lon, bd_lat in GCJ_TO_BD:
        got_lon, got_lat = bd09_to_gcj02(bd_lon, bd_lat)
        assert haversine_m(gcj_lon, gcj_lat, got_lon, got_lat) < 0.05  # vectors have 7 decimals


# ------------------------------------------------------------------ types and shapes

FUNCTIONS = [wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, wgs84_to_bd09,
             bd09_to_wgs84]


@pytest.mark.parametrize("func", FUNCTIONS)
def test_floats_in_give_python_floats_out(func) -> None:
    for lon, lat in ((114.67, 35.20), (np.float64(114.67), np.float64(35.20)), (114, 35)):
        out = func(lon, lat)
        assert isinstance(out, tuple) and len(out) == 2
        assert all(type(v) is float for v in out)


@pytest.mark.parametrize("func", FUNCTIONS)
def test_arrays_in_give_arrays_of_the_same_shape_out(func) -> None:
    lon = np.linspace(100.0, 120.0, 6).reshape(2, 3)
    lat = np.linspace(25.0, 40.0, 6).reshape(2, 3)
    out_lon, out_lat = func(lon, lat)
    assert isinstance(out_lon, np.ndarray) and isinstance(out_lat, np.ndarray)
    assert out_lon.shape == out_lat.shape == (2, 3)
    first = func(float(lon[0, 0]), float(lat[0, 0]))
    assert (out_lon[0, 0], out_lat[0, 0]) == pytest.approx(first, abs=1e-12)
    empty_lon, empty_lat = func(np.empty(0), np.empty(0))
    assert empty_lon.shape == empty_lat.shape == (0,)


def test_mismatched_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        wgs84_to_gcj02(np.zeros(3), np.zeros(2))


# ------------------------------------------------------------------ outside China

ABROAD = [(139.6917, 35.6895), (-0.1276, 51.5072), (151.2093, -33.8688), (37.6173, 55.7558)]


@pytest.mark.parametrize(("lon", "lat"), ABROAD)
def test_points_outside_china_are_unchanged_by_gcj02(lon, lat) -> None:
    assert out_of_china(lon, lat) is True
    assert wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert gcj02_to_wgs84(lon, lat) == (lon, lat)


def test_the_china_box_applies_elementwise() -> None:
    lon = np.array([139.6917, 114.67, -0.1276])
    lat = np.array([35.6895, 35.20, 51.5072])
    assert out_of_china(lon, lat).tolist() == [True, False, True]
    assert out_of_china(114.67, 35.20) is False
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    assert gcj_lon[[0, 2]].tolist() == lon[[0, 2]].tolist()
    assert gcj_lat[[0, 2]].tolist() == lat[[0, 2]].tolist()
    assert gcj_lon[1] != lon[1] and gcj_lat[1] != lat[1]
    back_lon, back_lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    np.testing.assert_allclose(back_lon, lon, rtol=0, atol=1e-9)
    np.testing.assert_allclose(back_lat, lat, rtol=0, atol=1e-9)


# ------------------------------------------------------------------ crs names

POINT = (114.67, 35.20)


def test_crs_names() -> None:
    assert CRS_NAMES == ("WGS84", "CGCS2000", "GCJ02", "BD09")


@pytest.mark.parametrize("crs", ["WGS84", "wgs84", "CGCS2000", "cgcs2000", "EPSG:4326",
                                 "epsg:4490"])
def test_wgs84_and_cgcs2000_are_identity(crs: str) -> None:
    assert to_wgs84(*POINT, crs) == POINT
    assert from_wgs84(*POINT, crs) == POINT


@pytest.mark.parametrize(("crs", "inverse", "forward"), [
    ("GCJ02", gcj02_to_wgs84, wgs84_to_gcj02),
    ("gcj02", gcj02_to_wgs84, wgs84_to_gcj02),
    ("BD09", bd09_to_wgs84, wgs84_to_bd09),
    ("bd09", bd09_to_wgs84, wgs84_to_bd09),
])
def test_to_and_from_wgs84_dispatch_on_crs(crs, inverse, forward) -> None:
    assert to_wgs84(*POINT, crs) == inverse(*POINT)
    assert to_wgs84(*POINT, crs) != POINT
    assert from_wgs84(*POINT, crs) == forward(*POINT)
    lon, lat = np.array([POINT[0]]), np.array([POINT[1]])
    back_lon, back_lat = to_wgs84(*from_wgs84(lon, lat, crs), crs)
    assert haversine_m(lon, lat, back_lon, back_lat).max() < 0.01


@pytest.mark.parametrize("crs", ["EPSG:3857", "WGS72", "", "mars"])
def test_an_unknown_crs_is_invalid_input_naming_the_field(crs: str) -> None:
    with pytest.raises(InvalidInput, match="crs") as caught:
        to_wgs84(*POINT, crs)
    assert caught.value.field == "crs"
    with pytest.raises(InvalidInput) as caught:
        from_wgs84(*POINT, crs)
    assert caught.value.field == "crs"
