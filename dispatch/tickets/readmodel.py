"""How a ticket reads for a given user: masking by role, and the audit of unmasked reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.calls.models import Call
from dispatch.core.memo import memo_many
from dispatch.core.models import (
    Assignment,
    Contact,
    Delegation,
    Event,
    PersonalDataRead,
    Ticket,
    User,
)
from dispatch.core.ports import Directory
from dispatch.core.vocab import ALL_SEEING_ROLES
from dispatch.intake.phones import has_personal_numbers, mask_name, mask_phone, mask_text
from dispatch.tickets.access import (
    FULL,
    HIDDEN,
    MASKED,
    MASKED_ROLES,
    contact_exposure,
    exposure,
    visible_numbers,
)
from dispatch.tickets.clocks import get_time_limits
from dispatch.tickets.delegation_warnings import DelegationClock, clocks_of
from dispatch.tickets.lifecycle import Actor, available_actions

__all__ = ["MASKED_ROLES", "citizen_view", "contact_views", "list_view", "log_personal_reads",
           "shown_text", "summary_fields", "ticket_view", "visible_candidates"]

# Free-text fields of an event's payload, where a citizen's number may have been typed.
FREE_TEXT_KEYS = ("text", "note", "result", "reason", "remark", "comment", "message",
                  "answer", "summary", "cause", "reasons", "remarks")
# Payload keys that name a linked ticket (a merge), shown only to those who may see it.
LINK_KEYS = ("repeat_linked", "parent")
# Payload keys that hold a username (a dispatch's grid worker, an arbitration's author): the
# event view names each next to it (`<key>_name`), the username staying for the tooltip.
PERSON_KEYS = ("grid_worker", "arbitrated_by")


def _iso(value: datetime | None) -> str | None:
    # Always UTC: a deadline just computed (local time) reads the same as one loaded back.
    return value.astimezone(UTC).isoformat() if value is not None else None


def citizen_view(ticket: Ticket, actor: Actor, *,
                 masked: bool = False) -> tuple[dict[str, Any], bool]:
    """The citizen as this user may see them (`masked`: as a department user sees them, for
    screens that need no contact details), and whether unmasked personal data was shown."""
    base = {"anonymous": ticket.anonymous, "confidential": ticket.confidential,
            "direct_contact": ticket.direct_contact}
    level = exposure(actor, ticket, masked=masked)
    if level == HIDDEN:
        return {**base, "name": None, "phone": None, "openid": None, "hidden": True}, False
    name, phone, openid = ticket.citizen_name, ticket.citizen_phone, ticket.citizen_openid
    if level == MASKED:
        name = mask_name(name) if name else None
        phone = mask_phone(phone) if phone else None
        openid = None
        unmasked = False
    else:
        unmasked = bool(name or phone or openid)
    return {**base, "name": name, "phone": phone, "openid": openid, "hidden": False}, unmasked


def shown_text(text: str | None, level: str) -> str | None:
    """A free text as a user of this exposure sees it: numbers typed into it (phone, ID
    card) masked unless the citizen is shown unmasked."""
    if text is None or level == FULL:
        return text
    return mask_text(text)


def _read_fields(ticket: Ticket, citizen_unmasked: bool, level: str) -> str | None:
    """The personal fields an unmasked read of this ticket showed (None: nothing)."""
    fields = ["citizen"] if citizen_unmasked else []
    if level == FULL and has_personal_numbers(ticket.text):
        fields.append("text")
    return ",".join(fields) or None


def log_personal_reads(session: Session, actor: Actor,
                       reads: Iterable[tuple[int, str]], now: datetime,
                       contacts: Iterable[tuple[int, str]] = ()) -> None:
    """Record that this user read unmasked personal data: `(ticket id, fields)` each, and
    `(contact id, fields)` for contacts that belong to no ticket."""
    if actor.id is None:
        return
    rows = [{"user_id": actor.id, "ticket_id": tid, "contact_id": None, "at": now,
             "fields": fields} for tid, fields in reads]
    rows += [{"user_id": actor.id, "ticket_id": None, "contact_id": cid, "at": now,
              "fields": fields} for cid, fields in contacts]
    if rows:
        session.execute(PersonalDataRead.__table__.insert(), rows)


def visible_candidates(session: Session, actor: Actor, ticket: Ticket,
                       candidates: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The repeat candidates of a ticket this user may know of: tickets they may see, and a
    match by caller only where they see both callers unmasked (else it says who called)."""
    if not candidates:
        return []
    numbers = [str(c.get("number")) for c in candidates]
    if actor.role in ALL_SEEING_ROLES:
        seen = set(numbers)
    else:
        seen = visible_numbers(session, actor, numbers)
    callers = [str(c.get("number")) for c in candidates if c.get("reason") == "same_caller"]
    known: set[str] = set()
    if callers and exposure(actor, ticket) == FULL:
        known = visible_numbers(session, actor, callers, unmasked=True)
    return [c for c in candidates if str(c.get("number")) in seen
            and (c.get("reason") != "same_caller" or str(c.get("number")) in known)]


def _masked_payload(payload: Any, level: str, free: bool = False) -> Any:
    """A payload with the strings under its free-text keys (at any depth) masked."""
    if level == FULL:
        return payload
    if isinstance(payload, str):
        return shown_text(payload, level) if free else payload
    if isinstance(payload, dict):
        return {k: _masked_payload(v, level, free or k in FREE_TEXT_KEYS)
                for k, v in payload.items()}
    if isinstance(payload, list):
        return [_masked_payload(v, level, free) for v in payload]
    return payload


def assignment_view(a: Assignment, directory: Directory, now: datetime,
                    workers: dict[int, str], level: str = FULL,
                    names: dict[int, str] | None = None) -> dict[str, Any]:
    """An assignment as the API shows it (free texts masked for this exposure); the grid
    worker by username and by name (`names`: user id → display name)."""
    dept = directory.department(a.department_code)
    active = a.status in ("dispatched", "signed")
    return {
        "id": a.id, "department": a.department_code,
        "department_name": dept.name if dept else None,
        "role": a.role, "status": a.status,
        "grid_worker": workers.get(a.grid_worker_id) if a.grid_worker_id else None,
        "grid_worker_name": (names or {}).get(a.grid_worker_id) if a.grid_worker_id else None,
        "dispatched_at": _iso(a.dispatched_at),
        "sign_deadline": _iso(a.sign_deadline), "sign_warn_at": _iso(a.sign_warn_at),
        "signed_at": _iso(a.signed_at),
        "complete_deadline": _iso(a.complete_deadline),
        "complete_warn_at": _iso(a.complete_warn_at),
        "completed_at": _iso(a.completed_at),
        "deadline_provisional": a.deadline_provisional,
        "extensions_used": a.extensions_used,
        "suspended_until": _iso(a.suspended_until) if active else None,
        "result": shown_text(a.result, level),
        "return_reason": shown_text(a.return_reason, level),
        "sign_overdue": a.status == "dispatched" and now > a.sign_deadline,
        "complete_overdue": active and now > a.complete_deadline,
    }


def delegation_view(d: Delegation, directory: Directory, now: datetime,
                    workers: dict[int, str], level: str = FULL,
                    clock: DelegationClock | None = None,
                    suspended_until: datetime | None = None) -> dict[str, Any]:
    """A delegated step (下派) as the API shows it: who passed it to whom, its own clocks
    (with their warning times, and the end date while its assignment is suspended)."""
    def name(code: str | None) -> str | None:
        ref = directory.department(code) if code else None
        return ref.name if ref else code

    active = d.status in ("dispatched", "signed") and d.closed_at is None
    return {
        "id": d.id, "assignment_id": d.assignment_id, "parent_id": d.parent_id,
        "from": d.from_department_code, "from_name": name(d.from_department_code),
        "department": d.department_code, "department_name": name(d.department_code),
        "grid_worker": workers.get(d.grid_worker_id) if d.grid_worker_id else None,
        "status": d.status, "delegated_at": _iso(d.delegated_at),
        "sign_deadline": _iso(d.sign_deadline), "signed_at": _iso(d.signed_at),
        "complete_deadline": _iso(d.complete_deadline), "completed_at": _iso(d.completed_at),
        "result": shown_text(d.result, level),
        "review_reason": shown_text(d.review_reason, level),
        "return_reason": shown_text(d.return_reason, level),
        "sign_overdue": d.status == "dispatched" and active and now > d.sign_deadline,
        "complete_overdue": active and now > d.complete_deadline,
        "sign_warn_at": _iso(clock.sign_warn_at) if clock else None,
        "complete_warn_at": _iso(clock.complete_warn_at) if clock else None,
        "suspended_until": _iso(suspended_until) if active else None,
    }


def event_view(e: Event, users: dict[int, str], level: str = FULL,
               candidates: list[dict[str, Any]] | None = None,
               unknown: frozenset[str] = frozenset(),
               names: dict[int, str] | None = None,
               people: dict[str, str] | None = None) -> dict[str, Any]:
    """An event of the history as the API shows it: free texts masked for this exposure,
    an intake's repeat candidates as `candidates` (those this user may know of), the
    `unknown` numbers of linked tickets (merges) left out, and the people its payload names by
    username named (`people`: username → name)."""
    payload = _masked_payload(e.payload, level)
    if isinstance(payload, dict) and any(isinstance(payload.get(k), str) for k in PERSON_KEYS):
        payload = {**payload, **{f"{k}_name": (people or {}).get(payload[k]) or payload[k]
                                 for k in PERSON_KEYS if isinstance(payload.get(k), str)}}
    if candidates is not None and isinstance(payload, dict) and "repeat_candidates" in payload:
        payload = {**payload, "repeat_candidates": candidates}
    if unknown and isinstance(payload, dict) and any(
            payload.get(k) in unknown for k in LINK_KEYS):
        payload = {k: None if k in LINK_KEYS and v in unknown else v
                   for k, v in payload.items()}
    return {
        "id": e.id, "at": _iso(e.at), "action": e.action,
        "from": e.from_status, "to": e.to_status,
        "actor": users.get(e.actor_id) if e.actor_id else "system",
        "actor_name": (names or {}).get(e.actor_id) if e.actor_id else "系统",
        "actor_role": e.actor_role, "reason": shown_text(e.reason, level), "payload": payload,
    }


def _usernames(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {i: username for i, (username, _) in _people(session, wanted).items()}


def _display_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    """User id → the name a person reads (the display name, else the username)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {i: name or username for i, (username, name) in _people(session, wanted).items()}


def _people(session: Session, ids: set[int]) -> dict[int, tuple[str, str | None]]:
    """User id → (username, display name), kept as reference data (`memo_many`)."""
    return memo_many(session, "person", ids, (User,), lambda missing: {
        i: (username, name) for i, username, name in session.execute(
            select(User.id, User.username, User.display_name)
            .where(User.id.in_(missing))).tuples()})


def _names_of(session: Session, usernames: set[str]) -> dict[str, str]:
    """Username → display name (those with one), kept as reference data (`memo_many`)."""
    shown: dict[str, str | None] = memo_many(
        session, "display_name", usernames, (User,), lambda missing: dict(
            session.execute(select(User.username, User.display_name)
                            .where(User.username.in_(missing))).tuples().all()))
    return {u: name for u, name in shown.items() if name}


def ticket_view(session: Session, ticket: Ticket, actor: Actor, directory: Directory,
                now: datetime, *, full: bool = True, masked: bool = False) -> dict[str, Any]:
    """A ticket as the API shows it (CONTRACT.md), masked for this user (or for everyone with
    `masked`); logs unmasked reads."""
    level = exposure(actor, ticket, masked=masked)
    citizen, unmasked = citizen_view(ticket, actor, masked=masked)
    fields = _read_fields(ticket, unmasked, level)
    if fields:
        log_personal_reads(session, actor, [(ticket.id, fields)], now)
    view = summary_fields(ticket, citizen, level)
    if not full:
        return view
    workers = _usernames(session, {a.grid_worker_id for a in ticket.assignments}
                         | {d.grid_worker_id for d in ticket.delegations})
    users = _usernames(session, {e.actor_id for e in ticket.events})
    names = _display_names(session, {a.grid_worker_id for a in ticket.assignments}
                           | {e.actor_id for e in ticket.events})
    intake = next((e.payload or {} for e in ticket.events if e.action == "intake"), {})
    candidates = visible_candidates(session, actor, ticket,
                                    intake.get("repeat_candidates") or [])
    linked = [c.number for c in ticket.children]
    if ticket.parent is not None:
        linked.append(ticket.parent.number)
    known = _known(session, actor, linked)
    unknown = frozenset(linked) - set(known)
    # Usernames the routing and the events' payloads hold, by name (the usernames stay).
    proposed: str | None = view["routing"].get("grid_worker")
    mentioned = {p[k] for p in (e.payload for e in ticket.events) if isinstance(p, dict)
                 for k in PERSON_KEYS if isinstance(p.get(k), str)}
    people = _names_of(session, mentioned | ({proposed} if proposed else set()))
    clocks = clocks_of(session, [d.id for d in ticket.delegations])
    suspended = {a.id: a.suspended_until for a in ticket.assignments}
    view.update({
        "assignments": [assignment_view(a, directory, now, workers, level, names)
                        for a in ticket.assignments],
        "extensions": [
            {"id": x.id, "assignment_id": x.assignment_id, "status": x.status, "days": x.days,
             "reason": shown_text(x.reason, level), "requested_at": _iso(x.requested_at),
             "old_deadline": _iso(x.old_deadline), "new_deadline": _iso(x.new_deadline),
             "decision_reason": shown_text(x.decision_reason, level)}
            for x in ticket.extensions
        ],
        "suspensions": [
            {"id": x.id, "assignment_id": x.assignment_id, "status": x.status,
             "until": _iso(x.until), "reason": shown_text(x.reason, level),
             "requested_at": _iso(x.requested_at), "decided_at": _iso(x.decided_at),
             "ended_at": _iso(x.ended_at), "old_deadline": _iso(x.old_deadline),
             "new_deadline": _iso(x.new_deadline),
             "decision_reason": shown_text(x.decision_reason, level)}
            for x in ticket.suspensions
        ],
        "delegations": [delegation_view(d, directory, now, workers, level, clocks.get(d.id),
                                        suspended.get(d.assignment_id))
                        for d in ticket.delegations],
        "events": [event_view(e, users, level, candidates, unknown, names, people)
                   for e in ticket.events],
        "children": [c.number for c in ticket.children if c.number not in unknown],
        "actions": available_actions(ticket, actor, now, get_time_limits(session)),
    })
    view["location"]["reasons"] = (intake.get("location") or {}).get("reasons", [])
    if proposed:  # the routing's on-duty worker by name (the username stays the value)
        view["routing"] = {**view["routing"], "grid_worker_name": people.get(proposed)
                           or proposed}
    view["repeat_candidates"] = candidates
    # The calls it came in on (the call centre's): when, how long, whether a recording waits
    # at /api/v1/calls/<call_id>/recording (each listen logged there).
    view["calls"] = [
        {"call_id": c.call_id, "state": c.state, "rang_at": _iso(c.rang_at),
         "duration_s": c.duration_s, "recording": c.recording_url is not None}
        for c in session.scalars(select(Call).where(Call.ticket_id == ticket.id)
                                 .order_by(Call.id))]
    if view["parent"] in unknown:
        view["parent"] = None
    return view


def _known(session: Session, actor: Actor, numbers: list[str]) -> list[str]:
    """Those of these linked tickets' numbers this user may see (a merge links tickets of
    other departments: their numbers are not shown by a side door)."""
    if not numbers or actor.role in ALL_SEEING_ROLES:
        return numbers
    seen = visible_numbers(session, actor, numbers)
    return [n for n in numbers if n in seen]


def summary_fields(ticket: Ticket, citizen: dict[str, Any],
                   level: str = MASKED) -> dict[str, Any]:
    """The fields a ticket shows in lists and in full (free texts as this exposure shows
    them; masked unless said otherwise)."""
    return {
        "number": ticket.number, "status": ticket.status, "version": ticket.version,
        "channel": ticket.channel, "type": ticket.type, "category": ticket.category_code,
        "urgency": ticket.urgency, "police_matter": ticket.police_matter,
        "text": shown_text(ticket.text, level), "outcome": ticket.outcome,
        "citizen": citizen,
        "address": ticket.address,
        "location": {"lon": ticket.lon, "lat": ticket.lat, "cell": ticket.cell_code,
                     "community": ticket.community_code, "street": ticket.street_code,
                     "grid_version": ticket.grid_version,
                     "flags": list(ticket.location_flags or [])},
        "routing": ticket.routing or {},
        "parent": ticket.parent.number if ticket.parent is not None else None,
        "police": {"state": ticket.police_state,
                   "cause": shown_text(ticket.police_cause, level),
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
    out, reads = [], []
    parents = set(_known(session, actor, sorted({t.parent.number for t in tickets
                                                 if t.parent is not None})))
    for t in tickets:
        level = exposure(actor, t)
        citizen, unmasked = citizen_view(t, actor)
        fields = _read_fields(t, unmasked, level)
        if fields:
            reads.append((t.id, fields))
        view = summary_fields(t, citizen, level)
        if view["parent"] not in parents:
            view["parent"] = None
        out.append(view)
    log_personal_reads(session, actor, reads, now)
    return out


def contact_views(session: Session, contacts: Sequence[Contact], actor: Actor,
                  now: datetime) -> list[dict[str, Any]]:
    """Contacts as the API shows them, by the one rule of dispatch/tickets/access.py
    (`contact_exposure`: their ticket's citizen's, or operators only for a contact without a
    ticket). Unmasked reads are logged (by ticket, or by contact)."""
    ids = {c.ticket_id for c in contacts if c.ticket_id}
    tickets = {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_(ids)))
               } if ids else {}
    out, reads, loose = [], {}, {}
    for c in contacts:
        ticket = tickets.get(c.ticket_id) if c.ticket_id else None
        level = contact_exposure(actor, ticket)
        phone = (c.phone if level == FULL else mask_phone(c.phone) if level == MASKED
                 else None) if c.phone else None
        if level == FULL and (c.phone or c.openid or has_personal_numbers(c.note)):
            if ticket is not None:
                reads[ticket.id] = "contact"
            else:
                loose[c.id] = "contact"
        out.append({"id": c.id, "channel": c.channel, "kind": c.kind,
                    "received_at": c.received_at.isoformat(), "phone": phone,
                    "hidden": level == HIDDEN,
                    "ticket": ticket.number if ticket is not None else None,
                    "note": shown_text(c.note, level)})
    log_personal_reads(session, actor, reads.items(), now, loose.items())
    return out
