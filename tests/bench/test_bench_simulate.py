"""Benchmark: `hotline simulate` at the seed county's scale on PostgreSQL, through the domain.

A scratch database, `bench_simulate`, gets the schema and the whole demo county (grid,
gazetteer, grid workers and roster, catalogue, classifier rules); then the `seed_county` preset
runs for HOTLINE_BENCH_SIMULATE_DAYS days (default 30, from 1 March: an average month) at
HOTLINE_BENCH_SIMULATE_SCALE (default 1). Every ticket goes through `intake`, every change
through `perform`, the clock sweep runs at the simulated times.

Reported: tickets, contacts and actions per second, sweeps, and the time a year of the seed
county (58,000 tickets, 545,000 contacts) takes, extrapolated from the run by volume (a month
of a year carries the same mix of work; the long cases' later steps are a small share). Speed
is reported, not asserted. Results: `tests/bench/results/simulate.json`. Run with `make bench`.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session

import grid.models  # noqa: F401
from dispatch.simulation.parameters import SEED_COUNTY
from dispatch.tickets.calendar import LOCAL_TZ
from tests.bench.conftest import scratch_database

DB_NAME = "bench_simulate"
RESULTS = Path(__file__).parent / "results"
DAYS = int(os.environ.get("HOTLINE_BENCH_SIMULATE_DAYS", "30"))
SCALE = float(os.environ.get("HOTLINE_BENCH_SIMULATE_SCALE", "1"))
START = datetime(2026, 3, 1, tzinfo=LOCAL_TZ)
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
YEAR_TICKETS = 58_000


def _load_county(url) -> None:  # noqa: ANN001
    from dispatch.triage.rules import load_classifier_rules
    from grid.demo.reference import load_demo, load_demo_grid

    engine = create_engine(url)
    with Session(engine) as s:
        load_demo(s, FAST)
        load_demo_grid(s, FAST, START)
        load_classifier_rules(s)
        s.commit()
    engine.dispose()


def test_simulate_throughput():
    from web.cli.simulate import SimulationPorts, run_simulation

    with scratch_database(DB_NAME) as (url, _):
        _load_county(url)
        engine = create_engine(url)
        sent = [0]  # SQL statements: the figure the machine's load does not move

        def count(*_: object) -> None:
            sent[0] += 1

        event.listen(engine, "before_cursor_execute", count)
        with Session(engine, expire_on_commit=False) as session:
            report = run_simulation(
                session,
                SEED_COUNTY,
                start=START,
                seed=2026,
                scale=SCALE,
                days=DAYS,
                password_hash=FAST.hash("demo12345"),
                ports=SimulationPorts(session, START),
            )
        engine.dispose()

    c = report.counters
    wall = report.wall_seconds
    year_seconds = wall * YEAR_TICKETS / report.tickets
    result = {
        "days": DAYS,
        "scale": SCALE,
        "start": START.isoformat(),
        "tickets": report.tickets,
        "contacts": report.total_contacts,
        "actions": c.actions,
        "sweeps": c.sweeps,
        "commits": c.commits,
        "wall_seconds": round(wall, 1),
        "tickets_per_second": round(report.tickets / wall, 1),
        "contacts_per_second": round(report.total_contacts / wall, 1),
        "actions_per_second": round(c.actions / wall, 1),
        "sql_statements_per_ticket": round(sent[0] / report.tickets, 1),
        "seed_county_year_minutes_extrapolated": round(year_seconds / 60, 1),
        "completion_rate": report.completion.value,
        "callback_rate": report.callback.value,
        "satisfaction_rate": report.satisfaction.value,
        "by_status": dict(report.tickets_by_status),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "simulate.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print("\nsimulate benchmark:", json.dumps(result, indent=2, ensure_ascii=False))
    assert report.tickets > 0 and report.total_contacts > report.tickets
    assert report.completion.denominator > 0
