"""Benchmark plumbing: a scratch PostgreSQL database per benchmark, created with the project's
schema and dropped afterwards (HOTLINE_BENCH_DATABASE_ADMIN_URL, or HOTLINE_BENCH_ADMIN_DSN,
names the server's admin database; default: the PostgreSQL on 127.0.0.1)."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
import pytest
import shapely
from argon2 import PasswordHasher
from psycopg.conninfo import make_conninfo
from sqlalchemy import URL, Engine, create_engine, make_url, select
from sqlalchemy.orm import Session

import dispatch.core.models  # noqa: F401
import grid.models  # noqa: F401
from dispatch.core.db import Base
from grid.models import Area

# Passwords hashed cheaply: the benchmarks measure the system, not argon2.
HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
ADMIN_URL = os.environ.get(
    "HOTLINE_BENCH_DATABASE_ADMIN_URL",
    os.environ.get("HOTLINE_BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"))


@contextmanager
def scratch_database(name: str) -> Iterator[tuple[URL, str]]:
    """A fresh database with the schema: (SQLAlchemy URL, psycopg conninfo); skips the
    benchmark when PostgreSQL cannot be reached."""
    try:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {ADMIN_URL}: {exc}")
    url = make_url(ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    try:
        yield url, make_conninfo(ADMIN_URL, dbname=name)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def county_database(name: str, grid_from: datetime, *, rules: bool = False,
                    then: Callable[[Session], Any] | None = None
                    ) -> Iterator[tuple[URL, str, Engine, Any]]:
    """A scratch database holding the demo users and the demo county (its grid active from
    `grid_from`; the shipped classifier rules when `rules`): (URL, conninfo, engine, and what
    `then(session)` returned after loading, e.g. points to send)."""
    with scratch_database(name) as (url, conninfo):
        engine = create_engine(url)
        with Session(engine) as s:
            load_county(s, grid_from, rules=rules)
            extra = then(s) if then else None
        try:
            yield url, conninfo, engine, extra
        finally:
            engine.dispose()


def load_county(session: Session, grid_from: datetime, *, rules: bool = False) -> None:
    """The demo users and the demo county (its grid active from `grid_from`; the shipped
    classifier rules when `rules`) into an empty schema (PostgreSQL or SQLite), committed."""
    from grid.demo.reference import load_demo, load_demo_grid

    load_demo(session, HASHER)
    load_demo_grid(session, HASHER, grid_from)
    if rules:
        from dispatch.triage.rules import load_classifier_rules

        load_classifier_rules(session)
    session.commit()


@contextmanager
def kept_database(name: str, *, reusable: Callable[[URL], bool]) -> Iterator[tuple[URL, bool]]:
    """Like `scratch_database`, but the database is left in place after the run and the next
    run reuses it when `reusable(url)` says so: (SQLAlchemy URL, whether it was reused). The
    schema's tables missing from a reused database are created."""
    try:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {ADMIN_URL}: {exc}")
    url = make_url(ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
    reused = exists and reusable(url)
    if not reused:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    yield url, reused


def county_points(session: Session, n: int, seed: int) -> list[tuple[float, float]]:
    """`n` random points inside the demo county's outline (WGS-84), reproducibly."""
    county = session.scalar(select(Area.geometry).where(Area.level == "district"))
    shape = shapely.from_wkb(county)
    minx, miny, maxx, maxy = shape.bounds
    rng = random.Random(seed)
    out: list[tuple[float, float]] = []
    while len(out) < n:
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if shapely.contains_xy(shape, lon, lat):
            out.append((lon, lat))
    return out


def quantile(values: list[float], q: float) -> float:
    """The value below which a fraction `q` (0–1) of the sample lies (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
