"""`hotline serve`: gunicorn with one process of threads (Flask-SocketIO's threading mode with
simple-websocket), so the pages, the API and the console's WebSockets share one port. More
processes = more `hotline serve`s behind a proxy with sticky sessions, on one Redis (README)."""

from __future__ import annotations

import logging
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


def _close_sockets(app: Flask) -> None:
    """On Ctrl-C (gunicorn's `worker_int`, in the worker before it exits): close every Socket.IO
    connection, so that the request threads holding the consoles' WebSockets end at once and the
    worker exits in well under a second (not killed after `graceful_timeout`)."""
    socketio = app.extensions.get("socketio")
    server = getattr(socketio, "server", None)
    if server is None:
        return
    for sid, connection in list(server.eio.sockets.items()):
        try:
            connection.close(wait=False)
        except Exception:  # a connection already half closed: the others still go
            logging.getLogger("hotline.server").debug("closing %s failed", sid, exc_info=True)


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
        "worker_int": lambda worker: _close_sockets(app),
        # No control socket (gunicorn.ctl in the working directory); stopping its server also
        # added a second to every Ctrl-C.
        "control_socket_disable": True,
    }


def port_problem(host: str, port: int) -> str | None:
    """Why `host:port` cannot be served (None: it can), checked before anything is printed."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return f"无法解析监听地址 {host}（--host）"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                other = port + 1
                return (f"端口 {port} 已被占用（{host}）：请先停止占用它的程序，或换一个端口"
                        f"（PORT={other} make run，或 hotline serve --port {other}）")
            return f"无法监听 {host}:{port}：{exc.strerror or exc}"
    return None


def run(app: Flask, host: str, port: int, threads: int) -> None:
    """Serve until stopped."""
    problem = port_problem(host, port)
    if problem:
        raise click.ClickException(problem)
    mode = "distributed" if app.config.get("REDIS_URL") else "embedded"
    click.echo(f"serving on http://{host}:{port} ({mode} mode, {threads} threads)")
    Server(app, options(app, host, port, threads)).run()
