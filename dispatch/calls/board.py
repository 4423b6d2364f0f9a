"""The call-centre board (DOMAIN.md, Calls): calls waiting now and the longest wait, agents by
state, and today's calls answered within 15 s; the missed calls owed and overdue; calls rung to
an extension nobody has. And the two call metrics of DOMAIN.md "More metrics": 15秒接通率 and
漏接回拨率, from the call records."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from dispatch.calls.events import AGENT_STATES, RINGING
from dispatch.calls.models import AgentState, Call
from dispatch.core.models import User
from dispatch.intake.phones import mask_phone
from dispatch.tickets.calendar import LOCAL_TZ

ANSWER_WITHIN = 15.0  # seconds: 15秒接通率
# A ringing call whose end never came is not waiting for ever: the board counts calls that
# rang within this window.
WAITING_WINDOW = timedelta(hours=1)


def _local_day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return (datetime.combine(start, time(0), LOCAL_TZ).astimezone(UTC),
            datetime.combine(end + timedelta(days=1), time(0), LOCAL_TZ).astimezone(UTC))


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def call_metrics(session: Session, start: date, end: date, now: datetime) -> dict[str, Any]:
    """15秒接通率 (calls answered within 15 s of entering the queue ÷ calls that entered the
    queue, by the day they rang) and 漏接回拨率 (missed calls called back by their deadline ÷
    missed calls whose deadline fell in the period and has passed, or that were called back)."""
    lo, hi = _local_day_bounds(start, end)
    entered = and_(Call.rang_at >= lo, Call.rang_at < hi, Call.queue.is_not(None))
    in_time = and_(Call.answered_at.is_not(None),
                   func.coalesce(Call.wait_s, ANSWER_WITHIN + 1) <= ANSWER_WITHIN)
    calls, quick = session.execute(select(
        func.count(), func.count().filter(in_time)).select_from(Call).where(entered)).one()
    due_in = and_(Call.missed_deadline >= lo, Call.missed_deadline < hi,
                  (Call.missed_deadline <= now) | Call.called_back_at.is_not(None))
    on_time = and_(Call.called_back_at.is_not(None), Call.called_back_at <= Call.missed_deadline)
    due, called = session.execute(select(
        func.count(), func.count().filter(on_time)).select_from(Call).where(due_in)).one()
    return {
        "answer_15s_rate": {"rate": _rate(quick, calls), "answered_15s": quick,
                            "entered_queue": calls},
        "missed_callback_rate": {"rate": _rate(called, due), "called_back_in_time": called,
                                 "missed_due": due},
    }


def board(session: Session, now: datetime) -> dict[str, Any]:
    """The figures of the call-centre board at `now`."""
    waiting_rows = session.execute(select(func.count(), func.min(Call.rang_at)).where(
        Call.state == RINGING, Call.rang_at >= now - WAITING_WINDOW)).one()
    waiting, oldest = waiting_rows
    agents = session.execute(
        select(AgentState, User.display_name).join(User, User.id == AgentState.user_id,
                                                   isouter=True)
        .order_by(AgentState.extension)).all()
    by_state = {s: 0 for s in AGENT_STATES}
    for row, _ in agents:
        by_state[row.state] = by_state.get(row.state, 0) + 1
    today = now.astimezone(LOCAL_TZ).date()
    metrics = call_metrics(session, today, today, now)
    owed, overdue = session.execute(select(
        func.count(), func.count().filter(Call.missed_deadline < now)).select_from(Call).where(
        Call.missed_deadline.is_not(None), Call.called_back_at.is_(None))).one()
    unknown = session.scalars(select(Call).where(Call.unknown_agent.is_(True))
                              .order_by(Call.rang_at.desc(), Call.id.desc()).limit(10)).all()
    return {
        "at": now.isoformat(),
        "waiting": waiting,
        "longest_wait_s": round((now - oldest).total_seconds(), 1) if oldest else 0,
        "agents": [{"extension": a.extension, "name": name, "state": a.state,
                    "since": a.since.isoformat()} for a, name in agents],
        "agents_by_state": by_state,
        "today": metrics["answer_15s_rate"],
        "missed": {"owed": owed, "overdue": overdue},
        # Dispatchers see these to fix the extension; the caller is masked here.
        "unknown_extension_calls": [
            {"call_id": c.call_id, "agent": c.agent_extension, "state": c.state,
             "rang_at": c.rang_at.isoformat() if c.rang_at else None,
             "caller": mask_phone(c.caller) if c.caller else None} for c in unknown],
    }
