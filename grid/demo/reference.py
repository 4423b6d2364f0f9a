"""Reference and demo data: the category tree, the demo county's departments, demo users."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.core.accounts import create_user
from dispatch.core.errors import Conflict
from dispatch.core.models import Category, User
from grid.directory import SqlDirectory
from grid.models import Department, GazetteerEntry, GridVersion

Progress = Callable[[str, int, int], None]

DATA = Path(__file__).resolve().parents[1] / "data"
DEMO_PASSWORD = "demo12345"

# username, role, department, display name (CONTRACT.md: one account per role).
DEMO_USERS: tuple[tuple[str, str, str | None, str], ...] = (
    ("operator1", "operator", None, "话务员一"),
    ("dispatcher1", "dispatcher", None, "派单员一"),
    ("handler1", "handler", "urban_management", "城管局承办人"),
    ("street1", "handler", "street_pudong", "蒲东街道承办人"),
    ("worker1", "grid_worker", "street_pudong", "网格员一"),
    ("supervisor1", "supervisor", None, "督办员一"),
    ("leader1", "leader", None, "领导一"),
    ("admin1", "admin", None, "管理员一"),
    ("police1", "police_desk", None, "110 报警服务台"),
)

# The desk phones' extensions (分机号) of the demo: the call centre rings operator1 on 8001.
DEMO_EXTENSIONS = {"operator1": "8001"}


@dataclass(frozen=True)
class LoadReport:
    categories: int
    departments: int
    users: tuple[str, ...]
    already_loaded: bool = False


def _walk(nodes: list[dict[str, Any]], parent: str | None,
          level: int) -> Iterator[dict[str, Any]]:
    for order, node in enumerate(nodes):
        yield {"code": node["code"], "name": node["name"], "parent_code": parent,
               "level": level, "sort_order": order, "active": True}
        yield from _walk(node.get("children", []), node["code"], level + 1)


def load_categories(session: Session) -> int:
    """Load the shipped category tree where it is missing (reference data, every install)."""
    tree = json.loads((DATA / "categories.json").read_text(encoding="utf-8"))
    present = set(session.scalars(select(Category.code)))
    rows = [r for r in _walk(tree, None, 1) if r["code"] not in present]
    if rows:  # parents come before children, so foreign keys hold row by row
        session.execute(Category.__table__.insert(), rows)
    return len(rows)


def load_departments(session: Session) -> int:
    """Load the demo county's departments where they are missing."""
    items = json.loads((DATA / "demo_departments.json").read_text(encoding="utf-8"))
    present = set(session.scalars(select(Department.code)))
    added = 0
    for item in items:
        if item["code"] in present:
            continue
        session.add(Department(code=item["code"], name=item["name"], kind=item["kind"],
                               street_code=item.get("street_code"), active=True))
        added += 1
    session.flush()
    return added


def load_demo(session: Session, hasher: PasswordHasher) -> LoadReport:
    """Load the demo county; refuses a database that has real (non-demo) users."""
    real = session.scalar(select(func.count()).select_from(User).where(User.demo.is_(False)))
    if real:
        raise Conflict(f"此数据库已有 {real} 个真实用户：演示数据不装入生产数据库")
    if session.scalar(select(func.count()).select_from(User)):
        return LoadReport(0, 0, tuple(u for u, *_ in DEMO_USERS), already_loaded=True)
    categories = load_categories(session)
    departments = load_departments(session)
    directory = SqlDirectory(session)
    for username, role, department, name in DEMO_USERS:
        create_user(session, hasher, directory, username=username, password=DEMO_PASSWORD,
                    role=role, display_name=name, department=department, demo=True,
                    extension=DEMO_EXTENSIONS.get(username))
    return LoadReport(categories, departments, tuple(u for u, *_ in DEMO_USERS))


@dataclass(frozen=True)
class GridLoadReport:
    grid_version: int | None
    cells: int
    places: int
    workers: int
    roster: int
    rules: int
    already_loaded: bool = False


def load_demo_grid(session: Session, hasher: PasswordHasher, now: datetime,
                   progress: Progress | None = None) -> GridLoadReport:
    """Load the demo county's grid, gazetteer, grid workers, duty roster, dispatch catalogue
    and knowledge base (the committed files under grid/data/), unless a grid is already
    there."""
    from dispatch.triage.knowledge import load_demo_knowledge
    from grid.catalogue import create_rule
    from grid.demo.levels import load_demo_levels
    from grid.duties import add_roster_entries
    from grid.importer import import_grid
    from grid.locator import build_index

    if session.scalar(select(func.count()).select_from(GridVersion)):
        return GridLoadReport(None, 0, 0, 0, 0, 0, already_loaded=True)
    report = import_grid(session, DATA / "demo_grid.geojson", actor_id=None, now=now,
                         progress=progress)
    assert report.version_id is not None  # import_grid stores a version
    index = build_index(session, report.version_id)
    places = json.loads((DATA / "demo_gazetteer.json").read_text(encoding="utf-8"))
    session.execute(GazetteerEntry.__table__.insert(), [
        {"name": p["name"], "kind": p["kind"], "lon": p["lon"], "lat": p["lat"],
         "street_code": p.get("street"), "community_code": p.get("community"),
         "line": p.get("line"), "source": "demo"} for p in places])
    staff = json.loads((DATA / "demo_workers.json").read_text(encoding="utf-8"))
    present = set(session.scalars(select(User.username)))
    # One hash for every demo grid worker: thousands of argon2 runs would take minutes, and
    # they all share the published demo password anyway.
    shared_hash = hasher.hash(DEMO_PASSWORD)
    new_workers = [
        {"username": w["username"], "display_name": w["display_name"], "role": "grid_worker",
         "department_code": w["department"], "phone": w.get("phone"),
         "password_hash": shared_hash, "active": True, "demo": True, "created_at": now}
        for w in staff["workers"] if w["username"] not in present]
    if new_workers:
        session.execute(User.__table__.insert(), new_workers)
    if progress:
        progress("roster", 0, len(staff["roster"]))
    add_roster_entries(session, staff["roster"], index)
    session.flush()
    load_demo_levels(session, report.version_id, shared_hash)
    rules = json.loads((DATA / "demo_catalogue.json").read_text(encoding="utf-8"))
    for rule in rules:
        create_rule(session, rule, index)
    load_demo_triage_settings(session)
    load_demo_knowledge(session, now)
    return GridLoadReport(report.version_id, len(index.cell_codes), len(places),
                          len(new_workers), len(staff["roster"]), len(rules))


# The demo county dispatches these categories automatically (智能派单) when the suggestion is
# at least this confident: faults with one clear functional department each.
DEMO_AUTO_DISPATCH = {
    "utilities.water": 0.8,
    "utilities.electricity": 0.8,
    "urban.municipal_facilities": 0.85,
    "transport.public_transit": 0.85,
}


def load_demo_triage_settings(session: Session) -> None:
    """Turn 智能派单 on for a few categories (alarms escalate after 60 s; auto_transfer_110
    stays off, as everywhere by default)."""
    from dispatch.intake.autodispatch import get_settings, set_settings

    current = get_settings(session)
    if current.auto_dispatch:  # an admin set them already
        return
    set_settings(session, {**current.model_dump(), "auto_dispatch": DEMO_AUTO_DISPATCH}, None)
