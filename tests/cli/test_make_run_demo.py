"""What `make run` does on a newcomer's machine: the lived-in history ending now, made only on an
empty database; a busy port refused before "serving on"; Ctrl-C quick and quiet with a console
(a Socket.IO connection) open."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import socketio
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from dispatch.core.models import Ticket
from dispatch.stats.hotspots import find_hotspots
from dispatch.tickets.calendar import LOCAL_TZ
from tests.cli.test_simulate_command import copy_of, counts, environment, number, run
from tests.cli.test_simulate_command import templates as templates  # noqa: F401 (the fixture)

HOTLINE = str(Path(sys.executable).with_name("hotline"))
CLOSED = {"ARCHIVED", "VOID", "MERGED"}


def test_simulate_until_now_ends_at_this_minute_with_work_still_open(templates, tmp_path):  # noqa: F811
    env = copy_of(templates, "county", tmp_path)
    before = datetime.now(LOCAL_TZ).replace(second=0, microsecond=0)
    made = run(env, "simulate", "--preset", "recent", "--days", "3", "--until-now", "--if-empty")
    assert made.exit_code == 0, made.output
    out = made.output
    assert "simulated 'recent'" in out
    end = datetime.strptime(out.split(" to ", 1)[1][:16], "%Y-%m-%d %H:%M").replace(
        tzinfo=LOCAL_TZ)
    assert before <= end <= datetime.now(LOCAL_TZ)  # ends now, not at midnight
    assert "删除" in out and "instance/" in out  # how to reset
    tickets = number(out, "tickets")
    assert tickets == counts(env)["tickets"] > 0
    engine = create_engine(env["HOTLINE_DATABASE_URL"])
    with Session(engine) as s:
        states = set(s.scalars(select(Ticket.status)))
        # What the dispatcher and the 110 desk see first: a hotspot forming, a transfer to 110
        # waiting for the desk.
        forming = [h.category for h in find_hotspots(s, datetime.now(LOCAL_TZ))]
        waiting = s.scalar(select(func.count()).select_from(Ticket).where(
            Ticket.police_state == "pending", Ticket.channel != "police110"))
    engine.dispose()
    assert states - CLOSED, states  # work still in handling, its clocks running
    assert "urban.appearance" in forming, forming
    assert waiting >= 1

    again = run(env, "simulate", "--preset", "recent", "--until-now", "--if-empty")
    assert again.exit_code == 0, again.output
    assert "已有工单" in again.output and "simulated" not in again.output
    assert counts(env)["tickets"] == tickets  # the second start keeps what is there


def test_simulate_refuses_until_now_with_a_first_day_and_writes_nothing(templates, tmp_path):  # noqa: F811
    env = copy_of(templates, "county", tmp_path)
    before = counts(env)
    refused = run(env, "simulate", "--until-now", "--from", "2026-11-16")
    assert refused.exit_code == 2
    assert "--until-now" in refused.output and "--from" in refused.output
    assert counts(env) == before


def test_serve_on_a_busy_port_says_so_in_chinese_before_serving(templates, tmp_path):  # noqa: F811
    env = copy_of(templates, "empty", tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        refused = run(env, "serve", "--host", "127.0.0.1", "--port", str(port))
    assert refused.exit_code == 1
    assert f"端口 {port} 已被占用" in refused.output
    assert f"PORT={port + 1} make run" in refused.output
    assert "serving on" not in refused.output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(port: int, server: subprocess.Popen[str], within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            try:  # the pause between tries; an early exit ends the wait
                server.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f"hotline serve exited: {server.communicate()}")
    pytest.fail("hotline serve did not listen")


def test_ctrl_c_with_a_console_connected_stops_at_once_and_quietly(templates, tmp_path):  # noqa: F811
    env = {**os.environ, **environment(tmp_path, templates["empty"]),
           "HOTLINE_LOG_LEVEL": "WARNING"}
    env["HOTLINE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'serve.db'}"
    Path(tmp_path / "serve.db").write_bytes(templates["empty"].read_bytes())
    port = _free_port()
    server = subprocess.Popen(
        [HOTLINE, "serve", "--host", "127.0.0.1", "--port", str(port), "--threads", "4"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    client = socketio.Client(reconnection=False)
    try:
        _wait_for(port, server, 30)
        client.connect(f"http://127.0.0.1:{port}", transports=["websocket"], wait_timeout=5)
        assert client.connected
        server.send_signal(signal.SIGINT)
        started = time.monotonic()
        out, err = server.communicate(timeout=15)
        took = time.monotonic() - started
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
        client.disconnect()
    # ~2 s here (the arbiter's own exit); without closing the sockets, 10 s and a SIGKILL.
    assert took < 6, f"Ctrl-C took {took:.1f} s"
    assert "SIGKILL" not in out + err and "Traceback" not in out + err, out + err
    assert f"serving on http://127.0.0.1:{port}" in out
