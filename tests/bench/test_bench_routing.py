"""Benchmark: locating and routing on the demo county in PostgreSQL, as intake does it.

Reports the p50/p99 of the intake screen's preview (locate + route + repeats) for random points
and for gazetteer addresses, and intake throughput with the grid against intake without it (the
same run, the same database). Run with `make bench`.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import grid.models  # noqa: F401
from dispatch.core.accounts import actor_for
from dispatch.core.actors import SYSTEM
from dispatch.core.models import User
from dispatch.intake.pipeline import IntakePorts, intake
from grid.demo.reference import DATA
from grid.locator import GridCache
from grid.service import GridRouting, preview
from tests.bench.conftest import county_database, county_points, quantile

DB_NAME = "hotline_bench_routing"
RESULTS = Path(__file__).parent / "results"
START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
CATEGORIES = ["urban.appearance.street_vending", "environment.noise", "utilities.water",
              "rural.village_affairs", "transport.roads", "market.consumer_rights"]


@pytest.fixture(scope="module")
def engine():
    with county_database(DB_NAME, START) as (_, _, eng, _):
        yield eng


def _addresses(n: int) -> list[str]:
    places = json.loads((DATA / "demo_gazetteer.json").read_text(encoding="utf-8"))
    rng = random.Random(11)
    names = [p["name"] for p in places if p["kind"] in ("landmark", "road")]
    return [rng.choice(names) + rng.choice(["", "门口", "附近", "东侧"]) for _ in range(n)]


def _time(fn, items) -> list[float]:
    out = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - t) * 1000)
    return out


def test_bench_preview_and_located_intake(engine):
    cache = GridCache()
    rows: list[tuple[str, float, str]] = []
    with Session(engine) as s:
        points = county_points(s, 2000, 7)
        addresses = _addresses(1000)
        now = START

        def by_point(p: tuple[float, float]) -> None:
            preview(s, now, lon=p[0], lat=p[1], crs="WGS84", address=None,
                    category=CATEGORIES[0], phone=None, openid=None, actor=SYSTEM,
                    cache=cache)

        def by_address(a: str) -> None:
            preview(s, now, lon=None, lat=None, crs="WGS84", address=a,
                    category=CATEGORIES[0], phone=None, openid=None, actor=SYSTEM,
                    cache=cache)

        by_point(points[0])  # build the index and gazetteer once, outside the timing
        by_address(addresses[0])
        ms = _time(by_point, points)
        rows += [("preview by point p50", statistics.median(ms), "ms"),
                 ("preview by point p99", quantile(ms, 0.99), "ms")]
        found = sum(GridRouting(s, now, cache).locate(lon, lat, "WGS84", None).cell is not None
                    for lon, lat in points[:500])
        assert found == 500  # every point inside the county finds a cell
        ms = _time(by_address, addresses)
        rows += [("preview by address p50", statistics.median(ms), "ms"),
                 ("preview by address p99", quantile(ms, 0.99), "ms")]

        operator = actor_for(s.scalar(select(User).where(User.username == "operator1")))
        for label, located in (("intake without the grid", False), ("intake located", True)):
            times = []
            for i in range(1500):
                lon, lat = points[i % len(points)]
                when = now + timedelta(seconds=i)
                ports = (IntakePorts(locator=GridRouting(s, when, cache),
                                     router=GridRouting(s, when, cache))
                         if located else IntakePorts())
                body = {"channel": "phone", "text": "占道经营", "type": "complaint",
                        "category": CATEGORIES[i % len(CATEGORIES)], "lon": lon, "lat": lat,
                        "citizen": {"phone": f"1390373{i % 10000:04d}"}}
                t = time.perf_counter()
                intake(s, body, operator, now=when, ports=ports)
                s.commit()
                times.append((time.perf_counter() - t) * 1000)
            rows += [(f"{label}: tickets/s", 1000 / statistics.mean(times), "/s"),
                     (f"{label}: p50", statistics.median(times), "ms"),
                     (f"{label}: p99", quantile(times, 0.99), "ms")]
    print("\nrouting benchmark (demo county, PostgreSQL)")
    for label, value, unit in rows:
        print(f"{label:<45}{value:>10.2f}  {unit}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "routing.json").write_text(json.dumps(
        {"run_at": datetime.now(UTC).isoformat(timespec="seconds"),
         "rows": [{"label": a, "value": round(b, 3), "unit": c} for a, b, c in rows]},
        ensure_ascii=False, indent=2), encoding="utf-8")
