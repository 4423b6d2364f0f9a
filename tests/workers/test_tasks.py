"""The named tasks in eager mode (no broker): each calls its domain round once, and a second
run changes nothing; the Celery settings the fault tolerance rests on; the kicker never lets
a broker fault reach the request."""

from __future__ import annotations

import logging
import socket
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from dispatch.core.models import Event
from dispatch.outbound.outbox import OutboxMessage, enqueue
from integrations.sms.fake import RecordingSms
from web.extensions import db
from workers.celery_app import make_celery, worker_argv, worker_main
from workers.kick import CeleryKicker
from workers.tasks import DELIVER_OUTBOX, SWEEP_CLOCKS, TRANSIENT


@pytest.fixture
def sms(app, clock) -> RecordingSms:
    recording = RecordingSms(clock=clock)
    app.extensions["hotline"].sms = recording
    return recording


def owe_sms(app, clock, n: int) -> None:
    with app.app_context():
        for i in range(n):
            enqueue(db.session, "sms.notice",
                    {"to": "13900000001", "text": f"【长垣12345】通知{i}", "ref": f"ref-{i}"},
                    key=f"test:{i}", ticket_id=None, now=clock.now())
        db.session.commit()


def delivered(app) -> list[OutboxMessage]:
    with app.app_context():
        return list(db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.delivered_at.is_not(None))))


def test_deliver_outbox_task_delivers_each_due_row_once_and_a_second_run_sends_nothing(
        app, clock, sms):
    celery = make_celery(app)
    owe_sms(app, clock, 3)
    first = celery.tasks[DELIVER_OUTBOX].delay().get()
    assert first == {"delivered": 3, "retried": 0, "dead": 0}
    assert celery.tasks[DELIVER_OUTBOX].delay().get() == {"delivered": 0, "retried": 0,
                                                           "dead": 0}
    assert sorted(s.ref for s in sms.sent) == ["ref-0", "ref-1", "ref-2"]
    assert len(delivered(app)) == 3


def test_sweep_task_fires_an_overdue_clock_once_however_often_it_runs(app, api, clock, sms):
    t = api.create()
    r = api.act("dispatcher1", t["number"], "dispatch", lead="urban_management")
    assert r.status_code == 200, r.get_json()
    celery = make_celery(app)
    clock.current = clock.now() + timedelta(days=2)  # past the 24 h sign-for deadline
    first = celery.tasks[SWEEP_CLOCKS].delay().get()
    assert first["fired"] >= 1 and first["failed"] == 0
    assert celery.tasks[SWEEP_CLOCKS].delay().get() == {"fired": 0, "notices": 0, "failed": 0}
    with app.app_context():
        urges = db.session.scalar(select(func.count()).select_from(Event)
                                  .where(Event.action == "urge"))
    assert urges == first["fired"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_tasks_are_late_acked_retry_only_transient_faults_and_beat_both_rounds(app):
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    celery = make_celery(app)
    conf = celery.conf
    assert (conf.task_acks_late, conf.task_reject_on_worker_lost,
            conf.worker_prefetch_multiplier) == (True, True, 1)
    assert conf.broker_url == conf.result_backend == "redis://127.0.0.1:1/0"
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.broker_transport_options["visibility_timeout"] == 600
    assert not conf.task_always_eager
    schedule = {e["task"]: e["schedule"] for e in conf.beat_schedule.values()}
    assert (schedule[SWEEP_CLOCKS], schedule[DELIVER_OUTBOX]) == (30.0, 15.0)
    assert schedule["hotline.refresh_stats"] == 5.0  # the rollups lag by at most that
    daily = schedule["hotline.periodic_reports"]  # 00:30 in Shanghai
    assert (daily.minute, daily.hour, conf.timezone) == ({30}, {0}, "Asia/Shanghai")
    for name in (DELIVER_OUTBOX, SWEEP_CLOCKS, "hotline.periodic_reports",
                 "hotline.refresh_stats"):
        task = celery.tasks[name]
        assert task.acks_late and task.autoretry_for == TRANSIENT
        assert task.retry_backoff and task.retry_jitter and task.max_retries == 5


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_kick_with_the_broker_down_is_logged_and_swallowed_at_once(app, caplog):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    kicker = CeleryKicker(make_celery(app))
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="hotline.workers"):
        kicker.poke()
    assert time.monotonic() - started < 1.0
    assert "could not kick the workers" in caplog.text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_request_that_owes_110_still_succeeds_when_the_kick_fails(app, api, clock):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    app.extensions["hotline"].runner = CeleryKicker(make_celery(app))
    t = api.create(text="小区里有人持刀威胁邻居", urgency="urgent")
    r = api.act("operator1", t["number"], "transfer_110", reason="涉警事项，转110处置")
    assert r.status_code == 200, r.get_json()
    with app.app_context():
        (row,) = db.session.scalars(select(OutboxMessage)).all()
    assert row.topic == "police110.transfer" and row.delivered_at is None


def test_worker_arguments_run_a_beat_unless_told_not_to():
    quiet = ["--without-gossip", "--without-mingle"]
    assert worker_argv([]) == ["worker", "--loglevel=info", *quiet, "--beat"]
    assert worker_argv(["--no-beat", "--concurrency", "4", "--loglevel", "warning"]) == [
        "worker", "--loglevel=warning", *quiet, "--concurrency=4"]


def test_the_worker_refuses_to_start_without_redis(tmp_path):
    from web.app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "x", "REDIS_URL": None})
    with pytest.raises(SystemExit, match="HOTLINE_REDIS_URL"):
        worker_main(app, ["--no-beat"])


def test_the_beat_generates_the_periodic_lists_due_today(app, clock, tmp_path):
    from datetime import UTC, datetime

    from workers.celery_app import make_celery

    celery = make_celery(app)  # no Redis: eager
    assert celery.conf.beat_schedule["periodic-reports"]["task"] == "hotline.periodic_reports"
    clock.current = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)  # Tue 1 Dec 00:30 in Shanghai
    result = celery.tasks["hotline.periodic_reports"].apply().get()
    assert result == {"generated": ["month-2026-11-01.xlsx"]}
    assert (tmp_path / "instance" / "reports" / "month-2026-11-01.xlsx").exists()


def test_the_stats_task_folds_changed_tickets_into_the_rollups(app, api):
    from dispatch.stats import rollups
    from web.extensions import db
    from workers.celery_app import make_celery
    from workers.tasks import REFRESH_STATS

    api.create()
    api.create()
    with app.app_context():
        assert rollups.pending_count(db.session) == 2
    result = make_celery(app).tasks[REFRESH_STATS].apply().get()  # eager: no broker here
    assert result == {"tickets": 2, "changed": 2, "pending": 0}
    with app.app_context():
        assert rollups.pending_count(db.session) == 0
