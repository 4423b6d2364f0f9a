"""Fixtures: a database per backend (SQLite always, PostgreSQL when configured), an app, a
client with one bearer token per demo user, and a clock the test moves by hand."""

from __future__ import annotations

import gc
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Integer, create_engine
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

import dispatch.core.models  # noqa: F401
import dispatch.intake.web_channel  # noqa: F401
import dispatch.outbound.outbox  # noqa: F401
import dispatch.outbound.police  # noqa: F401
import dispatch.stats.assessment_tables  # noqa: F401
import dispatch.subscribers
import dispatch.tickets.attachments  # noqa: F401
import dispatch.triage.knowledge  # noqa: F401
import dispatch.triage.rules  # noqa: F401
import grid.models  # noqa: F401
import integrations.wechat.inbox  # noqa: F401
from dispatch.core.db import Base
from dispatch.core.ports import ManualClock, RecordingPublisher

# Monday 2026-11-23 10:00 in Asia/Shanghai.
START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
REQUIRE = os.environ.get("HOTLINE_REQUIRE_SERVICES") == "1"
dispatch.subscribers.install()  # as the app does: the table of consequences


def pg_url() -> str | None:
    url = os.environ.get("HOTLINE_TEST_DATABASE_URL")
    if not url:
        return None
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def require_service(name: str) -> None:
    """Skip, or fail under HOTLINE_REQUIRE_SERVICES=1, when a server is not configured."""
    message = f"{name} is not configured"
    if REQUIRE:
        pytest.fail(message + " and HOTLINE_REQUIRE_SERVICES=1")
    pytest.skip(message)


_pg_engine: Engine | None = None


def _postgres_engine() -> Engine:
    """The process's engine on the test database, also the engine of every app the `app`
    fixture makes on PostgreSQL: an engine per app opened new server connections for each
    test, and a new connection starts with cold catalog caches (some tens of milliseconds
    before a test's queries were answered at full speed). Connections go back to the pool
    rolled back; what the process keeps per engine is keyed by the reference revision, which
    `seed_demo` renews for each test."""
    global _pg_engine
    if _pg_engine is None:
        url = pg_url()
        assert url is not None
        engine = create_engine(url, pool_size=10, max_overflow=10)
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        _pg_engine = engine
    return _pg_engine


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Close the shared PostgreSQL engine's connections before the interpreter exits."""
    if _pg_engine is not None:
        _pg_engine.dispose()


# ---------------------------------------------------------------- servers per test process

# Under pytest-xdist (`make test`) each worker process (gw0, gw1, ...) has a PostgreSQL database
# and a Redis db of its own. The worker rewrites HOTLINE_TEST_DATABASE_URL and
# HOTLINE_TEST_REDIS_URL in its environment before any test runs, so every fixture, every
# database a test names after the configured one (`<db>_browser`, `<db>_sim_tmpl`, ...) and
# every process a test starts (live servers, `hotline serve`, Celery workers) follow it. The
# database names carry a run id (`test_3f9a0c1e_gw0`) and each Redis db is claimed by one
# worker at a time: two runs on one server never meet. Without xdist the configured database
# and Redis db are used as they are.

RUN_ID = pytest.StashKey[str]()
WORKER_DATABASE = pytest.StashKey[str]()
REDIS_OWNER = pytest.StashKey[str]()
# Tests that share something costly built once per process (a module- or session-scoped
# fixture) run in one worker: `--dist loadgroup` sends a group to a single worker.
GROUPS = {
    "tests/service/test_simulation.py": "simulation",  # the county and a simulated history
    "tests/cli/test_simulate_command.py": "cli-simulate",  # an upgraded county database
    "tests/cli/test_classifier_command.py": "cli-classifier",  # an upgraded database
    "tests/browser/test_dashboard_page.py": "dashboard",  # the county with a simulated week
}
# The slow files, collected first, the longest tests first, so that the workers start on them
# and the run does not end with one worker still busy on a long test while the others wait
# (pytest orders the tests within a file as before).
SLOW_FIRST = ("tests/service/test_rollups.py", "tests/web/test_fuzz.py",
              "tests/service/test_triage_models.py", "tests/service/test_demo_county.py",
              "tests/workers/", "tests/cli/", "tests/browser/", "tests/unit/test_architecture.py",
              "tests/service/test_concurrency.py", "tests/web/test_concurrent_actions_http.py")


def shared_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder shared by every process of this run (the workers' base folders' parent)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def shared_database(suffix: str) -> str:
    """The name of a PostgreSQL database shared by every process of this run: named after
    this run's databases (`test_3f9a0c1e_<suffix>`), or after the configured one without
    xdist (`test_<suffix>`)."""
    url = pg_url()
    assert url is not None
    name = make_url(url).database or ""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and name.endswith(f"_{worker}"):
        name = name.removesuffix(f"_{worker}")
    return f"{name}_{suffix}"


@contextmanager
def run_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` among this run's processes (one builds, others wait)."""
    import fcntl

    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _admin(url: str) -> Any:
    """An autocommit connection to the server's maintenance database."""
    import psycopg

    return psycopg.connect(make_url(url).set(drivername="postgresql", database="postgres")
                           .render_as_string(hide_password=False), autocommit=True)


def _drop_databases(url: str, prefix: str, name: str = "") -> None:
    """Drop the database `name` and every one whose name starts with `prefix`."""
    with _admin(url) as admin:
        names = admin.execute("SELECT datname FROM pg_database "
                              "WHERE datname = %s OR starts_with(datname, %s)",
                              (name, prefix)).fetchall()
        for (name,) in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


REDIS_CLAIM = "hotline-test:claimed-by"


def _claim_redis_db(url: str, owner: str) -> str:
    """The worker's own Redis db: the first, counting down from the configured one (15, 14,
    ...), that no other test process holds. Held by a key naming the run and the worker (it
    expires after a day should a run be killed), let go at the end."""
    import redis

    parsed = make_url(url)
    base = int(parsed.database or 0)
    candidates = [parsed.set(database=str((base - step) % 16)).render_as_string(
        hide_password=False) for step in range(16)]
    try:
        for candidate in candidates:
            with redis.Redis.from_url(candidate) as client:
                if client.set(REDIS_CLAIM, owner, nx=True, ex=86_400):
                    return candidate
    except redis.ConnectionError:
        pass  # no server: the Redis tests fail on it, as they do without xdist
    return candidates[0]


def _release_redis_db(url: str, owner: str) -> None:
    import redis

    try:
        with redis.Redis.from_url(url) as client:
            if client.get(REDIS_CLAIM) == owner.encode():
                client.delete(REDIS_CLAIM)
    except redis.ConnectionError:
        pass


def _build_urls_on_demand() -> None:
    """The suite makes a Flask app per test (about 1,600), and werkzeug compiles two URL
    builders for each of its ~95 routes as each app is made: 57 of the 62 ms of `create_app`.
    A test builds a handful of URLs, so each builder is compiled the first time it is used —
    the same code, the same URLs (werkzeug's own tests of routing are not ours to run). Left
    alone if werkzeug's `Rule._compile_builder` is not the method this expects."""
    from werkzeug.routing.rules import Rule

    original = getattr(Rule, "_compile_builder", None)
    if original is None or getattr(original, "on_demand", False):
        return

    def compile_builder(self: Rule, append_unknown: bool = True) -> Callable[..., Any]:
        compiled: Callable[..., Any] | None = None

        def build(*args: Any, **kwargs: Any) -> Any:  # bound to the rule like the original
            nonlocal compiled
            if compiled is None:
                compiled = original(self, append_unknown)
            return compiled(*args, **kwargs)

        return build

    compile_builder.on_demand = True  # type: ignore[attr-defined]
    Rule._compile_builder = compile_builder  # type: ignore[method-assign]


def _commits_without_disk_waits() -> None:
    """The test databases' connections commit without waiting for the WAL to reach the disk
    (`synchronous_commit=off`, set per connection through the URL, so every fixture, app,
    live server and subprocess of the run gets it): on this machine a commit that waits costs
    7 ms, one that does not 0.8 ms, and the suite commits tens of thousands of times. What a
    commit makes visible, and when, is unchanged; only a crash of the server could lose the
    last commits, and no test crashes it. The server's own configuration is left alone."""
    base = os.environ.get("HOTLINE_TEST_DATABASE_URL")
    if not base:
        return
    url = make_url(base)
    if "options" not in url.query:
        os.environ["HOTLINE_TEST_DATABASE_URL"] = url.update_query_dict(
            {"options": "--synchronous_commit=off"}).render_as_string(hide_password=False)


def pytest_configure(config: pytest.Config) -> None:
    """A worker creates its database and points the test environment at it and its Redis db;
    the controller of a parallel run picks the run id."""
    _build_urls_on_demand()
    _commits_without_disk_waits()
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        config.stash[RUN_ID] = secrets.token_hex(4)
        return
    run, worker = workerinput["hotline_run"], workerinput["workerid"]
    base = os.environ.get("HOTLINE_TEST_DATABASE_URL")
    if base:
        import psycopg

        name = f"{make_url(base).database}_{run}_{worker}"
        try:
            with _admin(base) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            config.stash[WORKER_DATABASE] = name
        except psycopg.OperationalError:
            pass  # no server: the PostgreSQL tests fail on it, as they do without xdist
        os.environ["HOTLINE_TEST_DATABASE_URL"] = make_url(base).set(
            database=name).render_as_string(hide_password=False)
    redis_url = os.environ.get("HOTLINE_TEST_REDIS_URL")
    if redis_url:
        os.environ["HOTLINE_TEST_REDIS_URL"] = _claim_redis_db(redis_url, f"{run}_{worker}")
        config.stash[REDIS_OWNER] = f"{run}_{worker}"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """(xdist controller) Hand each worker the run id its database names carry."""
    node.workerinput["hotline_run"] = node.config.stash[RUN_ID]


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the test ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put the tests of GROUPS in their xdist group; the SLOW_FIRST files first."""
    root = Path(str(config.rootpath))

    def where(item: pytest.Item) -> str:
        return Path(str(item.path)).relative_to(root).as_posix()

    for item in items:
        for prefix, group in GROUPS.items():
            if where(item).startswith(prefix):
                item.add_marker(pytest.mark.xdist_group(group))
    def rank(item: pytest.Item) -> int:
        path = where(item)
        return next((i for i, p in enumerate(SLOW_FIRST) if path.startswith(p)), len(SLOW_FIRST))

    items.sort(key=rank)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Fewer garbage collections while the tests run: what collection made (the modules, the
    test items, the app's code) is moved out of the collector's sight (`gc.freeze`), and the
    young generation is collected every 50,000 allocations instead of 700. A full collection
    of a test process's heap took tens of milliseconds and ran every few tests; with these a
    sample of tests/service (229 tests) took 12.7-13.7 s of user time instead of 16-18 s, and
    its peak memory was 276 MB instead of 248 MB. Cyclic garbage is still collected, only
    less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def pytest_unconfigure(config: pytest.Config) -> None:
    """A worker drops its databases (and those named after them) and lets go of its Redis db;
    the controller drops any database a crashed worker left behind."""
    if REDIS_OWNER in config.stash:
        _release_redis_db(os.environ["HOTLINE_TEST_REDIS_URL"], config.stash[REDIS_OWNER])
    base = os.environ.get("HOTLINE_TEST_DATABASE_URL")
    if not base:
        return
    if WORKER_DATABASE in config.stash:
        name = config.stash[WORKER_DATABASE]
        _drop_databases(base, f"{name}_", name)
    elif RUN_ID in config.stash and config.pluginmanager.hasplugin("dsession"):
        import psycopg

        try:
            _drop_databases(base, f"{make_url(base).database}_{config.stash[RUN_ID]}_")
        except psycopg.OperationalError:
            pass  # no server: the run has already failed on it


_superuser: dict[str, bool] = {}


def _empty(engine: Engine) -> None:
    """Empty every table and restart the identities that moved, as `TRUNCATE ... RESTART
    IDENTITY` would: by DELETE, children first, which on tables of a few rows takes
    milliseconds where TRUNCATE (new files for some hundred tables and indexes) took a quarter
    of a second per test; all in one round trip. As a superuser (the tests' server), with the
    foreign keys' triggers off for the transaction (`session_replication_role = replica`):
    every row goes, so checking each deleted row's references is wasted work — the demo's
    users, departments and categories are referenced by dozens of tables, and the checks took
    nine tenths of the time (12 ms against 119 ms, median of 20 at load 5)."""
    key = engine.url.render_as_string()
    if key not in _superuser:
        with engine.connect() as conn:
            _superuser[key] = bool(conn.exec_driver_sql(
                "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").scalar())
    deletes = "; ".join(f'DELETE FROM "{table.name}"'
                        for table in reversed(Base.metadata.sorted_tables))
    triggers_off = "SET LOCAL session_replication_role = replica; " if _superuser[key] else ""
    with engine.begin() as conn:
        conn.exec_driver_sql(
            triggers_off + deletes + "; SELECT setval((quote_ident(schemaname) || '.' || "
            "quote_ident(sequencename))::regclass, start_value, false) "
            "FROM pg_sequences WHERE last_value IS NOT NULL")


@pytest.fixture(scope="session")
def sqlite_schema(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database with the schema, made once per process (creating the tables
    took a third of a second per test); each test gets a copy."""
    path = tmp_path_factory.mktemp("schema") / "empty.db"
    engine = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    engine.dispose()
    return path


def empty_database(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty schema on `backend` ("sqlite" or "postgresql")."""
    if backend == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(request.getfixturevalue("sqlite_schema"), path)
        return f"sqlite:///{path}"
    if pg_url() is None:
        require_service("PostgreSQL (HOTLINE_TEST_DATABASE_URL)")
    engine = _postgres_engine()
    _empty(engine)
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty schema on each backend; the same test runs on both."""
    return empty_database(request.param, request, tmp_path)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    if db_url.startswith("sqlite"):
        from sqlalchemy import event

        from web.app import _sqlite_pragmas

        eng = create_engine(db_url)
        event.listen(eng, "connect", _sqlite_pragmas)
        yield eng
        eng.dispose()
    else:
        yield _postgres_engine()


# The rows `load_demo` writes, per backend: loaded once per process, then restored (a few bulk
# inserts) into each test's empty schema instead of loaded again (categories, departments, nine
# argon2 hashes: a quarter of a second per test, the largest fixed cost of the suite).
_demo_rows: dict[str, list[tuple[Any, list[dict[str, Any]]]]] = {}
# On PostgreSQL the rows are also kept in the database itself (a schema of their own, beside
# the tables), and restored by one statement per table in one round trip: a test's seeding took
# 40 ms of Python and round trips that way, 100 ms under load, the other way (per database).
SNAPSHOT_SCHEMA = "demo_snapshot"
_restore_sql: dict[str, str] = {}


def _sequences_moved(snapshot: list[tuple[Any, list[dict[str, Any]]]]) -> list[str]:
    """`setval` calls putting the sequences where `load_demo` left them."""
    return [f"setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
            f"{max(row[column.name] for row in rows)})"
            for table, rows in snapshot
            for column in table.primary_key.columns
            if len(table.primary_key.columns) == 1 and isinstance(column.type, Integer)]


def _keep_snapshot(engine: Engine, snapshot: list[tuple[Any, list[dict[str, Any]]]]) -> str:
    """Copy the demo rows, just written to `engine`'s empty tables, into SNAPSHOT_SCHEMA (made
    anew: a database kept from an earlier run may hold an older one); the SQL restoring them."""
    names = [table.name for table, _ in snapshot]
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SNAPSHOT_SCHEMA} CASCADE; "
                             f"CREATE SCHEMA {SNAPSHOT_SCHEMA}; " + "; ".join(
                                 f'CREATE TABLE {SNAPSHOT_SCHEMA}."{name}" AS '
                                 f'SELECT * FROM public."{name}"' for name in names))
    moved = _sequences_moved(snapshot)
    return "; ".join([f'INSERT INTO public."{name}" SELECT * FROM {SNAPSHOT_SCHEMA}."{name}"'
                      for name in names] + (["SELECT " + ", ".join(moved)] if moved else []))


def seed_demo(engine: Engine) -> None:
    """The demo reference data and users in `engine`'s empty schema, exactly as `load_demo`
    writes them, with a reference revision of its own (so no per-engine cache outlives it)."""
    from dispatch.core.memo import ReferenceRevision
    from grid.demo.reference import load_demo

    dialect = engine.dialect.name
    snapshot = _demo_rows.get(dialect)
    if snapshot is None:
        with Session(engine) as s:
            load_demo(s, FAST_HASHER)
            s.commit()
        with engine.connect() as conn:
            snapshot = _demo_rows[dialect] = [
                (table, rows) for table in Base.metadata.sorted_tables
                if (rows := [dict(row._mapping) for row in conn.execute(table.select())])]
        if dialect == "postgresql":
            _restore_sql[engine.url.render_as_string()] = _keep_snapshot(engine, snapshot)
        return
    token = secrets.token_hex(8)
    restore = _restore_sql.get(engine.url.render_as_string()) if dialect == "postgresql" else None
    with engine.begin() as conn:
        if restore is not None:
            conn.exec_driver_sql(f"{restore}; UPDATE reference_revision SET token = '{token}'")
            return
        for table, rows in snapshot:
            conn.execute(table.insert(), rows)
        conn.execute(ReferenceRevision.__table__.update().values(token=token))
        if dialect == "postgresql" and (moved := _sequences_moved(snapshot)):
            conn.exec_driver_sql("SELECT " + ", ".join(moved))
    if dialect == "postgresql":  # a database of its own: kept from now on
        _restore_sql[engine.url.render_as_string()] = _keep_snapshot(engine, snapshot)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A plain SQLAlchemy session with the reference data and demo users loaded."""
    seed_demo(engine)
    with Session(engine, expire_on_commit=False) as s:
        yield s
        s.rollback()


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """The process's logging as the test found it: configuring (web.logs, which `hotline` and
    the logging tests do in this process) replaces the root logger's handlers and connects a
    Celery signal receiver."""
    import logging

    from celery import signals

    import web.logs

    root = logging.getLogger()
    handlers, level, fmt = root.handlers[:], root.level, web.logs._format
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
    web.logs._format = fmt
    signals.setup_logging.disconnect(web.logs._leave_to_hotline)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def app(db_url: str, tmp_path: Path, clock: ManualClock, publisher: RecordingPublisher):
    from web.app import create_app
    from web.config import TestingConfig
    from web.extensions import db
    from web.services import Services

    application = create_app(
        {"SERVICES": Services(clock=clock, hasher=FAST_HASHER, publisher=publisher)},
        config=TestingConfig(database_url=db_url, instance_path=tmp_path / "instance"))
    shared = db_url.startswith("postgresql")
    with application.app_context():
        if shared:  # the process's engine (see _postgres_engine) instead of one of its own
            db.engine.dispose()  # (never connected)
            db._app_engines[application][None] = _postgres_engine()
        seed_demo(db.engine)
    yield application
    with application.app_context():
        db.session.remove()
        if not shared:
            db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


class Api:
    """A test client that acts as one demo user or another, by bearer token."""

    def __init__(self, client) -> None:
        self.client = client
        self._tokens: dict[str, str] = {}

    def headers(self, user: str) -> dict[str, str]:
        if user not in self._tokens:
            r = self.client.post("/api/v1/auth/token",
                                 json={"username": user, "password": "demo12345"})
            assert r.status_code == 200, r.get_json()
            self._tokens[user] = r.get_json()["token"]
        return {"Authorization": f"Bearer {self._tokens[user]}"}

    def get(self, user: str, url: str, **kw):
        return self.client.get(url, headers=self.headers(user), **kw)

    def post(self, user: str, url: str, json=None, **kw):
        return self.client.post(url, headers=self.headers(user), json=json, **kw)

    def put(self, user: str, url: str, json=None, **kw):
        return self.client.put(url, headers=self.headers(user), json=json, **kw)

    def create(self, user: str = "operator1", **fields):
        body = {"channel": "phone", "text": "小区门口有人占道经营，堵住了出口",
                "citizen": {"name": "张三", "phone": "13800138000"},
                "type": "complaint", "category": "urban", "urgency": "normal"}
        body.update(fields)
        r = self.post(user, "/api/v1/tickets", json=body)
        assert r.status_code == 201, r.get_json()
        return r.get_json()

    def act(self, user: str, number: str, action: str, version: int | None = None, **payload):
        if version is None:
            version = self.get("dispatcher1", f"/api/v1/tickets/{number}").get_json()["version"]
        return self.post(user, f"/api/v1/tickets/{number}/actions/{action}",
                         json={"version": version, **payload})


@pytest.fixture
def api(client) -> Api:
    return Api(client)


# ---------------------------------------------------------------- a small grid for tests

# Two streets side by side (蒲东街道 west, 恼里镇 east), two communities each (south, north),
# four cells per community (2 × 2): cells are 0.01° × 0.005° (about 910 m × 555 m).
GRID_WEST, GRID_SOUTH, CELL_DLON, CELL_DLAT = 114.66, 35.19, 0.01, 0.005
TEST_STREETS = (("street_pudong", "蒲东街道"), ("town_naoli", "恼里镇"))


def cell_centre(street: int, community: int, cell: int) -> tuple[float, float]:
    """The centre of a test cell (street 0–1, community 0–1, cell 0–3), WGS-84."""
    col = street * 2 + cell % 2
    row = community * 2 + cell // 2
    return (GRID_WEST + (col + 0.5) * CELL_DLON, GRID_SOUTH + (row + 0.5) * CELL_DLAT)


def cell_code(street: int, community: int, cell: int) -> str:
    return f"{TEST_STREETS[street][0]}-c{community + 1:03d}-g{cell + 1:02d}"


def make_test_grid(session: Session, *, active: bool = True, source: str = "test") -> int:
    """Insert the test grid as a new version (rows written directly, no importer); its id."""
    import shapely

    from grid.models import Area, GridVersion

    def box(x0: float, y0: float, x1: float, y1: float) -> dict:
        poly = shapely.box(x0, y0, x1, y1)
        p = shapely.point_on_surface(poly)
        return {"geometry": shapely.to_wkb(poly), "point_lon": p.x, "point_lat": p.y,
                "area_m2": poly.area * 111_000 * 91_000}

    east, north = GRID_WEST + 4 * CELL_DLON, GRID_SOUTH + 4 * CELL_DLAT
    if active:
        session.query(GridVersion).update({"active": False})
    version = GridVersion(source=source, source_crs="EPSG:4326", active=active, area_count=23,
                          cell_count=16, bbox=[GRID_WEST, GRID_SOUTH, east, north], report={})
    session.add(version)
    session.flush()
    rows = [{"code": "changyuan", "name": "长垣市", "level": "district", "parent_code": None,
             **box(GRID_WEST, GRID_SOUTH, east, north)}]
    for s, (street, name) in enumerate(TEST_STREETS):
        x0 = GRID_WEST + s * 2 * CELL_DLON
        rows.append({"code": street, "name": name, "level": "street",
                     "parent_code": "changyuan", **box(x0, GRID_SOUTH, x0 + 2 * CELL_DLON, north)})
        for c in range(2):
            y0 = GRID_SOUTH + c * 2 * CELL_DLAT
            community = f"{street}-c{c + 1:03d}"
            rows.append({"code": community, "name": f"{name}第{c + 1}社区", "level": "community",
                         "parent_code": street,
                         **box(x0, y0, x0 + 2 * CELL_DLON, y0 + 2 * CELL_DLAT)})
            for g in range(4):
                lon, lat = cell_centre(s, c, g)
                rows.append({"code": cell_code(s, c, g), "level": "cell",
                             "name": f"{name}第{c + 1}社区第{g + 1}网格", "parent_code": community,
                             **box(lon - CELL_DLON / 2, lat - CELL_DLAT / 2,
                                   lon + CELL_DLON / 2, lat + CELL_DLAT / 2)})
    session.execute(Area.__table__.insert(),
                    [{**r, "grid_version": version.id} for r in rows])
    session.flush()
    return version.id


def two_cell_geojson(path: Path) -> Path:
    """A street with two cells, as an admin's GeoJSON export would have it."""
    import json

    def square(x0: float, y0: float, size: float = 0.01) -> dict:
        ring = [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]
        return {"type": "Polygon", "coordinates": [ring]}

    features = [
        {"type": "Feature", "properties": {"code": "s1", "name": "蒲东街道", "level": "street"},
         "geometry": {"type": "Polygon", "coordinates": [[[114.66, 35.19], [114.68, 35.19],
                                                          [114.68, 35.20], [114.66, 35.20],
                                                          [114.66, 35.19]]]}},
        {"type": "Feature", "properties": {"code": "s1-g01", "name": "一网格", "level": "cell"},
         "geometry": square(114.66, 35.19)},
        {"type": "Feature", "properties": {"code": "s1-g02", "name": "二网格", "level": "cell"},
         "geometry": square(114.67, 35.19)},
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}),
                    encoding="utf-8")
    return path


@contextmanager
def statements(engine: Engine, *, this_thread: bool = False) -> Iterator[list[str]]:
    """The SQL statements sent on `engine` while the block runs (an executemany counted once),
    whitespace folded; only this thread's with `this_thread` (a request's, not its relay's)."""
    import threading

    from sqlalchemy import event

    sent: list[str] = []
    thread = threading.get_ident()

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
        if not this_thread or threading.get_ident() == thread:
            sent.append(" ".join(statement.split()))

    # On PostgreSQL the day's ticket counter moves through an engine of its own
    # (dispatch.intake.numbering): its statements are the request's too.
    engines = [engine]
    if engine.dialect.name == "postgresql":
        from dispatch.intake.numbering import counter_engine

        engines.append(counter_engine(engine))
    for each in engines:
        event.listen(each, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        for each in engines:
            event.remove(each, "before_cursor_execute", record)
