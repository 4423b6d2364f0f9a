"""Roads as lines: where two roads named in an address cross (or come nearest), and the point
of one road nearest to the area named. Crossings are found in a frame whose east and north
units are equally long on the ground near the county, so that "nearest" there is nearest on
the ground."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from grid.geocoder.places import INTERSECTION, ROAD, Match, Place
from grid.geocoder.resolution import Resolution, ambiguous

_M_PER_DEG = 110_950.0  # a degree of latitude near 35°N, for the gaps told to the operator
_E2 = 0.00669437999014  # WGS-84 first eccentricity squared


class Roads:
    """The roads of a gazetteer as lines in the county's ground frame; read-only once built."""

    def __init__(self, places: Iterable[Place], areas: Mapping[str, Place]) -> None:
        places = tuple(places)
        self._areas = areas
        lats = sorted(p.lat for p in places) or [35.0]
        self._k = east_scale(lats[len(lats) // 2])
        self._geoms: dict[int, BaseGeometry] = {
            id(p): self._geometry(p) for p in places if p.kind == ROAD}

    def _geometry(self, road: Place) -> BaseGeometry:
        if road.line and len(road.line) >= 2:
            return LineString([(lon * self._k, lat) for lon, lat in road.line])
        return Point(road.lon * self._k, road.lat)

    def _lonlat(self, p: Point) -> tuple[float, float]:
        return p.x / self._k, p.y

    def _point(self, place: Place) -> Point:
        return Point(place.lon * self._k, place.lat)

    def settle(self, res: Resolution, roads: list[Match], street_ctx: set[str] | None,
               area: Place | None) -> tuple[float, float, str, str | None, str | None] | None:
        """The intersection of the first two roads that settle, else one road's point."""
        distinct: list[tuple[Match, list[Place]]] = []
        for m in roads:
            if any(m.places[0].name == d.places[0].name for d, _ in distinct):
                continue
            inside = [p for p in m.places if street_ctx is None or p.street in street_ctx]
            distinct.append((m, inside or m.places))
        for x in range(len(distinct)):
            for y in range(x + 1, len(distinct)):
                found = self._intersection(res, distinct[x], distinct[y], area)
                if found is not None:
                    return found
        for m, candidates in distinct:
            if len(candidates) != 1:
                res.reasons.append(ambiguous(self._areas, m.places[0].name, candidates))
                continue
            road = candidates[0]
            res.use(m)
            if area is not None and road.line and len(road.line) >= 2:
                lon, lat = nearest_on_line(road.line, area.lon, area.lat)
                res.reasons.insert(0, f"匹配道路：{road.name}，取道路上距{area.name}中心最近的点")
            else:
                lon, lat = road.lon, road.lat
                res.reasons.insert(0, f"仅匹配到道路：{road.name}，使用道路中点")
            return lon, lat, ROAD, road.street, road.community
        return None

    def _intersection(self, res: Resolution, first: tuple[Match, list[Place]],
                      second: tuple[Match, list[Place]], area: Place | None,
                      ) -> tuple[float, float, str, str | None, str | None] | None:
        (ma, cands_a), (mb, cands_b) = first, second
        crossing = [(a, b, pts) for a in cands_a for b in cands_b
                    if (pts := self._crossings(a, b))]
        if len(crossing) > 1:
            res.reasons.append(f"道路交叉口不唯一：{ma.places[0].name} × {mb.places[0].name}"
                               f"（{len(crossing)} 处同名道路相交）")
            return None
        res.use(ma)
        res.use(mb)
        if crossing:
            a, b, points = crossing[0]
            res.reasons.insert(0, f"道路交叉口：{a.name} × {b.name}")
            if len(points) > 1 and area is not None:
                target = self._point(area)
                point = min(points, key=target.distance)
                res.reasons.append(f"两路有 {len(points)} 处相交，取距{area.name}中心最近的一处")
            else:
                point = points[0]
                if len(points) > 1:
                    res.reasons.append(f"两路有 {len(points)} 处相交，取第一处")
        elif len(cands_a) == 1 and len(cands_b) == 1:
            a, b = cands_a[0], cands_b[0]
            pa, pb = nearest_points(self._geoms[id(a)], self._geoms[id(b)])
            point = Point((pa.x + pb.x) / 2, (pa.y + pb.y) / 2)
            gap = pa.distance(pb) * _M_PER_DEG
            res.reasons.insert(0, f"道路交叉口：{a.name} × {b.name}")
            res.reasons.append(f"两条道路不相交（最近处相距约 {gap:.0f} 米），取最近处的中点")
        else:
            res.unuse(ma)
            res.unuse(mb)
            return None
        lon, lat = self._lonlat(point)
        street = a.street if a.street == b.street else None
        community = a.community if a.community == b.community else None
        return lon, lat, INTERSECTION, street, community

    def _crossings(self, a: Place, b: Place) -> list[Point]:
        line = self._geoms[id(a)]
        meet = line.intersection(self._geoms[id(b)])
        if meet.is_empty:
            return []
        points = [g if isinstance(g, Point) else g.representative_point()
                  for g in shapely.get_parts(meet)]
        # "the first" crossing is the first along the first road named
        return sorted(points, key=line.project)


def east_scale(lat: float) -> float:
    """Ground length of a degree of longitude over one of latitude, on the WGS-84 ellipsoid."""
    # cos(lat) alone (a sphere) is 0.45 % off at 35°N: 4.5 m at a kilometre
    sin2 = math.sin(math.radians(lat)) ** 2
    return math.cos(math.radians(lat)) * (1 - _E2 * sin2) / (1 - _E2)


def nearest_on_line(line: Sequence[tuple[float, float]], lon: float,
                     lat: float) -> tuple[float, float]:
    """The point of a polyline nearest to (lon, lat), measured on the ground."""
    # A frame centred on the point itself: metres east and north are exact there, and within
    # a few kilometres off by a fraction of a metre (a county-wide frame is off by tens).
    k = east_scale(lat)
    coords = np.asarray(line, dtype=np.float64)
    local = LineString(np.column_stack(((coords[:, 0] - lon) * k, coords[:, 1] - lat)))
    near = nearest_points(local, Point(0.0, 0.0))[0]
    return lon + near.x / k, lat + near.y
