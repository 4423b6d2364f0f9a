"""Benchmark: the HTTP intake (issue 19) against what its own stack allows, side by side.

`POST /api/v1/tickets` with a demand text, a phone and a point in the demo county (type and
category left to the classifier), as operator1 with a Bearer token, driven by wrk (Debian's
package: `apt-get install -y wrk`; the benchmark skips, saying so, when it is missing) and the
Lua script tests/bench/intake.lua. wrk is written in C and takes a small part of one core; it
runs on this machine, beside the servers. Figures for 1 and 8 connections: requests/s, p50 and
p99 latency, the server's CPU time a request (its process group's user + system time over
the run: less inflated than latencies by what else runs on the machine), and every status
seen (all must be 201; the tickets or rows stored are counted
after each run: the requests answered, plus at most one in flight per connection when wrk
stopped).

1. PostgreSQL (a scratch database with the demo county and the classifier rules):
   `hotline serve` (gunicorn, one process, gthread, 100 threads, embedded mode) against the bare
   endpoint (tests/bench/bare_intake.py: Flask + SQLAlchemy Core parsing the same JSON and
   inserting one row with a commit, served with `hotline serve`'s gunicorn settings) on the
   same database, both running through the test, measured one after the other:
   full 1, bare 1, full 8, bare 8 connections. Goals: full ≥ 0.4 × bare at 8 connections,
   p99 ≤ 100 ms; one connection p50 ≤ 8 ms.
2. SQLite (a file holding the same county): the embedded mode against the bare endpoint on the
   same file. Goal: ≥ 0.3 × at 8 connections.
3. The distributed mode (PostgreSQL as in 1, a redis-server of its own, `HOTLINE_REDIS_URL`; no
   Celery worker runs, the kicks wait in Redis): one `hotline serve` pinned to CPU 0
   (`taskset -c 0`), then two, pinned to CPU 0 and CPU 1. The load is the same shape in both:
   two wrk processes of 4 connections each, both at the one process, then one at each.
   PostgreSQL and wrk are not pinned (on 2 cores nothing is left to give them alone): they
   share both cores in both measurements. Goal: two ≥ 1.6 × one.

Each measured run follows a warm-up of `WARMUP` seconds on the same server (caches, the
classifier's model). Nothing is asserted about speed (it depends on what else runs here: the
load average is printed with the figures); every request must have been answered 201 and
stored once (a 409 answer is SQLite's "database is locked" after its 5 s busy timeout: a
write waited that long for the one writer). The figures are saved before that is asserted.
Results go to tests/bench/results/http_intake.json.

Run: `HOTLINE_BENCH_HTTP_INTAKE=1 .venv/bin/pytest -p no:xdist -s
tests/bench/test_bench_http_intake.py` (about 6 minutes; HOTLINE_BENCH_HTTP_INTAKE_SECONDS per
run, default 15).
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session

from dispatch.core.accounts import issue_token
from dispatch.core.db import Base
from dispatch.core.models import User
from tests.bench.conftest import county_database, county_points, load_county
from tests.bench.faults_cluster import Process, hotline_command, wait_until
from tests.bench.serving import (
    INTAKE_LUA,
    WRK,
    WRK_MISSING,
    WrkRun,
    answers,
    free_port,
    group_cpu_seconds,
    serve_env,
    wrk,
    wrk_result,
    wrk_start,
)
from tests.workers.test_faults import PrivateRedis

pytestmark = [
    pytest.mark.skipif(os.environ.get("HOTLINE_BENCH_HTTP_INTAKE") != "1",
                       reason="set HOTLINE_BENCH_HTTP_INTAKE=1 (about 6 minutes)"),
    pytest.mark.skipif(WRK is None, reason=WRK_MISSING),
]

DB_NAME = "bench_http_intake"
RESULTS = Path(__file__).parent / "results"
SECONDS = float(os.environ.get("HOTLINE_BENCH_HTTP_INTAKE_SECONDS", "15"))
WARMUP = 3.0
SETTLE = 2.0  # the stored rows counted again after this, until still
THREADS = 100  # `hotline serve`'s default, for both servers


def _prepare(session: Session) -> tuple[str, list[tuple[float, float]]]:
    """An operator's token and points in the county."""
    operator = session.scalars(select(User).where(User.username == "operator1")).one()
    token, _ = issue_token(session, operator, datetime.now(UTC), timedelta(days=2))
    session.commit()
    return token, county_points(session, 500, seed=19)


def _points_file(points: list[tuple[float, float]], folder: Path) -> Path:
    path = folder / "points.txt"
    path.write_text("".join(f"{lon:.6f} {lat:.6f}\n" for lon, lat in points))
    return path


@pytest.fixture(scope="module")
def county() -> Iterator[tuple[str, Engine, str, list[tuple[float, float]]]]:
    with county_database(DB_NAME, datetime.now(UTC) - timedelta(days=1), rules=True,
                         then=_prepare) as (url, _, engine, (token, points)):
        yield url.render_as_string(hide_password=False), engine, token, points


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def _bare_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        if not engine.dialect.has_table(conn, "bench_bare_intake"):
            return 0
    return _count(engine, "bench_bare_intake")


class Served:
    """A server of the benchmark: its process, port, and how its stored rows are counted."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path,
                 port: int, rows: Any) -> None:
        self.name, self.port, self.rows = name, port, rows
        self.primed = False
        self.process = Process(name, args, env, logs)
        wait_until(lambda: answers(port), 120, f"{name} to answer /healthz")

    def stop(self) -> None:
        self.process.stop()


def _hotline(name: str, env: dict[str, str], logs: Path, engine: Engine,
             cpu: str | None = None) -> Served:
    port = free_port()
    args = hotline_command("serve", "--host", "127.0.0.1", "--port", str(port),
                           "--threads", str(THREADS))
    if cpu is not None:
        args = ["taskset", "-c", cpu, *args]
    return Served(name, args, env, logs, port, lambda: _count(engine, "tickets"))


def _bare(name: str, url: str, env: dict[str, str], logs: Path, engine: Engine) -> Served:
    port = free_port()
    args = [sys.executable, "-m", "tests.bench.bare_intake", url, str(port), str(THREADS)]
    return Served(name, args, env, logs, port, lambda: _bare_rows(engine))


def _measure(server: Served, connections: int, points: Path, token: str,
             tag: str) -> dict[str, Any]:
    """A warm-up, then one measured run; every answer 201 and every request stored."""
    _prime(server, points, token)
    wrk(server.port, 8, WARMUP, INTAKE_LUA, str(points), token, f"{tag}w")
    before = _settled(server)
    cpu = group_cpu_seconds(server.process.popen.pid)
    run = wrk(server.port, connections, SECONDS, INTAKE_LUA, str(points), token, tag)
    stored = _settled(server) - before
    cpu = group_cpu_seconds(server.process.popen.pid) - cpu
    return _checked(server.name, [run], stored, connections) | {
        "load": _load(), "server_cpu_ms_per_request": round(cpu * 1000 / max(stored, 1), 2)}


def _prime(server: Served, points: Path, token: str) -> None:
    """One intake answered before any load: the first request of a process loads what it
    keeps (the classifier's model, the grid's index), which takes seconds."""
    if server.primed:
        return
    lon, lat = points.read_text().split("\n", 1)[0].split()
    body = json.dumps({"channel": "phone", "text": "小区门口占道经营，堵住出口（预热）",
                       "citizen": {"name": "张三", "phone": "13900000000"},
                       "lon": float(lon), "lat": float(lat)}, ensure_ascii=False)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=180)
    conn.request("POST", "/api/v1/tickets", body.encode(),
                 {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    assert response.status == 201, (server.name, response.status, response.read()[:300])
    conn.close()
    server.primed = True


def _settled(server: Served) -> int:
    """The server's stored rows once the requests wrk left in flight are done (the count
    still over two `SETTLE` periods; on SQLite one may wait for the lock up to 5 s)."""
    count, still = server.rows(), 0
    for _ in range(60):
        time.sleep(SETTLE)
        again = server.rows()
        still = still + 1 if again == count else 0
        if still == 2:
            return count
        count = again
    raise AssertionError(f"{server.name}: rows still being written")


def _checked(name: str, runs: list[WrkRun], stored: int, connections: int) -> dict[str, Any]:
    requests = sum(r.requests for r in runs)
    statuses: dict[str, int] = {}
    for r in runs:
        for status, n in r.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
    # Every answer 201; the answered ones stored, at most one more a connection (in flight
    # when wrk stopped). Kept with the figures and asserted once they are saved.
    problems = []
    if statuses != {"201": requests}:
        problems.append(f"{name}: statuses {statuses}")
    if sum(r.socket_errors for r in runs):
        problems.append(f"{name}: {sum(r.socket_errors for r in runs)} socket errors")
    if not requests <= stored <= requests + connections:
        problems.append(f"{name}: {requests} answered 201, {stored} stored")
    if len(runs) == 1:
        return runs[0].as_dict() | {"stored": stored, "problems": problems}
    return {"connections": connections, "requests": requests,
            "per_second": round(sum(r.per_second for r in runs), 1),
            "p50_ms": round(max(r.p50_ms for r in runs), 2),
            "p99_ms": round(max(r.p99_ms for r in runs), 2),
            "runs": [r.as_dict() for r in runs], "stored": stored, "problems": problems}


def _problems(result: Any) -> list[str]:
    """Every run's problems in a result."""
    if isinstance(result, dict):
        return [*result.get("problems", ()), *(p for k, v in result.items() if k != "problems"
                                               for p in _problems(v))]
    return []


def _side_by_side(full: Served, bare: Served, points: Path, token: str,
                  tag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for connections in (1, 8):
        f = _measure(full, connections, points, token, f"{tag}f{connections}")
        b = _measure(bare, connections, points, token, f"{tag}b{connections}")
        out[f"{connections}_connection{'s' if connections > 1 else ''}"] = {
            "full": f, "bare": b, "ratio": round(f["per_second"] / b["per_second"], 3)}
        print(f"  {connections} conn: full {f['per_second']:.1f}/s p50 {f['p50_ms']:.1f} ms "
              f"p99 {f['p99_ms']:.1f} ms | bare {b['per_second']:.1f}/s p50 "
              f"{b['p50_ms']:.1f} ms p99 {b['p99_ms']:.1f} ms | ratio "
              f"{f['per_second'] / b['per_second']:.3f}; server CPU a request: full "
              f"{f['server_cpu_ms_per_request']} ms, bare {b['server_cpu_ms_per_request']} ms "
              f"(load {f['load']} / {b['load']})",
              flush=True)
    return out


def _save(key: str, result: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "http_intake.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    saved[key] = result | {"run_at": datetime.now(UTC).isoformat(timespec="seconds"),
                           "wrk": "wrk 4.1 (Debian), tests/bench/intake.lua, on this machine",
                           "cpus": os.cpu_count()}
    path.write_text(json.dumps(saved, ensure_ascii=False, indent=2))
    print(f"\n{key}:", json.dumps(saved[key], ensure_ascii=False, indent=2), flush=True)


@pytest.mark.timeout(1200)
def test_postgresql_full_pipeline_against_the_bare_endpoint(county, tmp_path):
    url, engine, token, points = county
    env = serve_env(url, tmp_path)
    points_file = _points_file(points, tmp_path)
    print(f"\nPostgreSQL, embedded mode, load {_load()}", flush=True)
    full = _hotline("hotline-serve", env, tmp_path, engine)
    try:
        bare = _bare("bare", url, env, tmp_path, engine)
        try:
            result = _side_by_side(full, bare, points_file, token, "pg")
        finally:
            bare.stop()
    finally:
        full.stop()
    eight = result["8_connections"]
    result["goals"] = {
        "ratio_8_ge_0.4": eight["ratio"] >= 0.4,
        "p99_8_le_100ms": eight["full"]["p99_ms"] <= 100,
        "p50_1_le_8ms": result["1_connection"]["full"]["p50_ms"] <= 8,
    }
    result["server"] = (f"hotline serve: gunicorn gthread, 1 process, {THREADS} threads, "
                        "embedded mode; bare: tests/bench/bare_intake.py, the same settings")
    _save("postgresql", result)
    assert not _problems(result), _problems(result)


@pytest.mark.timeout(1200)
def test_sqlite_embedded_mode_against_a_bare_sqlite_endpoint(county, tmp_path):
    _, _, _, points = county
    path = tmp_path / "county.db"
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        load_county(s, datetime.now(UTC) - timedelta(days=1), rules=True)
        token, _ = _prepare(s)
    env = serve_env(url, tmp_path)
    points_file = _points_file(points, tmp_path)
    print(f"\nSQLite, embedded mode, load {_load()}", flush=True)
    try:
        full = _hotline("hotline-serve-sqlite", env, tmp_path, engine)
        try:
            bare = _bare("bare-sqlite", url, env, tmp_path, engine)
            try:
                result = _side_by_side(full, bare, points_file, token, "sq")
            finally:
                bare.stop()
        finally:
            full.stop()
    finally:
        engine.dispose()
    result["goals"] = {"ratio_8_ge_0.3": result["8_connections"]["ratio"] >= 0.3}
    _save("sqlite", result)
    assert not _problems(result), _problems(result)


@pytest.mark.timeout(1200)
def test_distributed_mode_two_web_processes_against_one(county, tmp_path):
    url, engine, token, points = county
    redis = PrivateRedis()
    redis.start()
    env = serve_env(url, tmp_path, REDIS_URL=redis.url)
    points_file = _points_file(points, tmp_path)
    print(f"\ndistributed mode, load {_load()}", flush=True)
    webs: list[Served] = []
    try:
        webs.append(_hotline("web1", env, tmp_path, engine, cpu="0"))

        def run(targets: list[Served], tag: str) -> dict[str, Any]:
            for w in targets:  # warm each process
                _prime(w, points_file, token)
                wrk(w.port, 4, WARMUP, INTAKE_LUA, str(points_file), token, f"{tag}w{w.name}")
            before = _settled(webs[0])
            cpu = sum(group_cpu_seconds(w.process.popen.pid) for w in targets)
            ports = [targets[0].port, targets[-1].port]  # 2 × 4 connections
            started = [wrk_start(p, 4, SECONDS, INTAKE_LUA, str(points_file), token,
                                 f"{tag}{i}") for i, p in enumerate(ports)]
            runs = [wrk_result(p, 4, SECONDS) for p in started]
            stored = _settled(webs[0]) - before
            cpu = sum(group_cpu_seconds(w.process.popen.pid) for w in targets) - cpu
            return _checked(tag, runs, stored, 8) | {
                "load": _load(),
                "server_cpu_ms_per_request": round(cpu * 1000 / max(stored, 1), 2)}

        one = run(webs[:1], "d1")
        print(f"  one process: {one['per_second']:.1f}/s (load {one['load']})", flush=True)
        webs.append(_hotline("web2", env, tmp_path, engine, cpu="1"))
        two = run(webs, "d2")
        print(f"  two processes: {two['per_second']:.1f}/s (load {two['load']})", flush=True)
    finally:
        for w in webs:
            w.stop()
        redis.stop()
    ratio = round(two["per_second"] / one["per_second"], 3)
    _save("distributed", {
        "one_process": one, "two_processes": two, "ratio": ratio,
        "goals": {"ratio_ge_1.6": ratio >= 1.6},
        "pinning": "web1 taskset -c 0, web2 taskset -c 1; PostgreSQL and wrk unpinned; "
                   "load: 2 wrk × 4 connections in both (both at web1, then one at each)"})
    assert not _problems(one) + _problems(two), _problems(one) + _problems(two)
