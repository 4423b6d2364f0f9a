"""The Socket.IO namespace /console over a real server: authentication on connect, rooms by
role and department, live events with their seq, and `resume` after a lost connection."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import socketio

from tests.browser.conftest import start_server

NS = "/console"


class Console:
    """A console client: what it received, in order."""

    def __init__(self, url: str, auth: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.url, self.auth, self.headers = url, auth, headers
        self.events: list[dict[str, Any]] = []
        self.resumed: list[dict[str, Any]] = []
        self.welcome: list[dict[str, Any]] = []
        self.changed = threading.Condition()
        self.client = socketio.Client(reconnection=False)
        self.client.on("ticket", self._on("events"), namespace=NS)
        self.client.on("resumed", self._on("resumed"), namespace=NS)
        self.client.on("welcome", self._on("welcome"), namespace=NS)

    def _on(self, name: str):
        def handler(message: dict[str, Any]) -> None:
            with self.changed:
                getattr(self, name).append(message)
                self.changed.notify_all()
        return handler

    def connect(self) -> Console:
        self.client.connect(self.url, namespaces=[NS], auth=self.auth, headers=self.headers,
                            transports=["websocket"], wait_timeout=5)
        self.wait(lambda: self.welcome)
        return self

    def wait(self, condition, timeout: float = 5.0) -> None:
        with self.changed:
            assert self.changed.wait_for(condition, timeout), (
                f"timed out; events: {[e['seq'] for e in self.events]}")

    def resume(self, after: int) -> dict[str, Any]:
        count = len(self.resumed)
        self.client.emit("resume", {"after_seq": after}, namespace=NS)
        self.wait(lambda: len(self.resumed) > count)
        return self.resumed[-1]

    def seqs(self) -> list[int]:
        return [e["seq"] for e in self.events]


@pytest.fixture
def server(app) -> Iterator[str]:
    http, url = start_server(app)
    yield url
    http.shutdown()


@pytest.fixture
def consoles(server, api) -> Iterator[Any]:
    opened: list[Console] = []

    def open_console(user: str | None = None, **kw: Any) -> Console:
        auth = {"token": api.headers(user)["Authorization"].split()[1]} if user else None
        c = Console(server, auth=auth, **kw)
        opened.append(c)
        return c

    yield open_console
    for c in opened:
        if c.client.connected:
            # The WebSocket close handshake of the test server lets the client wait up to its
            # 3 s close timeout; nothing here depends on it, so it runs in the background.
            threading.Thread(target=c.client.disconnect, daemon=True).start()


def test_a_console_without_credentials_or_with_a_bad_token_is_refused(app, server, consoles):
    """…and one of a user who must first change the temporary password an admin gave."""
    from sqlalchemy import update

    from dispatch.core.models import User
    from web.extensions import db

    must_change = consoles("supervisor1")  # its token taken before the admin's reset
    with app.app_context():
        db.session.execute(update(User).where(User.username == "supervisor1")
                           .values(must_change_password=True))
        db.session.commit()
    outcomes: list[BaseException | None] = []

    def attempt(console: Console) -> None:
        try:
            console.connect()
            outcomes.append(None)
        except socketio.exceptions.ConnectionError as exc:
            outcomes.append(exc)

    # Both at once: a refused client waits out its WebSocket close timeout (3 s).
    threads = [threading.Thread(target=attempt, args=(c,)) for c in
               (consoles(), Console(server, auth={"token": "not-a-token"}), must_change)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(outcomes) == 3 and all(outcomes), outcomes


def test_the_session_cookie_of_a_signed_in_page_authenticates_the_console(app, server):
    client = app.test_client()
    r = client.post("/api/v1/auth/login", json={"username": "dispatcher1",
                                                "password": "demo12345"})
    assert r.status_code == 200
    cookie = client.get_cookie("session").value
    console = Console(server, headers={"Cookie": f"session={cookie}"}).connect()
    assert console.welcome[0]["rooms"] == ["all"]
    threading.Thread(target=console.client.disconnect, daemon=True).start()


def test_a_new_ticket_reaches_a_dispatchers_console_with_the_next_seq(consoles, api):
    console = consoles("dispatcher1").connect()
    start = time.perf_counter()
    ticket = api.create()
    console.wait(lambda: console.events)
    elapsed = time.perf_counter() - start
    (event,) = console.events
    assert event["seq"] == 1 and event["type"] == "created" and event["action"] == "intake"
    assert event["ticket"]["number"] == ticket["number"]
    assert event["ticket"]["queues"] == ["to_dispatch"]
    assert elapsed < 5  # generous; the benchmark measures the real latency


def test_each_department_hears_only_its_tickets_and_a_dispatcher_hears_all(consoles, api):
    dispatcher = consoles("dispatcher1").connect()
    urban = consoles("handler1").connect()
    street = consoles("street1").connect()
    assert urban.welcome[0]["rooms"] == ["dept:urban_management"]
    ours = api.create()
    api.act("dispatcher1", ours["number"], "dispatch", lead="urban_management")
    theirs = api.create()
    api.act("dispatcher1", theirs["number"], "dispatch", lead="street_pudong")
    dispatcher.wait(lambda: len(dispatcher.events) == 4)
    urban.wait(lambda: urban.events)
    street.wait(lambda: street.events)
    time.sleep(0.2)  # anything misrouted would have arrived by now
    assert {e["ticket"]["number"] for e in urban.events} == {ours["number"]}
    assert {e["ticket"]["number"] for e in street.events} == {theirs["number"]}
    assert dispatcher.seqs() == [1, 2, 3, 4]


def test_the_110_desk_hears_only_the_transfers(consoles, api):
    desk = consoles("police1").connect()
    dispatcher = consoles("dispatcher1").connect()
    assert desk.welcome[0]["rooms"] == ["police"]
    plain = api.create()
    out = api.create(text="有人在小区门口打架")
    api.act("dispatcher1", out["number"], "transfer_110", version=out["version"],
            reason="涉警事项")
    dispatcher.wait(lambda: len(dispatcher.events) == 3)
    desk.wait(lambda: desk.events)
    time.sleep(0.2)  # anything misrouted would have arrived by now
    assert [(e["ticket"]["number"], e["action"]) for e in desk.events] == [
        (out["number"], "transfer_110")]
    assert plain["number"] not in {e["ticket"]["number"] for e in desk.events}


def test_a_console_that_lost_its_connection_resumes_with_exactly_what_it_missed(consoles, api):
    """Disconnect, five tickets change meanwhile, reconnect: all five changes, in order,
    and the board it rebuilds equals the board of a console that never disconnected."""
    steady = consoles("dispatcher1").connect()
    flaky = consoles("dispatcher1").connect()
    tickets = [api.create() for _ in range(5)]
    flaky.wait(lambda: len(flaky.events) == 5)
    last_seen = flaky.seqs()[-1]
    threading.Thread(target=flaky.client.disconnect, daemon=True).start()
    deadline = time.monotonic() + 5
    while flaky.client.connected and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not flaky.client.connected

    for t in tickets:  # five changes while it is away
        api.act("dispatcher1", t["number"], "dispatch", lead="urban_management")
    steady.wait(lambda: len(steady.events) == 10)

    flaky.client = socketio.Client(reconnection=False)
    for name in ("events", "resumed", "welcome"):
        flaky.client.on({"events": "ticket"}.get(name, name), flaky._on(name), namespace=NS)
    flaky.connect()
    done = flaky.resume(last_seen)
    assert done == {"seq": 10, "reset": False, "replayed": 5}
    missed = flaky.events[5:]
    assert [e["seq"] for e in missed] == [6, 7, 8, 9, 10]
    assert [(e["ticket"]["number"], e["ticket"]["status"]) for e in missed] == [
        (t["number"], "DISPATCHED") for t in tickets]

    def board(console: Console) -> dict[str, dict]:
        state: dict[str, dict] = {}
        for e in sorted(console.events, key=lambda e: e["seq"]):
            state[e["ticket"]["number"]] = e["ticket"]
        return state

    assert board(flaky) == board(steady)


def test_resume_with_a_bad_seq_answers_an_error_and_replays_nothing(consoles, api):
    console = consoles("dispatcher1").connect()
    errors: list[dict] = []
    console.errors = errors
    console.client.on("error", console._on("errors"), namespace=NS)
    api.create()
    console.wait(lambda: console.events)
    for bad in (-1, "3", None, True):
        console.client.emit("resume", {"after_seq": bad}, namespace=NS)
    console.wait(lambda: len(errors) == 4)
    assert {e["error"]["field"] for e in errors} == {"after_seq"}
    assert console.resumed == [] and len(console.events) == 1


def test_the_board_lists_open_tickets_with_each_tickets_last_seq(api):
    a, b = api.create(), api.create()
    api.act("dispatcher1", a["number"], "dispatch", lead="urban_management",
            grid_worker="worker1")
    api.act("dispatcher1", b["number"], "void", reason="测试电话")
    board = api.get("dispatcher1", "/api/v1/console/board").get_json()
    assert board["seq"] == 4
    (row,) = board["tickets"]
    assert (row["number"], row["status"], row["seq"]) == (a["number"], "DISPATCHED", 3)
    assert row["department_name"] and row["clock"] == "sign" and row["deadline"]
    # The grid worker by name for the page, the username kept for the tooltip.
    assert (row["grid_worker"], row["grid_worker_name"]) == ("worker1", "网格员一")
    # The feed's events are named the same way (the board is rebuilt from them on resume).
    (dispatch,) = [e for e in board["recent"] if e["action"] == "dispatch"]
    assert dispatch["ticket"]["grid_worker_name"] == "网格员一"
    assert api.get("street1", "/api/v1/console/board").get_json()["tickets"] == []


def test_a_page_of_another_site_cannot_open_a_console_with_the_users_cookie(app, server):
    """Cross-site WebSocket hijacking: the browser would send the cookie; the Origin check
    refuses the handshake."""
    client = app.test_client()
    assert client.post("/api/v1/auth/login", json={"username": "dispatcher1",
                                                   "password": "demo12345"}).status_code == 200
    cookie = client.get_cookie("session").value
    console = Console(server, headers={"Cookie": f"session={cookie}",
                                       "Origin": "http://evil.example"})
    with pytest.raises(socketio.exceptions.ConnectionError):
        console.connect()


def test_a_stopped_background_relay_ends_its_thread_and_starts_no_other(app):
    from web.console.relay import ConsoleRelay
    from web.extensions import db

    class Emitter:
        def emit(self, *args: Any, **kwargs: Any) -> None:
            pass

    relay = ConsoleRelay(Emitter(), app, background=True, interval=0.05)
    with app.app_context():
        relay.after_commit(db.session)  # starts the thread
        thread = relay._thread
        assert thread is not None and thread.is_alive()
        time.sleep(0.2)  # a few rounds on its timer
        relay.stop(timeout=5)
        assert not thread.is_alive()
        relay.after_commit(db.session)  # a commit after the stop wakes nothing new
        assert relay._thread is thread and not thread.is_alive()
