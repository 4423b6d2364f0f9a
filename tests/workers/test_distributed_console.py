"""The distributed mode: two `hotline serve` processes and a Celery worker on one Redis and one
PostgreSQL. An event raised in either web process or in the worker reaches the consoles
connected to both web processes, each once, with the same seq."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import requests
import socketio
from sqlalchemy import update

from dispatch.core.models import Assignment
from tests.workers.test_faults import (  # noqa: F401 — private_redis is a fixture
    ROOT,
    PrivateRedis,
    Workers,
    free_port,
    private_redis,
    wait_for,
)
from web.extensions import db

pytestmark = [pytest.mark.redis, pytest.mark.postgres,
              pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)]

SERVE = "import sys; from web.cli.main import main; sys.exit(main())"
NS = "/console"


class WebProcess:
    """`hotline serve` in its own process, on a free port."""

    def __init__(self, name: str, db_url: str, redis_url: str, logs: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        env.update({"HOTLINE_DATABASE_URL": db_url, "HOTLINE_REDIS_URL": redis_url,
                    "HOTLINE_INSTANCE_PATH": str(logs / "instance"),
                    "HOTLINE_SECRET_KEY": "distributed"})
        self.log: IO[bytes] = open(logs / f"{name}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVE, "serve", "--port", str(self.port), "--threads", "16"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        wait_for(self.healthy, 30, f"{name} to serve")

    def healthy(self) -> bool:
        try:
            return requests.get(self.url + "/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    def token(self, user: str) -> str:
        r = requests.post(self.url + "/api/v1/auth/token",
                          json={"username": user, "password": "demo12345"}, timeout=5)
        assert r.status_code == 200, r.text
        return r.json()["token"]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.log.close()


class Listener:
    """A console connected to one web process."""

    def __init__(self, url: str, token: str) -> None:
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Condition()
        self.client = socketio.Client(reconnection=False)
        self.client.on("ticket", self._got, namespace=NS)
        self.client.connect(url, namespaces=[NS], auth={"token": token},
                            transports=["websocket"], wait_timeout=10)

    def _got(self, message: dict[str, Any]) -> None:
        with self.lock:
            self.events.append(message)
            self.lock.notify_all()

    def wait_for(self, predicate, what: str, timeout: float = 15) -> None:
        with self.lock:
            assert self.lock.wait_for(lambda: predicate(self.events), timeout), (
                f"timed out waiting for {what}; got {[(e['seq'], e['type']) for e in self.events]}")


@pytest.fixture
def cluster(app, db_url: str, private_redis: PrivateRedis, tmp_path: Path,  # noqa: F811
            ) -> Iterator[tuple[WebProcess, WebProcess, Workers]]:
    webs: list[WebProcess] = []
    pool = Workers(db_url, private_redis.url, tmp_path)
    try:
        webs = [WebProcess(f"web{i}", db_url, private_redis.url, tmp_path) for i in (1, 2)]
        pool.start("worker", beat=True)
        yield webs[0], webs[1], pool
    finally:
        for web in webs:
            web.stop()
        pool.stop_all()
        for log in sorted(tmp_path.glob("*.log")):  # shown by pytest when the test failed
            sys.stderr.write(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}\n")


def test_events_from_either_web_process_and_the_worker_reach_consoles_on_both(app, cluster):
    web1, web2, _ = cluster
    consoles = [Listener(web1.url, web1.token("dispatcher1")),
                Listener(web2.url, web2.token("dispatcher1"))]
    operator = {"Authorization": "Bearer " + web1.token("operator1")}
    dispatcher = {"Authorization": "Bearer " + web2.token("dispatcher1")}

    one = requests.post(web1.url + "/api/v1/tickets", headers=operator, timeout=10,
                        json={"channel": "phone", "text": "路灯不亮了",
                              "category": "urban"}).json()
    two = requests.post(web2.url + "/api/v1/tickets", headers=operator, timeout=10,
                        json={"channel": "phone", "text": "井盖丢了"}).json()
    r = requests.post(f"{web2.url}/api/v1/tickets/{one['number']}/actions/dispatch",
                      headers=dispatcher, timeout=10,
                      json={"version": one["version"], "lead": "urban_management"})
    assert r.status_code == 200, r.text
    for console in consoles:
        console.wait_for(lambda ev: len(ev) >= 3, "the three web events")

    # The worker's clock sweep (every second here) raises the warning: the sign clock's
    # warning moment is moved into the past, as time passing would.
    with app.app_context():
        db.session.execute(update(Assignment).values(sign_warn_at=Assignment.dispatched_at))
        db.session.commit()
    for console in consoles:
        console.wait_for(lambda ev: any(e["type"] == "sla_warning" for e in ev),
                         "the worker's sla_warning")

    seen = [[(e["seq"], e["type"], e["ticket"]["number"]) for e in c.events] for c in consoles]
    assert seen[0] == seen[1]  # both consoles: the same events, once each, in the same order
    assert [s for s, _, _ in seen[0]] == list(range(1, len(seen[0]) + 1))
    assert seen[0][:3] == [(1, "created", one["number"]), (2, "created", two["number"]),
                           (3, "updated", one["number"])]
    assert seen[0][3][1:] == ("sla_warning", one["number"])
    for console in consoles:
        threading.Thread(target=console.client.disconnect, daemon=True).start()
