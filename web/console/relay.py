"""The console relay: after each commit it numbers the pending console events and sends them
to the consoles' rooms (through this process's Socket.IO server, or Redis from a worker)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from dispatch.console import feed
from grid.names import NameBook

log = logging.getLogger("hotline.console")
NAMESPACE = "/console"
# The Socket.IO channel on Redis (Flask-SocketIO's default), shared by web processes and workers.
CHANNEL = "flask-socketio"


# Server -> client: "ask `resume` from what you have" (this process's subscriber was cut off
# from Redis, so events published meanwhile by other processes never reached its sockets).
RESYNC_EVENT = "resync"


def make_queue(url: str) -> Any:
    """The Socket.IO client manager of a serving process: Flask-SocketIO's Redis manager, which
    after each (re)subscription to the channel tells this process's consoles to resume.

    Redis pub/sub keeps nothing for a subscriber that is away: while Redis is down, or until
    the subscriber's back-off lets it subscribe again, events that other processes publish
    are gone for this process's sockets. They are in the database, numbered; once subscribed
    again, the consoles here are told (`resync`, sent to this process's sockets only) to
    replay from the last seq they hold, and everything published after the subscription
    arrives live (duplicates of the two are dropped by seq on the page).
    """
    import socketio

    class ResyncingRedisManager(socketio.RedisManager):  # type: ignore[misc]
        """`socketio.RedisManager` whose listener announces every subscription."""

        subscriptions = 0

        def _redis_listen_with_retries(self) -> Iterator[dict[str, Any]]:
            # The library's loop (python-socketio 5.x), with the announcement after subscribing.
            # (Back-off capped at 8 s, not 60: a console waits no longer than that.)
            retry_sleep = 1
            while True:
                try:
                    self._redis_connect()
                    pubsub = self.pubsub  # (a failed publish may replace self.pubsub)
                    pubsub.subscribe(self.channel)
                    retry_sleep = 1
                    # Read the confirmation: from here on, every publish reaches us.
                    first = pubsub.get_message(timeout=1.0)
                    self.subscribed_again()
                    if first is not None:
                        yield first
                    yield from pubsub.listen()
                except Exception as exc:
                    log.warning("console queue: cannot receive from Redis (%s); retrying in %s s",
                                exc, retry_sleep)
                    time.sleep(retry_sleep)
                    retry_sleep = min(retry_sleep * 2, 8)

        def subscribed_again(self) -> None:
            """Subscribed (again): this process's consoles resume from what they hold."""
            self.subscriptions += 1
            if self.subscriptions == 1:
                return  # the first subscription, at start: the consoles resume on connect
            log.warning("console queue: subscribed to Redis again; consoles told to resume")
            try:
                self.emit(RESYNC_EVENT, {"reason": "queue_reconnected"}, namespace=NAMESPACE,
                          ignore_queue=True)
            except Exception:
                log.exception("console queue: telling the consoles to resume failed")

    return ResyncingRedisManager(url, channel=CHANNEL)


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
