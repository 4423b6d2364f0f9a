"""Browser tests: the real app served over HTTP (and Socket.IO) from a thread, on PostgreSQL when
configured, driven by Playwright through the machine's Debian Chromium.

Playwright's own browser download does not work here, so the browser is launched from
`/usr/bin/chromium` (`HOTLINE_CHROMIUM` overrides). Without it the tests skip, and fail under
HOTLINE_REQUIRE_SERVICES=1. Screenshots go to `test-artifacts/screenshots/`.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from dispatch.db import Base
from dispatch.ports import ManualClock, RecordingPublisher
from tests.conftest import (
    FAST_HASHER,
    START,
    _postgres_engine,
    _truncate,
    pg_url,
    require_service,
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


@pytest.fixture
def browser_db_url(tmp_path: Path) -> str:
    """PostgreSQL when configured (CI), else a SQLite file."""
    if pg_url() is not None:
        engine = _postgres_engine()
        _truncate(engine)
        return engine.url.render_as_string(hide_password=False)
    if os.environ.get("HOTLINE_REQUIRE_SERVICES") == "1":
        require_service("PostgreSQL (HOTLINE_TEST_DATABASE_URL)")
    url = f"sqlite:///{tmp_path / 'browser.db'}"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    return url


def start_server(app: Any) -> tuple[Any, str]:
    """Serve `app` (WSGI, with Socket.IO's websocket support) from a daemon thread."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, name="live-server", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


@pytest.fixture
def live_server(browser_db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    from grid.demo import load_demo
    from web import Services, create_app
    from web.extensions import db

    clock, publisher = ManualClock(START), RecordingPublisher()
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": browser_db_url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "browser-test",
        "SERVICES": Services(clock=clock, hasher=FAST_HASHER, publisher=publisher),
    })
    with app.app_context():
        load_demo(db.session, FAST_HASHER)
        db.session.commit()
    server, url = start_server(app)
    live = LiveServer(app, url, clock, publisher, server)
    yield live
    server.shutdown()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def demo_county(live_server: LiveServer) -> LiveServer:
    """The live server with the demo county loaded: grid, gazetteer, grid workers and their
    duty roster, dispatch catalogue, knowledge base (a few seconds)."""
    from grid.demo import load_demo_grid
    from web.extensions import db

    with live_server.app.app_context():
        load_demo_grid(db.session, FAST_HASHER, live_server.clock.now())
        db.session.commit()
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

    def open_page(viewport: dict[str, int] | None = None, **options: Any) -> Any:
        context = chromium.new_context(base_url=live_server.url,
                                       viewport=viewport or {"width": 1440, "height": 900},
                                       locale="zh-CN", timezone_id="Asia/Shanghai", **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        page.on("console", lambda msg: errors.append(f"console {msg.type}: {msg.text}")
                if msg.type == "error" else None)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, "\n".join(errors)


def login(page: Any, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login form and wait for the landing page."""
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")
    assert "/login" not in page.url, page.content()[:500]


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
