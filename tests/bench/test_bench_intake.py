"""Benchmark: 20,000 tickets through the domain's intake function into PostgreSQL.

Each intake is its own transaction (number, ticket, intake event, contact, commit), as an
operator's call is. Reports tickets per second and the p50/p99 of one intake, sequentially and
with 4 concurrent writers. Run with `make bench` (HOTLINE_BENCH_DATABASE_URL or the PostgreSQL
on 127.0.0.1 by default).
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

import grid.models  # noqa: F401
from dispatch.core.accounts import actor_for
from dispatch.core.models import Ticket, User
from dispatch.intake.pipeline import intake
from grid.demo.reference import load_demo
from tests.bench.conftest import quantile, scratch_database

DB_NAME = "hotline_bench"
TOTAL = int(os.environ.get("HOTLINE_BENCH_TICKETS", "20000"))
RESULTS = Path(__file__).parent / "results"
TEXTS = ["小区门口占道经营，堵住出口", "楼上装修噪音扰民，晚上十点还在施工", "路灯不亮已经一周",
         "饭店油烟直排，影响居民生活", "公司拖欠三个月工资", "自来水停水没有通知"]


@pytest.fixture(scope="module")
def bench_url():
    with scratch_database(DB_NAME) as (url, _):
        engine = create_engine(url)
        with Session(engine) as s:
            load_demo(s, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
            s.commit()
        engine.dispose()
        yield url


def _run(engine, count: int, start: datetime, offset: int) -> list[float]:
    timings = []
    with Session(engine) as s:
        operator = actor_for(s.scalar(select(User).where(User.username == "operator1")))
    for i in range(count):
        body = {"channel": "phone", "text": TEXTS[i % len(TEXTS)] + f"（第{offset + i}次）",
                "citizen": {"name": "张三", "phone": f"138{(offset + i) % 100_000_000:08d}"},
                "type": "complaint", "category": "urban", "urgency": "normal",
                "address": "长垣市蒲东街道宏力大道"}
        t0 = time.perf_counter()
        with Session(engine) as s:
            intake(s, body, operator, now=start + timedelta(seconds=offset + i))
            s.commit()
        timings.append(time.perf_counter() - t0)
    return timings


def test_intake_throughput(bench_url):
    engine = create_engine(bench_url, pool_size=8)
    start = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    sequential_n = TOTAL // 2
    t0 = time.perf_counter()
    seq = _run(engine, sequential_n, start, 0)
    seq_wall = time.perf_counter() - t0

    threads_n, per_thread = 4, (TOTAL - sequential_n) // 4
    results: list[list[float]] = [[] for _ in range(threads_n)]

    def worker(k: int) -> None:
        results[k] = _run(engine, per_thread, start, sequential_n + k * per_thread)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    par_wall = time.perf_counter() - t0
    par = [x for r in results for x in r]

    with Session(engine) as s:
        stored = s.scalar(select(func.count()).select_from(Ticket))
        distinct = s.scalar(select(func.count(func.distinct(Ticket.number))))
    engine.dispose()
    assert stored == distinct == sequential_n + threads_n * per_thread

    report = {
        "tickets": stored,
        "sequential": {"tickets": sequential_n, "per_second": round(sequential_n / seq_wall, 1),
                       "p50_ms": round(statistics.median(seq) * 1000, 2),
                       "p99_ms": round(quantile(seq, 0.99) * 1000, 2)},
        "concurrent_4": {"tickets": len(par), "per_second": round(len(par) / par_wall, 1),
                         "p50_ms": round(statistics.median(par) * 1000, 2),
                         "p99_ms": round(quantile(par, 0.99) * 1000, 2)},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "intake.json").write_text(json.dumps(report, indent=2))
    print("\nintake benchmark:", json.dumps(report, indent=2))
