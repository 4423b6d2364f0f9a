"""The console relay: after each commit it numbers the pending console events and sends them
to the consoles' rooms (through this process's Socket.IO server, or Redis from a worker)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from dispatch.console import feed
from grid.names import NameBook

log = logging.getLogger("hotline.console")
NAMESPACE = "/console"
# The Socket.IO channel on Redis (Flask-SocketIO's default), shared by web processes and workers.
CHANNEL = "flask-socketio"


class RedisEmitter:
    """Emits into the web processes' Socket.IO message queue from a process that serves no
    clients (a Celery worker)."""

    def __init__(self, url: str) -> None:
        import socketio

        self._manager = socketio.RedisManager(url, channel=CHANNEL, write_only=True)

    def emit(self, event: str, data: Any, namespace: str, to: Sequence[str]) -> None:
        self._manager.emit(event, data, namespace=namespace, room=list(to))


class ConsoleRelay:
    """Numbers pending feed rows after a commit and sends them to the consoles' rooms.

    In a serving process the sending is done by one background thread, woken after each
    commit (`after_commit`), so a request does not wait while its event goes out to hundreds
    of consoles, and the commits of many requests go out in one round. The thread also wakes
    every `interval` seconds for events a crashed process left unsent. Tests (and the workers)
    relay in the caller's thread instead.
    """

    def __init__(self, emitter: Any | None, app: Flask | None = None,
                 background: bool = False, interval: float = 5.0) -> None:
        self.emitter = emitter
        self.names = NameBook()
        self.sent = 0
        self.app = app
        self.background = background and app is not None
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def after_commit(self, session: Session) -> None:
        """A commit wrote ticket events: send them (now, or by the background thread)."""
        if not self.background:
            self.relay(session)
            return
        if self._thread is None:  # started lazily: in the serving process, after any fork
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="console-relay",
                                                    daemon=True)
                    self._thread.start()
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the current round and end the background thread (an app torn down: another
        app's relay on the same database would otherwise number its events and send them
        to nobody)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        from web.extensions import db

        assert self.app is not None
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            with self.app.app_context():
                try:
                    sent = self.relay(db.session)
                    while sent >= feed.SEQUENCE_BATCH:  # a backlog: keep going
                        sent = self.relay(db.session)
                finally:
                    db.session.remove()

    def decorate(self, session: Session) -> feed.Decorate:
        return lambda summary: self.names.decorate(session, summary)

    def emit(self, message: dict[str, Any], rooms: Sequence[str]) -> None:
        if self.emitter is not None:
            self.emitter.emit("ticket", message, namespace=NAMESPACE, to=list(rooms))
        self.sent += 1

    def relay(self, session: Session) -> int:
        """Send what is pending; never raises (the change is committed already; the events
        stay in the database for consoles to resume from)."""
        try:
            return feed.relay(session, self, self.decorate(session))
        except Exception:
            session.rollback()
            log.exception("console relay failed; consoles will catch up on resume")
            return 0
