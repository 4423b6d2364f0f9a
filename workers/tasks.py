"""Thin named tasks: each runs one round of a domain function in the Flask application.

All are idempotent, so they are acknowledged late and may run twice (a killed worker, a
redelivered message, several beats): outbox rows are claimed with SKIP LOCKED and marked
delivered in the row's own transaction; clock steps are marked in the sweep's transaction.
Only transient faults (database or broker connection, a party down) are retried, with
exponential back-off and jitter, a bounded number of times; the next periodic round covers
anything left after that.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import OperationalError

from dispatch.outbound.outbox import TransientError
from workers.rounds import deliver_round, stats_round, sweep_round

DELIVER_OUTBOX = "hotline.deliver_outbox"
SWEEP_CLOCKS = "hotline.sweep_clocks"
PERIODIC_REPORTS = "hotline.periodic_reports"
REFRESH_STATS = "hotline.refresh_stats"

TRANSIENT = (OperationalError, TransientError, RedisConnectionError)
RETRY: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "autoretry_for": TRANSIENT,
    "retry_backoff": 2,  # 2 s, 4 s, 8 s, … (jittered)
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 5,
    "ignore_result": True,
}


def deliver_outbox(task: Task) -> dict[str, int]:
    """Deliver what the outbox has due now (one round)."""
    report = deliver_round(task.app.flask_app)  # type: ignore[attr-defined]
    return {"delivered": len(report.delivered), "retried": len(report.retried),
            "dead": len(report.dead)}


def sweep_clocks(task: Task) -> dict[str, int]:
    """Fire the ticket clock steps due now (one sweep)."""
    report: Any = sweep_round(task.app.flask_app)  # type: ignore[attr-defined]
    return {"fired": len(report.fired), "notices": report.notices,
            "failed": len(report.failed_tickets)}


def refresh_stats(task: Task) -> dict[str, int]:
    """Fold the tickets changed since the last round into the statistics' rollups."""
    report = stats_round(task.app.flask_app)  # type: ignore[attr-defined]
    return {"tickets": report.tickets, "changed": report.changed, "pending": report.pending}


def periodic_reports(task: Task) -> dict[str, list[str]]:
    """Generate the periodic lists due today (weekly, monthly, quarterly)."""
    from workers.reports import run_due

    app = task.app.flask_app  # type: ignore[attr-defined]
    return {"generated": [p.name for p in run_due(app, app.extensions["hotline"].clock.now())]}


def register(celery: Celery) -> None:
    """Register the named tasks on a Celery application."""
    celery.task(name=DELIVER_OUTBOX, **RETRY)(deliver_outbox)
    celery.task(name=SWEEP_CLOCKS, **RETRY)(sweep_clocks)
    celery.task(name=PERIODIC_REPORTS, **RETRY)(periodic_reports)
    celery.task(name=REFRESH_STATS, **RETRY)(refresh_stats)
