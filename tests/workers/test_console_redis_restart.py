"""A console never misses an event across a Redis restart (issue 16, item 10).

Two `hotline serve` processes on one PostgreSQL and a private Redis; a console on each. Tickets
are created through both processes before, during and just after a restart of Redis. While
Redis is away, an event raised in one process reaches only that process's own consoles; the
other process's subscriber is cut off, and pub/sub keeps nothing for it. The page's rules,
mirrored by `Console` below (web/static/js/lib/feedseq.js): a hole in seq is filled by a
`resume` from the lowest missing seq, a duplicate is dropped, and a `resync` from the server
(sent by each process once its subscriber is back) asks a resume. No new event is created after
the last ticket, so only the server's `resync` can bring a console the events it missed last.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import requests
from sqlalchemy import select

from dispatch.console.feed import ConsoleEvent
from dispatch.core.models import Ticket
from tests.console_client import InOrderClient, SeqWindow
from tests.workers.test_distributed_console import NS, WebProcess
from tests.workers.test_faults import (  # noqa: F401 — private_redis is a fixture
    PrivateRedis,
    private_redis,
    wait_for,
)
from web.extensions import db

pytestmark = [pytest.mark.redis, pytest.mark.postgres,
              pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)]


class Console:
    """A console as the page keeps it: the settled floor (every seq ≤ floor is held or not
    ours), the seqs held above it, the events in seq order."""

    def __init__(self, url: str, token: str) -> None:
        self.lock = threading.RLock()
        self.window = SeqWindow()
        self.events: dict[int, dict[str, Any]] = {}
        self.received = 0  # every `ticket` message, duplicates included
        self.resyncs = 0
        self.resumes = 0
        self.client = InOrderClient(reconnection=False)
        self.client.on("ticket", self._ticket, namespace=NS)
        self.client.on("resumed", self._resumed, namespace=NS)
        self.client.on("resync", self._resync, namespace=NS)
        self.client.on("welcome", self._welcome, namespace=NS)
        self.client.connect(url, namespaces=[NS], auth={"token": token},
                            transports=["websocket"], wait_timeout=10)

    def _welcome(self, message: dict[str, Any]) -> None:
        with self.lock:
            self.window.settle(int(message["seq"]))

    def _ticket(self, message: dict[str, Any]) -> None:
        with self.lock:
            self.received += 1
            seq = message["seq"]
            if not self.window.take(seq):
                return  # a duplicate
            self.events[seq] = message
            if self.window.above:  # a hole below what we hold: fill it from the lowest missing seq
                self._resume()

    def _resumed(self, message: dict[str, Any]) -> None:
        with self.lock:
            self.window.settle(int(message["seq"]))

    def _resync(self, message: dict[str, Any]) -> None:
        with self.lock:
            self.resyncs += 1
            self._resume()

    def _resume(self) -> None:
        self.resumes += 1
        after = self.window.floor
        threading.Thread(target=self.client.emit, args=("resume", {"after_seq": after}),
                         kwargs={"namespace": NS}, daemon=True).start()

    def seqs(self) -> list[int]:
        with self.lock:
            return sorted(self.events)


def _expected(app) -> list[int]:
    with app.app_context():
        seqs = list(db.session.scalars(select(ConsoleEvent.seq)
                                       .where(ConsoleEvent.seq.is_not(None))
                                       .order_by(ConsoleEvent.seq)))
        db.session.remove()
    return seqs


@pytest.mark.timeout(300)  # two Redis restarts; under a loaded CI the reconnects take longer
def test_every_console_gets_every_event_once_in_order_across_a_redis_restart(
        app, db_url: str, private_redis: PrivateRedis, tmp_path) -> None:  # noqa: F811
    webs = [WebProcess(f"web{i}", db_url, private_redis.url, tmp_path) for i in (1, 2)]
    consoles: list[Console] = []
    try:
        consoles = [Console(w.url, w.token("dispatcher1")) for w in webs]
        operators = [{"Authorization": "Bearer " + w.token("operator1")} for w in webs]
        created: list[str] = []
        refused: list[int] = []
        figures: list[str] = []

        def create(stop: threading.Event) -> None:
            i = len(created) + len(refused)
            while not stop.is_set():
                web, headers = webs[i % 2], operators[i % 2]
                try:
                    r = requests.post(web.url + "/api/v1/tickets", headers=headers, timeout=10,
                                      json={"channel": "phone", "text": f"路灯不亮了 第{i}盏"})
                    if r.status_code == 201:
                        created.append(r.json()["number"])
                    else:
                        refused.append(r.status_code)
                except requests.RequestException:
                    refused.append(0)
                i += 1
                time.sleep(0.05)

        def restart(keep_after: float) -> None:
            """Create tickets through both processes while Redis is stopped and started again
            on its port, and `keep_after` seconds after; then stop creating and wait until
            every console holds every event."""
            resyncs = [c.resyncs for c in consoles]
            stop = threading.Event()
            creator = threading.Thread(target=create, args=(stop,), daemon=True)
            creator.start()
            start = len(created)
            wait_for(lambda: len(created) >= start + 4, 20, "tickets before the restart")
            private_redis.stop()
            before_down = len(created)
            time.sleep(3)
            if keep_after == 0:
                stop.set()
                creator.join(15)
            down = len(created) - before_down
            private_redis.start()  # the same port
            time.sleep(keep_after)
            stop.set()
            creator.join(15)
            assert down > 0, f"no ticket created while Redis was down (refused: {refused})"
            expected = _expected(app)
            assert expected == list(range(1, len(expected) + 1))
            for console in consoles:
                wait_for(lambda c=console: c.seqs() == expected, 90,
                         "every event on every console")
            # Each process tells its consoles to resume once its subscriber is back (maybe
            # after they caught up by the holes that later events showed).
            for console, before in zip(consoles, resyncs, strict=True):
                wait_for(lambda c=console, b=before: c.resyncs > b, 90, "a resync")
            figures.append(f"keep_after={keep_after}s: events {len(expected)}, "
                           f"tickets created while Redis was down {down}, "
                           f"after it {len(created) - before_down - down}")

        # Tickets keep coming in the first seconds after Redis is back, while the subscribers
        # are still backing off: their holes show, and the resync closes the tail.
        restart(keep_after=1.5)
        # Tickets only while Redis is down, none after: no later event shows a hole, so only
        # the server's resync brings each console what the other process raised meanwhile.
        restart(keep_after=0)

        expected = _expected(app)
        with app.app_context():
            numbers = set(db.session.scalars(select(Ticket.number)))
        assert set(created) <= numbers
        time.sleep(1)  # anything late (a duplicate) would show now
        for console in consoles:
            with console.lock:
                assert console.seqs() == expected  # every event exactly once, in seq order
                assert console.window.floor == expected[-1] and not console.window.above
                numbers_seen = {console.events[s]["ticket"]["number"] for s in expected}
                assert numbers_seen >= set(created)
        print(f"{'; '.join(figures)}; refused {len(refused)}; per console: messages received, "
              f"resyncs, resumes {[(c.received, c.resyncs, c.resumes) for c in consoles]}")
    finally:
        for console in consoles:
            threading.Thread(target=console.client.disconnect, daemon=True).start()
        for web in webs:
            web.stop()
