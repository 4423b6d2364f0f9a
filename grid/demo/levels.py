"""The demo county's levels below the street offices (DOMAIN.md "Grid governance"): every
community and village of the grid becomes a territorial department under its street office
(居委会 / 村委会), each day-shift grid worker belongs to the community of their cells, and a
community handler (`village1`, under street1's 蒲东街道) signs for and completes what the
street office delegates (下派)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dispatch.core.models import User
from grid.models import Area, Department, RosterEntry

# username, community area, display name: the demo's community handler (README's table).
VILLAGE_USER = ("village1", "street_pudong-c001", "育英社区承办人")


def community_department_code(area_code: str) -> str:
    """A community's department code from its area code (street_pudong-c001 →
    street_pudong_c001: the admin's code rules allow no hyphen)."""
    return area_code.replace("-", "_")


def community_department_name(area_name: str) -> str:
    """村委会 for a village, 居委会 for an urban community."""
    return area_name + ("村委会" if area_name.endswith("村") else "居委会")


def load_demo_levels(session: Session, grid_version: int, password_hash: str) -> int:
    """Communities and villages as departments under their street offices, day-shift grid
    workers moved to their community, the community handler; the departments added."""
    offices = {d.street_code: d.code for d in session.scalars(
        select(Department).where(Department.kind == "territorial",
                                 Department.parent_code.is_(None)))
        if d.street_code}
    present = set(session.scalars(select(Department.code)))
    communities = session.execute(
        select(Area.code, Area.name, Area.parent_code)
        .where(Area.grid_version == grid_version, Area.level == "community")
        .order_by(Area.code)).all()
    # No street_code: a street's territorial office is the department that has it (the
    # catalogue and the simulation find the office by it); the hierarchy is parent_code.
    rows: list[dict[str, Any]] = [
        {"code": community_department_code(code), "name": community_department_name(name),
         "kind": "territorial", "street_code": None, "parent_code": offices[street],
         "active": True, "phones": []}
        for code, name, street in communities
        if street in offices and community_department_code(code) not in present]
    if rows:
        session.execute(Department.__table__.insert(), rows)
    # Each grid worker of the day shift works within one community: it becomes theirs (the
    # night standby of a whole street stays with the street office).
    cell_parent = dict(session.execute(
        select(Area.code, Area.parent_code)
        .where(Area.grid_version == grid_version, Area.level == "cell")).tuples().all())
    first_cell: dict[int, str] = {}
    for user_id, cell in session.execute(
            select(RosterEntry.user_id, RosterEntry.cell_code)
            .where(RosterEntry.starts == "08:00").order_by(RosterEntry.id)):
        first_cell.setdefault(user_id, cell)
    known = present | {r["code"] for r in rows}
    moves: dict[str, list[int]] = {}
    for user_id, cell in first_cell.items():
        community = cell_parent.get(cell)
        if community and community_department_code(community) in known:
            moves.setdefault(community_department_code(community), []).append(user_id)
    for code, ids in moves.items():
        session.execute(update(User).where(User.id.in_(ids), User.role == "grid_worker")
                        .values(department_code=code))
    username, area, display = VILLAGE_USER
    if community_department_code(area) in known and session.scalar(
            select(User.id).where(User.username == username)) is None:
        session.add(User(username=username, display_name=display, role="handler",
                         department_code=community_department_code(area),
                         password_hash=password_hash, active=True, demo=True))
    session.flush()
    return len(rows)
