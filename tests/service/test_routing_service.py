"""Locating and routing at intake on a real database: cells, flags, catalogue, roster, repeats,
grid versions, and the admin's catalogue and roster edits (refusals write nothing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.core.errors import Conflict, InvalidInput, NotFound
from dispatch.core.models import Ticket
from dispatch.intake.pipeline import IntakePorts, intake
from dispatch.tickets.lifecycle import perform
from grid import catalogue as cat
from grid import duties
from grid.coords import from_wgs84
from grid.directory import SqlDirectory
from grid.locator import GridCache, build_index
from grid.models import Area, CatalogueRule, GridVersion, RosterEntry
from grid.service import GridRouting
from tests.conftest import GRID_WEST, cell_centre, cell_code, make_test_grid
from tests.service.conftest import demand

VENDING = "urban.appearance.street_vending"
PUDONG_CELL = cell_code(0, 0, 0)


@pytest.fixture
def grid(session: Session) -> int:
    """The test grid, a catalogue with a county-wide and a street rule, and worker1 on duty."""
    version = make_test_grid(session)
    index = build_index(session, version)
    cat.create_rule(session, {"category": "urban", "lead": "urban_management",
                              "co_territorial": True, "on_site": True}, index)
    cat.create_rule(session, {"category": "rural.village_affairs", "lead": None,
                              "on_site": True}, index)
    duties.add_roster_entry(session, {"cell": PUDONG_CELL, "username": "worker1",
                                   "weekdays": "1234567", "starts": "08:00", "ends": "20:00"},
                         index)
    session.commit()
    return version


@pytest.fixture
def cache() -> GridCache:
    return GridCache()


def log(session, actors, clock, cache, **fields):
    grid = GridRouting(session, clock.now(), cache)
    result = intake(session, demand(**fields), actors["operator1"], now=clock.now(),
                    ports=IntakePorts(locator=grid, router=grid))
    session.commit()
    return result


def test_a_point_is_located_and_routed_with_reasons_and_the_on_duty_worker(
        session, actors, clock, cache, grid):
    lon, lat = cell_centre(0, 0, 0)
    t = log(session, actors, clock, cache, lon=lon, lat=lat).ticket
    assert (t.cell_code, t.community_code, t.street_code, t.grid_version) == (
        PUDONG_CELL, "street_pudong-c001", "street_pudong", grid)
    assert t.location_flags == []
    r = t.routing
    assert r["lead"] == "urban_management" and r["co_handlers"] == ["street_pudong"]
    assert r["grid_worker"] == "worker1" and r["on_site"] is True and r["rule"] is not None
    assert any("派单目录规则" in x for x in r["reasons"])
    assert any("网格一" in x or "worker1" in x or "值班网格员" in x for x in r["reasons"])
    payload = t.events[0].payload
    assert payload["location"]["cell"] == PUDONG_CELL and payload["location"]["reasons"]


@pytest.mark.parametrize("crs", ["GCJ02", "BD09", "CGCS2000"])
def test_gcj02_bd09_and_cgcs2000_points_land_in_the_same_cell(
        session, actors, clock, cache, grid, crs):
    lon, lat = cell_centre(1, 1, 3)
    x, y = from_wgs84(lon, lat, crs)
    t = log(session, actors, clock, cache, lon=x, lat=y, crs=crs).ticket
    assert t.cell_code == cell_code(1, 1, 3)
    assert t.lon == pytest.approx(lon, abs=1e-7) and t.lat == pytest.approx(lat, abs=1e-7)


def test_a_gcj02_point_taken_as_wgs84_would_be_hundreds_of_metres_off(grid):
    lon, lat = cell_centre(0, 0, 0)
    x, y = from_wgs84(lon, lat, "GCJ02")
    assert abs(x - lon) * 91_000 + abs(y - lat) * 111_000 > 200


def test_swapped_coordinates_in_china_are_out_of_range_and_refused_with_a_hint(
        session, actors, clock, cache, grid):
    lon, lat = cell_centre(0, 1, 2)
    with pytest.raises(InvalidInput) as caught:
        log(session, actors, clock, cache, lon=lat, lat=lon)
    session.rollback()
    assert caught.value.field == "lat" and "填反" in caught.value.message
    assert session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_swapped_coordinates_within_range_are_flagged_not_used_and_the_demand_is_kept(
        session, actors, clock, cache):
    # In the far west (乌鲁木齐, lon 87.6, lat 43.8) a swapped pair is still a valid point.
    version = GridVersion(source="xj", source_crs="EPSG:4326", active=True, area_count=1,
                          cell_count=1, bbox=[87.5, 43.7, 87.7, 43.9], report={})
    session.add(version)
    session.flush()
    cell = shapely.box(87.5, 43.7, 87.7, 43.9)
    session.add(Area(grid_version=version.id, code="xj-g01", name="网格", level="cell",
                     parent_code=None, geometry=shapely.to_wkb(cell), point_lon=87.6,
                     point_lat=43.8, area_m2=1.0))
    session.commit()
    t = log(session, actors, clock, cache, lon=43.8, lat=87.6).ticket
    assert t.cell_code is None and t.location_flags == ["swapped_coordinates"]
    assert (t.lon, t.lat) == (43.8, 87.6)  # kept as given, for the dispatcher to check
    assert any("颠倒" in x for x in t.events[0].payload["location"]["reasons"])
    assert session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_outside_the_grid_takes_the_nearest_cell_within_the_limit_and_flags_it(
        session, actors, clock, cache, grid):
    lat = cell_centre(0, 0, 0)[1]
    near = log(session, actors, clock, cache, lon=GRID_WEST - 0.003, lat=lat).ticket  # ~270 m
    assert near.cell_code == PUDONG_CELL and near.location_flags == ["nearest_cell"]
    far = log(session, actors, clock, cache, lon=GRID_WEST - 0.1, lat=lat).ticket  # ~9 km
    assert far.cell_code is None and far.location_flags == ["outside_grid"]
    assert far.lon == pytest.approx(GRID_WEST - 0.1)


def test_near_a_cell_boundary_is_flagged(session, actors, clock, cache, grid):
    lon, lat = cell_centre(0, 0, 0)
    edge = GRID_WEST + 0.01  # the east edge of the first cell
    t = log(session, actors, clock, cache, lon=edge - 0.0002, lat=lat).ticket  # ~18 m inside
    assert t.cell_code == PUDONG_CELL and t.location_flags == ["near_boundary"]


def test_without_a_grid_the_point_is_kept_and_flagged(session, actors, clock, cache):
    t = log(session, actors, clock, cache, lon=114.67, lat=35.2).ticket
    assert t.location_flags == ["no_grid"] and t.lon == 114.67 and t.routing["lead"] is None


def test_no_one_on_duty_at_night_is_said_and_no_worker_is_proposed(
        session, actors, clock, cache, grid):
    clock.current = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai
    t = log(session, actors, clock, cache, lon=cell_centre(0, 0, 0)[0],
            lat=cell_centre(0, 0, 0)[1]).ticket
    assert t.routing["grid_worker"] is None
    assert any("无人值班" in x for x in t.routing["reasons"])


def test_dispatch_without_a_lead_takes_the_routing_lead_co_handlers_and_worker(
        session, actors, clock, cache, grid, desk):
    lon, lat = cell_centre(0, 0, 0)
    t = log(session, actors, clock, cache, lon=lon, lat=lat).ticket
    desk.act(t, "dispatch", "dispatcher1")
    assert [(a.department_code, a.role) for a in t.assignments] == [
        ("urban_management", "lead"), ("street_pudong", "co")]
    assert t.assignments[0].grid_worker_id == actors["worker1"].id
    other = log(session, actors, clock, cache, lon=lon, lat=lat).ticket
    desk.act(other, "dispatch", "dispatcher1", lead="ecology_environment")
    assert [(a.department_code, a.grid_worker_id) for a in other.assignments] == [
        ("ecology_environment", None)]


def test_repeats_same_category_nearby_recent_or_same_caller(
        session, actors, clock, cache, grid):
    lon, lat = cell_centre(0, 0, 0)
    first = log(session, actors, clock, cache, lon=lon, lat=lat,
                citizen={"phone": "13900000001"}).ticket
    clock.advance(hours=10)
    second = log(session, actors, clock, cache, lon=lon + 0.001, lat=lat,  # ~90 m away
                 citizen={"phone": "13900000002"})
    assert [(r.number, r.reason) for r in second.repeats] == [(first.number, "nearby")]
    assert second.repeats[0].distance_m == pytest.approx(91, abs=3)
    assert second.ticket.events[0].payload["repeat_candidates"][0]["number"] == first.number
    # Another category, or far away, or another caller: no candidate.
    other = log(session, actors, clock, cache, lon=lon, lat=lat, category="utilities",
                citizen={"phone": "13900000003"})
    assert other.repeats == ()
    far = log(session, actors, clock, cache, lon=lon + 0.01, lat=lat,
              citizen={"phone": "13900000004"})
    assert far.repeats == ()
    # Past the 72-hour window only the same caller still counts (30 days).
    clock.advance(hours=80)
    later = log(session, actors, clock, cache, lon=lon, lat=lat,
                citizen={"phone": "13900000001"})
    assert [(r.number, r.reason) for r in later.repeats] == [(first.number, "same_caller")]


def test_closed_tickets_are_not_repeat_candidates(session, actors, clock, cache, grid, desk):
    lon, lat = cell_centre(0, 0, 0)
    first = log(session, actors, clock, cache, lon=lon, lat=lat).ticket
    desk.act(first, "void", "dispatcher1", reason="测试来电")
    again = log(session, actors, clock, cache, lon=lon, lat=lat)
    assert again.repeats == ()


def test_a_new_grid_version_is_picked_up_and_old_tickets_keep_theirs(
        session, actors, clock, cache, grid):
    lon, lat = cell_centre(0, 0, 0)
    old = log(session, actors, clock, cache, lon=lon, lat=lat).ticket
    assert GridRouting(session, clock.now(), cache).index.version == grid
    newer = make_test_grid(session, source="v2")  # another process imports a new version
    session.commit()
    t = log(session, actors, clock, cache, lon=lon, lat=lat).ticket
    assert (t.grid_version, old.grid_version) == (newer, grid)
    session.refresh(old)
    assert old.grid_version == grid and old.cell_code == PUDONG_CELL


# ---------------------------------------------------------------- catalogue and roster admin


def rule_count(session) -> int:
    return session.scalar(select(func.count()).select_from(CatalogueRule))


@pytest.mark.parametrize(("data", "field"), [
    ({"category": "no.such"}, "category"),
    ({"category": "utilities", "area": "nowhere"}, "area"),
    ({"category": "utilities", "lead": "no_dept"}, "lead"),
    ({"category": "utilities", "lead": "water_supply", "co_handlers": ["ghost"]}, "co_handlers"),
    ({"category": "utilities", "lead": "water_supply", "co_handlers": ["water_supply"]},
     "co_handlers"),
    ({"category": "urban"}, "area"),  # the same category and area as an existing rule
    ({"category": "urban.appearance", "area": "street_pudong", "lead": None}, "lead"),
    ({"category": "urban.appearance", "area": "street_pudong", "lead": "street_pudong"}, "lead"),
    ({"category": "utilities", "unknown": 1}, "unknown"),
])
def test_bad_catalogue_rules_are_refused_and_nothing_is_written(session, grid, data, field):
    before = rule_count(session)
    index = build_index(session, grid)
    with pytest.raises(InvalidInput) as caught:
        cat.create_rule(session, data, index)
    session.rollback()
    assert caught.value.field == field
    assert rule_count(session) == before


def test_a_rule_can_be_edited_and_removed(session, grid):
    index = build_index(session, grid)
    rule = cat.create_rule(session, {"category": "utilities.water", "lead": "water_supply",
                                     "area": "town_naoli"}, index)
    session.commit()
    cat.update_rule(session, rule.id, {"category": "utilities.water", "lead": "gas_supply",
                                       "area": "town_naoli", "note": "试点"}, index)
    session.commit()
    assert cat.rule_view(session.get(CatalogueRule, rule.id))["lead"] == "gas_supply"
    cat.delete_rule(session, rule.id)
    session.commit()
    with pytest.raises(NotFound):
        cat.delete_rule(session, rule.id)


BAD_DUTIES = [
    ({"cell": "no-cell", "username": "worker1"}, "cell"),
    ({"cell": "street_pudong", "username": "worker1"}, "cell"),  # a street, not a cell
    ({"cell": PUDONG_CELL, "username": "handler1"}, "username"),  # not a grid worker
    ({"cell": PUDONG_CELL, "username": "worker1", "weekdays": "118"}, "weekdays"),
    ({"cell": PUDONG_CELL, "username": "worker1", "weekdays": "112"}, "weekdays"),
    ({"cell": PUDONG_CELL, "username": "worker1", "starts": "25:00"}, "starts"),
    ({"cell": PUDONG_CELL, "username": "worker1", "starts": "08:00", "ends": "08:00"}, "ends"),
]


@pytest.mark.parametrize(("data", "field"), BAD_DUTIES)
def test_bad_roster_entries_are_refused_and_nothing_is_written(session, grid, data, field):
    before = session.scalar(select(func.count()).select_from(RosterEntry))
    with pytest.raises(InvalidInput) as caught:
        duties.add_roster_entry(session, data, build_index(session, grid))
    session.rollback()
    assert caught.value.field == field
    assert session.scalar(select(func.count()).select_from(RosterEntry)) == before


@pytest.mark.parametrize(("data", "field"), BAD_DUTIES)
def test_a_batch_of_duties_with_one_bad_entry_adds_none(session, grid, data, field):
    before = session.scalar(select(func.count()).select_from(RosterEntry))
    good = {"cell": PUDONG_CELL, "username": "worker1", "weekdays": "67"}
    with pytest.raises(InvalidInput) as caught:
        duties.add_roster_entries(session, [good, data, good], build_index(session, grid))
    session.rollback()
    assert caught.value.field == field
    assert session.scalar(select(func.count()).select_from(RosterEntry)) == before


def test_a_batch_of_duties_is_added_in_one_go(session, grid):
    index = build_index(session, grid)
    before = session.scalar(select(func.count()).select_from(RosterEntry))
    added = duties.add_roster_entries(session, [
        {"cell": PUDONG_CELL, "username": "worker1", "weekdays": "12345"},
        {"cell": PUDONG_CELL, "username": "worker1", "weekdays": "67", "starts": "20:00",
         "ends": "08:00"},
    ], index)
    session.commit()
    assert added == 2
    assert session.scalar(select(func.count()).select_from(RosterEntry)) == before + 2


def test_on_duty_follows_weekdays_and_overnight_windows(session, grid):
    index = build_index(session, grid)
    cell = cell_code(1, 0, 0)
    duties.add_roster_entry(session, {"cell": cell, "username": "worker1", "weekdays": "5",
                                   "starts": "20:00", "ends": "08:00"}, index)
    session.commit()

    def at(local: str) -> str | None:  # Shanghai time
        when = datetime.fromisoformat(local).replace(tzinfo=UTC) - timedelta(hours=8)
        return duties.on_duty(session, cell, when).username

    assert at("2026-11-27T21:00") == "worker1"  # Friday evening
    assert at("2026-11-28T07:59") == "worker1"  # Saturday morning: Friday's night duty
    assert at("2026-11-28T08:00") is None
    assert at("2026-11-28T21:00") is None  # Saturday evening: not on the roster
    assert at("2026-11-27T07:00") is None  # Friday morning belongs to Thursday's night


# ---------------------------------------------------------------- relocate and re-route


def act(session, ticket, action, actor, cache, clock, **payload):
    grid = GridRouting(session, clock.now(), cache)
    result = perform(session, ticket, action, actor, payload, now=clock.now(),
                     directory=SqlDirectory(session), ports=IntakePorts(locator=grid, router=grid))
    session.commit()
    return result


def test_relocate_moves_a_new_ticket_and_routes_it_again_with_the_history(
        session, actors, clock, cache, grid):
    t = log(session, actors, clock, cache, lon=cell_centre(0, 0, 0)[0],
            lat=cell_centre(0, 0, 0)[1], category="rural.village_affairs").ticket
    assert t.routing["lead"] == "street_pudong"
    version = t.version
    lon, lat = cell_centre(1, 0, 2)
    act(session, t, "relocate", actors["dispatcher1"], cache, clock, lon=lon, lat=lat,
        reason="来电人更正地址")
    assert (t.cell_code, t.street_code, t.status) == (cell_code(1, 0, 2), "town_naoli", "NEW")
    assert t.routing["lead"] == "town_naoli" and t.version == version + 1
    event = t.events[-1]
    assert event.action == "relocate" and event.payload["before"]["location"]["street"] == (
        "street_pudong")
    assert event.payload["routing"]["lead"] == "town_naoli"


@pytest.mark.parametrize(("payload", "field"), [
    ({}, "address"),
    ({"lon": 114.67}, "lat"),
    ({"lon": 35.2, "lat": 114.67}, "lat"),
    ({"lon": float("nan"), "lat": 35.2}, "lon"),
    ({"address": "  "}, "address"),
])
def test_bad_relocations_are_refused_and_change_nothing(
        session, actors, clock, cache, grid, desk, payload, field):
    t = log(session, actors, clock, cache, lon=cell_centre(0, 0, 0)[0],
            lat=cell_centre(0, 0, 0)[1]).ticket
    before = desk.snapshot(t)
    with pytest.raises(InvalidInput) as caught:
        act(session, t, "relocate", actors["dispatcher1"], cache, clock, **payload)
    session.rollback()
    assert caught.value.field == field
    assert desk.snapshot(t) == before and t.cell_code == PUDONG_CELL


def test_a_dispatched_ticket_cannot_be_relocated(session, actors, clock, cache, grid, desk):
    t = log(session, actors, clock, cache, lon=cell_centre(0, 0, 0)[0],
            lat=cell_centre(0, 0, 0)[1]).ticket
    act(session, t, "dispatch", actors["dispatcher1"], cache, clock)
    with pytest.raises(Conflict):
        act(session, t, "relocate", actors["dispatcher1"], cache, clock, lon=114.69, lat=35.2)


def test_changing_the_category_at_dispatch_routes_the_new_category(
        session, actors, clock, cache, grid):
    t = log(session, actors, clock, cache, lon=cell_centre(1, 1, 0)[0],
            lat=cell_centre(1, 1, 0)[1]).ticket
    assert t.routing["lead"] == "urban_management"
    act(session, t, "dispatch", actors["dispatcher1"], cache, clock,
        category="rural.village_affairs")
    assert [a.department_code for a in t.assignments] == ["town_naoli"]
    assert t.routing["lead"] == "town_naoli"


def test_a_point_with_an_address_keeps_the_address_and_uses_the_point(
        session, actors, clock, cache, grid):
    lon, lat = cell_centre(1, 0, 0)
    t = log(session, actors, clock, cache, lon=lon, lat=lat, address="恼里镇政府门口").ticket
    assert t.cell_code == cell_code(1, 0, 0) and t.address == "恼里镇政府门口"
