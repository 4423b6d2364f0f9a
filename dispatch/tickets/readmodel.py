"""How a ticket reads for a given user: masking by role, and the audit of unmasked reads."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.models import Assignment, Event, PersonalDataRead, Ticket, User
from dispatch.core.ports import Directory
from dispatch.core.vocab import Role
from dispatch.intake.phones import mask_name, mask_phone
from dispatch.tickets.lifecycle import Actor, available_actions

MASKED_ROLES = frozenset({Role.HANDLER, Role.GRID_WORKER})


def _iso(value: datetime | None) -> str | None:
    # Always UTC: a deadline just computed (local time) reads the same as one loaded back.
    return value.astimezone(UTC).isoformat() if value is not None else None


def citizen_view(ticket: Ticket, actor: Actor, *,
                 masked: bool = False) -> tuple[dict[str, Any], bool]:
    """The citizen as this user may see them (`masked`: as a department user sees them, for
    screens that need no contact details), and whether unmasked personal data was shown."""
    base = {"anonymous": ticket.anonymous, "confidential": ticket.confidential,
            "direct_contact": ticket.direct_contact}
    if ticket.confidential and actor.role != Role.OPERATOR:
        return {**base, "name": None, "phone": None, "openid": None, "hidden": True}, False
    name, phone, openid = ticket.citizen_name, ticket.citizen_phone, ticket.citizen_openid
    if masked or (actor.role in MASKED_ROLES and not ticket.direct_contact):
        name = mask_name(name) if name else None
        phone = mask_phone(phone) if phone else None
        openid = None
        unmasked = False
    else:
        unmasked = bool(name or phone or openid)
    return {**base, "name": name, "phone": phone, "openid": openid, "hidden": False}, unmasked


def log_personal_reads(session: Session, actor: Actor, ticket_ids: Iterable[int],
                       now: datetime) -> None:
    """Record that this user read unmasked personal data of these tickets."""
    if actor.id is None:
        return
    rows = [{"user_id": actor.id, "ticket_id": tid, "at": now, "fields": "citizen"}
            for tid in ticket_ids]
    if rows:
        session.execute(PersonalDataRead.__table__.insert(), rows)


def assignment_view(a: Assignment, directory: Directory, now: datetime,
                    workers: dict[int, str]) -> dict[str, Any]:
    dept = directory.department(a.department_code)
    active = a.status in ("dispatched", "signed")
    return {
        "id": a.id, "department": a.department_code,
        "department_name": dept.name if dept else None,
        "role": a.role, "status": a.status,
        "grid_worker": workers.get(a.grid_worker_id) if a.grid_worker_id else None,
        "dispatched_at": _iso(a.dispatched_at),
        "sign_deadline": _iso(a.sign_deadline), "sign_warn_at": _iso(a.sign_warn_at),
        "signed_at": _iso(a.signed_at),
        "complete_deadline": _iso(a.complete_deadline),
        "complete_warn_at": _iso(a.complete_warn_at),
        "completed_at": _iso(a.completed_at),
        "deadline_provisional": a.deadline_provisional,
        "extensions_used": a.extensions_used,
        "result": a.result, "return_reason": a.return_reason,
        "sign_overdue": a.status == "dispatched" and now > a.sign_deadline,
        "complete_overdue": active and now > a.complete_deadline,
    }


def event_view(e: Event, users: dict[int, str]) -> dict[str, Any]:
    return {
        "id": e.id, "at": _iso(e.at), "action": e.action,
        "from": e.from_status, "to": e.to_status,
        "actor": users.get(e.actor_id) if e.actor_id else "system",
        "actor_role": e.actor_role, "reason": e.reason, "payload": e.payload,
    }


def _usernames(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(
        select(User.id, User.username).where(User.id.in_(wanted))).tuples().all())


def ticket_view(session: Session, ticket: Ticket, actor: Actor, directory: Directory,
                now: datetime, *, full: bool = True, masked: bool = False) -> dict[str, Any]:
    """A ticket as the API shows it (CONTRACT.md), masked for this user (or for everyone with
    `masked`); logs unmasked reads."""
    citizen, unmasked = citizen_view(ticket, actor, masked=masked)
    if unmasked:
        log_personal_reads(session, actor, [ticket.id], now)
    view = summary_fields(ticket, citizen)
    if not full:
        return view
    workers = _usernames(session, {a.grid_worker_id for a in ticket.assignments})
    users = _usernames(session, {e.actor_id for e in ticket.events})
    view.update({
        "assignments": [assignment_view(a, directory, now, workers) for a in ticket.assignments],
        "extensions": [
            {"id": x.id, "assignment_id": x.assignment_id, "status": x.status, "days": x.days,
             "reason": x.reason, "requested_at": _iso(x.requested_at),
             "old_deadline": _iso(x.old_deadline), "new_deadline": _iso(x.new_deadline),
             "decision_reason": x.decision_reason}
            for x in ticket.extensions
        ],
        "events": [event_view(e, users) for e in ticket.events],
        "children": [c.number for c in ticket.children],
        "actions": available_actions(ticket, actor),
    })
    intake = next((e.payload or {} for e in ticket.events if e.action == "intake"), {})
    view["location"]["reasons"] = (intake.get("location") or {}).get("reasons", [])
    view["repeat_candidates"] = intake.get("repeat_candidates", [])
    return view


def summary_fields(ticket: Ticket, citizen: dict[str, Any]) -> dict[str, Any]:
    """The fields a ticket shows in lists and in full."""
    return {
        "number": ticket.number, "status": ticket.status, "version": ticket.version,
        "channel": ticket.channel, "type": ticket.type, "category": ticket.category_code,
        "urgency": ticket.urgency, "police_matter": ticket.police_matter,
        "text": ticket.text, "outcome": ticket.outcome, "citizen": citizen,
        "address": ticket.address,
        "location": {"lon": ticket.lon, "lat": ticket.lat, "cell": ticket.cell_code,
                     "community": ticket.community_code, "street": ticket.street_code,
                     "grid_version": ticket.grid_version,
                     "flags": list(ticket.location_flags or [])},
        "routing": ticket.routing or {},
        "parent": ticket.parent.number if ticket.parent is not None else None,
        "police": {"state": ticket.police_state, "cause": ticket.police_cause,
                   "incident_no": ticket.external_ref},
        "supervised": ticket.supervised,
        "supervise_deadline": _iso(ticket.supervise_deadline),
        "callback": {"deadline": _iso(ticket.callback_deadline),
                     "attempts": ticket.callback_attempts,
                     "satisfaction": ticket.satisfaction, "resolved": ticket.resolved},
        "created_at": _iso(ticket.created_at), "updated_at": _iso(ticket.updated_at),
        "closed_at": _iso(ticket.closed_at),
    }


def list_view(session: Session, tickets: list[Ticket], actor: Actor,
              now: datetime) -> list[dict[str, Any]]:
    """Summaries for a page of tickets, masked, with one audit insert for the page."""
    out, unmasked_ids = [], []
    for t in tickets:
        citizen, unmasked = citizen_view(t, actor)
        if unmasked:
            unmasked_ids.append(t.id)
        out.append(summary_fields(t, citizen))
    log_personal_reads(session, actor, unmasked_ids, now)
    return out
