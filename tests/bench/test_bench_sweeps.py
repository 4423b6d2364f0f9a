"""Benchmark: the clock sweep over 1,000,000 open assignments in PostgreSQL, and the outbox.

A scratch database, `bench_sweeps`, gets the schema, the demo reference data (`load_demo`) and,
by `INSERT ... SELECT generate_series(...)` (no ORM), 1,000,000 open tickets each with one open
lead assignment: 30 % dispatched (sign-for clock running), 70 % signed (completion clock
running). Every 100th assignment warns at NOW + 30 min, the rest between NOW + 2 h and NOW + 14
days, so that

- at NOW nothing is due: the idle sweep (median of 5), the per-minute cost when nothing fires;
- at LATER = NOW + 1 h, 1 % (10,000) are due: the sweep that fires them (urges, outbox SMS,
  marks), steps/s, then a second sweep at once, which fires nothing.

Then the 10,000 SMS rows the sweep owed are delivered by
`dispatch.outbound.outbox.deliver_due` with a no-op sender: rows/s, the
worker's ceiling without the network. Then the baseline, in the same run: the warning marks of
the first HOTLINE_BENCH_BASELINE_STEPS (2,000) due assignments are cleared and their SMS rows
deleted, and the sweep as it was before it was made set-based (one `perform` per step; the
module `dispatch/tickets/sweeps.py` at BASELINE_COMMIT, read with `git show`) fires them again;
then the same for today's sweep, so both rates are over the same steps. Also reported: load time,
table and index sizes, and EXPLAIN (ANALYZE, BUFFERS) of the sweep's selection query (captured
from a real sweep) at NOW and at LATER; that it reads a partial clock index is asserted after
the results are written. Speed is reported, not asserted. Results:
`tests/bench/results/sweeps.json`. Run with `make bench` (HOTLINE_BENCH_ASSIGNMENTS sets the
size).
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, delete, event, func, select, text
from sqlalchemy.orm import Session

import grid.models  # noqa: F401
from dispatch.core.models import Event
from dispatch.outbound import outbox
from dispatch.tickets.clock_steps import Step
from dispatch.tickets.sweeps import SMS_TOPIC, sweep_clocks
from grid.demo.reference import load_demo
from tests.bench.conftest import scratch_database

DB_NAME = "bench_sweeps"
RESULTS = Path(__file__).parent / "results"
TOTAL = int(os.environ.get("HOTLINE_BENCH_ASSIGNMENTS", "1000000"))
DUE_EVERY = 100  # 1 % of the assignments come due between NOW and LATER
DUE = TOTAL // DUE_EVERY
IDLE_RUNS = 5
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Changyuan
LATER = NOW + timedelta(hours=1)
DEPARTMENTS = ("urban_management", "street_pudong")  # the demo departments with a handler
CLOCK_INDEXES = ("ix_assignments_sign_clock_due", "ix_assignments_complete_clock_due")
# The last commit with the per-step sweep (one `perform` per step), run as the baseline.
BASELINE_COMMIT = "78cfeb350610af73caf46a975d7fe949b19c0aae"
BASELINE_STEPS = min(DUE, int(os.environ.get("HOTLINE_BENCH_BASELINE_STEPS", "2000")))
ISSUE_BEFORE = 170.0  # steps/s of the per-step sweep, issue 19 (if git cannot give it back)
GOAL_S = 10.0  # issue 19: 10,000 steps due at once over 1 M open assignments in ≤ 10 s

# One row per g: dispatched (30 %) or signed, and when its running clock warns.
_SERIES = """
SELECT g,
       (g / 100) %% 10 < 3 AS dispatched,
       %(now)s::timestamptz - make_interval(secs => 3600 + g %% 1209600) AS created,
       CASE WHEN g %% 100 = 0 THEN %(now)s::timestamptz + interval '30 minutes'
            ELSE %(now)s::timestamptz + interval '2 hours'
                 + make_interval(secs => (g::bigint * 7919) %% 1209600) END AS warn
FROM generate_series(1, %(n)s) AS g
"""

_TICKETS = f"""
INSERT INTO tickets (id, number, status, version, channel, type, category_code, urgency,
                     police_matter, text, citizen_phone, anonymous, confidential,
                     direct_contact, location_flags, routing, supervised, callback_attempts,
                     created_at, updated_at)
SELECT g, 'B' || to_char(created AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') || '-'
             || lpad(g::text, 7, '0'),
       CASE WHEN dispatched THEN 'DISPATCHED' ELSE 'SIGNED' END, 2, 'phone', 'complaint',
       'urban', 'normal', false, '小区门口占道经营，堵住出口（基准数据）',
       '138' || lpad((g %% 100000000)::text, 8, '0'), false, false, false,
       '[]'::jsonb, '{{}}'::jsonb, false, 0, created, created + interval '5 minutes'
FROM ({_SERIES}) AS s
"""

_ASSIGNMENTS = f"""
INSERT INTO assignments (id, ticket_id, department_code, role, status, dispatched_at,
                         sign_deadline, sign_warn_at, signed_at, complete_deadline,
                         complete_warn_at, deadline_provisional, sign_limit, complete_limit,
                         extensions_used)
SELECT g, g, CASE WHEN g %% 2 = 0 THEN '{DEPARTMENTS[0]}' ELSE '{DEPARTMENTS[1]}' END, 'lead',
       CASE WHEN dispatched THEN 'dispatched' ELSE 'signed' END,
       created + interval '5 minutes',
       CASE WHEN dispatched THEN warn + interval '1 hour'
            ELSE created + interval '2 hours' END,
       CASE WHEN dispatched THEN warn ELSE created + interval '95 minutes' END,
       CASE WHEN dispatched THEN NULL ELSE created + interval '30 minutes' END,
       CASE WHEN dispatched THEN warn + interval '5 days' ELSE warn + interval '2 days' END,
       CASE WHEN dispatched THEN warn + interval '3 days' ELSE warn END,
       false, '{{"unit": "hours", "value": 2}}'::jsonb,
       '{{"unit": "working_days", "value": 5}}'::jsonb, 0
FROM ({_SERIES}) AS s
"""


@pytest.fixture(scope="module")
def loaded():
    with scratch_database(DB_NAME) as (url, _):
        engine = create_engine(url)
        with Session(engine) as s:
            load_demo(s, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
            # Give the demo handlers a phone, so that every urge owes one SMS.
            s.execute(text("UPDATE users SET phone = '1390373' || lpad(id::text, 4, '0') "
                           "WHERE role = 'handler'"))
            s.commit()
        params = {"now": NOW, "n": TOTAL}
        t0 = time.perf_counter()
        with engine.begin() as conn:
            conn.exec_driver_sql(_TICKETS, params)
        tickets_s = time.perf_counter() - t0
        with engine.begin() as conn:
            conn.exec_driver_sql(_ASSIGNMENTS, params)
        assignments_s = time.perf_counter() - t0 - tickets_s
        with engine.begin() as conn:
            for table in ("tickets", "assignments"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE tickets")
            conn.exec_driver_sql("VACUUM ANALYZE assignments")
        load = {"tickets_s": tickets_s, "assignments_s": assignments_s,
                "vacuum_analyze_s": time.perf_counter() - t0 - tickets_s - assignments_s,
                "total_s": time.perf_counter() - t0}
        yield engine, load
        engine.dispose()


class _Capture:
    """The sweep's first query on the assignments' due predicate (today the read-ahead of the
    due tickets), as sent to the driver. Not the delegated steps' selection, which runs first
    and names the same columns of `delegation_clocks`."""

    def __init__(self) -> None:
        self.statement: str | None = None
        self.parameters: Any = None

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if (self.statement is None and "assignments.sign_warn_at <=" in statement
                and "assignments.complete_warn_at <=" in statement):
            self.statement, self.parameters = statement, parameters


def _explain(engine, statement: str, parameters: Any) -> list[str]:
    with engine.connect() as conn:
        lines = [r[0] for r in conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)]
        conn.rollback()  # EXPLAIN ANALYZE of FOR UPDATE took the row locks
    return lines


def _sizes(engine) -> dict[str, int]:
    names = ("tickets", "assignments", "events", "outbox", *CLOCK_INDEXES)
    with engine.connect() as conn:
        return {n: conn.exec_driver_sql(
            f"SELECT pg_total_relation_size('{n}')").scalar_one() for n in names}


def _sweep(engine, now: datetime):
    with Session(engine) as s:
        t = time.perf_counter()
        report = sweep_clocks(s, now, limit=500)
        return report, time.perf_counter() - t


def _sweep_before() -> ModuleType | None:
    """The sweep module as it was at BASELINE_COMMIT, or None without git."""
    root = Path(__file__).resolve().parents[2]
    try:
        source = subprocess.run(
            ["git", "show", f"{BASELINE_COMMIT}:dispatch/tickets/sweeps.py"], cwd=root,
            check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    spec = importlib.util.spec_from_loader("sweeps_before", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    exec(compile(source, "sweeps_before.py", "exec"), module.__dict__)
    return module


def _rearm(engine, steps: int) -> None:
    """Clear the warning marks of the first `steps` due assignments (the ones warning at
    NOW + 30 min) and delete every SMS row, so that a sweep at LATER fires those again."""
    with Session(engine) as s:
        s.execute(text("UPDATE assignments SET sign_warned_at = NULL, complete_warned_at = NULL "
                       "WHERE id % :every = 0 AND id <= :last"),
                  {"every": DUE_EVERY, "last": steps * DUE_EVERY})
        s.execute(delete(outbox.OutboxMessage).where(outbox.OutboxMessage.topic == SMS_TOPIC))
        s.commit()


def _timed(engine, sweep, now: datetime):
    with Session(engine) as s:
        t = time.perf_counter()
        report = sweep(s, now, limit=500)
        return report, time.perf_counter() - t


def test_bench_sweeps(loaded):
    engine, load = loaded
    rows: list[tuple[str, float, str]] = [
        ("load: tickets (INSERT … SELECT)", load["tickets_s"], "s"),
        ("load: assignments (INSERT … SELECT)", load["assignments_s"], "s"),
        ("load: VACUUM ANALYZE", load["vacuum_analyze_s"], "s"),
        ("load: total", load["total_s"], "s"),
    ]
    sizes_loaded = _sizes(engine)

    # (a) Nothing due: warm up (calendar years, connections), capture the claim, time 5 runs.
    capture = _Capture()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        report, _ = _sweep(engine, NOW)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert report.fired == () and capture.statement is not None
    idle = []
    for _ in range(IDLE_RUNS):
        report, seconds = _sweep(engine, NOW)
        assert report.fired == ()
        idle.append(seconds)
    idle_median = statistics.median(idle)
    assert idle_median < 60, "the idle sweep must fit well inside its one-minute period"
    rows += [(f"idle sweep at NOW: median of {IDLE_RUNS}", idle_median * 1000, "ms"),
             ("idle sweep at NOW: max", max(idle) * 1000, "ms")]

    plan_idle = _explain(engine, capture.statement, capture.parameters)
    later_params = ({k: (LATER if v == NOW else v) for k, v in capture.parameters.items()}
                    if isinstance(capture.parameters, dict)
                    else type(capture.parameters)(LATER if v == NOW else v
                                                  for v in capture.parameters))
    plan_due = _explain(engine, capture.statement, later_params)

    # (b) 1 % due: the sweep that fires them, then a second sweep that finds nothing.
    with Session(engine) as s:
        events_before = s.scalar(select(func.count()).select_from(Event))
    report, fire_s = _sweep(engine, LATER)
    assert len(report.fired) == DUE, (len(report.fired), report.failed_tickets)
    assert report.failed_tickets == ()
    assert report.notices == DUE
    signs, completes = report.count(Step.SIGN_WARNING), report.count(Step.COMPLETE_WARNING)
    assert signs + completes == DUE
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Event)) - events_before == DUE
        pending = s.scalar(select(func.count()).select_from(outbox.OutboxMessage)
                           .where(outbox.OutboxMessage.topic == SMS_TOPIC,
                                  outbox.OutboxMessage.delivered_at.is_(None)))
    assert pending == DUE
    again, again_s = _sweep(engine, LATER)
    assert again.fired == () and again.notices == 0
    rows += [(f"firing sweep at LATER: {DUE} steps ({signs} sign, {completes} completion)",
              fire_s, "s"),
             ("firing sweep: steps/s (urge event + SMS row + mark)", DUE / fire_s, "/s"),
             ("second sweep at LATER (nothing left)", again_s * 1000, "ms")]

    # The worker side: deliver the owed SMS rows with a no-op sender.
    senders = {SMS_TOPIC: lambda payload: {"ok": True}}
    with Session(engine) as s:
        t = time.perf_counter()
        delivered = outbox.deliver_due(s, senders, LATER, limit=DUE + 1)
        deliver_s = time.perf_counter() - t
    assert len(delivered.delivered) == DUE and not delivered.retried and not delivered.dead
    rows += [(f"outbox: deliver_due of {DUE} SMS rows, no-op sender", deliver_s, "s"),
             ("outbox: rows/s on one worker", DUE / deliver_s, "/s")]

    # The baseline, same run, same steps: the per-step sweep, then today's.
    before = _sweep_before()
    if before is not None:
        _rearm(engine, BASELINE_STEPS)
        old, old_s = _timed(engine, before.sweep_clocks, LATER)
        assert len(old.fired) == BASELINE_STEPS and old.notices == BASELINE_STEPS
        _rearm(engine, BASELINE_STEPS)
        new, new_s = _timed(engine, sweep_clocks, LATER)
        assert len(new.fired) == BASELINE_STEPS and new.notices == BASELINE_STEPS
        before_rate, baseline = BASELINE_STEPS / old_s, f"measured at {BASELINE_COMMIT[:7]}"
        rows += [(f"before (per-step sweep, {BASELINE_COMMIT[:7]}): {BASELINE_STEPS} steps",
                  old_s, "s"),
                 ("before: steps/s", before_rate, "/s"),
                 (f"after, the same {BASELINE_STEPS} steps", new_s, "s"),
                 ("after: steps/s", BASELINE_STEPS / new_s, "/s")]
    else:
        before_rate, baseline = ISSUE_BEFORE, "the issue's figure (git not available)"
    rows += [(f"ratio after/before ({DUE} steps at once vs {baseline})",
              DUE / fire_s / before_rate, "x"),
             (f"goal: {DUE} due steps fired in <= {GOAL_S:.0f} s (1 = met)",
              float(fire_s <= GOAL_S), "")]
    sizes = _sizes(engine)
    uses_index = {name: [ix for ix in CLOCK_INDEXES if any(ix in line for line in plan)]
                  for name, plan in (("idle", plan_idle), ("due", plan_due))}

    print(f"\nsweep benchmark ({TOTAL:,} open assignments, PostgreSQL)")
    for label, value, unit in rows:
        print(f"{label:<66}{value:>12.2f}  {unit}")
    print("sizes after load / after the run (MB):")
    for name, size in sizes.items():
        print(f"  {name:<40}{sizes_loaded[name] / 2**20:>10.1f}{size / 2**20:>10.1f}")
    for title, plan in (("selection query at NOW (nothing due)", plan_idle),
                        ("selection query at LATER (1 % due)", plan_due)):
        print(f"EXPLAIN (ANALYZE, BUFFERS) {title}:")
        for line in plan[:24]:
            print("  " + line)
    print(f"partial clock indexes in the plans: {uses_index}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sweeps.json").write_text(json.dumps(
        {"run_at": datetime.now(UTC).isoformat(timespec="seconds"),
         "assignments": TOTAL, "due": DUE,
         "rows": [{"label": a, "value": round(b, 3), "unit": c} for a, b, c in rows],
         "idle_runs_ms": [round(x * 1000, 3) for x in idle],
         "sizes_bytes": {"after_load": sizes_loaded, "after_run": sizes},
         "selection_sql": capture.statement,
         "plan_uses_clock_indexes": uses_index,
         "plans": {"idle": plan_idle, "due": plan_due}},
        ensure_ascii=False, indent=2), encoding="utf-8")
    # Asserted last, so that a slow plan is still measured and written down above.
    for name, plan in (("idle", plan_idle), ("due", plan_due)):
        assert uses_index[name], (f"the sweep's selection ({name}) reads no partial clock "
                                  "index:\n" + "\n".join(plan))
