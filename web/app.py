"""The app factory: configuration, extensions, blueprints and the wiring of the domain's ports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, Request
from sqlalchemy import event
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import LimitedStream

from dispatch import subscribers
from integrations.sms import sender_from_config
from web.api.base import ApiBlueprint, BoundedIntConverter
from web.config import Config
from web.extensions import db, migrate
from web.services import Services

MIGRATIONS = str(Path(__file__).parent / "migrations")


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class _BoundedStream(LimitedStream):
    """A body without Content-Length (chunked) read up to the limit: one more byte waiting
    behind it means the body is over the limit (413), never a body silently cut short."""

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted and self._stream.read(1):
            raise RequestEntityTooLarge()
        return data


class BoundedRequest(Request):
    """Flask's request whose chunked bodies over `max_content_length` are refused (413) like
    those whose Content-Length is over it (Werkzeug's own stream stops at the limit)."""

    @property
    def stream(self):  # noqa: ANN201 — the same type as Werkzeug's
        """The input stream, bounded by this request's `max_content_length`."""
        if "_bounded_stream" not in self.__dict__:
            limit = self.max_content_length
            if (limit is not None and self.content_length is None
                    and "wsgi.input_terminated" in self.environ
                    and self.environ.get("REQUEST_METHOD") not in ("GET", "HEAD")):
                self.__dict__["_bounded_stream"] = _BoundedStream(
                    self.environ["wsgi.input"], limit, is_max=True)
            else:
                self.__dict__["_bounded_stream"] = Request.stream.__get__(self)  # type: ignore[attr-defined]
        return self.__dict__["_bounded_stream"]


def create_app(overrides: dict[str, Any] | None = None, config: Config | None = None) -> Flask:
    """Build an application from `config` (default: `Config.from_environment()`, which refuses
    a bad HOTLINE_* value with a ConfigError naming it); `overrides` replaces single keys
    (tests, CLI)."""
    settings = (config or Config.from_environment()).flask_settings()
    settings.update(overrides or {})
    app = Flask(__name__, instance_path=settings["INSTANCE_PATH"])
    app.url_map.converters["int"] = BoundedIntConverter  # before any route is added
    app.request_class = BoundedRequest
    app.config.update(settings)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///") and ":memory:" not in uri:
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS, render_as_batch=True)
    app.extensions["hotline"] = app.config.get("SERVICES") or Services()
    if app.extensions["hotline"].sms is None:
        app.extensions["hotline"].sms = sender_from_config(app.config)

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
            db.engine.dispose()

    from web import auth, errors, security
    from web.api import (  # noqa: F401
        admin_audit,
        admin_people,
        admin_setup,
        assessment,
        attachments,
        callbacks,
        calls,
        classifier_admin,
        classify,
        dashboard,
        grid,
        health,
        kb,
        public,
        reports,
        stats,
        tickets,
        triage,
    )
    from web.console import board  # noqa: F401
    from web.console import socket as console
    from web.hooks import cti, open311, police110, sms, wechat
    from web.pages import admin as admin_pages  # noqa: F401  (each adds its pages to `staff`)
    from web.pages import admin_audit as audit_pages  # noqa: F401
    from web.pages import admin_content as content_pages  # noqa: F401
    from web.pages import admin_people as people_pages  # noqa: F401
    from web.pages import admin_setup as setup_pages  # noqa: F401
    from web.pages import assessment as assessment_pages  # noqa: F401  (/assessment)
    from web.pages import calls as calls_pages  # noqa: F401  (/calls, 漏接回拨 and the board)
    from web.pages import citizen as citizen_pages  # noqa: F401  (/report, /track)
    from web.pages import disputes as dispute_pages  # noqa: F401  (/disputes, 定责)
    from web.pages import police as police_pages  # noqa: F401  (/police, the 110 desk)
    from web.pages import staff

    errors.register(app)
    security.init_app(app)
    auth.init_app(app)  # the login throttle (CONTRACT.md: 429 after 5 failures in 15 min)
    subscribers.install()  # the table of consequences (dispatch/subscribers.py)
    console.init_app(app)
    app.register_blueprint(health.bp)
    for api_area in ApiBlueprint.every:  # each module of web.api owns one
        app.register_blueprint(api_area)
    app.register_blueprint(open311.bp)
    app.register_blueprint(wechat.bp)
    app.register_blueprint(police110.bp)
    app.register_blueprint(sms.bp)
    app.register_blueprint(cti.bp)
    app.register_blueprint(staff.bp)
    return app
