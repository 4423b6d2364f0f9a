"""Commit-to-console latency with 500 connected consoles.

`hotline serve` (gunicorn, threads, WebSockets) runs in its own process on a scratch
PostgreSQL, embedded mode and then distributed mode (Redis message queue, which `hotline serve`
uses when HOTLINE_REDIS_URL is set). 500 python-socketio clients connect to `/console` as
dispatchers (all in the same room, the worst fan-out), spread over 4 client processes so that
one Python process decoding 500 sockets is not what gets measured. An operator then logs
tickets one after another (0.2 s apart); for every ticket and every console we take the wall
time from just before the intake request was sent to the moment that console received the
`ticket` event. The intake request's
own duration is reported beside it: the event leaves the server after the commit, before the
HTTP answer (by the relay thread of the web process), so a console may hear of a ticket before
the operator's screen does.

Run: `make bench` (or `.venv/bin/python -m pytest tests/bench/test_bench_console.py -s`).
Knobs: HOTLINE_BENCH_CONSOLES (500), HOTLINE_BENCH_TICKETS (100).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
from sqlalchemy.orm import Session

from tests.bench.conftest import quantile, scratch_database
from tests.conftest import FAST_HASHER

ROOT = Path(__file__).resolve().parents[2]
CONSOLES = int(os.environ.get("HOTLINE_BENCH_CONSOLES", "500"))
TICKETS = int(os.environ.get("HOTLINE_BENCH_TICKETS", "100"))
PROCESSES = int(os.environ.get("HOTLINE_BENCH_CLIENT_PROCESSES", "4"))
PAUSE = 0.2  # between intakes: the latency of one event, not of a queue
SERVE = "import sys; from web.cli.main import main; sys.exit(main())"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(db_url: str, redis_url: str | None, tmp: Path) -> tuple[subprocess.Popen, str, object]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update({"HOTLINE_DATABASE_URL": db_url, "HOTLINE_INSTANCE_PATH": str(tmp),
                "HOTLINE_SECRET_KEY": "bench"})
    if redis_url:
        env["HOTLINE_REDIS_URL"] = redis_url
    log = open(tmp / f"serve-{port}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-c", SERVE, "serve", "--port", str(port),
                             "--threads", str(CONSOLES + 50)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if requests.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url, log
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    proc.kill()
    log.close()
    raise AssertionError("hotline serve did not start")


def _listen(url: str, token: str, n: int, ready: Any, stop: Any, out: Any) -> None:
    """One client process: `n` consoles; (number, wall time) of every `ticket` event heard."""
    arrivals: list[tuple[str, float]] = []
    lock = threading.Lock()

    def on_ticket(message: dict) -> None:
        at = time.time()
        with lock:
            arrivals.append((message["ticket"]["number"], at))

    clients = []
    for _ in range(n):
        c = socketio.Client(reconnection=False)
        c.on("ticket", on_ticket, namespace="/console")
        c.connect(url, namespaces=["/console"], auth={"token": token},
                  transports=["websocket"], wait_timeout=30)
        clients.append(c)
    ready.put(n)
    stop.wait()
    with lock:
        out.put(list(arrivals))
    for c in clients:
        threading.Thread(target=c.disconnect, daemon=True).start()


def _run(url: str) -> dict[str, float]:
    import multiprocessing as mp

    token = requests.post(url + "/api/v1/auth/token", timeout=10,
                          json={"username": "dispatcher1", "password": "demo12345"}).json()
    operator = requests.post(url + "/api/v1/auth/token", timeout=10,
                             json={"username": "operator1", "password": "demo12345"}).json()
    ctx = mp.get_context("spawn")
    ready, out, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    shares = [CONSOLES // PROCESSES + (1 if i < CONSOLES % PROCESSES else 0)
              for i in range(PROCESSES)]
    connect_start = time.perf_counter()
    procs = [ctx.Process(target=_listen, args=(url, token["token"], n, ready, stop, out))
             for n in shares if n]
    for p in procs:
        p.start()
    connected = sum(ready.get(timeout=300) for _ in procs)
    connect_seconds = time.perf_counter() - connect_start
    assert connected == CONSOLES

    session = requests.Session()
    headers = {"Authorization": f"Bearer {operator['token']}"}
    sent_at, request_times = {}, []
    for i in range(TICKETS):
        sent = time.time()
        r = session.post(url + "/api/v1/tickets", headers=headers, timeout=30,
                         json={"channel": "phone", "text": f"第{i}个测试诉求：路灯不亮"})
        request_times.append((time.time() - sent) * 1000)
        assert r.status_code == 201, r.text
        sent_at[r.json()["number"]] = sent
        time.sleep(PAUSE)
    time.sleep(3)  # the last events on their way
    stop.set()
    arrivals = [a for _ in procs for a in out.get(timeout=120)]
    for p in procs:
        p.join(30)
    latencies = [(at - sent_at[n]) * 1000 for n, at in arrivals if n in sent_at]
    return {
        "consoles": CONSOLES, "tickets": TICKETS, "deliveries": len(latencies),
        "missing": CONSOLES * TICKETS - len(latencies), "connect_s": connect_seconds,
        "p50_ms": statistics.median(latencies), "p99_ms": quantile(latencies, 0.99),
        "max_ms": max(latencies), "request_p50_ms": statistics.median(request_times),
    }


@pytest.mark.parametrize("mode", ["embedded", "redis"])
def test_commit_to_console_latency_with_500_consoles(mode: str, tmp_path: Path) -> None:
    redis_url = os.environ.get("HOTLINE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13") \
        if mode == "redis" else None
    with scratch_database(f"bench_console_{mode}") as (url, _):
        from sqlalchemy import create_engine

        from grid.demo.reference import load_demo

        engine = create_engine(url)
        with Session(engine) as s:
            load_demo(s, FAST_HASHER)
            s.commit()
        engine.dispose()
        proc, base, log = _serve(url.render_as_string(hide_password=False), redis_url, tmp_path)
        try:
            result = _run(base)
        finally:
            proc.terminate()
            proc.wait(20)
            log.close()
    print(f"\nconsole latency ({mode}): {result['consoles']} consoles × {result['tickets']} "
          f"tickets = {result['deliveries']} deliveries, {result['missing']} missing; "
          f"intake sent → event at a console p50 {result['p50_ms']:.1f} ms, "
          f"p99 {result['p99_ms']:.1f} ms, max {result['max_ms']:.1f} ms; the intake request "
          f"itself p50 {result['request_p50_ms']:.1f} ms; connecting took "
          f"{result['connect_s']:.1f} s")
    assert result["missing"] == 0
