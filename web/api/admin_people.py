"""Administration of people and organisation under /api/v1 (CONTRACT.md, Administration): users
(add, unlock) and the departments."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from pydantic import StringConstraints
from sqlalchemy import select

from dispatch.core import accounts
from dispatch.core.commands import Code, Strict
from dispatch.core.errors import NotFound
from dispatch.core.models import User
from dispatch.core.vocab import Role
from dispatch.tickets.lifecycle import Actor
from grid.directory import SqlDirectory
from grid.models import Department
from web.api.base import STAFF, ApiBlueprint, commit
from web.auth import login_throttle
from web.extensions import db
from web.services import services

log = logging.getLogger("hotline.auth")
bp = ApiBlueprint("admin_people", __name__)


def _directory() -> SqlDirectory:
    return SqlDirectory(db.session)


def _me(user: User) -> dict[str, Any]:
    return {"username": user.username, "display_name": user.display_name, "role": user.role,
            "department": user.department_code}


# ---------------------------------------------------------------- departments


@bp.endpoint("/departments", "GET", "Departments", roles=STAFF)
def departments(actor: Actor) -> dict[str, Any]:
    rows = db.session.scalars(select(Department).order_by(Department.kind, Department.code))
    return {"items": [{"code": d.code, "name": d.name, "kind": d.kind,
                       "street": d.street_code, "active": d.active} for d in rows]}


# ---------------------------------------------------------------- administration


class UserCreate(Strict):
    username: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    role: Role
    display_name: Annotated[str, StringConstraints(max_length=60)] | None = None
    department: Code | None = None
    phone: Annotated[str, StringConstraints(max_length=32)] | None = None


@bp.endpoint("/admin/users", "POST", "Add a user", body=UserCreate, roles=(Role.ADMIN,),
          status=201)
def add_user(actor: Actor, body: UserCreate) -> dict[str, Any]:
    user = accounts.create_user(
        db.session, services().hasher, _directory(), username=body.username,
        password=body.password, role=body.role, display_name=body.display_name,
        department=body.department, phone=body.phone)
    commit()
    return _me(user)


@bp.endpoint("/admin/users/<username>/unlock", "POST",
          "Clear a user's login lock (failed logins of the account and of its addresses)",
          roles=(Role.ADMIN,))
def unlock_user(actor: Actor, username: str) -> dict[str, Any]:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户 '{username}' 不存在")
    was_locked = login_throttle().unlock(user.username)
    log.info("login unlocked: account=%r by=%s was_locked=%s", user.username, actor.username,
             was_locked)
    return {"username": user.username, "unlocked": True, "was_locked": was_locked}
