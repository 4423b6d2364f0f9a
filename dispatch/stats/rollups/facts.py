"""The facts of one ticket: what the metrics count of it, of each of its assignments and of each
accepted review (`compute_facts`, from its rows and events, in Python), what they add to the
daily rollups (`contributions`), and reading them: computed afresh from the raw tables
(`compute`) or as stored (`stored`, `facts_of`). `dispatch.stats.rollups.fact_queries` computes
the same rows in SQL for every ticket at once (for `rebuild`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.models import Assignment, Event, Extension, Ticket
from dispatch.core.vocab import Channel, Outcome, Status
from dispatch.stats.definitions import (
    ALARM_ACK_SECONDS,
    COMPLETED_OR_LATER,
    CONCLUDED,
    DIMENSIONS,
    LATE,
    ON_TIME,
    OPEN,
    SATISFIED,
    Dims,
    local_day,
)
from dispatch.stats.rollups.tables import FACT_TABLES

ALARM_ACK = timedelta(seconds=ALARM_ACK_SECONDS)


class FactSet(NamedTuple):
    """The fact rows of one ticket, as dicts keyed by column."""

    ticket: dict[str, Any] | None
    assignments: tuple[dict[str, Any], ...] = ()
    reviews: tuple[dict[str, Any], ...] = ()


NO_FACTS = FactSet(None)


def _clock(deadline: datetime, done: datetime | None, a: Any) -> str | None:
    """How an assignment's clock ended (metrics module docstring): None when it stopped
    before its deadline without being done."""
    if done is not None:
        return ON_TIME if done <= deadline else LATE
    if a.returned_at is not None:
        return LATE if a.returned_at > deadline else None
    if a.closed_at is not None:
        return LATE if a.closed_at > deadline else None
    return OPEN


def _alarm(t: Any) -> str | None:
    """How a ticket's alarm was acknowledged: on_time, late, open (not yet), None (no alarm)."""
    raised, acknowledged = t.alarm_raised_at, t.alarm_acknowledged_at
    if raised is None:
        return None
    if acknowledged is None:
        return OPEN
    return ON_TIME if acknowledged <= raised + ALARM_ACK else LATE


def _auto(leads: Sequence[Any], events: Sequence[Any]) -> tuple[bool, bool]:
    """(auto-dispatched, accurate) of a ticket by its lead assignments (by id) and events:
    its first lead assignment was automatic; and it was not returned, not taken back, and no
    later lead went to another department."""
    first = leads[0] if leads else None
    if first is None or not first.auto_dispatched:
        return False, False
    rerouted = any(a.department_code != first.department_code for a in leads[1:])
    taken_back = any(e.action == "take_back" for e in events)
    return True, first.returned_at is None and not taken_back and not rerouted


def compute_facts(
    t: Any, assignments: Sequence[Any], approved: set[int], events: Sequence[Any]
) -> FactSet:
    """A ticket's facts from its row, its assignments (by id), the ids of its assignments with
    an approved extension, and its dispatch, review_accept, callback and take_back events (by
    id)."""
    base = {
        "channel": t.channel or "",
        "type": t.type or "",
        "category": t.category_code or "",
        "street": t.street_code or "",
        "cell": t.cell_code or "",
    }
    leads = [a for a in assignments if a.role == "lead"]
    void = t.status == Status.VOID
    first = min((a.dispatched_at for a in assignments), default=None)
    ticket = {
        "ticket_id": t.id,
        **base,
        "department": leads[-1].department_code if leads else "",
        "created_day": local_day(t.created_at),
        "void": void,
        "direct_answer": not void and t.outcome == Outcome.DIRECT_ANSWER,
        "repeat": not void and t.parent_id is not None,
        "dispatched_day": local_day(first) if first is not None else None,
        "completed": first is not None and t.status in COMPLETED_OR_LATER,
        "reopened": any(e.action == "callback" and e.to_status == Status.REOPENED for e in events),
        "patrol": not void and t.channel == Channel.PATROL,
        "self_handled": not void and t.channel == Channel.PATROL
        and any(e.action == "self_handle" for e in events),
    }
    ticket["auto_dispatched"], ticket["auto_accurate"] = _auto(leads, events)
    raised = t.alarm_raised_at
    ticket["alarm_day"] = local_day(raised) if raised is not None else None
    ticket["alarm_raised_at"] = raised
    ticket["alarm_state"] = _alarm(t)
    rows = []
    for a in assignments:
        rows.append(
            {
                "assignment_id": a.id,
                "ticket_id": t.id,
                **base,
                "department": a.department_code,
                "dispatched_day": local_day(a.dispatched_at),
                "returned": a.returned_at is not None,
                "extended": a.id in approved,
                "sign_day": local_day(a.sign_deadline),
                "sign_deadline": a.sign_deadline,
                "sign_state": _clock(a.sign_deadline, a.signed_at, a),
                "complete_day": local_day(a.complete_deadline),
                "complete_deadline": a.complete_deadline,
                "complete_state": _clock(a.complete_deadline, a.completed_at, a),
            }
        )
    reviews: list[dict[str, Any]] = []
    lead, waiting = "", None
    for e in events:
        payload = e.payload or {}
        if e.action == "dispatch":
            lead = payload.get("lead") or ""
        elif e.action == "review_accept":
            waiting = {
                "event_id": e.id,
                "ticket_id": t.id,
                **base,
                "department": lead,
                "reviewed_day": local_day(e.at),
                "callback_needed": bool(payload.get("callback_needed", True)),
                "callback_done": False,
                "callback_event_id": None,
                "answered_day": None,
                "satisfied": False,
                "resolved": False,
            }
            reviews.append(waiting)
        elif e.action == "callback" and e.to_status in CONCLUDED and waiting is not None:
            waiting["callback_done"], waiting["callback_event_id"] = True, e.id
            if payload.get("reached"):
                waiting["answered_day"] = local_day(e.at)
                waiting["satisfied"] = payload.get("satisfaction") in SATISFIED
                waiting["resolved"] = payload.get("resolved") is True
            waiting = None
    return FactSet(ticket, tuple(rows), tuple(reviews))


Contribution = tuple[date, Dims, str]  # (day, dimensions, counter)


def _dims_of(row: dict[str, Any]) -> Dims:
    return Dims(*(row[d] for d in DIMENSIONS))


def contributions(facts: FactSet) -> dict[Contribution, int]:
    """What a ticket's facts add to stat_daily: +1 per (day, dimensions, counter)."""
    out: dict[Contribution, int] = defaultdict(int)

    def add(day: date | None, dims: Dims, *counters: str) -> None:
        if day is not None:
            for c in counters:
                out[(day, dims, c)] += 1

    t = facts.ticket
    if t is not None:
        dims = _dims_of(t)
        if t["void"]:
            add(t["created_day"], dims, "void")
        else:
            add(t["created_day"], dims, "intake",
                *(c for c in ("direct_answer", "repeat", "patrol", "self_handled") if t[c]))
        dispatched = ("completed", "reopened", "auto_dispatched", "auto_accurate")
        add(t["dispatched_day"], dims, "dispatched", *(c for c in dispatched if t[c]))
        if t["alarm_state"] in (ON_TIME, LATE):  # open alarms are read from the facts
            add(t["alarm_day"], dims, f"alarm_{t['alarm_state']}")
    for a in facts.assignments:
        dims = _dims_of(a)
        add(a["dispatched_day"], dims, "dispatches", *(c for c in ("returned", "extended") if a[c]))
        for clock in ("sign", "complete"):
            state = a[f"{clock}_state"]
            if state is not None:
                add(a[f"{clock}_day"], dims, f"{clock}_{state}")
    for r in facts.reviews:
        dims = _dims_of(r)
        if r["callback_needed"]:
            add(
                r["reviewed_day"],
                dims,
                "callback_needed",
                *(("callback_done",) if r["callback_done"] else ()),
            )
        add(r["answered_day"], dims, "answered", *(c for c in ("satisfied", "resolved") if r[c]))
    return out


FACT_EVENTS = ("dispatch", "review_accept", "callback")
# The events a ticket's facts are computed from (a take_back undoes an automatic dispatch).
_COMPUTED_FROM = (*FACT_EVENTS, "take_back", "self_handle")


def compute(session: Session, ids: Sequence[int]) -> dict[int, FactSet]:
    tickets = session.execute(
        select(
            Ticket.id,
            Ticket.status,
            Ticket.outcome,
            Ticket.parent_id,
            Ticket.channel,
            Ticket.type,
            Ticket.category_code,
            Ticket.street_code,
            Ticket.cell_code,
            Ticket.created_at,
            Ticket.alarm_raised_at,
            Ticket.alarm_acknowledged_at,
        ).where(Ticket.id.in_(ids))
    ).all()
    a = Assignment
    assignments: dict[int, list[Any]] = defaultdict(list)
    for row in session.execute(
        select(
            a.id,
            a.ticket_id,
            a.department_code,
            a.role,
            a.dispatched_at,
            a.sign_deadline,
            a.signed_at,
            a.complete_deadline,
            a.completed_at,
            a.returned_at,
            a.closed_at,
            a.auto_dispatched,
        )
        .where(a.ticket_id.in_(ids))
        .order_by(a.id)
    ):
        assignments[row.ticket_id].append(row)
    approved = set(
        session.scalars(
            select(Extension.assignment_id).where(
                Extension.ticket_id.in_(ids), Extension.status == "approved"
            )
        )
    )
    events: dict[int, list[Any]] = defaultdict(list)
    for row in session.execute(
        select(Event.id, Event.ticket_id, Event.action, Event.at, Event.to_status, Event.payload)
        .where(Event.ticket_id.in_(ids), Event.action.in_(_COMPUTED_FROM))
        .order_by(Event.id)
    ):
        events[row.ticket_id].append(row)
    return {t.id: compute_facts(t, assignments[t.id], approved, events[t.id]) for t in tickets}


def stored(session: Session, ids: Sequence[int]) -> dict[int, FactSet]:
    found: dict[int, list[Any]] = defaultdict(lambda: [None, [], []])
    for i, table in enumerate(FACT_TABLES):
        order = list(table.primary_key.columns)
        for row in session.execute(
            select(table).where(table.c.ticket_id.in_(ids)).order_by(*order)
        ):
            entry = found[row.ticket_id]
            if i == 0:
                entry[0] = dict(row._mapping)
            else:
                entry[i].append(dict(row._mapping))
    return {tid: FactSet(t, tuple(a), tuple(r)) for tid, (t, a, r) in found.items()}


def facts_of(session: Session, ticket_id: int) -> FactSet:
    """The stored facts of one ticket (for tests and inspection)."""
    return stored(session, [ticket_id]).get(ticket_id, NO_FACTS)
