"""`load_gazetteer` builds the geocoder from a grid version's areas and the gazetteer table."""

from __future__ import annotations

import math

import pytest
import shapely
from shapely.geometry import box
from sqlalchemy.orm import Session

from grid.geocoder import Gazetteer, load_gazetteer
from grid.models import Area, GazetteerEntry, GridVersion


def metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    dx = (lon2 - lon1) * 111_320 * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(dx, (lat2 - lat1) * 110_574)


def add_version(session: Session, source: str) -> int:
    version = GridVersion(source=source, source_crs="EPSG:4326", area_count=0, cell_count=0,
                          bbox=[114.5, 35.0, 114.8, 35.4], report={})
    session.add(version)
    session.flush()
    return version.id


def add_area(session: Session, version: int, code: str, name: str, level: str,
             parent: str | None, bounds: tuple[float, float, float, float]) -> None:
    shape = box(*bounds)
    point = shape.centroid
    session.add(Area(grid_version=version, code=code, name=name, level=level, parent_code=parent,
                     geometry=shapely.to_wkb(shape), point_lon=point.x, point_lat=point.y,
                     area_m2=1.0))


@pytest.fixture
def version(session: Session) -> int:
    """A grid version with two streets, three communities (two named 张庄村), a cell, roads,
    landmarks and aliases; plus an older version whose names must not leak in."""
    old = add_version(session, "old.geojson")
    add_area(session, old, "S_OLD", "旧城街道", "street", "D", (114.60, 35.20, 114.62, 35.22))
    v = add_version(session, "demo.geojson")
    add_area(session, v, "D", "长垣市", "district", None, (114.5, 35.0, 114.8, 35.4))
    add_area(session, v, "S_PD", "蒲东街道", "street", "D", (114.68, 35.19, 114.70, 35.23))
    add_area(session, v, "S_NL", "恼里镇", "street", "D", (114.58, 35.08, 114.62, 35.12))
    add_area(session, v, "C_HP", "和平社区", "community", "S_PD", (114.68, 35.20, 114.70, 35.22))
    add_area(session, v, "C_ZZ1", "张庄村", "community", "S_NL", (114.60, 35.10, 114.62, 35.12))
    add_area(session, v, "C_ZZ2", "张庄村", "community", "S_PD", (114.68, 35.19, 114.70, 35.20))
    add_area(session, v, "G_1", "和平社区第一网格", "cell", "C_HP",
             (114.68, 35.20, 114.69, 35.21))
    session.flush()
    session.add_all([
        GazetteerEntry(name="宏力大道", kind="road", lon=114.67, lat=35.20,
                       line=[[114.64, 35.20], [114.70, 35.20]]),
        GazetteerEntry(name="山海大道", kind="road", lon=114.68, lat=35.21, street_code="S_PD",
                       line=[[114.68, 35.18], [114.68, 35.24]]),
        GazetteerEntry(name="人民医院", kind="landmark", lon=114.691, lat=35.211,
                       street_code="S_PD", community_code="C_HP", source="test"),
        GazetteerEntry(name="张庄村村委会", kind="landmark", lon=114.611, lat=35.111,
                       street_code="S_NL", community_code="C_ZZ1"),
        GazetteerEntry(name="张庄村村委会", kind="landmark", lon=114.691, lat=35.191,
                       street_code="S_PD", community_code="C_ZZ2"),
        GazetteerEntry(name="和平小区", kind="alias", lon=0, lat=0, street_code="S_PD",
                       community_code="C_HP"),
        GazetteerEntry(name="蒲东办", kind="alias", lon=0, lat=0, street_code="S_PD"),
        GazetteerEntry(name="蒲邑", kind="alias", lon=0, lat=0),
        GazetteerEntry(name="旧城", kind="alias", lon=0, lat=0, street_code="S_OLD"),
    ])
    session.flush()
    return v


def test_loader_builds_places_from_areas_and_entries(session: Session, version: int) -> None:
    gaz = load_gazetteer(session, version)
    assert isinstance(gaz, Gazetteer)
    by_name = {(p.name, p.kind): p for p in gaz.places}
    pd = by_name[("蒲东街道", "street")]
    assert (pd.street, pd.code, pd.community) == ("S_PD", "S_PD", None)
    assert (pd.lon, pd.lat) == pytest.approx((114.69, 35.21))
    hp = by_name[("和平社区", "community")]
    assert (hp.street, hp.community, hp.code) == ("S_PD", "C_HP", "C_HP")
    assert by_name[("长垣市", "district")].code == "D"
    assert by_name[("宏力大道", "road")].line == ((114.64, 35.20), (114.70, 35.20))
    # an alias names the community if set, else the street, else the whole district
    assert by_name[("和平小区", "alias")].code == "C_HP"
    assert by_name[("蒲东办", "alias")].code == "S_PD"
    assert by_name[("蒲邑", "alias")].code == "D"


def test_cells_and_other_versions_are_not_places(session: Session, version: int) -> None:
    gaz = load_gazetteer(session, version)
    names = {p.name for p in gaz.places}
    assert "和平社区第一网格" not in names and "旧城街道" not in names
    assert gaz.search("第一网格") == []
    assert gaz.geocode("旧城街道").outcome == "no_match"
    assert gaz.geocode("旧城").outcome == "no_match"  # its alias points outside this version


def test_geocode_from_the_database(session: Session, version: int) -> None:
    gaz = load_gazetteer(session, version)

    crossing = gaz.geocode("长垣市蒲东街道宏力大道与山海大道交叉口")
    assert crossing.precision == "intersection" and crossing.street == "S_PD"
    assert metres(crossing.lon, crossing.lat, 114.68, 35.20) < 1.0

    hospital = gaz.geocode("人民医院急诊")
    assert (hospital.precision, hospital.street, hospital.community) == (
        "landmark", "S_PD", "C_HP")

    committee = gaz.geocode("恼里镇张庄村村委会")
    assert (committee.precision, committee.community) == ("landmark", "C_ZZ1")
    assert metres(committee.lon, committee.lat, 114.611, 35.111) < 1.0

    repeated = gaz.geocode("张庄村")
    assert repeated.outcome == "no_match"
    assert repeated.reasons == ("地名不唯一：张庄村（恼里镇、蒲东街道）",)

    alias = gaz.geocode("和平小区")
    assert (alias.precision, alias.street, alias.community) == ("community", "S_PD", "C_HP")
    assert metres(alias.lon, alias.lat, 114.69, 35.21) < 1.0

    street = gaz.geocode("蒲东办")
    assert (street.precision, street.street) == ("street", "S_PD")

    # the district's alias is a prefix that says nothing
    assert gaz.geocode("蒲邑和平社区").matched == ("和平社区",)


def test_an_empty_version_geocodes_nothing(session: Session) -> None:
    empty = add_version(session, "empty.geojson")
    gaz = load_gazetteer(session, empty)
    g = gaz.geocode("蒲东街道")
    assert g.outcome == "no_match" and g.reasons == ("未匹配到地名",)
