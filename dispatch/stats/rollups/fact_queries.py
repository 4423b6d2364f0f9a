"""The facts as set-based SQL over the raw tables, for `rebuild`: a stat_tickets row per
ticket, a stat_assignments row per assignment and a stat_reviews row per accepted review, the
same rows `compute_facts` gives one ticket at a time (portable SQL: PostgreSQL and SQLite)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, exists, false, func, select, true
from sqlalchemy.orm import aliased

from dispatch.core.models import Assignment, Event, Extension, Ticket
from dispatch.core.sqldates import local_date
from dispatch.core.vocab import Channel, Outcome, Status
from dispatch.stats.definitions import (
    ALARM_ACK_SECONDS,
    COMPLETED_OR_LATER,
    CONCLUDED,
    LATE,
    ON_TIME,
    OPEN,
    SATISFIED,
)
from dispatch.stats.raw import auto_accuracy, dim_columns, seconds_after
from dispatch.stats.rollups.facts import FACT_EVENTS


def ticket_facts() -> Any:
    """SQL: a stat_tickets row per ticket."""
    t, a, lead, e = Ticket, Assignment, aliased(Assignment), aliased(Event)
    first = aliased(Assignment)
    per_ticket = (
        select(
            a.ticket_id,
            func.min(a.dispatched_at).label("first_at"),
            func.max(case((a.role == "lead", a.id))).label("lead_id"),
            func.min(case((a.role == "lead", a.id))).label("first_lead_id"),
        )
        .group_by(a.ticket_id)
        .subquery()
    )
    not_void = t.status != Status.VOID
    reopened = exists().where(
        e.ticket_id == t.id, e.action == "callback", e.to_status == Status.REOPENED
    )
    auto, accurate = auto_accuracy(first)
    patrol = and_(not_void, t.channel == Channel.PATROL)
    # The events are read for patrol reports only (CASE).
    self_handled = case((patrol, exists().where(e.ticket_id == t.id,
                                                e.action == "self_handle")), else_=false())
    raised, acknowledged = t.alarm_raised_at, t.alarm_acknowledged_at
    alarm_state = case(
        (and_(raised.is_not(None), acknowledged.is_(None)), OPEN),
        (acknowledged <= seconds_after(raised, ALARM_ACK_SECONDS), ON_TIME),
        (raised.is_not(None), LATE),
    )
    return (
        select(
            t.id.label("ticket_id"),
            *dim_columns(lead.department_code),
            local_date(t.created_at).label("created_day"),
            (t.status == Status.VOID).label("void"),
            and_(not_void, func.coalesce(t.outcome, "") == Outcome.DIRECT_ANSWER).label(
                "direct_answer"
            ),
            and_(not_void, t.parent_id.is_not(None)).label("repeat"),
            local_date(per_ticket.c.first_at).label("dispatched_day"),
            and_(per_ticket.c.first_at.is_not(None), t.status.in_(COMPLETED_OR_LATER)).label(
                "completed"
            ),
            reopened.label("reopened"),
            auto.label("auto_dispatched"),
            accurate.label("auto_accurate"),
            patrol.label("patrol"),
            self_handled.label("self_handled"),
            local_date(raised).label("alarm_day"),
            raised.label("alarm_raised_at"),
            alarm_state.label("alarm_state"),
        )
        .outerjoin(per_ticket, per_ticket.c.ticket_id == t.id)
        .outerjoin(lead, lead.id == per_ticket.c.lead_id)
        .outerjoin(first, first.id == per_ticket.c.first_lead_id)
    )


def _clock_sql(deadline: Any, done: Any) -> Any:
    """SQL: how an assignment's clock ended, as `_clock` (NULL: stopped before its deadline)."""
    a = Assignment
    return case(
        (done.is_not(None), case((done <= deadline, ON_TIME), else_=LATE)),
        (a.returned_at.is_not(None), case((a.returned_at > deadline, LATE))),
        (a.closed_at.is_not(None), case((a.closed_at > deadline, LATE))),
        else_=OPEN,
    )


def assignment_facts() -> Any:
    """SQL: a stat_assignments row per assignment."""
    a, x = Assignment, Extension
    approved = exists().where(x.assignment_id == a.id, x.status == "approved")
    return select(
        a.id.label("assignment_id"),
        a.ticket_id,
        *dim_columns(a.department_code),
        local_date(a.dispatched_at).label("dispatched_day"),
        a.returned_at.is_not(None).label("returned"),
        approved.label("extended"),
        local_date(a.sign_deadline).label("sign_day"),
        _clock_sql(a.sign_deadline, a.signed_at).label("sign_state"),
        a.sign_deadline,
        local_date(a.complete_deadline).label("complete_day"),
        _clock_sql(a.complete_deadline, a.completed_at).label("complete_state"),
        a.complete_deadline,
    ).join(Ticket, Ticket.id == a.ticket_id)


def review_facts() -> Any:
    """SQL: a stat_reviews row per accepted review, as `compute_facts` walks a ticket's events
    in id order: its department is the lead of the latest dispatch before it, its callback the
    first concluding callback after it and before the ticket's next review. Two passes of
    window functions: each event's number of dispatches and of reviews so far, then per
    (ticket, dispatches so far) the dispatch's lead and per (ticket, reviews so far) the first
    concluding callback."""
    e = Event
    steps = (
        select(
            e.id,
            e.ticket_id,
            e.action,
            e.at,
            e.payload,
            e.to_status,
            func.count(case((e.action == "dispatch", 1)))
            .over(partition_by=e.ticket_id, order_by=e.id)
            .label("dispatches"),
            func.count(case((e.action == "review_accept", 1)))
            .over(partition_by=e.ticket_id, order_by=e.id)
            .label("reviews"),
        )
        .where(e.action.in_(FACT_EVENTS))
        .subquery()
    )
    s = steps.c
    rounds = select(
        s.id,
        s.ticket_id,
        s.action,
        s.at,
        s.payload,
        func.max(case((s.action == "dispatch", s.payload["lead"].as_string())))
        .over(partition_by=(s.ticket_id, s.dispatches))
        .label("lead"),
        func.min(case((and_(s.action == "callback", s.to_status.in_(CONCLUDED)), s.id)))
        .over(partition_by=(s.ticket_id, s.reviews))
        .label("cb_id"),
    ).subquery()
    reviews = (
        select(
            rounds.c.id,
            rounds.c.ticket_id,
            rounds.c.at,
            rounds.c.payload,
            rounds.c.lead,
            rounds.c.cb_id,
        )
        .where(rounds.c.action == "review_accept")
        .subquery()
    )
    cb = aliased(Event)
    reached = cb.payload["reached"].as_boolean().is_(True)
    return (
        select(
            reviews.c.id.label("event_id"),
            reviews.c.ticket_id,
            *dim_columns(reviews.c.lead),
            local_date(reviews.c.at).label("reviewed_day"),
            func.coalesce(reviews.c.payload["callback_needed"].as_boolean(), true()).label(
                "callback_needed"
            ),
            cb.id.is_not(None).label("callback_done"),
            cb.id.label("callback_event_id"),
            case((reached, local_date(cb.at))).label("answered_day"),
            case(
                (and_(reached, cb.payload["satisfaction"].as_string().in_(SATISFIED)), true()),
                else_=false(),
            ).label("satisfied"),
            case(
                (and_(reached, cb.payload["resolved"].as_boolean().is_(True)), true()),
                else_=false(),
            ).label("resolved"),
        )
        .join(Ticket, Ticket.id == reviews.c.ticket_id)
        .outerjoin(cb, cb.id == reviews.c.cb_id)
    )
