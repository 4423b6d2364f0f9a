"""The demo county's gazetteer: roads, landmarks and other names for areas, each with the street
and community that hold its point (`build_gazetteer`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from grid.demo.basis import (
    CONTRACT_CROSSING,
    DISTRICT_CODE,
    PLANE,
    departments,
)
from grid.demo.county import Area, County, anchor
from grid.demo.naming import DEVELOPERS, ESTATES, PLAIN_ESTATES

# The city's roads (km from the centre): (name, "ew" or "ns", offset, from, to). 宏力大道 and
# 山海大道 cross at CONTRACT_CROSSING (their offsets are set from it).
CITY_ROADS: tuple[tuple[str, str, float, float, float], ...] = (
    ("南环路", "ew", -4.0, -5.6, 6.6), ("华夏大道", "ew", -2.9, -5.6, 6.6),
    ("如意路", "ew", -1.9, -5.6, 6.6), ("博爱路", "ew", -0.9, -5.6, 6.6),
    ("宏力大道", "ew", math.nan, -6.5, 7.5), ("人民路", "ew", 1.0, -5.6, 6.6),
    ("解放路", "ew", 1.9, -5.6, 6.6), ("向阳路", "ew", 2.9, -5.6, 6.6),
    ("北环路", "ew", 3.9, -5.6, 6.6), ("迎宾大道", "ew", 4.8, -3.5, 5.5),
    ("西环路", "ns", -4.2, -5.0, 5.3), ("蒲城路", "ns", -3.0, -5.0, 5.3),
    ("城关路", "ns", -1.9, -5.0, 5.3), ("文明路", "ns", -0.9, -5.0, 5.3),
    ("山海大道", "ns", math.nan, -6.0, 6.0), ("建设路", "ns", 0.9, -5.0, 5.3),
    ("德邻大道", "ns", 1.9, -5.0, 5.3), ("长青路", "ns", 3.0, -5.0, 5.3),
    ("卫华大道", "ns", 4.2, -5.0, 5.3), ("东环路", "ns", 5.4, -5.0, 5.3),
    ("滨河路", "ns", -5.2, -3.0, 3.0), ("和平路", "ns", -2.4, -2.5, 2.5),
    ("幸福路", "ew", 0.55, -3.5, 1.5), ("振兴路", "ns", 2.5, -4.5, -0.5),
    ("富民路", "ew", 2.4, -2.5, 3.5), ("育才路", "ns", 0.4, 0.5, 3.5),
    ("兴业路", "ew", -3.4, 2.5, 7.5), ("起重大道", "ns", 6.3, -6.5, -1.0),
    ("创业路", "ew", -5.0, 3.0, 8.0), ("工业路", "ew", -4.5, 4.0, 8.0),
)
# Long roads across the county (km waypoints).
COUNTY_ROADS: tuple[tuple[str, tuple[tuple[float, float], ...]], ...] = (
    ("G106", ((5.0, 22.0), (7.5, 6.0), (7.6, -8.0), (5.0, -22.0))),
    ("S308", ((-22.0, 3.5), (-8.0, 5.6), (8.0, 5.4), (30.0, 2.5))),
    ("大广高速", ((10.0, 26.0), (12.0, 2.0), (11.0, -26.0))),
    ("长济高速", ((-24.0, -5.5), (0.0, -8.6), (11.5, -8.0))),
)
CITY_INSTITUTIONS = (
    "长垣市人民政府", "长垣市政务服务中心", "长垣市人民医院", "长垣市中医院", "长垣市妇幼保健院",
    "长垣市疾病预防控制中心", "长垣市第一中学", "长垣市第二中学", "长垣市第三中学",
    "长垣市实验中学",
    "长垣市实验小学", "长垣市职业中等专业学校", "长垣烹饪职业技术学院", "长垣市汽车站",
    "长垣市汽车东站", "长垣市人民公园", "如意园", "长垣市文化广场", "长垣市体育中心",
    "长垣市图书馆", "长垣市博物馆", "长垣市青少年活动中心", "长垣市人民法院", "长垣市人民检察院",
    "长垣市百货大楼", "宏力商业广场", "城关农贸市场", "长垣宾馆", "天然渠公园", "长垣市烈士陵园",
    "长垣市火车站售票处", "长垣市邮政局", "长垣市消防救援大队", "长垣市殡仪馆",
)
TOWN_PLACES = ("{short}派出所", "{name}卫生院", "{name}中心小学", "{name}初级中学",
               "{name}集贸市场", "{name}敬老院", "{name}便民服务中心")
CITY_STREET_PLACES = ("{short}派出所", "{short}社区卫生服务中心", "{short}农贸市场")
ORDINALS = "一二三四五六七八九十"


@dataclass
class Gazetteer:
    entries: list[dict[str, Any]]

    def by_kind(self, kind: str) -> list[dict[str, Any]]:
        """The entries of one kind: road, landmark or alias."""
        return [e for e in self.entries if e["kind"] == kind]


class _Locator:
    """Which street and community hold a WGS-84 point."""

    def __init__(self, county: County) -> None:
        self.comms = county.level("community")
        self.tree = shapely.STRtree([a.geom for a in self.comms])

    def find(self, lon: float, lat: float) -> Area | None:
        """The community strictly containing the point (None on a border or outside)."""
        hits = self.tree.query(Point(lon, lat), predicate="within")
        return self.comms[int(hits[0])] if len(hits) == 1 else None


def _ll(xy: np.ndarray) -> tuple[float, float]:
    lon, lat = PLANE.to_lonlat(np.asarray(xy, dtype=float)[None, :])[0]
    return round(float(lon), 6), round(float(lat), 6)


def _road_line(points_m: np.ndarray, rng: np.random.Generator, jitter: float,
               outline: Polygon) -> LineString | None:
    """A road through the waypoints, bent a little between them, clipped to the county."""
    line = shapely.segmentize(LineString(points_m), 700.0)
    coords = np.array(line.coords)
    if jitter and len(coords) > 2:
        coords[1:-1] += rng.normal(0.0, jitter, size=(len(coords) - 2, 2))
    clipped = shapely.intersection(LineString(coords), outline)
    parts = [p for p in shapely.get_parts(clipped) if p.geom_type == "LineString"]
    return max(parts, key=lambda p: p.length) if parts else None


def build_gazetteer(county: County, rng: np.random.Generator) -> Gazetteer:
    """Roads, landmarks and other names for areas, each with the street and community that
    hold its point. The steps draw from `rng` in this order."""
    book = _Book(county)
    put_roads(book, draw_roads(county, rng, book.outline))
    put_offices(book)
    put_street_places(book, rng)
    put_city_places(book, rng)
    put_aliases(book)
    return Gazetteer(book.entries)


class _Book:
    """The gazetteer being written: its entries, each name once, each point located."""

    def __init__(self, county: County) -> None:
        self.county = county
        self.outline = PLANE.to_xy(county.areas[DISTRICT_CODE].geom)
        self.locate = _Locator(county)
        self.entries: list[dict[str, Any]] = []
        self.names: set[str] = set()

    def put(self, name: str, kind: str, lon: float, lat: float,
            line: list[list[float]] | None, street: str | None = None,
            community: str | None = None, *, located: bool = True) -> None:
        """An entry; `located`: its street and community are the ones holding its point."""
        if name in self.names:
            raise ValueError(f"duplicate gazetteer name {name!r}")
        if located:
            area = self.locate.find(lon, lat)
            if area is None:
                raise RuntimeError(f"{name} at {lon}, {lat} lies in no single community")
            street, community = area.parent, area.code
        self.names.add(name)
        self.entries.append({"name": name, "kind": kind, "lon": lon, "lat": lat,
                             "street": street, "community": community, "line": line})

    def near(self, rng: np.random.Generator, centre: np.ndarray, radius: float,
             within: BaseGeometry) -> tuple[float, float]:
        """A random located point within `radius` m of a plane point, inside `within`."""
        for _ in range(200):
            p = centre + rng.uniform(-radius, radius, 2)
            if np.hypot(*(p - centre)) <= radius and within.contains(Point(p)):
                lon, lat = _ll(p)
                if self.locate.find(lon, lat) is not None:
                    return lon, lat
        raise RuntimeError("no room for a landmark")


def draw_roads(county: County, rng: np.random.Generator,
               outline: Polygon) -> list[tuple[str, LineString]]:
    """The roads in the plane: the city's grid, the long roads across the county, and for
    each town a radial road from the city and a main street through its seat."""
    cross = PLANE.to_xy(np.array([CONTRACT_CROSSING]))[0] / 1000.0
    lines: list[tuple[str, LineString]] = []
    for name, way, offset, start, end in CITY_ROADS:
        if way == "ew":
            y = cross[1] if math.isnan(offset) else offset
            pts = [(start, y), (end, y)]
        else:
            x = cross[0] if math.isnan(offset) else offset
            pts = [(x, start), (x, end)]
        straight = math.isnan(offset)  # the two avenues meet exactly at the crossing
        line = _road_line(np.array(pts) * 1000.0, rng, 0.0 if straight else 25.0, outline)
        if line is not None:
            lines.append((name, line))
    for name, waypoints in COUNTY_ROADS:
        line = _road_line(np.array(waypoints) * 1000.0, rng, 120.0, outline)
        if line is not None:
            lines.append((name, line))
    for plan in county.plans.values():
        if plan.urban:
            continue
        seat = PLANE.to_xy(np.array([county.seats[plan.code]]))[0]
        heading = seat / np.linalg.norm(seat)
        side = np.array([-heading[1], heading[0]])
        start = heading * 2500.0
        middle = (start + seat) / 2 + side * rng.uniform(-400.0, 400.0)
        radial = _road_line(np.array([start, middle, seat, seat + heading * 1200.0]), rng,
                            60.0, outline)
        if radial is not None:
            lines.append((f"长{plan.short[0]}路", radial))
        main = LineString([seat - side * 1300.0, seat + side * 1300.0])
        # a straight street through the seat, well inside the county: one line
        lines.append((f"{plan.short}大街", cast(LineString, shapely.intersection(main, outline))))
    return lines


def put_roads(book: _Book, lines: list[tuple[str, LineString]]) -> None:
    """Each road in lon/lat at a located point near its middle; every road crosses another."""
    ll_lines = []
    for name, line in lines:
        coords = np.round(PLANE.to_lonlat(np.array(line.coords)), 6)
        ll_lines.append((name, LineString(coords)))
    tree = shapely.STRtree([g for _, g in ll_lines])
    for i, (name, line) in enumerate(ll_lines):
        if not any(j != i for j in tree.query(line, predicate="intersects")):
            raise RuntimeError(f"road {name} crosses no other road")
        for share in (0.5, 0.48, 0.52, 0.45, 0.55):
            mid = line.interpolate(share, normalized=True)
            lon, lat = round(mid.x, 6), round(mid.y, 6)
            if book.locate.find(lon, lat) is not None:
                break
        book.put(name, "road", lon, lat, [[float(x), float(y)] for x, y in line.coords])


def put_offices(book: _Book) -> None:
    """Every community's office (服务中心 or 村委会) at its anchor."""
    for area in book.county.level("community"):
        suffix = "服务中心" if area.name.endswith("社区") else "村委会"
        book.put(area.name + suffix, "landmark", *area.anchor, None)


def put_street_places(book: _Book, rng: np.random.Generator) -> None:
    """Each street's office at its seat, and its police station, clinic, schools, market…
    around it."""
    county = book.county
    for plan in county.plans.values():
        street_xy = PLANE.to_xy(county.areas[plan.code].geom)
        seat_ll = county.seats[plan.code]
        seat = PLANE.to_xy(np.array([seat_ll]))[0]
        office = f"{plan.name}办事处" if plan.urban else f"{plan.name}人民政府"
        book.put(office, "landmark", *seat_ll, None)
        for pattern in CITY_STREET_PLACES if plan.urban else TOWN_PLACES:
            book.put(pattern.format(short=plan.short, name=plan.name), "landmark",
                     *book.near(rng, seat, 1500.0, street_xy), None)


def put_city_places(book: _Book, rng: np.random.Generator) -> None:
    """The county's institutions, primary schools, functional departments and housing
    estates in the city, and the two industrial parks."""
    county = book.county
    city = shapely.union_all([PLANE.to_xy(county.areas[p.code].geom)
                              for p in county.plans.values() if p.urban])
    centre = np.zeros(2)
    primary = [f"长垣市第{ORDINALS[i]}小学" for i in range(8)]
    for name in (*CITY_INSTITUTIONS, *primary):
        radius = 300.0 if name == "长垣市人民政府" else 2500.0  # the government: at the centre
        book.put(name, "landmark", *book.near(rng, centre, radius, city), None)
    for dept in departments():
        if dept["kind"] == "functional":
            book.put(dept["name"], "landmark", *book.near(rng, centre, 3000.0, city), None)
    estates = [f"{d}·{e}" for e in ESTATES for d in DEVELOPERS]
    picks = rng.permutation(len(estates))[:50]
    for name in [estates[i] for i in sorted(picks)] + list(PLAIN_ESTATES):
        book.put(name, "landmark", *book.near(rng, centre, 4500.0, city), None)
    weizhuang = PLANE.to_xy(county.areas["street_weizhuang"].geom)
    book.put("长垣起重工业园区", "landmark",
             *book.near(rng, anchor(weizhuang), 1500.0, weizhuang), None)
    dingluan = PLANE.to_xy(county.areas["town_dingluan"].geom)
    book.put("丁栾卫材产业园", "landmark",
             *book.near(rng, anchor(dingluan), 2000.0, dingluan), None)


def put_aliases(book: _Book) -> None:
    """Other names for areas (长垣, 蒲东, 蒲东办…), at the area's office."""
    county = book.county
    for alias in ("长垣", "长垣县"):
        book.put(alias, "alias", *county.areas[DISTRICT_CODE].anchor, None, located=False)
    for plan in county.plans.values():
        seat_ll = county.seats[plan.code]
        book.put(plan.short, "alias", *seat_ll, None, plan.code, located=False)
        if plan.urban:
            book.put(plan.short + "办", "alias", *seat_ll, None, plan.code, located=False)
    book.put("魏庄镇", "alias", *county.seats["street_weizhuang"], None, "street_weizhuang",
             located=False)
