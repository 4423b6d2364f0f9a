"""Browser tests: the real app served over HTTP (and Socket.IO) from a thread, on a copy of a
database holding the demo county (PostgreSQL when configured, else SQLite), driven by Playwright
through the machine's Debian Chromium.

Playwright's own browser download does not work here, so the browser is launched from
`/usr/bin/chromium` (`HOTLINE_CHROMIUM` overrides). Without it the tests skip, and fail under
HOTLINE_REQUIRE_SERVICES=1. Screenshots go to `test-artifacts/screenshots/`.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, make_url
from sqlalchemy.orm import Session

from dispatch.core.db import Base
from dispatch.core.ports import ManualClock, RecordingPublisher
from tests.conftest import (
    FAST_HASHER,
    START,
    pg_url,
    require_service,
    run_lock,
    shared_database,
    shared_tmp,
)

CHROMIUM = os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
PASSWORD = "demo12345"


@dataclass
class LiveServer:
    """The app of a browser test, listening on a free port."""

    app: Any
    url: str
    clock: ManualClock
    publisher: RecordingPublisher
    _server: Any = field(repr=False, default=None)

    def api_token(self, user: str) -> str:
        """A bearer token for a demo user (to set up data through the API)."""
        r = self.app.test_client().post("/api/v1/auth/token",
                                        json={"username": user, "password": PASSWORD})
        assert r.status_code == 200, r.get_json()
        return r.get_json()["token"]

    def call(self, user: str, method: str, path: str, json: Any = None) -> Any:
        """An API call as `user` (bearer), asserted to succeed; returns the JSON."""
        client = self.app.test_client()
        r = client.open(path, method=method, json=json,
                        headers={"Authorization": f"Bearer {self.api_token(user)}"})
        assert r.status_code < 300, (r.status_code, r.get_json())
        return r.get_json()


def _load_county(url: str) -> None:
    """The demo users and the whole demo county, as `make run` has them."""
    from dispatch.triage.rules import load_classifier_rules
    from grid.demo.reference import load_demo, load_demo_grid

    engine = create_engine(url)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        load_demo(session, FAST_HASHER)
        load_demo_grid(session, FAST_HASHER, START)
        load_classifier_rules(session)  # as `hotline db upgrade` does
        session.commit()
    engine.dispose()


def _pg_admin(url: str) -> Any:
    import psycopg

    return psycopg.connect(make_url(url).set(drivername="postgresql", database="postgres")
                           .render_as_string(hide_password=False), autocommit=True)


@pytest.fixture(scope="session")
def county_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database with the demo county, built once per run by the first test process that
    needs it (the others wait for it); each test gets a copy (loading the county takes
    seconds, copying it a fraction of one)."""
    shared = shared_tmp(tmp_path_factory)
    url = pg_url()
    with run_lock(shared / "county.lock"):
        if url is None:
            if os.environ.get("HOTLINE_REQUIRE_SERVICES") == "1":
                require_service("PostgreSQL (HOTLINE_TEST_DATABASE_URL)")
            path = shared / "county.db"
            if not path.exists():
                building = shared / "county.db.part"
                building.unlink(missing_ok=True)
                _load_county(f"sqlite:///{building}")
                building.rename(path)
            return str(path)
        template = shared_database("browser_tmpl")
        built = shared / f"{template}.built"
        if not built.exists():
            with _pg_admin(url) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {template} WITH (FORCE)")
                admin.execute(f"CREATE DATABASE {template}")
            _load_county(make_url(url).set(database=template)
                         .render_as_string(hide_password=False))
            built.touch()
        return template


# PostgreSQL databases this process copied from a template, by name: the template and the SQL
# that puts every row back as the copy had it. The next copy of the same template into the same
# name is made in place by that SQL (a second or more of CREATE DATABASE … TEMPLATE under load,
# a few tenths this way).
_copies: dict[str, tuple[str, str]] = {}
SNAPSHOT_SCHEMA = "copy_snapshot"


def _keep_rows(url: str) -> str:
    """Copy every row of the database at `url` into SNAPSHOT_SCHEMA (made anew); the SQL that
    restores the tables and sequences to this state."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        names = [table.name for table in Base.metadata.sorted_tables
                 if conn.execute(f'SELECT EXISTS (SELECT FROM "{table.name}")').fetchone()[0]]
        conn.execute(f"DROP SCHEMA IF EXISTS {SNAPSHOT_SCHEMA} CASCADE")
        conn.execute(f"CREATE SCHEMA {SNAPSHOT_SCHEMA}")
        for name in names:
            conn.execute(f'CREATE TABLE {SNAPSHOT_SCHEMA}."{name}" AS '
                         f'SELECT * FROM public."{name}"')
        sequences = conn.execute("SELECT sequencename, start_value, last_value FROM pg_sequences "
                                 "WHERE schemaname = 'public'").fetchall()
    settings = [f"setval('public.\"{seq}\"', {last}, true)" if last is not None
                else f"setval('public.\"{seq}\"', {start}, false)"
                for seq, start, last in sequences]
    return "; ".join(
        ["SET LOCAL session_replication_role = replica"]  # every row goes and comes back whole
        + [f'DELETE FROM public."{table.name}"' for table in Base.metadata.sorted_tables]
        + [f'INSERT INTO public."{name}" SELECT * FROM {SNAPSHOT_SCHEMA}."{name}"'
           for name in names]
        + (["SELECT " + ", ".join(settings)] if settings else []))


def copy_database(template: str, folder: Path, suffix: str = "browser") -> str:
    """A fresh copy of a template database (a PostgreSQL database's name when configured,
    else a SQLite file) named `<test db>_<suffix>` (`<suffix>.db` in `folder`); its URL."""
    url = pg_url()
    if url is None:
        copy = folder / f"{suffix}.db"
        shutil.copyfile(template, copy)
        return f"sqlite:///{copy}"
    import psycopg

    name = f"{make_url(url).database}_{suffix}"
    target = make_url(url).set(database=name)
    copied = _copies.get(name)
    if copied is not None and copied[0] == template:
        with _pg_admin(url) as admin:  # no connection of the last test's app is left
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        with psycopg.connect(target.set(drivername="postgresql")
                             .render_as_string(hide_password=False)) as conn:
            conn.execute(copied[1])
        return target.render_as_string(hide_password=False)
    with _pg_admin(url) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    _copies[name] = (template, _keep_rows(target.set(drivername="postgresql")
                                          .render_as_string(hide_password=False)))
    return target.render_as_string(hide_password=False)


@pytest.fixture
def browser_db_url(county_template: str, tmp_path: Path) -> str:
    """A fresh copy of the county database: PostgreSQL when configured (CI), else SQLite."""
    return copy_database(county_template, tmp_path)


def start_server(app: Any) -> tuple[Any, str]:
    """Serve `app` (WSGI, with Socket.IO's websocket support) from a daemon thread."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, name="live-server", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def browser_app(db_url: str, folder: Path, clock: ManualClock,
                publisher: RecordingPublisher) -> Any:
    """The app as a browser test serves it."""
    from web.app import create_app
    from web.services import Services

    return create_app({
        "SQLALCHEMY_DATABASE_URI": db_url,
        "INSTANCE_PATH": str(folder / "instance"),
        "SECRET_KEY": "browser-test",
        "SERVICES": Services(clock=clock, hasher=FAST_HASHER, publisher=publisher),
    })


def stop_app(app: Any) -> None:
    """End the app's background threads and close its database connections (a database
    copied as a template must have none)."""
    from web.extensions import db

    live_services = app.extensions["hotline"]
    live_services.console.stop()
    if live_services.runner is not None:
        live_services.runner.stop()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def live_server(browser_db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    from web.extensions import db

    clock, publisher = ManualClock(START), RecordingPublisher()
    app = browser_app(browser_db_url, tmp_path, clock, publisher)
    server, url = start_server(app)
    live = LiveServer(app, url, clock, publisher, server)
    yield live
    server.shutdown()
    # This app's background threads end with it: the next test's database has the same name,
    # and a relay left running would number that test's console events and send them nowhere.
    live_services = app.extensions["hotline"]
    live_services.console.stop()
    if live_services.runner is not None:
        live_services.runner.stop()
    # Let the requests still being served (a websocket whose page just closed) end and give
    # back their connections, so that disposing the engine closes every one of them.
    deadline = time.monotonic() + 5
    for thread in threading.enumerate():
        if "process_request_thread" in thread.name:
            thread.join(max(0.0, deadline - time.monotonic()))
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def demo_county(live_server: LiveServer) -> LiveServer:
    """The live server: its database holds the whole demo county (grid, gazetteer, grid
    workers and their duty roster, dispatch catalogue, knowledge base, classifier phrases)."""
    return live_server


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the session."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        require_service(f"Chromium ({CHROMIUM})")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                    headless=True)
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium: Any, live_server: LiveServer) -> Iterator[Any]:
    """`new_page(viewport=None)` opens a fresh browser context (its own cookies) at the live
    server; every page's console errors fail the test."""
    contexts, errors = [], []

    def open_page(viewport: dict[str, int] | None = None, *, allow_refusals: bool = False,
                  **options: Any) -> Any:
        context = chromium.new_context(base_url=live_server.url,
                                       viewport=viewport or {"width": 1440, "height": 900},
                                       locale="zh-CN", timezone_id="Asia/Shanghai", **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.refusals = []  # 4xx answers a test provoked on purpose (allow_refusals=True)

        def on_console(msg: Any) -> None:
            if msg.type != "error":
                return
            if allow_refusals and msg.text.startswith(
                    "Failed to load resource: the server responded with a status of 4"):
                page.refusals.append(msg.text)
                return
            errors.append(f"console {msg.type}: {msg.text}")

        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        page.on("console", on_console)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, "\n".join(errors)


def login(page: Any, username: str, password: str = PASSWORD, *, then: str | None = None) -> None:
    """Sign in through the login form and wait for the landing page, or for the page `then`
    (a path: the form's `?next=`, as a page that sends a signed-out user to the login does),
    which is then loaded once instead of after the landing page (the role's landing page is
    tested in test_login.py)."""
    page.goto("/login" if then is None else f"/login?next={quote(then, safe='/')}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")
    assert "/login" not in page.url, page.content()[:500]
    if then is not None:
        assert page.url.endswith(then), (page.url, then)


def admin_page(new_page: Any, path: str) -> Any:
    """A page of /admin opened by admin1 and ready (its root `#admin-<name>` says
    data-ready=true); refusals the test provokes are allowed."""
    page = new_page(allow_refusals=True)
    login(page, "admin1", then=path)
    page.wait_for_selector(f"#admin-{path.rstrip('/').rsplit('/', 1)[-1]}[data-ready=true]")
    return page


def page_json(page: Any, url: str) -> Any:
    """GET `url` from inside the page (its session cookie) and return the JSON."""
    return page.evaluate("url => fetch(url).then(r => r.json())", url)


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
