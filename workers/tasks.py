"""Thin named tasks: each runs one round of a domain function in the Flask application.

All are idempotent, so they are acknowledged late and may run twice (a killed worker, a
redelivered message, several beats): outbox rows are claimed with SKIP LOCKED and marked
delivered in the row's own transaction; clock steps are marked in the sweep's transaction.
Only transient faults (database or broker connection, a party down) are retried, with
exponential back-off and jitter, a bounded number of times; the next periodic round covers
anything left after that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import Celery, Task
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import OperationalError

from dispatch.outbound.outbox import TransientError
from workers import heartbeats
from workers.rounds import alarm_round, deliver_round, inbox_round, stats_round, sweep_round

DELIVER_OUTBOX = "hotline.deliver_outbox"
SWEEP_CLOCKS = "hotline.sweep_clocks"
SWEEP_ALARMS = "hotline.sweep_alarms"
PERIODIC_REPORTS = "hotline.periodic_reports"
REFRESH_STATS = "hotline.refresh_stats"
TRAIN_CLASSIFIER = "hotline.train_classifier"

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


def _alive(task: Task) -> None:
    """This worker's heartbeat (`/healthz`), written by every periodic round it runs."""
    heartbeats.write(task.app.flask_app.config.get("REDIS_URL"),  # type: ignore[attr-defined]
                     "worker", task.request.hostname or "worker")


def deliver_outbox(task: Task) -> dict[str, int]:
    """Process the WeChat messages held in a burst (a few batches), then deliver what the
    outbox has due now (one round)."""
    _alive(task)
    for _ in range(10):  # the rest waits for the next kick or beat
        if not inbox_round(task.app.flask_app).more:  # type: ignore[attr-defined]
            break
    report = deliver_round(task.app.flask_app)  # type: ignore[attr-defined]
    return {"delivered": len(report.delivered), "retried": len(report.retried),
            "dead": len(report.dead)}


def sweep_clocks(task: Task) -> dict[str, int]:
    """Fire the ticket clock steps due now (one sweep)."""
    _alive(task)
    report: Any = sweep_round(task.app.flask_app)  # type: ignore[attr-defined]
    return {"fired": len(report.fired), "notices": report.notices,
            "failed": len(report.failed_tickets)}


def sweep_alarms(task: Task) -> dict[str, int]:
    """Escalate the emergency alarms not acknowledged in time (one sweep)."""
    _alive(task)
    report = alarm_round(task.app.flask_app)  # type: ignore[attr-defined]
    return {"escalated": len(report.escalated), "failed": len(report.failed_tickets)}


def refresh_stats(task: Task) -> dict[str, int]:
    """Fold the tickets changed since the last round into the statistics' rollups."""
    _alive(task)
    report = stats_round(task.app.flask_app)  # type: ignore[attr-defined]
    return {"tickets": report.tickets, "changed": report.changed, "pending": report.pending}


def periodic_reports(task: Task) -> dict[str, list[str]]:
    """Generate the periodic lists due today (weekly, monthly, quarterly)."""
    from workers.reports import run_due

    app = task.app.flask_app  # type: ignore[attr-defined]
    return {"generated": [p.name for p in run_due(app, app.extensions["hotline"].clock.now())]}


def train_in_app(app: Any, version: int,
                 progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train classifier version `version` (begun by `begin_training`) in the app's database:
    seed examples (`seed_dir_of`: the shipped set unless configured otherwise) and
    confirmed tickets; figures of the rules in force beside it. Nothing happens to a version
    that is no longer `training` (a redelivered task)."""
    from dispatch.core.models import ClassifierModel
    from dispatch.triage.classifier import active_categories, combiner
    from dispatch.triage.training import run_training, seed_dir_of

    with app.app_context():
        services, session = app.extensions["hotline"], app.extensions["sqlalchemy"].session
        try:
            row = session.get(ClassifierModel, version)
            if row is None or row.status != "training":
                return {"version": version, "skipped": True}
            seed_dir = seed_dir_of(app.config)
            rules = services.classifier_cache.get(session)
            mix = combiner(rules, active_categories(session))
            row = run_training(session, version, now=services.clock.now, combiner=mix,
                               seed_dir=seed_dir, progress=progress)
            return {"version": version, "status": row.status, "score": row.score}
        finally:
            session.remove()


def train_classifier(task: Task, version: int) -> dict[str, Any]:
    """Train one classifier version (started by an admin; failures are recorded on it)."""
    return train_in_app(task.app.flask_app, int(version))  # type: ignore[attr-defined]


def register(celery: Celery) -> None:
    """Register the named tasks on a Celery application."""
    celery.task(name=DELIVER_OUTBOX, **RETRY)(deliver_outbox)
    celery.task(name=SWEEP_CLOCKS, **RETRY)(sweep_clocks)
    celery.task(name=SWEEP_ALARMS, **RETRY)(sweep_alarms)
    celery.task(name=PERIODIC_REPORTS, **RETRY)(periodic_reports)
    celery.task(name=REFRESH_STATS, **RETRY)(refresh_stats)
    # Long and recorded on its version either way: acknowledged late (a killed worker's
    # training runs again), never retried.
    celery.task(name=TRAIN_CLASSIFIER, bind=True, acks_late=True, ignore_result=True,
                max_retries=0)(train_classifier)
