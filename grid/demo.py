"""Reference and demo data: the category tree, the demo county's departments, demo users."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.accounts import create_user
from dispatch.errors import Conflict
from dispatch.models import Category, User
from grid.directory import SqlDirectory
from grid.models import Department

DATA = Path(__file__).parent / "data"
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


@dataclass(frozen=True)
class LoadReport:
    categories: int
    departments: int
    users: tuple[str, ...]
    already_loaded: bool = False


def _walk(nodes: list[dict[str, Any]], parent: str | None, level: int):  # noqa: ANN202
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
        raise Conflict(f"this database has {real} real users; the demo is not loaded into a "
                       "production database")
    if session.scalar(select(func.count()).select_from(User)):
        return LoadReport(0, 0, tuple(u for u, *_ in DEMO_USERS), already_loaded=True)
    categories = load_categories(session)
    departments = load_departments(session)
    directory = SqlDirectory(session)
    for username, role, department, name in DEMO_USERS:
        create_user(session, hasher, directory, username=username, password=DEMO_PASSWORD,
                    role=role, display_name=name, department=department, demo=True)
    return LoadReport(categories, departments, tuple(u for u, *_ in DEMO_USERS))
