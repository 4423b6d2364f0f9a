"""`hotline serve`: gunicorn with one process of threads (Flask-SocketIO's threading mode with
simple-websocket), so the pages, the API and the console's WebSockets share one port. More
processes = more `hotline serve`s behind a proxy with sticky sessions, on one Redis (README)."""

from __future__ import annotations

from typing import Any

import click
from flask import Flask
from gunicorn.app.base import BaseApplication


def _start_background_work(app: Flask) -> None:
    """In the serving process (after gunicorn's fork): fresh database connections, and the
    embedded runner or the Celery kicker."""
    from web.embedded import EmbeddedRunner
    from web.extensions import db
    from web.services import services

    with app.app_context():
        db.engine.dispose()  # no connection inherited across the fork
        if app.config.get("REDIS_URL"):  # distributed: commits poke the Celery workers
            from workers.celery_app import make_celery
            from workers.kick import CeleryKicker

            services().runner = CeleryKicker(make_celery(app))
        else:  # embedded: the outbox, clocks and console catch-up run in this process
            services().runner = EmbeddedRunner(app).start()


class Server(BaseApplication):
    """The app under gunicorn, configured here rather than by a command line."""

    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def options(app: Flask, host: str, port: int, threads: int) -> dict[str, Any]:
    """gunicorn's settings for `hotline serve`."""
    return {
        "bind": f"{host}:{port}", "workers": 1, "worker_class": "gthread",
        "threads": threads, "timeout": 60, "graceful_timeout": 10, "keepalive": 5,
        "accesslog": "-", "errorlog": "-", "loglevel": "warning",
        # The hooks' query strings (signatures, nonces, OpenIDs) never reach the access log.
        "logger_class": "web.access_log.RedactingLogger",
        "post_worker_init": lambda worker: _start_background_work(app),
    }


def run(app: Flask, host: str, port: int, threads: int) -> None:
    """Serve until stopped."""
    mode = "distributed" if app.config.get("REDIS_URL") else "embedded"
    click.echo(f"serving on http://{host}:{port} ({mode} mode, {threads} threads)")
    Server(app, options(app, host, port, threads)).run()
