"""The demo county's levels (DOMAIN.md "Grid governance", grid/demo/levels.py): communities
and villages become departments under their street offices, day-shift grid workers belong to
their community, village1 handles for 育英社区 under street1's 蒲东街道, and street1 delegates
to worker1. On a miniature grid (the full demo grid takes a minute to load)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from dispatch.core.accounts import actor_for
from dispatch.core.models import Delegation, User
from dispatch.intake.pipeline import intake
from dispatch.tickets.lifecycle import perform
from grid.demo.levels import load_demo_levels
from grid.directory import SqlDirectory
from grid.models import Area, Department, GridVersion, RosterEntry
from tests.service.conftest import demand

MORNING = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
AREAS = (("street_pudong-c001", "育英社区", "community", "street_pudong"),
         ("street_pudong-c001-g01", "育英社区第1网格", "cell", "street_pudong-c001"),
         ("town_changcun-c001", "北罗固村", "community", "town_changcun"),
         ("town_changcun-c001-g01", "北罗固村第1网格", "cell", "town_changcun-c001"))


def mini_grid(session) -> int:
    version = GridVersion(source="test", source_crs="EPSG:4326", active=True, area_count=4,
                          cell_count=2, bbox=[0, 0, 1, 1])
    session.add(version)
    session.flush()
    for code, name, level, parent in AREAS:
        session.add(Area(grid_version=version.id, code=code, name=name, level=level,
                         parent_code=parent, geometry=b"", point_lon=0, point_lat=0,
                         area_m2=1))
    night = User(username="gw_pudong_night", display_name="夜班", role="grid_worker",
                 department_code="street_pudong", password_hash="x", demo=True)
    session.add(night)
    session.flush()
    worker1 = session.scalar(select(User).where(User.username == "worker1"))
    for user, starts, ends in ((worker1, "08:00", "20:00"), (night, "20:00", "08:00")):
        session.add(RosterEntry(cell_code="street_pudong-c001-g01", user_id=user.id,
                                weekdays="1234567", starts=starts, ends=ends))
    session.flush()
    return version.id


def test_villages_become_departments_under_their_street_offices(session):
    added = load_demo_levels(session, mini_grid(session), "x")
    session.commit()
    assert added == 2
    village = session.get(Department, "street_pudong_c001")
    assert (village.name, village.kind, village.parent_code) == (
        "育英社区居委会", "territorial", "street_pudong")
    # No street of its own: the street's territorial office stays the one the catalogue finds.
    assert village.street_code is None
    assert session.get(Department, "town_changcun_c001").name == "北罗固村村委会"
    users = {u.username: u for u in session.scalars(select(User))}
    assert (users["village1"].role, users["village1"].department_code) == (
        "handler", "street_pudong_c001")
    assert users["worker1"].department_code == "street_pudong_c001"
    assert users["gw_pudong_night"].department_code == "street_pudong"
    assert load_demo_levels(session, 1, "x") == 0  # loading again adds nothing

    # street1 signs for a street matter and delegates it to worker1 of its cells.
    actors = {u.username: actor_for(u) for u in users.values()}
    directory = SqlDirectory(session)
    t = intake(session, demand(), actors["operator1"], now=MORNING).ticket
    for action, user, payload in (("dispatch", "dispatcher1", {"lead": "street_pudong"}),
                                  ("sign", "street1", {}),
                                  ("delegate", "street1", {"to": "worker1"}),
                                  ("sign", "worker1", {})):
        perform(session, t, action, actors[user], payload, now=MORNING, directory=directory)
        session.commit()
    (d,) = session.scalars(select(Delegation)).all()
    assert (d.status, d.grid_worker_id) == ("signed", actors["worker1"].id)
