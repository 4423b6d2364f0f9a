"""Benchmark: a mixed load on the distributed mode through faults (issue 16, "Figures").

Opt-in (it takes minutes): `HOTLINE_BENCH_FAULTS=1`. Everything runs on private servers of its
own, never the shared PostgreSQL on 5432 or the Redis on 6379: a PostgreSQL cluster made with
initdb in a temporary folder (port 55432, or a free one), a redis-server on 56380 (or a free
one). `hotline db upgrade` and `hotline demo load` prepare the database; then the distributed
mode as the README runs it: two `hotline serve` processes, `hotline worker` (Celery worker and
beat).

For HOTLINE_BENCH_FAULTS_SECONDS (240) eight client threads send demands, alternating over the
two web processes (tests/bench/faults_load.py says how each channel retries): 3 API intakes
with an Idempotency-Key, 2 WeChat senders (safe mode, the same MsgId on retries), 2 from the
110 desk (the same incident number), 1 Open311 app. Each demand carries a unique marker in its
text. Two dispatcher consoles (one on each web process) stay connected as the page does.

The faults, spaced out and time-stamped: the Celery worker SIGKILLed (started again 10 s
later), Redis stopped for 15 s, PostgreSQL stopped (`pg_ctl stop -m fast`) for 15 s, one web
process SIGKILLed (started again 10 s later). Afterwards the workers drain (bounded), the
private database is read: per channel sent, acknowledged, stored, lost (acknowledged, not
stored) and duplicated (stored more than once); per fault the errors the clients saw and for
how long; per console the events received against those the database numbered.

Asserted: no demand lost or stored twice on any channel, and every console ends with every
event once. Run:

    HOTLINE_BENCH_FAULTS=1 .venv/bin/python -m pytest tests/bench/test_bench_faults.py \
        -p no:cacheprovider -q -s -o addopts="--import-mode=importlib" --timeout=0

Figures go to tests/bench/results/faults.json too, the processes' logs to
tests/bench/results/faults-logs/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from tests.bench.faults_cluster import (
    Cluster,
    PrivatePostgres,
    pick_port,
    run_hotline,
    wait_until,
)
from tests.bench.faults_load import (
    ApiClient,
    Client,
    Console,
    Fault,
    Open311Client,
    PoliceClient,
    Recorder,
    WeChatClient,
    new_run_id,
    tally,
)
from tests.workers.test_faults import PrivateRedis  # the suite's, on a port of its own

pytestmark = pytest.mark.skipif(os.environ.get("HOTLINE_BENCH_FAULTS") != "1",
                                reason="takes minutes: set HOTLINE_BENCH_FAULTS=1")

SECONDS = float(os.environ.get("HOTLINE_BENCH_FAULTS_SECONDS", "240"))
PG_PORT = int(os.environ.get("HOTLINE_BENCH_FAULTS_PG_PORT", "55432"))
REDIS_PORT = int(os.environ.get("HOTLINE_BENCH_FAULTS_REDIS_PORT", "56380"))
WEB_PORTS = (55101, 55102)
RESULTS = Path(__file__).parent / "results"
DB = "hotline"
WECHAT_TOKEN = "faults-token"
WECHAT_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
WECHAT_APP_ID = "wxfaults000000001"
DESK_KEY, DESK_SECRET = "desk-faults", "faults-desk-secret"
OPEN311_KEY = "faults-open311-key"
CLIENTS = {"api": 3, "wechat": 2, "police110": 2, "open311": 1}
CHANNELS = tuple(CLIENTS)
# Each fault: (name, when as a share of the load's duration, seconds out).
SCHEDULE = (("worker SIGKILL", 0.10, 10), ("Redis down", 0.28, 15),
            ("PostgreSQL down", 0.48, 15), ("web2 SIGKILL", 0.70, 10))
DRAIN_SECONDS = 180
CONSOLE_SECONDS = 120


def _query(conninfo: str, sql: str, *params: Any) -> list[tuple]:
    with psycopg.connect(conninfo) as conn:
        return conn.execute(sql, params).fetchall()


def _scalar(conninfo: str, sql: str, *params: Any) -> Any:
    return _query(conninfo, sql, *params)[0][0]


def _points(url: str, n: int) -> list[tuple[float, float]]:
    """`n` points inside the demo county (reproducible), for the demands' places."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from tests.bench.conftest import county_points

    engine = create_engine(url)
    try:
        with Session(engine) as s:
            return county_points(s, n, 16)
    finally:
        engine.dispose()


def _token(url: str, user: str) -> str:
    r = requests.post(url + "/api/v1/auth/token", timeout=10,
                      json={"username": user, "password": "demo12345"})
    assert r.status_code == 200, r.text
    return r.json()["token"]


def _stored(conninfo: str, run_id: str) -> tuple[Counter[str], Counter[str], set[str]]:
    """Tickets per marker of this run, contacts (of those tickets) per marker, and the
    tickets' numbers."""
    marker = re.compile(rf"FX{run_id}-[a-z0-9]+-\d{{5}}")
    tickets: Counter[str] = Counter()
    contacts: Counter[str] = Counter()
    numbers: set[str] = set()
    rows = _query(conninfo, "SELECT t.number, t.text, (SELECT count(*) FROM contacts c "
                            "WHERE c.ticket_id = t.id) FROM tickets t WHERE t.text LIKE %s",
                  f"%FX{run_id}-%")
    for number, text, n_contacts in rows:
        numbers.add(number)
        for found in set(marker.findall(text)):
            tickets[found] += 1
            contacts[found] += n_contacts
    return tickets, contacts, numbers


def _pending(conninfo: str) -> dict[str, int]:
    return {
        "unnumbered console events": _scalar(
            conninfo, "SELECT count(*) FROM console_events WHERE seq IS NULL"),
        "outbox owed": _scalar(
            conninfo, "SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND NOT dead "
                      "AND topic NOT LIKE 'police%%'"),
        "stat_pending": _scalar(conninfo, "SELECT count(*) FROM stat_pending"),
    }


def _fault_windows(faults: list[Fault], end: float) -> list[tuple[str, float, float]]:
    """(name, start, end) of the baseline before the first fault and of each fault up to the
    next one."""
    windows = [("no fault (before the first)", 0.0, faults[0].start if faults else end)]
    for i, fault in enumerate(faults):
        windows.append((fault.name, fault.start,
                        faults[i + 1].start if i + 1 < len(faults) else end))
    return windows


def test_bench_load_with_faults_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    run_id = new_run_id()
    logs = tmp_path
    pg = PrivatePostgres(pick_port(PG_PORT))
    redis_server = PrivateRedis(pick_port(REDIS_PORT))
    cluster: Cluster | None = None
    consoles: list[Console] = []
    clients: list[Client] = []
    stop = threading.Event()
    stop_supervisor = threading.Event()
    try:
        # ------------------------------------------------------------ the private servers
        pg.init()
        pg.start()
        pg.create_database(DB)
        redis_server.start()
        conninfo = pg.conninfo(DB)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        env.update({
            "HOTLINE_DATABASE_URL": pg.url(DB), "HOTLINE_REDIS_URL": redis_server.url,
            "HOTLINE_SECRET_KEY": f"faults-{run_id}",
            "HOTLINE_INSTANCE_PATH": str(logs / "instance"),
            "HOTLINE_WECHAT_TOKEN": WECHAT_TOKEN, "HOTLINE_WECHAT_AES_KEY": WECHAT_AES_KEY,
            "HOTLINE_WECHAT_APP_ID": WECHAT_APP_ID,
            "HOTLINE_POLICE110_KEYS": json.dumps({DESK_KEY: DESK_SECRET}),
            "HOTLINE_OPEN311_API_KEYS": OPEN311_KEY})
        t_setup = time.monotonic()
        run_hotline(env, "db", "upgrade")
        run_hotline(env, "demo", "load")
        setup_s = time.monotonic() - t_setup
        points = _points(pg.url(DB), 400)

        web_ports = [pick_port(p) for p in WEB_PORTS]
        cluster = Cluster(env, logs, web_ports)
        for i in range(len(web_ports)):
            cluster.start_web(i)
        cluster.start_worker()
        cluster.worker_ready()
        urls = [cluster.url(i) for i in range(len(web_ports))]
        operator = _token(urls[0], "operator1")
        dispatchers = [_token(u, "dispatcher1") for u in urls]
        services = requests.get(urls[0] + "/open311/v2/services.json", timeout=10).json()
        service_codes = [s["service_code"] for s in services
                         if s["service_code"].startswith(("urban", "transport", "environment"))]
        service_codes = service_codes[:6] or [s["service_code"] for s in services[:6]]
        start_seq = _scalar(conninfo, "SELECT coalesce(max(seq), 0) FROM console_events")

        # ------------------------------------------------------------ the load
        t0 = time.monotonic()
        rec = Recorder(t0)
        consoles = [Console(f"console{i + 1}", u, tok, start_seq, rec)
                    for i, (u, tok) in enumerate(zip(urls, dispatchers, strict=True))]
        for console in consoles:
            console.start()
        seed = 0
        for kind, n in CLIENTS.items():
            for k in range(n):
                seed += 1
                common = (k, urls, rec, stop, run_id, seed)
                if kind == "api":
                    clients.append(ApiClient(*common, token=operator, points=points))
                elif kind == "wechat":
                    clients.append(WeChatClient(*common, token=WECHAT_TOKEN,
                                                aes_key=WECHAT_AES_KEY, app_id=WECHAT_APP_ID))
                elif kind == "police110":
                    clients.append(PoliceClient(*common, key_id=DESK_KEY, secret=DESK_SECRET,
                                                points=points))
                else:
                    clients.append(Open311Client(*common, api_key=OPEN311_KEY,
                                                 services=service_codes, points=points))
        for client in clients:
            client.start()
        supervisor = cluster.supervise(t0, stop_supervisor)

        faults: list[Fault] = []

        def at(seconds: float) -> None:
            time.sleep(max(0.0, seconds - rec.now()))

        for name, share, out in SCHEDULE:
            at(SECONDS * share)
            fault = Fault(name, rec.now())
            faults.append(fault)
            if name.startswith("worker"):
                cluster.kill_worker()
                at(fault.start + out)
                fault.restored = rec.now()
                cluster.start_worker()
                cluster.worker_ready()
            elif name.startswith("Redis"):
                redis_server.stop()
                at(fault.start + out)
                fault.restored = rec.now()
                redis_server.start()
            elif name.startswith("PostgreSQL"):
                pg.stop("fast")
                at(fault.start + out)
                fault.restored = rec.now()
                pg.start()
            else:
                cluster.kill_web(1)
                at(fault.start + out)
                fault.restored = rec.now()
                cluster.start_web(1)
            fault.ready = rec.now()
        at(SECONDS)
        load_end = rec.now()
        stop.set()
        for client in clients:
            client.join(150)
        stuck = [c.name for c in clients if c.is_alive()]
        clients_done = rec.now()

        # ------------------------------------------------------------ drain
        drain_start = time.monotonic()
        pending = _pending(conninfo)
        try:
            wait_until(lambda: not any(_pending(conninfo).values()), DRAIN_SECONDS,
                       "the workers to drain", every=2)
        except RuntimeError:
            pass
        pending_after = _pending(conninfo)
        drain_s = time.monotonic() - drain_start
        expected = {s for (s,) in _query(conninfo, "SELECT seq FROM console_events "
                                                   "WHERE seq > %s", start_seq)}
        console_start = time.monotonic()
        missing_at_drain = [len(expected - c.seqs()) for c in consoles]
        try:
            wait_until(lambda: all(expected <= c.seqs() for c in consoles), CONSOLE_SECONDS,
                       "every console to hold every event", every=1)
        except RuntimeError:
            pass
        console_wait_s = time.monotonic() - console_start
        tickets, contacts, numbers_stored = _stored(conninfo, run_id)
        stop_supervisor.set()
        supervisor.join(10)
        worker_alive = cluster.worker is not None and cluster.worker.popen.poll() is None
        webs_alive = [w is not None and w.popen.poll() is None for w in cluster.webs]
    finally:
        stop.set()
        stop_supervisor.set()
        for console in consoles:
            console.close()
        for client in clients:
            client.join(5)
        if cluster is not None:
            cluster.stop_all()
        redis_server.stop()
        pg.destroy()
        kept = RESULTS / "faults-logs"  # the processes' logs of the last run, for a look later
        shutil.rmtree(kept, ignore_errors=True)
        kept.mkdir(parents=True)
        for log in logs.glob("*.log"):
            shutil.copy(log, kept / log.name)

    # ---------------------------------------------------------------- figures
    demands = rec.demands
    by_channel: dict[str, dict[str, Any]] = {}
    for channel in CHANNELS:
        mine = [d for d in demands if d.channel == channel]
        acked = {d.marker for d in mine if d.acked}
        sent = {d.marker for d in mine}
        stored = {m for m in tickets if m in sent}
        by_channel[channel] = {
            "sent": len(mine), "acknowledged": len(acked),
            "acknowledged on a retry": sum(1 for d in mine if d.acked and d.tries > 1),
            "stored": len(stored),
            "lost": len(acked - stored),
            "duplicated": sum(tickets[m] - 1 for m in stored if tickets[m] > 1),
            "not acknowledged": len(sent - acked),
            "stored, not acknowledged": len(stored - acked),
            "contacts": sum(contacts[m] for m in stored),
            "tries": sum(d.tries for d in mine),
            "gave up": dict(Counter(d.given_up.split(":")[0] for d in mine if d.given_up)),
            "lost markers": sorted(acked - stored)[:10],
            "duplicated markers": sorted(m for m in stored if tickets[m] > 1)[:10],
        }
    stray = [m for m in tickets if m not in {d.marker for d in demands}]
    # The tries of every demand lost or stored twice: when, where, what each answered.
    suspects = {m for f in by_channel.values()
                for m in f["lost markers"] + f["duplicated markers"]}
    suspect_tries = {m: [(round(t.at, 2), f"web{t.web + 1}", t.outcome, round(t.ms))
                         for t in rec.tries if t.marker == m] for m in sorted(suspects)}

    windows = []
    for name, start, end in _fault_windows(faults, clients_done):
        errors = [t for t in rec.tries if start <= t.at < end and t.outcome != "ok"]
        oks = [t for t in rec.tries if start <= t.at < end and t.outcome == "ok"]
        slow = [t for t in oks if t.ms > 5000]
        windows.append({
            "window": name, "from_s": round(start, 1), "to_s": round(end, 1),
            "tries": len(errors) + len(oks), "errors": len(errors),
            "by outcome": dict(Counter(t.outcome for t in errors)),
            "by channel": dict(Counter(t.channel for t in errors)),
            "first error after s": round(errors[0].at - start, 1) if errors else None,
            "last error after s": round(errors[-1].at - start, 1) if errors else None,
            "answers over 5 s": len(slow),
            "slowest answer ms": round(max((t.ms for t in oks), default=0)),
        })
    console_figures = []
    for c in consoles:
        with c.lock:
            held = set(c.events)
            numbers = {e["ticket"]["number"] for e in c.events.values()}
        console_figures.append({
            "console": c.name, "events expected": len(expected), "held": len(held & expected),
            "missing after the drain": missing_at_drain[consoles.index(c)],
            "missing at the end": len(expected - held), "messages received": c.received,
            "duplicates dropped": c.duplicates, "out of order": c.out_of_order,
            "resumes": c.resumes, "resyncs": c.resyncs, "resets": c.resets,
            "reconnects": len(c.reconnected),
            "tickets of the run stored": len(numbers_stored),
            "tickets of the run not seen": len(numbers_stored - numbers)})

    result = {
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"), "run_id": run_id,
        "seconds": SECONDS, "load_s": round(load_end, 1),
        "clients_done_s": round(clients_done, 1), "setup_s": round(setup_s, 1),
        "clients": CLIENTS, "faults": [vars(f) | {"start": round(f.start, 1),
                                                  "restored": round(f.restored or 0, 1),
                                                  "ready": round(f.ready or 0, 1)}
                                       for f in faults],
        "channels": by_channel, "windows": windows, "consoles": console_figures,
        "stored tickets of this run": sum(tickets.values()), "stray markers": stray,
        "drain": {"before": pending, "after": pending_after, "seconds": round(drain_s, 1)},
        "console wait s": round(console_wait_s, 1), "stuck clients": stuck,
        "worker alive at the end": worker_alive, "webs alive at the end": webs_alive,
        "worker exits no fault caused": [
            {"at_s": round(at, 1), "log": name, "exit code": code, "why": why}
            for at, name, code, why in cluster.worker_exits],
        "client crashes": rec.crashes[:3], "tries of lost or duplicated": suspect_tries,
        "5xx other than 503": rec.odd[:20],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "faults.json").write_text(json.dumps(result, ensure_ascii=False, indent=2),
                                         encoding="utf-8")
    _print(result)

    assert not rec.crashes, rec.crashes[0]
    assert not stuck, stuck
    assert not stray, stray[:5]
    for channel, f in by_channel.items():
        assert f["sent"] > 0, channel
        assert f["lost"] == 0, (channel, f["lost markers"])
        assert f["duplicated"] == 0, (channel, f["duplicated markers"])
    for c in console_figures:
        assert c["missing at the end"] == 0, c
        assert c["tickets of the run not seen"] == 0, c


def _print(r: dict[str, Any]) -> None:
    print(f"\nLoad with faults (run {r['run_id']}): {r['load_s']} s of load, clients done at "
          f"{r['clients_done_s']} s; 8 client threads {r['clients']}; setup (db upgrade + "
          f"demo load) {r['setup_s']} s")
    print("faults (seconds since the load started):")
    for f in r["faults"]:
        print(f"  {f['name']:<16} at {f['start']:>6.1f}  restarted {f['restored']:>6.1f}  "
              f"answering {f['ready']:>6.1f}")
    head = ("channel", "sent", "acked", "on retry", "stored", "lost", "dup", "unacked",
            "stored unacked", "contacts", "tries")
    print(f"{head[0]:<10}" + "".join(f"{h:>10}" for h in head[1:-4])
          + "".join(f"{h:>15}" for h in head[-4:]))
    total = Counter()
    for channel, f in r["channels"].items():
        row = (f["sent"], f["acknowledged"], f["acknowledged on a retry"], f["stored"],
               f["lost"], f["duplicated"])
        rest = (f["not acknowledged"], f["stored, not acknowledged"], f["contacts"], f["tries"])
        total.update(dict(zip(head[1:], row + rest, strict=True)))
        print(f"{channel:<10}" + "".join(f"{v:>10}" for v in row)
              + "".join(f"{v:>15}" for v in rest))
    print(f"{'total':<10}" + "".join(f"{total[h]:>10}" for h in head[1:-4])
          + "".join(f"{total[h]:>15}" for h in head[-4:]))
    for channel, f in r["channels"].items():
        if f["gave up"]:
            print(f"  {channel} not acknowledged: {f['gave up']}")
    print("errors the clients saw, per window (s after the window's start):")
    for w in r["windows"]:
        span = (f"first +{w['first error after s']} s, last +{w['last error after s']} s"
                if w["errors"] else "none")
        print(f"  {w['window']:<28} [{w['from_s']:>6}, {w['to_s']:>6}) tries {w['tries']:>5}, "
              f"errors {w['errors']:>4} ({span}); {tally_dict(w['by outcome'])}; by channel "
              f"{tally_dict(w['by channel'])}; answers > 5 s: {w['answers over 5 s']}, "
              f"slowest {w['slowest answer ms']} ms")
    for c in r["consoles"]:
        print(f"  {c['console']}: {c['held']}/{c['events expected']} events held, missing "
              f"after the drain {c['missing after the drain']}, at the end "
              f"{c['missing at the end']}; {c['messages received']} messages, "
              f"{c['duplicates dropped']} duplicates dropped, {c['out of order']} out of order, "
              f"{c['resumes']} resumes, {c['resyncs']} resyncs, {c['resets']} resets, "
              f"{c['reconnects']} reconnects; tickets of the run not seen "
              f"{c['tickets of the run not seen']} of {c['tickets of the run stored']}")
    for exit_ in r["worker exits no fault caused"]:
        print(f"  FINDING: the worker ({exit_['log']}) exited by itself at {exit_['at_s']} s "
              f"(code {exit_['exit code']}): {exit_['why']}; started again as a supervisor "
              "would")
    for at, channel, web, status, body in r["5xx other than 503"]:
        print(f"  FINDING: {channel} got {status} from web{web + 1} at {at} s: {body[:160]}")
    for marker, tries in r["tries of lost or duplicated"].items():
        print(f"  {marker}: tries (s, web, outcome, ms) {tries}")
    print(f"drain: before {r['drain']['before']}, after {r['drain']['after']} "
          f"({r['drain']['seconds']} s); consoles complete after {r['console wait s']} s more; "
          f"worker alive {r['worker alive at the end']}, webs alive {r['webs alive at the end']}")


def tally_dict(d: dict[str, int]) -> str:
    return tally([k for k, n in d.items() for _ in range(n)])
