"""`dispatch.stats.hotspots`: emerging hotspots (未诉先办) on hand-made tickets over the test grid:
at least 5 demands of one category within 500 m of one of them, created in the last 2 hours;
fewer, farther, older, void or of another category do not make one."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from dispatch.core.accounts import actor_for
from dispatch.core.errors import InvalidInput
from dispatch.core.models import Ticket, User
from dispatch.core.ports import ManualClock
from dispatch.intake.pipeline import IntakePorts, intake
from dispatch.intake.repeats import distance_m
from dispatch.stats.hotspots import HotspotRules, clusters, find_hotspots, metres_per_degree
from dispatch.tickets.lifecycle import perform
from grid.directory import SqlDirectory
from grid.locator import GridCache
from grid.service import GridRouting
from tests.conftest import cell_centre, cell_code, make_test_grid

VENDING = "urban.appearance.street_vending"  # 城市管理 > 市容市貌 > 占道经营
PEDLARS = "urban.appearance.mobile_vendors"  # 城市管理 > 市容市貌 > 流动摊贩
NOISE = "environment.noise.construction_noise"
LAT_M = 111_000  # metres per degree of latitude, near enough to place test points


def _category(session: Session, code: str) -> str:
    from dispatch.core.models import Category

    found = session.get(Category, code)
    assert found is not None, f"no category {code} in the reference data"
    return code


@pytest.fixture
def county(session: Session) -> dict[str, Any]:
    """The test grid, and a way to log a demand at a point as operator1 at the clock's time."""
    make_test_grid(session)
    session.commit()
    return {"cache": GridCache()}


class Log:
    def __init__(self, session: Session, clock: ManualClock, cache: GridCache) -> None:
        self.session, self.clock, self.cache = session, clock, cache
        operator = session.query(User).filter_by(username="operator1").one()
        self.operator = actor_for(operator)

    def at(self, east_m: float = 0.0, north_m: float = 0.0, *, category: str = VENDING,
           origin: tuple[float, float] | None = None) -> Ticket:
        """A demand `east_m`, `north_m` metres from the centre of 蒲东街道's first cell."""
        lon0, lat0 = origin or cell_centre(0, 0, 0)
        lon = lon0 + east_m / (LAT_M * math.cos(math.radians(lat0)))
        lat = lat0 + north_m / LAT_M
        now = self.clock.now()
        grid = GridRouting(self.session, now, self.cache)
        body = {"channel": "phone", "text": "路口有人占道经营，堵住了人行道",
                "citizen": {"name": "张三", "phone": "13800138000"}, "type": "complaint",
                "category": category, "urgency": "normal", "lon": lon, "lat": lat}
        result = intake(self.session, body, self.operator, now=now,
                        ports=IntakePorts(locator=grid, router=grid))
        self.session.commit()
        return result.ticket


@pytest.fixture
def log(session: Session, clock: ManualClock, county: dict[str, Any]) -> Log:
    return Log(session, clock, county["cache"])


def five_near(log: Log, clock: ManualClock, *, every_minutes: float = 20,
              category: str = VENDING) -> list[Ticket]:
    """Five demands within 250 m of each other, one every `every_minutes`."""
    spots = [(0, 0), (120, 0), (0, 150), (-100, -80), (80, 90)]
    made = []
    for i, (east, north) in enumerate(spots):
        if i:
            clock.advance(minutes=every_minutes)
        made.append(log.at(east, north, category=category))
    return made


def test_five_similar_demands_within_500_m_in_two_hours_make_one_hotspot(session, clock, log):
    made = five_near(log, clock)
    found = find_hotspots(session, clock.now())
    assert len(found) == 1
    spot = found[0]
    assert spot.count == 5 and spot.open_count == 5
    assert spot.category == "urban.appearance"  # similar: the same second-level category
    assert sorted(t.number for t in spot.tickets) == sorted(t.number for t in made)
    assert spot.centre in {t.number for t in made}
    assert 0 < spot.radius_m <= 500
    assert all(t.distance_m <= spot.radius_m for t in spot.tickets)
    assert (spot.first_at, spot.last_at) == (made[0].created_at, made[-1].created_at)
    assert (spot.street, spot.cell) == ("street_pudong", cell_code(0, 0, 0))
    assert spot.community == "street_pudong-c001"


def test_four_similar_demands_are_not_a_hotspot(session, clock, log):
    for i, (east, north) in enumerate(((0, 0), (120, 0), (0, 150), (-100, -80))):
        if i:
            clock.advance(minutes=20)
        log.at(east, north)
    assert find_hotspots(session, clock.now()) == []
    # A rule that asks for four finds them: the count is what was missing.
    assert [h.count for h in find_hotspots(session, clock.now(), HotspotRules(min_count=4))] \
        == [4]


def test_five_demands_spread_over_three_hours_are_not_a_hotspot(session, clock, log):
    five_near(log, clock, every_minutes=45)  # 0, 45, 90, 135, 180 minutes
    assert find_hotspots(session, clock.now()) == []
    # The window is what leaves them out: four hours take them all in.
    wider = find_hotspots(session, clock.now(), HotspotRules(window=timedelta(hours=4)))
    assert [h.count for h in wider] == [5]


def test_a_hotspot_fades_once_its_demands_are_older_than_the_window(session, clock, log):
    five_near(log, clock, every_minutes=1)
    assert len(find_hotspots(session, clock.now())) == 1
    clock.advance(minutes=115)
    assert len(find_hotspots(session, clock.now())) == 1  # the oldest is 1 h 59 min old
    clock.advance(minutes=2)
    assert find_hotspots(session, clock.now()) == []  # it is 2 h 01 min old: four are left


def test_two_categories_at_one_place_make_separate_hotspots(session, clock, log):
    _category(session, NOISE)
    five_near(log, clock, every_minutes=5)
    five_near(log, clock, every_minutes=5, category=NOISE)
    found = find_hotspots(session, clock.now())
    assert sorted((h.category, h.count) for h in found) == [
        ("environment.noise", 5), ("urban.appearance", 5)]
    numbers = [t.number for h in found for t in h.tickets]
    assert len(numbers) == len(set(numbers)) == 10


def test_mixed_categories_below_the_count_each_make_no_hotspot(session, clock, log):
    _category(session, NOISE)
    for i, category in enumerate((VENDING, VENDING, VENDING, NOISE, NOISE)):
        log.at(i * 40, 0, category=category)
    assert find_hotspots(session, clock.now()) == []


def test_related_leaf_categories_are_similar_unless_the_level_says_otherwise(session, clock,
                                                                             log):
    _category(session, PEDLARS)
    for i, category in enumerate((VENDING, PEDLARS, VENDING, PEDLARS, VENDING)):
        log.at(i * 40, 0, category=category)
    assert [h.count for h in find_hotspots(session, clock.now())] == [5]
    assert find_hotspots(session, clock.now(), HotspotRules(category_level=3)) == []


def test_demands_farther_than_the_radius_do_not_join(session, clock, log):
    for east in (0, 100, 200, 300):
        log.at(east, 0)
    log.at(0, 900)  # 900 m north of the first: outside 500 m of every other
    assert find_hotspots(session, clock.now()) == []


def test_a_chain_of_demands_along_a_road_is_not_one_hotspot(session, clock, log):
    # Each is 300 m from the next, but no 500 m disc around one of them holds five.
    for i in range(8):
        log.at(i * 300, 0)
    assert find_hotspots(session, clock.now()) == []


def test_void_demands_do_not_count_and_merged_repeats_do(session, clock, log):
    made = five_near(log, clock, every_minutes=2)
    directory = SqlDirectory(session)
    dispatcher = actor_for(session.query(User).filter_by(username="dispatcher1").one())
    perform(session, made[1], "merge", dispatcher, {"parent": made[0].number},
            now=clock.now(), directory=directory)
    session.commit()
    assert [h.count for h in find_hotspots(session, clock.now())] == [5]
    perform(session, made[2], "void", dispatcher, {"reason": "测试电话"}, now=clock.now(),
            directory=directory)
    session.commit()
    assert find_hotspots(session, clock.now()) == []


def test_many_demands_at_one_place_make_one_big_hotspot_not_several(session, clock, log):
    for i in range(12):
        log.at((i % 4) * 30, (i // 4) * 30)
    found = find_hotspots(session, clock.now())
    assert [h.count for h in found] == [12]


def test_two_places_far_apart_make_two_hotspots_biggest_first(session, clock, log):
    far = cell_centre(1, 1, 3)  # the other street, about 3 km away
    for i in range(6):
        log.at(i * 20, 0)
    for i in range(5):
        log.at(i * 20, 0, origin=far)
    found = find_hotspots(session, clock.now())
    assert [(h.count, h.street) for h in found] == [(6, "street_pudong"), (5, "town_naoli")]
    assert [h.count for h in find_hotspots(session, clock.now(), street="town_naoli")] == [5]
    assert find_hotspots(session, clock.now(), category="environment") == []
    assert [h.count for h in find_hotspots(session, clock.now(), category="urban")] == [6, 5]


def test_clusters_take_the_points_within_the_radius_of_one_centre():
    # Points in metres: five within 500 m of the first, a sixth 700 m away.
    points = [(0, 0), (400, 0), (-400, 0), (0, 400), (0, -400), (700, 0)]
    order = [(i,) for i in range(len(points))]
    assert clusters(points, order, 500, 5) == [(0, [0, 1, 2, 3, 4])]
    assert clusters(points, order, 500, 6) == []


def test_the_equirectangular_metres_agree_with_the_great_circle_within_a_county():
    lon, lat = cell_centre(0, 0, 0)
    kx, ky = metres_per_degree(lat)
    for dlon, dlat in ((0.005, 0), (0, 0.004), (0.02, 0.015), (0.3, 0.2)):
        planar = math.hypot(dlon * kx, dlat * ky)
        exact = distance_m(lon, lat, lon + dlon, lat + dlat)
        assert abs(planar - exact) / exact < 0.005, (dlon, dlat, planar, exact)


@pytest.mark.parametrize("field, value", [("min_count", 1), ("radius_m", 5.0),
                                          ("window", timedelta(minutes=1)),
                                          ("category_level", 0)])
def test_rules_out_of_range_are_refused_by_name(field, value):
    with pytest.raises(InvalidInput) as caught:
        HotspotRules(**{field: value})
    assert caught.value.field == field


def test_the_defaults_are_five_demands_within_500_m_in_two_hours():
    rules = HotspotRules()
    assert (rules.min_count, rules.radius_m, rules.window) == (5, 500.0, timedelta(hours=2))
