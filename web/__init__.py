"""The Flask application: factory, extensions and the wiring of the domain's ports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from dispatch import feed, rollups
from dispatch.classifier import ClassifierCache, SessionClassifier
from dispatch.pipeline import Classifier, IntakePorts
from dispatch.ports import Clock, LogPublisher, Publisher, SystemClock
from grid.locator import GridCache
from grid.service import GridRouting
from integrations.sms import SmsSender, sender_from_config
from web.config import from_environment
from web.extensions import db, migrate

MIGRATIONS = str(Path(__file__).parent / "migrations")


@dataclass
class Services:
    """The real or fake parts the domain is given, chosen from configuration."""

    clock: Clock = field(default_factory=SystemClock)
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    publisher: Publisher = field(default_factory=LogPublisher)
    # None: the admin-editable rule classifier of the database (cached per rules revision).
    classifier: Classifier | None = None
    classifier_cache: ClassifierCache = field(default_factory=ClassifierCache)
    # The SMS backend (None: chosen from the configuration when the app is built).
    sms: SmsSender | None = None
    # Embedded mode's in-process runner (started by `hotline serve` without Redis).
    runner: Any = None
    # Grid indexes built once per version and shared by the requests of this application.
    grid_cache: GridCache = field(default_factory=GridCache)
    # The live console's relay (web/console.py), set when the app is built.
    console: Any = None

    def intake_ports(self, session: Session, now: datetime) -> IntakePorts:
        """Ports for one intake: they read the request's database at its moment."""
        grid = GridRouting(session, now, self.grid_cache)
        classifier = self.classifier or SessionClassifier(session, self.classifier_cache)
        return IntakePorts(classifier, grid, grid)


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build an application; `overrides` replaces configuration (tests, CLI)."""
    config = from_environment()
    config.update(overrides or {})
    app = Flask(__name__, instance_path=config["INSTANCE_PATH"])
    app.config.update(config)
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

    # grid_api (and the other *_api modules) add their routes to api.bp when imported.
    from web import (  # noqa: F401
        api,
        attachments_api,
        callbacks_api,
        classify_api,
        console,
        dashboard_api,
        errors,
        grid_api,
        health,
        kb_api,
        open311,
        pages,
        police110,
        reports,
        security,
        stats_api,
        wechat,
    )

    errors.register(app)
    security.init_app(app)
    feed.install()  # every committed ticket event becomes a console event
    rollups.install()  # and queues its ticket for the statistics' rollups
    console.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(open311.bp)
    app.register_blueprint(wechat.bp)
    app.register_blueprint(police110.bp)
    app.register_blueprint(callbacks_api.bp)
    app.register_blueprint(pages.bp)
    return app


def services() -> Services:
    """The services of the current application."""
    from flask import current_app

    return current_app.extensions["hotline"]


__all__ = ["create_app", "services", "Services"]
