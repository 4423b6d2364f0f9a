"""The workers on real Redis and PostgreSQL, as separate processes, through faults: a worker
killed mid-task (the task runs again, its effect happens once), Redis stopped and started while
tickets are being created (none lost, every message delivered once after), two workers
sweeping at once (each clock fires once).

Redis is a private server started here (stopping it disturbs nobody); it runs only when
HOTLINE_TEST_REDIS_URL says the suite has Redis. Every wait is bounded, every process is
killed and reaped at the end.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest
import redis
from sqlalchemy import select

from dispatch.core.models import Assignment, Event, Ticket
from dispatch.outbound.outbox import OutboxMessage, claim_due, enqueue
from integrations.police110.fake import FakePoliceDesk
from integrations.sms.fake import FakeSmsGateway
from tests.conftest import require_service
from web.extensions import db
from workers.celery_app import make_celery
from workers.kick import CeleryKicker

pytestmark = [pytest.mark.redis, pytest.mark.postgres,
              pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)]

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = "/usr/bin/redis-server"
DESK_KEYS = {"desk-1": "worker-test-secret"}
SMS_TOKEN = "worker-test-token"
RUN_WORKER = ("import sys; from web.celery_worker import main; "
              "sys.exit(main(sys.argv[1:]))")


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """Poll `check` until it returns something true; fail after `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A redis-server of this test alone (on a free port unless given one), keeping nothing on
    disk, stopped and started at will (also by the load-with-faults benchmark)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def ping(self) -> bool:
        try:
            with redis.Redis(port=self.port, socket_connect_timeout=0.5) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        wait_for(self.ping, 15, "redis-server to answer")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    if not os.environ.get("HOTLINE_TEST_REDIS_URL"):
        require_service("Redis (HOTLINE_TEST_REDIS_URL)")
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Workers:
    """Celery worker processes (`worker_main`, as `hotline worker` runs it) on the test's
    database and private Redis, each in its own process group."""

    def __init__(self, db_url: str, redis_url: str, logs: Path) -> None:
        self.logs = logs
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        self.env.update({
            "HOTLINE_DATABASE_URL": db_url, "HOTLINE_REDIS_URL": redis_url,
            "HOTLINE_INSTANCE_PATH": str(logs / "instance"), "HOTLINE_SECRET_KEY": "workers",
            "HOTLINE_CELERY_VISIBILITY_TIMEOUT": "3", "HOTLINE_SWEEP_INTERVAL": "1",
            "HOTLINE_DELIVER_INTERVAL": "1"})
        self.running: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []

    def start(self, name: str, *, beat: bool, concurrency: int = 1,
              **env: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 — closed in stop()
        process = subprocess.Popen(
            [sys.executable, "-c", RUN_WORKER, "--beat" if beat else "--no-beat",
             "--concurrency", str(concurrency), "--pool", "prefork", "--hostname",
             f"{name}@test", "--loglevel", "info"],
            cwd=ROOT, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.running.append((process, log))
        return process

    def kill(self, process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the worker's whole process group (its pool children too)."""
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for process, _ in self.running:
            self.kill(process, signal.SIGTERM)
        for process, log in self.running:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill(process)
                process.wait(5)
            self.kill(process)  # pool children left behind by a warm shutdown
            log.close()
        self.running.clear()


@pytest.fixture
def workers(db_url: str, private_redis: PrivateRedis, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(db_url, private_redis.url, tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()
        for log in sorted(tmp_path.glob("*.log")):  # shown by pytest when the test failed
            sys.stderr.write(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}\n")


@pytest.fixture
def kicker(app, private_redis: PrivateRedis) -> CeleryKicker:
    """Commits of the test's app poke the workers through the private Redis."""
    app.config["REDIS_URL"] = private_redis.url
    runner = CeleryKicker(make_celery(app))
    app.extensions["hotline"].runner = runner
    return runner


def rows(app, topic: str | None = None) -> list[OutboxMessage]:
    with app.app_context():
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        if topic is not None:
            stmt = stmt.where(OutboxMessage.topic == topic)
        found = list(db.session.scalars(stmt))
        db.session.expunge_all()  # loaded and detached: readable after the context ends
        db.session.rollback()
        return found


def all_delivered(app, n: int) -> bool:
    found = rows(app)
    return len(found) == n and all(r.delivered_at is not None for r in found)


def being_sent(app) -> bool:
    """True while an undelivered row is locked by a deliverer (SKIP LOCKED sees none)."""
    pending = [r for r in rows(app) if r.delivered_at is None]
    with app.app_context():
        try:
            return bool(pending) and not claim_due(db.session, datetime.now(UTC), 10)
        finally:
            db.session.rollback()


def test_a_worker_killed_mid_task_runs_it_again_and_the_sms_goes_out_once(
        app, workers, kicker):
    with FakeSmsGateway(token=SMS_TOKEN) as gateway:
        gateway.delay = 8.0  # the worker waits on the gateway: mid-task, row locked
        with app.app_context():
            enqueue(db.session, "sms.notice",
                    {"to": "13900000001", "text": "【长垣12345】工单即将超时，请及时签收。",
                     "ref": "kill-test-1"},
                    key="kill-test-1", ticket_id=None, now=datetime.now(UTC) - timedelta(seconds=1))
            db.session.commit()
        sms_env = {"HOTLINE_SMS_GATEWAY_URL": gateway.url,
                   "HOTLINE_SMS_GATEWAY_TOKEN": SMS_TOKEN,
                   "HOTLINE_SMS_GATEWAY_TIMEOUT": "15"}
        first = workers.start("first", beat=False, **sms_env)
        kicker.poke()  # the only message: no beat runs, so a delivery later is a redelivery
        wait_for(lambda: being_sent(app), 30, "the first worker to be sending the SMS")
        workers.kill(first)
        assert first.wait(10) == -signal.SIGKILL
        gateway.delay = 0.0
        wait_for(lambda: not being_sent(app), 10, "the killed worker's lock to go")
        assert rows(app)[0].delivered_at is None

        workers.start("second", beat=False, **sms_env)
        wait_for(lambda: all_delivered(app, 1), 40, "the task to run again on the second worker")
        (row,) = rows(app)
        assert row.attempts == 1  # the killed attempt rolled back with its transaction
        assert "hotline.deliver_outbox" in workers.log("second")
    # The gateway may have seen the killed attempt too: one idempotency key, so one SMS.
    keys = {r.headers.get("idempotency-key") for r in gateway.requests}
    assert keys == {"kill-test-1"}
    assert row.receipt is not None and row.receipt["provider_id"] == "gw-1"


def transfer(api, n: int) -> str:
    t = api.create(text=f"小区里有人持刀威胁邻居（{n}号楼）", urgency="urgent")
    r = api.act("operator1", t["number"], "transfer_110", reason="涉警事项，转110处置")
    assert r.status_code == 200, r.get_json()
    return t["number"]


def test_redis_down_while_tickets_are_created_loses_none_and_delivers_each_once_after(
        app, api, clock, workers, kicker, private_redis):
    clock.current = datetime.now(UTC) - timedelta(minutes=1)
    with FakePoliceDesk(DESK_KEYS) as desk:
        workers.start("worker", beat=True, HOTLINE_POLICE110_URL=desk.url,
                      HOTLINE_POLICE110_KEYS=json.dumps(DESK_KEYS))
        before = [transfer(api, n) for n in range(3)]
        wait_for(lambda: all_delivered(app, 3), 30, "the transfers made with Redis up")

        private_redis.stop()
        during = [transfer(api, n) for n in range(3, 8)]  # every request succeeds
        assert len(rows(app)) == 8
        private_redis.start()

        wait_for(lambda: all_delivered(app, 8), 40, "the transfers made with Redis down")
        time.sleep(2.5)  # more beat rounds and kicks: nothing is sent again
        with app.app_context():
            tickets = db.session.scalars(select(Ticket.number)).all()
        assert sorted(tickets) == sorted(before + during)
        for number in before + during:
            assert len(desk.transfers(number)) == 1, number
        assert len(desk.transfers()) == 8 and not desk.refused
        assert all(r.attempts == 1 for r in rows(app))


def test_two_workers_sweeping_at_once_fire_each_clock_once(app, api, clock, workers):
    # Dispatched two days ago: every sign-for deadline (24 h) has passed.
    clock.current = datetime.now(UTC) - timedelta(days=2)
    numbers = []
    for n in range(12):
        t = api.create(text=f"小区门口有人占道经营，堵住了出口（{n}）")
        r = api.act("dispatcher1", t["number"], "dispatch", lead="urban_management",
                    co_handlers=["street_pudong"] if n % 2 else [])
        assert r.status_code == 200, r.get_json()
        numbers.append(t["number"])
    for name in ("one", "two"):
        workers.start(name, beat=True, concurrency=2)

    def all_fired() -> bool:
        with app.app_context():
            left = db.session.scalars(select(Assignment).where(
                Assignment.sign_overdue_at.is_(None))).all()
            db.session.rollback()
            return not left
    wait_for(all_fired, 40, "every sign-for clock to fire")
    time.sleep(3)  # several more sweeps by both workers
    with app.app_context():
        urges = db.session.execute(
            select(Ticket.number, Event.reason).join(Ticket, Ticket.id == Event.ticket_id)
            .where(Event.action == "urge")).all()
        n_assignments = len(db.session.scalars(select(Assignment)).all())
    per_clock = Counter((number, reason) for number, reason in urges)
    assert per_clock and max(per_clock.values()) == 1, per_clock.most_common(3)
    assert {number for number, _ in urges} == set(numbers)
    assert sum(1 for _, reason in urges if "签收时限" in reason) == n_assignments
    for name in ("one", "two"):
        assert "hotline.sweep_clocks" in workers.log(name)
