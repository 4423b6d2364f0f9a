"""The call centre's events folded into call records (DOMAIN.md, Calls).

Each event is kept once per (call, event): the same pair again changes nothing. The call's
row is then folded again from every event it has, in the order a call lives them (ringing,
answered, transferred, recording, hangup or abandoned) whatever order they came in: a hangup
before its answered event is stored, and the call is right once the answered event arrives.
An abandoned call that reached no operator is a missed call (漏接) owed a callback by its
deadline; it is also an inbound contact (a hang-up), so reads of its caller are logged by it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.calls.models import AgentState, Call, CallEvent
from dispatch.core.db import upsert_insert
from dispatch.core.errors import Conflict, InvalidInput
from dispatch.core.models import Contact, User
from dispatch.core.vocab import Channel, ContactKind
from dispatch.intake.contacts import record_contact
from dispatch.intake.phones import normalize_phone
from dispatch.tickets.calendar import LOCAL_TZ

RINGING, ANSWERED, TRANSFERRED, ENDED, ABANDONED = (
    "ringing", "answered", "transferred", "ended", "abandoned")
# The order a call lives its events in (hangup and abandoned both end it).
RANK = {"ringing": 0, "answered": 1, "transferred": 2, "recording": 3, "hangup": 4,
        "abandoned": 4}
# Agent states (DOMAIN.md): 示闲, 示忙, 通话中, 话后处理.
IDLE, BUSY, ON_CALL, WRAP_UP = "idle", "busy", "on_call", "wrap_up"
AGENT_STATES = (IDLE, BUSY, ON_CALL, WRAP_UP)
# 漏接回拨: within 2 h between 08:00 and 20:00; missed at night, by 10:00 the next morning.
DAY_START, DAY_END, NIGHT_DEADLINE = time(8), time(20), time(10)
CALLBACK_WITHIN = timedelta(hours=2)


@dataclass(frozen=True)
class CallReport:
    """One event as the call centre reported it (the CTI adapter's mapping makes these)."""

    event: str
    call_id: str
    at: datetime
    caller: str | None = None
    callee: str | None = None
    agent: str | None = None
    queue: str | None = None
    wait_s: float | None = None
    duration_s: float | None = None
    recording_url: str | None = None
    transfer_to: str | None = None


@dataclass(frozen=True)
class Recorded:
    """What one event did: the call as it stands, whether the event was new (a repeat
    changes nothing), and whether it rings an agent now (the screen pop)."""

    call: Call
    event: str
    new: bool
    rings: bool


def missed_deadline(missed_at: datetime) -> datetime:
    """When a call missed at this moment must have been called back."""
    local = missed_at.astimezone(LOCAL_TZ)
    if DAY_START <= local.time() < DAY_END:
        return missed_at + CALLBACK_WITHIN
    day = local.date() if local.time() < DAY_START else local.date() + timedelta(days=1)
    return datetime.combine(day, NIGHT_DEADLINE, LOCAL_TZ).astimezone(UTC)


def _seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return max((later - earlier).total_seconds(), 0.0)


def _payload(report: CallReport) -> dict[str, Any]:
    out = asdict(report)
    out["at"] = report.at.isoformat()
    return {k: v for k, v in out.items() if v is not None}


def _agent_user(session: Session, extension: str | None) -> int | None:
    if extension is None:
        return None
    return session.scalar(select(User.id).where(User.extension == extension,
                                                User.active.is_(True)).limit(1))


def fold(call: Call, events: list[CallEvent]) -> None:
    """Set the call's fields from all its events, in the order a call lives them."""
    kinds = set()
    for e in sorted(events, key=lambda e: (RANK.get(e.event, 9), e.at, e.id or 0)):
        p = e.payload or {}
        kinds.add(e.event)
        for name in ("caller", "callee", "queue"):
            if p.get(name):
                setattr(call, name, p[name])
        if p.get("agent"):
            call.agent_extension = p["agent"]
        if e.event == "ringing":
            call.rang_at = e.at
        elif e.event == "answered":
            call.answered_at = e.at
            call.wait_s = p.get("wait_s", _seconds(e.at, call.rang_at))
        elif e.event == "transferred":
            call.transferred_at, call.transfer_to = e.at, p.get("transfer_to")
        elif e.event == "recording":
            call.recording_url = p.get("recording_url")
        elif e.event == "hangup":
            call.ended_at = e.at
            call.duration_s = p.get("duration_s", _seconds(e.at, call.answered_at))
        elif e.event == "abandoned":
            call.ended_at = e.at
            if call.answered_at is None:
                call.wait_s = p.get("wait_s", _seconds(e.at, call.rang_at))
    if "abandoned" in kinds and "answered" not in kinds:
        call.state = ABANDONED
    elif "hangup" in kinds or "abandoned" in kinds:
        call.state = ENDED
    elif "transferred" in kinds:
        call.state = TRANSFERRED
    elif "answered" in kinds:
        call.state = ANSWERED
    else:
        call.state = RINGING


def _claim_call(session: Session, call_id: str, now: datetime) -> Call:
    """The call's row, made if new, locked for this transaction (two events of one call at
    once fold one after the other)."""
    table = Call.__table__
    session.execute(upsert_insert(session, table).values(
        call_id=call_id, state=RINGING, unknown_agent=False, callback_tries=0,
        updated_at=now).on_conflict_do_nothing())
    call = session.scalar(select(Call).where(Call.call_id == call_id).with_for_update()
                          .execution_options(populate_existing=True))
    assert call is not None
    return call


def caller_number(raw: str | None) -> str | None:
    """A caller's number in national digits when it is a real phone number (else as given:
    a withheld or internal number is kept, not refused)."""
    if not raw:
        return None
    try:
        return normalize_phone(raw, "caller")
    except InvalidInput:
        return raw[:20]


def record_event(session: Session, report: CallReport, now: datetime) -> Recorded:
    """Keep one event of a call (once per call and event) and fold the call again."""
    report = replace(report, caller=caller_number(report.caller))
    table = CallEvent.__table__
    inserted = session.execute(upsert_insert(session, table).values(
        call_id=report.call_id, event=report.event, at=report.at, received_at=now,
        payload=_payload(report)).on_conflict_do_nothing().returning(table.c.id)).scalar()
    call = _claim_call(session, report.call_id, now)
    if inserted is None:
        return Recorded(call, report.event, new=False, rings=False)
    before = call.state
    events = list(session.scalars(select(CallEvent).where(CallEvent.call_id == report.call_id)))
    fold(call, events)
    call.agent_user_id = _agent_user(session, call.agent_extension)
    call.unknown_agent = call.agent_extension is not None and call.agent_user_id is None
    call.updated_at = now
    _missed(session, call, before, now)
    latest = max(RANK.get(e.event, 0) for e in events) == RANK.get(report.event, 0)
    if latest:
        _agent_follows(session, call, report)
    session.flush()
    return Recorded(call, report.event, new=True,
                    rings=report.event == "ringing" and call.state == RINGING
                    and call.agent_extension is not None)


def _missed(session: Session, call: Call, before: str, now: datetime) -> None:
    """An abandoned call that reached no operator is owed a callback (and is a hang-up
    contact); a late answered event takes it out of the queue again."""
    missed = call.state == ABANDONED and call.caller is not None
    if not missed:
        if call.called_back_at is None:
            call.missed_deadline = None
        return
    assert call.ended_at is not None
    if call.missed_deadline is None:
        call.missed_deadline = missed_deadline(call.ended_at)
    if call.contact_id is None:
        existing = session.scalar(select(Contact.id).where(
            Contact.channel == Channel.PHONE, Contact.external_id == call.call_id))
        if existing is None:
            contact = record_contact(session, channel=Channel.PHONE, kind=ContactKind.HANG_UP,
                                     received_at=call.rang_at or call.ended_at, actor_id=None,
                                     phone=call.caller, external_id=call.call_id,
                                     note="排队中挂断（漏接）")
            session.flush()
            existing = contact.id
        call.contact_id = existing


def _agent_follows(session: Session, call: Call, report: CallReport) -> None:
    """An answered call puts its agent 通话中, its end 话后处理 (never moving a state back to
    an older moment)."""
    if call.agent_extension is None:
        return
    state = {"answered": ON_CALL, "hangup": WRAP_UP}.get(report.event)
    if state is None:
        return
    # One statement: two calls of one extension at once must not both insert its row.
    table = AgentState.__table__
    values = {"extension": call.agent_extension, "user_id": call.agent_user_id,
              "state": state, "since": report.at, "call_id": call.call_id}
    stmt = upsert_insert(session, table).values(values)
    session.execute(stmt.on_conflict_do_update(
        index_elements=[table.c.extension],
        set_={k: stmt.excluded[k] for k in ("user_id", "state", "since", "call_id")},
        where=table.c.since <= stmt.excluded.since))


def call_for_intake(session: Session, call_id: str) -> Call:
    """The call a demand is logged on (the intake form's `call_id`), before anything is
    written: it must exist and carry no contact yet."""
    call = session.scalar(select(Call).where(Call.call_id == call_id).with_for_update())
    if call is None:
        raise InvalidInput(f"call_id: 没有编号为“{call_id}”的通话", field="call_id")
    if call.contact_id is not None or call.ticket_id is not None:
        raise Conflict(f"call_id: 通话 {call_id} 已登记过来电记录，请登记为追加诉求",
                       field="call_id")
    return call


def link_intake(call: Call, contact: Contact, ticket_id: int | None, now: datetime) -> None:
    """The contact (and ticket) logged during a call carry its id; the call carries theirs."""
    call.contact_id, call.ticket_id, call.updated_at = contact.id, ticket_id, now
