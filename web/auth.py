"""Who is calling: a session cookie (people) or a bearer token (machine clients)."""

from __future__ import annotations

from dataclasses import replace

from flask import g, request, session

from dispatch.core.accounts import actor_for, user_for_token
from dispatch.core.errors import Forbidden, Unauthorized
from dispatch.core.models import User
from dispatch.core.vocab import Role
from dispatch.tickets.lifecycle import Actor
from grid.catalogue import duty_cells
from web.extensions import db
from web.services import services


def current_user() -> User:
    """The signed-in user of this request, or Unauthorized."""
    if "user" in g:
        return g.user
    header = request.headers.get("Authorization", "")
    user: User | None = None
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        user = user_for_token(db.session, token.strip(), services().clock.now())
    elif "user_id" in session:
        user = db.session.get(User, session["user_id"])
        if user is None or not user.active or session.get("pw") != user.password_hash[-16:]:
            session.clear()
            user = None
    if user is None:
        raise Unauthorized("sign in first, or send a bearer token")
    g.user = user
    return user


def current_actor(roles: tuple[str, ...] = ()) -> Actor:
    """The domain actor of this request; Forbidden if its role is not among `roles`."""
    user = current_user()
    actor = actor_for(user)
    if roles and actor.role not in roles:
        raise Forbidden(f"role '{actor.role}' may not do this")
    if actor.role == Role.GRID_WORKER:
        actor = replace(actor, cells=duty_cells(db.session, user.id))
    return actor


def sign_in(user: User) -> None:
    """Start a session for a person (the password fingerprint ends it on a password change)."""
    session.clear()
    session["user_id"] = user.id
    session["pw"] = user.password_hash[-16:]
    session.permanent = False
