"""The Celery application of this installation, for `celery -A web.celery_worker worker` and for
`hotline worker`: the app factory's configuration and parts, the workers' tasks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_celery: Any = None


def _app() -> Any:
    """The worker's Flask application, this process's logging configured from its settings."""
    from web.app import create_app
    from web.logs import configure_logging

    app = create_app({"SOCKETIO_SERVER": False})
    configure_logging(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])
    return app


def get_celery() -> Any:
    """The process's Celery application, built on first use from `create_app()`."""
    global _celery
    if _celery is None:
        from workers.celery_app import make_celery

        _celery = make_celery(_app())
    return _celery


def __getattr__(name: str) -> Any:
    # `celery -A web.celery_worker` looks for `celery`; build it only then (no import-time
    # side effects).
    if name in ("celery", "app"):
        return get_celery()
    raise AttributeError(name)


def main(argv: Sequence[str] | None = None) -> int:
    """`hotline worker`'s body: a worker (with beat unless `--no-beat`) for `create_app()`."""
    from workers.celery_app import worker_main

    return worker_main(_app(), argv)
