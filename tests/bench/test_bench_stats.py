"""Benchmark: the leaders' statistics (`dispatch.stats.metrics`) over millions of tickets in
PostgreSQL, read from the rollups (`dispatch.stats.rollups`) and from the raw tables (`source=RAW`),
side by side.

A scratch database, HOTLINE_BENCH_STATS_DB (default `bench_stats`), gets the schema, the demo
reference data (`load_demo`: the category tree and the departments) and, by `INSERT ... SELECT
generate_series(...)` (no ORM), HOTLINE_BENCH_STATS_TICKETS tickets (default 10,000,000) spread
evenly over the three years before NOW, over five channels, six request types, the real
category codes, 12 synthetic streets × 25 cells and the 39 demo departments:

- 2 % void, 18 % answered directly, 2 % merged into the ticket before (repeats), 78 %
  dispatched to one lead department (dispatch event with the lead in its payload);
- dispatched in the last 8 days: still open (40 % not signed, 60 % signed; the older ones are
  past their completion deadline: overdue now);
- older: 5 % returned within the hour and dispatched again to another department, 10 % signed
  late, 10 % completed late, 5 % with an approved 3-day extension, the rest on time; then a
  review (10 % need no callback) and a callback (5 % unreachable, 3 % dissatisfied and
  reopened, the others basically satisfied or satisfied, most resolved).

The facts (stat_tickets, stat_assignments, stat_reviews) and `stat_daily` are then built from
those raw rows by `rollups.rebuild` (set-based SQL), timed as a load step.

Measured (p50 and p95 in ms): the headline `summary` for a month, a quarter, the year to date
and three years; the year with a department filter, with a street filter, with two filters (a
pair slice) and with three (the full slice); the breakdown by department for the year, and
with a filter (pair slices; by cell under a category filter: the full slice); the drill-down of
one numerator for a month (first and last page). Then the rows of each slice of `stat_daily`,
and the time `rollups.refresh` takes for HOTLINE_BENCH_STATS_REFRESH_TICKETS tickets (default
2,000) whose request type changed (every rollup row of theirs moves), and back.
Rollups: HOTLINE_BENCH_STATS_REPEATS runs (default 7); raw (`source=RAW`: a plain GROUP BY per
dated moment over tickets, assignments, extensions and events): HOTLINE_BENCH_STATS_RAW_REPEATS
(default 3, no warm-up; one run for periods over a quarter), skipped for periods holding more than
HOTLINE_BENCH_STATS_RAW_MAX_TICKETS tickets (default: none skipped).
With HOTLINE_BENCH_STATS_KEEP=1 the database is kept, and the next run with as many tickets
reuses its raw tables (only the facts and rollups are built again): the raw load is the long part.
Speed is reported, not asserted; asserted is that rollups and raw give the same tallies (and the
same first drill-down page) on every query where both ran and on a sample of other periods.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from dispatch.core.db import Base
from dispatch.core.models import Category, Ticket
from dispatch.stats import metrics, rollups
from dispatch.stats.metrics import RAW, DateRange, Filters
from dispatch.stats.rollups import SLICES, StatAssignment, StatReview, StatTicket
from grid.demo.reference import load_demo
from grid.models import Department
from tests.bench.conftest import kept_database, quantile, scratch_database

DB_NAME = os.environ.get("HOTLINE_BENCH_STATS_DB", "bench_stats")
TOTAL = int(os.environ.get("HOTLINE_BENCH_STATS_TICKETS", "10000000"))
REPEATS = int(os.environ.get("HOTLINE_BENCH_STATS_REPEATS", "7"))
RAW_REPEATS = int(os.environ.get("HOTLINE_BENCH_STATS_RAW_REPEATS", "3"))
RAW_MAX_TICKETS = int(os.environ.get("HOTLINE_BENCH_STATS_RAW_MAX_TICKETS", str(10**12)))
KEEP = os.environ.get("HOTLINE_BENCH_STATS_KEEP") == "1"
REFRESH_TICKETS = int(os.environ.get("HOTLINE_BENCH_STATS_REFRESH_TICKETS", "2000"))
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Changyuan
TODAY = date(2026, 11, 23)
SPAN_SECONDS = 3 * 365 * 86400
STREETS = 12
CELLS = 25

# Every ticket's plan: its dimensions, its fate and its moments (an unlogged helper table).
_PLAN = f"""
CREATE UNLOGGED TABLE bench_plan AS
SELECT p.*,
       CASE WHEN fate = 'open' AND k < 40 THEN NULL
            WHEN fate = 'open' THEN d + interval '30 minutes'
            WHEN fate = 'done' AND k < 5 THEN NULL
            WHEN fate = 'done' AND k < 15 THEN d + interval '3 hours'
            WHEN fate = 'done' THEN d + interval '30 minutes' END AS signed_at,
       CASE WHEN fate = 'done' AND k >= 25 AND k < 30 THEN d + interval '8 days'
            ELSE d + interval '5 days' END AS complete_deadline,
       CASE WHEN fate <> 'done' THEN NULL
            WHEN k < 5 THEN d + interval '2 days'
            WHEN k >= 15 AND k < 25 THEN d + interval '6 days'
            WHEN k >= 25 AND k < 30 THEN d + interval '7 days'
            ELSE d + interval '2 days' END AS ct
FROM (
  SELECT s.*, created + interval '10 minutes' AS d,
         CASE WHEN h < 20 THEN 'void' WHEN h < 200 THEN 'direct'
              WHEN h < 220 AND g > 1 THEN 'merged' WHEN h < 220 THEN 'direct'
              WHEN created > %(now)s::timestamptz - interval '8 days' THEN 'open'
              ELSE 'done' END AS fate,
         (%(depts)s::text[])[1 + di] AS dept1,
         (%(depts)s::text[])[1 + (di + 1) %% cardinality(%(depts)s::text[])] AS dept2,
         (ARRAY['phone','phone','phone','phone','phone','phone','phone','phone','phone',
                'phone','phone','wechat','wechat','wechat','wechat','web','web',
                'police110','police110','open311'])[1 + g %% 20] AS channel,
         (ARRAY['consult','help','complaint','report','suggestion','praise'])
             [1 + (g / 20) %% 6] AS type,
         (%(cats)s::text[])[1 + abs(hashint4(g * 7)) %% cardinality(%(cats)s::text[])]
             AS category,
         'ST' || lpad(st::text, 2, '0') AS street,
         'ST' || lpad(st::text, 2, '0') || '-C' || lpad((g %% {CELLS})::text, 2, '0') AS cell
  FROM (
    SELECT g, abs(hashint4(g)) %% 1000 AS h, abs(hashint4(g + 1000000000)) %% 100 AS k,
           abs(hashint4(-g)) %% 100 AS c, abs(hashint4(g * 3)) %% 12 AS st,
           abs(hashint4(g * 5)) %% cardinality(%(depts)s::text[]) AS di,
           %(now)s::timestamptz - interval '1 hour'
             - make_interval(secs => (%(n)s - g)::float8 * {SPAN_SECONDS} / %(n)s) AS created
    FROM generate_series(1, %(n)s) AS g
  ) AS s
) AS p
"""

_TICKETS = """
INSERT INTO tickets (id, number, status, version, channel, type, category_code, urgency,
                     police_matter, text, anonymous, confidential, direct_contact,
                     location_flags, routing, supervised, callback_attempts, outcome, parent_id,
                     street_code, cell_code, created_at, updated_at)
SELECT g, 'S' || lpad(g::text, 10, '0'),
       CASE fate WHEN 'void' THEN 'VOID' WHEN 'direct' THEN 'ARCHIVED'
                 WHEN 'merged' THEN 'MERGED'
                 WHEN 'open' THEN CASE WHEN k < 40 THEN 'DISPATCHED' ELSE 'SIGNED' END
                 ELSE CASE WHEN c >= 15 AND c < 18 THEN 'REOPENED' ELSE 'ARCHIVED' END END,
       3, channel, type, category, 'normal', false, '路灯不亮，夜间出行不便（基准数据）',
       c < 10, false, false, '[]'::jsonb, '{}'::jsonb, false, 0,
       CASE fate WHEN 'direct' THEN 'direct_answer' WHEN 'merged' THEN 'with_parent'
                 WHEN 'done' THEN CASE WHEN c < 10 THEN 'no_callback'
                                       WHEN c < 15 THEN 'unreachable'
                                       WHEN c < 18 THEN NULL ELSE 'callback' END END,
       CASE WHEN fate = 'merged' THEN g - 1 END, street, cell, created,
       created + interval '1 hour'
FROM bench_plan
"""

_ASSIGNMENT_COLS = """(id, ticket_id, department_code, role, status, dispatched_at,
    sign_deadline, sign_warn_at, signed_at, complete_deadline, complete_warn_at, completed_at,
    returned_at, deadline_provisional, sign_limit, complete_limit, extensions_used)"""
_LIMITS = """false, '{"unit": "hours", "value": 2}'::jsonb,
       '{"unit": "working_days", "value": 5}'::jsonb"""

_ASSIGNMENTS = f"""
INSERT INTO assignments {_ASSIGNMENT_COLS}
SELECT g, g, dept1, 'lead',
       CASE WHEN fate = 'open' THEN CASE WHEN k < 40 THEN 'dispatched' ELSE 'signed' END
            WHEN k < 5 THEN 'returned' ELSE 'completed' END,
       d, d + interval '2 hours', d + interval '90 minutes', signed_at,
       complete_deadline, complete_deadline - interval '1 day',
       CASE WHEN fate = 'done' AND k >= 5 THEN ct END,
       CASE WHEN fate = 'done' AND k < 5 THEN d + interval '1 hour' END,
       {_LIMITS}, CASE WHEN fate = 'done' AND k >= 25 AND k < 30 THEN 1 ELSE 0 END
FROM bench_plan WHERE fate IN ('open', 'done')
UNION ALL
SELECT %(n)s + g, g, dept2, 'lead', 'completed',
       d + interval '3 hours', d + interval '5 hours', d + interval '270 minutes',
       d + interval '210 minutes', d + interval '3 hours 5 days',
       d + interval '3 hours 4 days', ct, NULL, {_LIMITS}, 0
FROM bench_plan WHERE fate = 'done' AND k < 5
"""

_EXTENSIONS = """
INSERT INTO extensions (id, ticket_id, assignment_id, status, days, reason, requested_at,
                        decided_at, old_deadline, new_deadline)
SELECT g, g, g, 'approved', 3, '需协调多部门（基准数据）', d + interval '1 day',
       d + interval '1 day 2 hours', d + interval '5 days', complete_deadline
FROM bench_plan WHERE fate = 'done' AND k >= 25 AND k < 30
"""

_EVENTS = """
INSERT INTO events (id, ticket_id, at, actor_role, action, from_status, to_status, payload)
SELECT 4 * g, g, d, 'dispatcher', 'dispatch', 'NEW', 'DISPATCHED',
       jsonb_build_object('lead', dept1)
FROM bench_plan WHERE fate IN ('open', 'done')
UNION ALL
SELECT 4 * g + 1, g, d + interval '3 hours', 'dispatcher', 'dispatch', 'RETURNED',
       'DISPATCHED', jsonb_build_object('lead', dept2)
FROM bench_plan WHERE fate = 'done' AND k < 5
UNION ALL
SELECT 4 * g + 2, g, ct + interval '2 hours', 'dispatcher', 'review_accept', 'COMPLETED',
       'REVIEWED', jsonb_build_object('callback_needed', c >= 10)
FROM bench_plan WHERE fate = 'done'
UNION ALL
SELECT 4 * g + 3, g, ct + interval '6 hours', 'operator', 'callback', 'REVIEWED',
       CASE WHEN c < 18 AND c >= 15 THEN 'REOPENED' ELSE 'ARCHIVED' END,
       CASE WHEN c < 15 THEN jsonb_build_object('reached', false)
            ELSE jsonb_build_object(
              'reached', true,
              'satisfaction', CASE WHEN c < 18 THEN 'dissatisfied'
                                   WHEN c < 30 THEN 'basically_satisfied'
                                   ELSE 'satisfied' END,
              'resolved', c >= 18 AND c < 90) END
FROM bench_plan WHERE fate = 'done' AND c >= 10
"""


def _load_raw(engine, steps: list[tuple[str, float]], params: dict[str, Any]) -> None:
    """The raw tables (tickets, assignments, extensions, events) by INSERT ... SELECT."""
    _timed(steps, "plan (unlogged helper table)", engine, _PLAN, params=params)
    _timed(steps, "tickets", engine, _TICKETS)
    _timed(steps, "assignments", engine, _ASSIGNMENTS, params=params)
    _timed(steps, "extensions", engine, _EXTENSIONS)
    _timed(steps, "events", engine, _EVENTS, "DROP TABLE bench_plan")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        t = time.perf_counter()
        for table in ("tickets", "assignments", "extensions", "events"):
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
            conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
        steps.append(("raw tables: VACUUM ANALYZE", time.perf_counter() - t))


def _timed(
    steps: list[tuple[str, float]],
    label: str,
    engine,
    *statements: str,
    params: dict[str, Any] | None = None,
) -> None:
    t = time.perf_counter()
    with engine.begin() as conn:
        for sql in statements:
            conn.exec_driver_sql(sql, params or {})
    steps.append((label, time.perf_counter() - t))


_DERIVED = (
    "stat_daily",
    "stat_pending",
    "stat_head",
    "stat_reviews",
    "stat_assignments",
    "stat_tickets",
)


def _holds_the_tickets(url) -> bool:
    """Whether a kept database holds this run's raw tables (then only the derived are redone)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if conn.exec_driver_sql("SELECT to_regclass('tickets')").scalar() is None:
                return False
            return conn.exec_driver_sql("SELECT count(*) FROM tickets").scalar() == TOTAL
    finally:
        engine.dispose()


@contextmanager
def _database():
    """The benchmark's database: scratch, or with HOTLINE_BENCH_STATS_KEEP=1 kept for the next
    run, which reuses its raw tables and rebuilds the facts and rollups (schema included)."""
    if not KEEP:
        with scratch_database(DB_NAME) as (url, _):
            yield url, False
        return
    with kept_database(DB_NAME, reusable=_holds_the_tickets) as (url, reused):
        if reused:
            engine = create_engine(url)
            with engine.begin() as conn:
                for table in _DERIVED:
                    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table} CASCADE")
            Base.metadata.create_all(engine)
            engine.dispose()
        yield url, reused


@pytest.fixture(scope="module")
def loaded():
    with _database() as (url, reused):
        engine = create_engine(url)
        with Session(engine) as s:
            if not reused:
                load_demo(s, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
                s.commit()
            cats = sorted(
                s.scalars(
                    select(Category.code).where(
                        ~Category.code.in_(
                            select(Category.parent_code).where(Category.parent_code.is_not(None))
                        )
                    )
                )
            )
            depts = sorted(s.scalars(select(Department.code)))
        params = {"now": NOW, "n": TOTAL, "cats": cats, "depts": depts}
        steps: list[tuple[str, float]] = []
        t0 = time.perf_counter()
        if reused:
            steps.append(("raw tables: kept from the last run", 0.0))
        else:
            _load_raw(engine, steps, params)
        with Session(engine) as s:
            t = time.perf_counter()
            rebuilt = rollups.rebuild(s)
            steps.append(("facts and rollups: rollups.rebuild", time.perf_counter() - t))
        assert rebuilt == TOTAL
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            t = time.perf_counter()
            for table in ("stat_tickets", "stat_assignments", "stat_reviews", "stat_daily"):
                conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
            steps.append(("facts and rollups: VACUUM ANALYZE", time.perf_counter() - t))
        steps.append(("total", time.perf_counter() - t0))
        yield engine, steps
        engine.dispose()


def _run(
    engine, call: Callable[[Session], Any], repeats: int, warm_up: bool = True
) -> tuple[list[float], Any]:
    """Run `call` in a fresh session `repeats` times (after one warm-up run): (times in ms,
    result)."""
    out = None
    times = []
    for i in range(repeats + warm_up):
        with Session(engine) as s:
            t = time.perf_counter()
            out = call(s)
            elapsed = (time.perf_counter() - t) * 1000
        if i >= warm_up:
            times.append(elapsed)
    return times, out


def _tickets_in(span: DateRange) -> int:
    """About how many tickets the loader created in a period (evenly spread)."""
    return int(TOTAL * ((span.end - span.start).days + 1) * 86400 / SPAN_SECONDS)


def _comparable(result: Any) -> Any:
    if isinstance(result, metrics.Summary):
        return result.tally
    if isinstance(result, list):
        return {row.key: row.tally for row in result}
    return (result.total, result.items)


def test_bench_stats_rollups_against_raw(loaded):
    engine, steps = loaded
    with Session(engine) as s:
        sizes = {
            "tickets": s.scalar(text("SELECT count(*) FROM tickets")),
            "assignments": s.scalar(text("SELECT count(*) FROM assignments")),
            "events": s.scalar(text("SELECT count(*) FROM events")),
            "stat_tickets": s.scalar(select(func.count()).select_from(StatTicket)),
            "stat_assignments": s.scalar(select(func.count()).select_from(StatAssignment)),
            "stat_reviews": s.scalar(select(func.count()).select_from(StatReview)),
            "stat_daily": s.scalar(text("SELECT count(*) FROM stat_daily")),
            "db_mb": s.scalar(text("SELECT pg_database_size(current_database())")) // 2**20,
        }
    assert sizes["tickets"] == TOTAL and sizes["stat_tickets"] == TOTAL

    month = DateRange(date(2026, 10, 1), date(2026, 10, 31))
    quarter = DateRange(date(2026, 7, 1), date(2026, 9, 30))
    year = DateRange(date(2026, 1, 1), TODAY)
    three = DateRange(TODAY - timedelta(days=3 * 365 - 1), TODAY)
    none = Filters()
    dept, street = Filters(department="urban_management"), Filters(street="ST03")
    wechat, urban = Filters(channel="wechat"), Filters(category="urban")
    both = Filters(department="urban_management", channel="wechat")  # a pair slice
    three_dims = Filters(department="urban_management", channel="wechat", street="ST03")

    def summary(span, filters):
        return lambda src: lambda s: metrics.summary(s, span, filters, NOW, source=src)

    def by(span, filters, dim):
        return lambda src: lambda s: metrics.breakdown(s, span, filters, NOW, dim, source=src)

    with Session(engine) as s:
        first = metrics.drill_down(s, month, none, NOW, "on_time_completion_rate")
    last_page = max(1, -(-first.total // 20))

    def drill(page):
        return lambda src: (
            lambda s: metrics.drill_down(
                s, month, none, NOW, "on_time_completion_rate", page=page, source=src
            )
        )

    cases = [
        ("summary, month 2026-10", month, summary(month, none)),
        ("summary, quarter 2026-Q3", quarter, summary(quarter, none)),
        ("summary, year to date 2026", year, summary(year, none)),
        ("summary, 3 years", three, summary(three, none)),
        ("summary, year, department filter", year, summary(year, dept)),
        ("summary, year, street filter", year, summary(year, street)),
        ("summary, year, department + channel (pair)", year, summary(year, both)),
        ("summary, year, dept + channel + street (full)", year, summary(year, three_dims)),
        ("summary, month, department filter", month, summary(month, dept)),
        ("summary, month, street filter", month, summary(month, street)),
        ("breakdown by department, year", year, by(year, none, "department")),
        ("breakdown by category, year, street (pair)", year, by(year, street, "category")),
        ("breakdown by department, year, channel (pair)", year, by(year, wechat, "department")),
        ("breakdown by cell, year, category (full)", year, by(year, urban, "cell")),
        ("drill-down, month, page 1", month, drill(1)),
        (f"drill-down, month, page {last_page} (last)", month, drill(last_page)),
    ]
    rows = []
    mismatches = []
    for label, span, make in cases:
        roll_ms, roll = _run(engine, make(None), REPEATS)
        if _tickets_in(span) > RAW_MAX_TICKETS:
            rows.append((label, roll_ms, None))
            continue
        raw_repeats = 1 if (span.end - span.start).days > 92 else RAW_REPEATS
        raw_ms, raw = _run(engine, make(RAW), raw_repeats, warm_up=False)
        rows.append((label, roll_ms, raw_ms))
        if _comparable(roll) != _comparable(raw):
            mismatches.append(label)

    # A sample of other periods: days, weeks, odd spans across month ends, today, filters.
    rng = random.Random(20261123)
    samples = [
        DateRange(TODAY, TODAY),
        DateRange(date(2026, 11, 1), TODAY),
        DateRange(TODAY - timedelta(days=6), TODAY),
    ]
    while len(samples) < 12:
        start = TODAY - timedelta(days=rng.randrange(3 * 365))
        span = DateRange(start, min(TODAY, start + timedelta(days=rng.choice((0, 6, 45)))))
        samples.append(span)
    filters = [
        none,
        dept,
        street,
        wechat,
        urban,
        Filters(cell="ST03-C07"),
        Filters(category="urban", street="ST03"),
        Filters(channel="wechat", cell="ST03-C07"),
    ]
    checked = 0
    with Session(engine) as s:
        for i, span in enumerate(samples):
            f = filters[i % len(filters)]
            roll = metrics.summary(s, span, f, NOW)
            raw = metrics.summary(s, span, f, NOW, source=RAW)
            if roll.tally != raw.tally:
                mismatches.append(f"{span} {f}")
            checked += 1

    print(
        f"\nstatistics benchmark ({TOTAL:,} tickets over 3 years, PostgreSQL, "
        f"{os.cpu_count()} cores); rows: {sizes}"
    )
    for label, seconds in steps:
        print(f"  load: {label:<52}{seconds:>10.1f} s")
    print(
        f"{'query':<44}{'rollup p50':>11}{'p95':>9}{'raw p50':>11}{'p95':>10}{'raw/rollup':>11}"
        f"   (ms; rollup n={REPEATS} after a warm-up; raw n={RAW_REPEATS}, 1 over a quarter)"
    )
    for label, roll_ms, raw_ms in rows:
        r50, r95 = quantile(roll_ms, 0.5), quantile(roll_ms, 0.95)
        if raw_ms is None:
            print(f"{label:<44}{r50:>11.1f}{r95:>9.1f}{'skipped':>11}{'':>10}{'':>11}")
            continue
        w50, w95 = quantile(raw_ms, 0.5), quantile(raw_ms, 0.95)
        print(f"{label:<44}{r50:>11.1f}{r95:>9.1f}{w50:>11.1f}{w95:>10.1f}{w50 / r50:>10.0f}x")
    print(
        f"rollup = raw on {sum(1 for r in rows if r[2] is not None)} timed queries and "
        f"{checked} sampled periods; mismatches: {mismatches or 'none'}"
    )
    _print_slices(engine)
    _print_refresh(engine, REFRESH_TICKETS)
    assert not mismatches, mismatches


def _print_slices(engine) -> None:
    """The rows of each slice of stat_daily (daily + monthly) and the table's size."""
    with Session(engine) as s:
        counts = dict(
            s.execute(
                text("SELECT split_part(slice, '/', 1), count(*) FROM stat_daily GROUP BY 1")
            ).all()
        )
        mb = s.scalar(text("SELECT pg_total_relation_size('stat_daily')")) / 2**20
    listed = ", ".join(f"{name} {counts.get(name, 0):,}" for name in SLICES)
    print(f"stat_daily: {sum(counts.values()):,} rows, {mb:.0f} MB with its index; {listed}")


_SWAP_TYPE = (
    "UPDATE tickets SET type = CASE type WHEN 'complaint' THEN 'report' ELSE 'complaint' END "
    "WHERE id = ANY(%(ids)s)"
)


def _print_refresh(engine, count: int) -> None:
    """The time `rollups.refresh` takes for `count` tickets of October 2026 whose request type
    changed (every contribution of theirs moves to other rollup rows: the most a change costs),
    and again once changed back (the data end as they were)."""
    with Session(engine) as s:
        ids = list(
            s.scalars(
                select(Ticket.id)
                .where(
                    Ticket.created_at >= datetime(2026, 10, 1, tzinfo=UTC),
                    Ticket.type.in_(("complaint", "report")),
                )
                .order_by(Ticket.id)
                .limit(count)
            )
        )
    seconds = []
    for _ in range(2):
        with Session(engine) as s:
            s.connection().exec_driver_sql(_SWAP_TYPE, {"ids": ids})
            rollups.mark_changed(s, ids)
            s.commit()
            t = time.perf_counter()
            report = rollups.refresh(s)
            seconds.append(time.perf_counter() - t)
            assert report.changed == len(ids) and report.pending == 0
    per = ", ".join(f"{1000 * t / len(ids):.2f}" for t in seconds)
    print(
        f"refresh of {len(ids):,} tickets whose type changed, and back: "
        f"{' s, '.join(f'{t:.1f}' for t in seconds)} s ({per} ms a ticket; "
        f"{len(SLICES)} slices)"
    )
