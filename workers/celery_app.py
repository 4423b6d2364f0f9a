"""The Celery application, built from the Flask application's configuration.

Broker and result backend are `HOTLINE_REDIS_URL`. Tasks are acknowledged late (after they
finish), so a worker killed mid-task leaves the message to be delivered again once the Redis
visibility timeout has passed; that is safe because every task is idempotent (outbox rows are
claimed with SKIP LOCKED and marked delivered; clock steps are marked when they fire).

Beat: `hotline worker` runs a beat inside each worker by default (`--no-beat` to leave it out).
Several beats at once only send redundant rounds, which find nothing to do. To keep exactly one
beat, start the workers with `--no-beat` and run one `hotline worker --beat` (or
`celery -A workers.celery_app beat`) on a single node.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from celery import Celery
from celery.schedules import crontab
from flask import Flask

SWEEP_EVERY = 30.0  # seconds between clock sweeps
ALARM_EVERY = 5.0  # seconds between alarm sweeps (an alarm escalates 60 s after it is raised)
DELIVER_EVERY = 15.0  # seconds between outbox rounds (retries with back-off)
STATS_EVERY = 5.0  # seconds between rollup refreshes: their lag (a stats request also catches up)
# Longer than the longest task (50 deliveries × a 5 s client timeout, a large sweep): a task
# still running when it passes is handed to another worker too (harmless, but wasted).
VISIBILITY_TIMEOUT = 600.0


class HotlineCelery(Celery):
    """A Celery application that knows the Flask application its tasks run in."""

    flask_app: Flask


def _setting(app: Flask, name: str, default: float) -> float:
    """A number from the Flask config, else from `HOTLINE_<name>`, else the default."""
    value = app.config.get(name) or os.environ.get(f"HOTLINE_{name}")
    return float(value) if value else default


def make_celery(app: Flask) -> HotlineCelery:
    """The Celery application of a Flask application (its `REDIS_URL`, or eager without one)."""
    from workers import broker, tasks

    url = app.config.get("REDIS_URL")
    celery = HotlineCelery("hotline", broker=url or "memory://", backend=url or None,
                           set_as_current=False)
    if url and url.split("://", 1)[0] in broker.SCHEMES:
        # kombu's Redis transport with a guard: without it a worker can exit when Redis goes
        # away (workers/broker.py tells how).
        celery.conf.broker_transport = broker.TRANSPORT
    celery.flask_app = app
    visibility = _setting(app, "CELERY_VISIBILITY_TIMEOUT", VISIBILITY_TIMEOUT)
    sweep_every = _setting(app, "SWEEP_INTERVAL", SWEEP_EVERY)
    alarm_every = _setting(app, "ALARM_SWEEP_INTERVAL", ALARM_EVERY)
    deliver_every = _setting(app, "DELIVER_INTERVAL", DELIVER_EVERY)
    stats_every = _setting(app, "STATS_INTERVAL", STATS_EVERY)
    celery.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_expires=3600,
        broker_transport_options={
            "visibility_timeout": visibility,
            # Look for messages of dead workers every few seconds (kombu's default scans
            # once in 100 s), so a short visibility timeout means a quick redelivery.
            "unacked_restore_interval": max(1, min(10, int(visibility / 5))),
            "unacked_restore_throttle": 1,
            "socket_connect_timeout": 2,
            "socket_timeout": 10},
        result_backend_transport_options={"visibility_timeout": visibility},
        broker_connection_retry_on_startup=True,
        # A task whose ack cannot reach a lost broker runs again anyway: stop it at once.
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_hijack_root_logger=False,
        task_always_eager=not url,
        # In memory: nothing to share or corrupt between beats (the rounds are periodic,
        # so a restarted beat simply starts again).
        beat_scheduler="workers.heartbeats:HeartbeatScheduler",  # writes its heartbeat
        beat_schedule={
            # Each message expires after one period: a backlog while workers are down is
            # dropped, not replayed, since the next round does the same work.
            "sweep-clocks": {"task": tasks.SWEEP_CLOCKS, "schedule": sweep_every,
                             "options": {"expires": sweep_every}},
            "sweep-alarms": {"task": tasks.SWEEP_ALARMS, "schedule": alarm_every,
                             "options": {"expires": alarm_every}},
            "deliver-outbox": {"task": tasks.DELIVER_OUTBOX, "schedule": deliver_every,
                               "options": {"expires": deliver_every}},
            "refresh-stats": {"task": tasks.REFRESH_STATS, "schedule": stats_every,
                              "options": {"expires": stats_every}},
            # 00:30 in Shanghai: Monday the weekly list, the 1st the monthly, a quarter's
            # first day the quarterly (regenerating overwrites, so a second beat is harmless).
            "periodic-reports": {"task": tasks.PERIODIC_REPORTS,
                                 "schedule": crontab(minute=30, hour=0),
                                 "options": {"expires": 3600}},
        },
        timezone="Asia/Shanghai",
    )
    tasks.register(celery)
    return celery


def worker_argv(argv: Sequence[str] | None = None) -> list[str]:
    """Celery's worker arguments for `hotline worker [--beat/--no-beat] [--concurrency N]
    [--loglevel L] [--pool P]`."""
    parser = argparse.ArgumentParser(prog="hotline worker")
    parser.add_argument("--beat", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--loglevel", default="info")
    parser.add_argument("--pool", default=None)
    parser.add_argument("--hostname", default=None)
    args = parser.parse_args(list(argv or []))
    # Gossip and mingle only serve remote revokes and cluster events, which these idempotent
    # periodic tasks do not use; without them a worker starts faster and talks less.
    out = ["worker", f"--loglevel={args.loglevel}", "--without-gossip", "--without-mingle"]
    if args.concurrency:
        out.append(f"--concurrency={args.concurrency}")
    if args.pool:
        out.append(f"--pool={args.pool}")
    if args.hostname:
        out.append(f"--hostname={args.hostname}")
    if args.beat:
        out.append("--beat")
    return out


def worker_main(app: Flask, argv: Sequence[str] | None = None) -> int:
    """Run a Celery worker for the app (and a beat unless `--no-beat`) until it is stopped."""
    args = worker_argv(argv)
    celery = make_celery(app)
    if not celery.flask_app.config.get("REDIS_URL"):
        raise SystemExit("hotline worker needs HOTLINE_REDIS_URL (without it, `hotline serve` "
                         "runs the same rounds in-process)")
    celery.worker_main(args)
    return 0
