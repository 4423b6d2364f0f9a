"""One table of consequences: everything that happens because a ticket changed, besides the
change itself. Reading `intake` or `perform`, this is where the rest is found.

Three moments, three tables:

- `ON_ACTION` — called by `lifecycle.perform` after each action, in its transaction: what the
  action owes outside parties is written to the outbox (a transfer or ack for 110, the
  questionnaire of a callback, a WeChat citizen's progress notices), so it commits or rolls
  back with the change.
- `ON_COMMIT` — called just before a transaction commits, with the ticket events it wrote:
  each becomes a numbered console event (`console.feed`), and its ticket is queued for the
  statistics' rollups (`stats.rollups`). Same transaction again: no event without its feed row.
- `AFTER_COMMIT` — after the commit, outside the transaction, by the process that committed
  (`web` or `workers`, which own the parts): the console relay numbers and sends the new console
  events, the publisher hears the events, and the workers are poked to deliver the outbox now
  instead of at their next round. Losing one of these loses nothing: the console resumes from
  its sequence number and the periodic rounds deliver the outbox.

`install()` registers the session listeners that carry the first two tables (and the
per-transaction memo, the ticket locks and the linking of reported photos), once, from the app
factory, the worker and the tests. No module registers a listener at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session

from dispatch.calls import pop
from dispatch.console import feed
from dispatch.core import memo
from dispatch.core.models import Event, Ticket
from dispatch.outbound import callbacks, citizen_notices, police
from dispatch.stats import rollups
from dispatch.tickets import attachments, lifecycle


def _questionnaire(session: Session, ticket: Ticket, action: str, reason: str | None,
                   now: datetime) -> None:
    callbacks.questionnaire_owed(session, ticket, action, now)


# action taken → what it owes (session, ticket, action, reason, now)
ON_ACTION: tuple[lifecycle.OnAction, ...] = (
    police.owe_110,  # transfers of police matters and acks of 110's transfers
    _questionnaire,  # the 回访 questionnaire after a review is accepted (SMS or WeChat)
    citizen_notices.dispatch_notice_owed,  # "已派单" to a citizen who wrote on WeChat
)

# transaction about to commit → (session, the ticket events it wrote)
ON_COMMIT: dict[str, Callable[[Session, list[Event]], None]] = {
    "console feed": feed.record_events,  # a console event per ticket event, to be numbered
    "statistics": rollups.record_events,  # the tickets whose facts and rollups are refreshed
}


class AfterCommit(Protocol):
    """One consequence run after the commit by the process that committed."""

    def __call__(self, session: Session, events: Sequence[Event]) -> None: ...


# after the commit (the parts are the process's: web.services.Services.after_commit)
AFTER_COMMIT: tuple[str, ...] = (
    "console relay",  # number the console events and send them to the consoles' rooms
    "publisher",  # hand the events to the publisher (log, Redis, tests' recorder)
    "workers poke",  # deliver what the outbox owes now (embedded runner or a Celery kick)
)

# a call event recorded (web/hooks/cti.py) → (session, the event recorded, now): the messages
# its agent's pages are sent, built in the event's transaction (the reads they log commit with
# it) and sent after the commit, to the extension's room of the `/console` namespace
ON_CALL_EVENT: dict[str, Callable[..., list[tuple[str, dict[str, Any]]]]] = {
    "screen pop": pop.messages,  # ringing: caller, history, open tickets; later: state, duration
}

_PENDING = "ticket_events_pending"
_paused: set[str] = set()


def _collect(session: Session, flush_context: Any) -> None:
    new = [o for o in session.new if isinstance(o, Event)]
    if new:
        session.info.setdefault(_PENDING, []).extend(new)


def _commit(session: Session) -> None:
    pending: list[Event] = session.info.pop(_PENDING, [])
    if not pending and not any(isinstance(o, Event) for o in session.new):
        return
    session.flush()  # events added since the last flush get their ids (and join pending)
    pending += session.info.pop(_PENDING, [])
    if not pending:
        return
    for name, handler in ON_COMMIT.items():
        if name not in _paused:
            handler(session, pending)


def _forget(session: Session, previous_transaction: Any = None) -> None:
    session.info.pop(_PENDING, None)


_LISTENERS: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("after_flush", _collect),
    ("before_commit", _commit),
    ("after_rollback", _forget),
    ("after_transaction_end", memo.transaction_ended),
    ("before_flush", memo.flushing),
    ("do_orm_execute", memo.executing),
    ("after_transaction_end", lifecycle.locks_released),
    ("before_flush", attachments.link_reported),
    ("before_commit", memo.committing),  # last: after the consequences' own writes
)


def install() -> None:
    """Register the consequences (idempotent)."""
    lifecycle.set_consequences(list(ON_ACTION))
    for name, listener in _LISTENERS:
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


def pause(name: str) -> None:
    """Stop one `ON_COMMIT` consequence (tests of what happens without it)."""
    if name not in ON_COMMIT:
        raise KeyError(name)
    _paused.add(name)


def resume(name: str) -> None:
    """Run a paused `ON_COMMIT` consequence again."""
    _paused.discard(name)


def running(name: str) -> bool:
    """Whether an `ON_COMMIT` consequence runs."""
    return name not in _paused
