"""REST API under /api/v1 (CONTRACT.md): thin routes that parse, call one domain function,
commit, and publish what happened."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated, Any

from flask import current_app, session
from flask_wtf.csrf import generate_csrf
from pydantic import BaseModel, Field, StringConstraints, create_model

from dispatch.calls.intake import CallContact, log_call_contact
from dispatch.core import accounts
from dispatch.core.commands import PAYLOADS, Id, Strict
from dispatch.core.errors import NotFound
from dispatch.core.models import Contact
from dispatch.core.vocab import Role, Status
from dispatch.intake.contacts import ContactFilter
from dispatch.intake.contacts import find_contacts as list_contacts
from dispatch.intake.patrol import TicketIntake, log_demand
from dispatch.tickets.lifecycle import (
    PUBLIC_ACTIONS,
    TABLE,
    Actor,
    perform,
)
from dispatch.tickets.queries import TicketFilter, TicketRead, get_ticket, list_tickets
from dispatch.tickets.readmodel import list_view, ticket_view
from grid.directory import SqlDirectory
from web.api import openapi
from web.api.base import STAFF, ApiBlueprint, commit, json_body
from web.auth import current_user, log_in, sign_in, signed_in_user
from web.extensions import db
from web.services import services

log = logging.getLogger("hotline.auth")
# The tickets' area (auth, tickets, contacts); the reference data and its administration are in
# admin_people (users, departments) and admin_setup (categories, catalogue, time limits, calendar).
bp = ApiBlueprint("api", __name__)


def _now():  # noqa: ANN202
    return services().clock.now()


def _directory() -> SqlDirectory:
    return SqlDirectory(db.session)


def _named(view: dict[str, Any]) -> dict[str, Any]:
    """A ticket's view with the names of its cell, community and street (location.names)."""
    view["location"]["names"] = _directory().place_names(view["location"])
    return view


# ---------------------------------------------------------------- auth


class LoginIn(Strict):
    username: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class PasswordChange(Strict):
    old_password: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    new_password: Annotated[str, StringConstraints(min_length=1, max_length=200)]


def _me(user: Any, csrf: bool = False) -> dict[str, Any]:
    me = {"username": user.username, "display_name": user.display_name, "role": user.role,
          "department": user.department_code,
          # an admin's reset: nothing but /auth/me, /auth/password and logout until changed
          "must_change_password": user.must_change_password}
    if csrf:  # a session client sends it back as X-CSRFToken on every change
        me["csrf_token"] = generate_csrf()
    return me


@bp.endpoint("/auth/login", "POST", "Sign in a person (session cookie)", body=LoginIn, public=True,
          errors=(401, 429))
def login(body: LoginIn) -> dict[str, Any]:
    user = log_in(body.username, body.password)  # throttled: 429 after too many failures
    sign_in(user)
    return _me(user, csrf=True)


@bp.endpoint("/auth/logout", "POST", "Sign out: ends every session and token of the user",
          public=True)
def logout() -> dict[str, Any]:
    user = signed_in_user()
    if user is not None:
        accounts.end_sessions(db.session, user, _now())
        commit()
    session.clear()
    return {"signed_out": True}


@bp.endpoint("/auth/me", "GET", "Who is signed in")
def me(actor: Actor) -> dict[str, Any]:
    return _me(current_user(), csrf="user_id" in session)


@bp.endpoint("/auth/token", "POST", "A bearer token for a machine client", body=LoginIn,
          public=True, errors=(401, 429))
def token(body: LoginIn) -> dict[str, Any]:
    user = log_in(body.username, body.password)  # throttled: 429 after too many failures
    ttl = timedelta(hours=current_app.config["TOKEN_TTL_HOURS"])
    value, expires = accounts.issue_token(db.session, user, _now(), ttl)
    commit()
    return {"token": value, "expires_at": expires.isoformat()}


@bp.endpoint("/auth/password", "POST", "Change one's password", body=PasswordChange)
def change_password(actor: Actor, body: PasswordChange) -> dict[str, Any]:
    user = current_user()
    accounts.set_password(db.session, services().hasher, user, body.old_password,
                          body.new_password, _now())
    commit()
    sign_in(user)
    return {"changed": True}


# ---------------------------------------------------------------- tickets


@bp.endpoint("/tickets", "POST", "Log a demand (intake; `call_id`: the call it came in on); a "
          "grid worker's patrol report (巡查上报: channel patrol, photos and lon/lat required, "
          "optional self_handled 自办自结)",
          body=TicketIntake, roles=(Role.OPERATOR, Role.GRID_WORKER), status=201,
          idempotent=True)
def create_ticket(actor: Actor, body: TicketIntake) -> dict[str, Any]:
    now = _now()
    result = log_demand(db.session, body, actor, now=now,
                        ports=services().intake_ports(db.session, now))
    view = _named(ticket_view(db.session, result.ticket, actor, _directory(), _now()))
    commit(result.events)  # the intake event and what it led to (智能派单)
    return view


@bp.endpoint("/tickets", "GET", "List tickets (filters, paging), scoped to the user",
          query=TicketFilter, roles=STAFF)
def find_tickets(actor: Actor, query: TicketFilter) -> dict[str, Any]:
    now = _now()
    page = list_tickets(db.session, actor, query, now)
    items = list_view(db.session, page.items, actor, now)
    commit()
    return {"items": items, "total": page.total, "page": page.page,
            "per_page": page.per_page}


@bp.endpoint("/tickets/<number>", "GET", "Read a ticket with its assignments, clocks and history",
          query=TicketRead, roles=STAFF)
def read_ticket(actor: Actor, number: str, query: TicketRead) -> dict[str, Any]:
    ticket = get_ticket(db.session, number, actor)
    view = _named(ticket_view(db.session, ticket, actor, _directory(), _now(),
                              masked=query.masked))
    commit()
    return view


_ACTION_BODIES: dict[str, type[BaseModel]] = {}
for _action in PUBLIC_ACTIONS:
    _payload = PAYLOADS[_action]
    _name = "".join(part.capitalize() for part in _action.split("_")) + "Action"
    _ACTION_BODIES[_action] = create_model(
        _name, __base__=_payload,
        version=(Id, Field(description="the ticket version the client last read")),
    )
    _rule = TABLE[_action]
    openapi.REGISTRY.append(openapi.Operation(
        f"/api/v1/tickets/{{number}}/actions/{_action}", "post",
        f"Action '{_action}' (from {', '.join(sorted(_rule.from_states))})",
        body=_ACTION_BODIES[_action], roles=tuple(sorted(_rule.roles - {Role.SYSTEM})),
        path_params=("number",), extra_errors=(409,), idempotent=True))


@bp.endpoint("/tickets/<number>/actions/<action>", "POST", "Take an action", roles=STAFF,
          document=False, idempotent=True)
def act(actor: Actor, number: str, action: str) -> dict[str, Any]:
    model = _ACTION_BODIES.get(action)
    if model is None:
        raise NotFound(f"action: 没有“{action}”这个操作；可用的操作："
                       + "、".join(f"'{a}'" for a in PUBLIC_ACTIONS), field="action")
    body = json_body(model)
    ticket = get_ticket(db.session, number, actor)
    now = _now()
    result = perform(db.session, ticket, action, actor, body, now=now,
                     directory=_directory(), expected_version=body.version,
                     ports=services().intake_ports(db.session, now))
    db.session.flush()
    view = _named(ticket_view(db.session, result.ticket, actor, _directory(), _now()))
    commit(result.events)
    return view


# ---------------------------------------------------------------- contacts


def _contact_view(c: Contact, numbers: dict[int, str]) -> dict[str, Any]:
    return {"id": c.id, "channel": c.channel, "kind": c.kind,
            "received_at": c.received_at.isoformat(), "phone": c.phone,
            "ticket": numbers.get(c.ticket_id) if c.ticket_id else None, "note": c.note}


@bp.endpoint("/contacts", "POST", "Record a contact: a follow-up, or a silent, prank or hang-up "
          "(`call_id`: the call it came in on)", body=CallContact, roles=(Role.OPERATOR,),
          status=201)
def create_contact(actor: Actor, body: CallContact) -> dict[str, Any]:
    contact, ticket = log_call_contact(db.session, body, actor=actor, now=_now(),
                                       directory=_directory())
    events = list(ticket.events[-1:]) if ticket is not None else []
    db.session.flush()
    view = _contact_view(contact, {ticket.id: ticket.number} if ticket else {})
    commit(events)
    return view


@bp.endpoint("/contacts", "GET",
          "List contacts, scoped and masked like their tickets (a confidential ticket's "
          "caller is hidden); unmasked reads are logged", query=ContactFilter,
          roles=(Role.OPERATOR, Role.DISPATCHER, Role.LEADER, Role.ADMIN))
def find_contacts(actor: Actor, query: ContactFilter) -> dict[str, Any]:
    items, total = list_contacts(db.session, actor, query, _now())
    commit()  # the audit of unmasked reads
    return {"items": items, "total": total, "page": query.page, "per_page": query.per_page}


@bp.endpoint("/openapi.json", "GET", "This document", public=True)
def openapi_json() -> dict[str, Any]:
    return openapi.document("/")


__all__ = ["bp", "Status"]
