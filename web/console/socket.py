"""The live console: Socket.IO namespace `/console` (CONTRACT.md), the relay that sends the
console feed out after each commit, and the board the console page starts from.

Handlers hold no business rules: they authenticate, join rooms and relay (dispatch/console/feed.py
decides what an event says and who may see it). With `HOTLINE_REDIS_URL` the Socket.IO server
uses Redis as its message queue, so an event raised in any web process or worker reaches the
consoles connected to every web process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from flask import Flask, current_app, request, session
from flask_socketio import ConnectionRefusedError, Namespace, SocketIO, emit, join_room
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from dispatch.console import feed
from dispatch.core.accounts import user_for_token
from dispatch.core.errors import DomainError
from dispatch.core.models import Ticket, User
from dispatch.core.vocab import OPEN_STATES, Role
from dispatch.tickets.access import visible_tickets
from grid.catalogue import duty_cells
from grid.names import NameBook
from web.api.tickets import endpoint
from web.extensions import db
from web.services import services

log = logging.getLogger("hotline.console")
NAMESPACE = "/console"
BOARD_LIMIT = 3000
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


def _viewer(user: User) -> feed.Viewer:
    cells = frozenset(duty_cells(db.session, user.id)) if user.role == Role.GRID_WORKER \
        else frozenset()
    return feed.Viewer(user.id, user.role, user.department_code, cells)


def _authenticate(auth: Any) -> User:
    token = auth.get("token") if isinstance(auth, dict) else None
    if token:
        try:
            return user_for_token(db.session, str(token), services().clock.now())
        except DomainError as exc:
            raise ConnectionRefusedError("unauthorized: " + exc.message) from None
    user = db.session.get(User, session.get("user_id")) if "user_id" in session else None
    if user is None or not user.active or session.get("pw") != user.password_hash[-16:]:
        raise ConnectionRefusedError("unauthorized: sign in, or pass auth={'token': ...}")
    return user


class ConsoleNamespace(Namespace):
    """Authenticate, join the viewer's rooms, replay on `resume`."""

    def __init__(self, namespace: str) -> None:
        super().__init__(namespace)
        self.viewers: dict[str, feed.Viewer] = {}

    def on_connect(self, auth: Any = None) -> None:
        user = _authenticate(auth)
        if user.role == Role.POLICE_DESK:
            raise ConnectionRefusedError("the 110 desk has no console")
        viewer = _viewer(user)
        self.viewers[request.sid] = viewer  # type: ignore[attr-defined]
        for room in viewer.rooms():
            join_room(room)
        emit("welcome", {"seq": feed.head(db.session), "rooms": viewer.rooms()})
        db.session.commit()

    def on_disconnect(self, reason: Any = None) -> None:
        self.viewers.pop(request.sid, None)  # type: ignore[attr-defined]

    def on_resume(self, data: Any = None) -> None:
        viewer = self.viewers.get(request.sid)  # type: ignore[attr-defined]
        after = data.get("after_seq") if isinstance(data, dict) else None
        if viewer is None:
            return
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            emit("error", {"error": {"code": "bad_request", "field": "after_seq",
                                     "message": "after_seq must be a whole number ≥ 0"}})
            return
        result = feed.replay(db.session, viewer, after,
                             services().console.decorate(db.session))
        db.session.commit()
        for message in result.events:
            emit("ticket", message)
        emit("resumed", {"seq": result.head, "reset": result.reset,
                         "replayed": len(result.events)})


def init_app(app: Flask) -> None:
    """The Socket.IO server (when this process serves clients) and the relay."""
    url = app.config.get("REDIS_URL")
    emitter: Any = None
    if app.config.get("SOCKETIO_SERVER", True):
        socketio = SocketIO(app, async_mode="threading", message_queue=url,
                            channel=CHANNEL, logger=False, engineio_logger=False,
                            ping_interval=20, ping_timeout=20)
        socketio.on_namespace(ConsoleNamespace(NAMESPACE))
        emitter = socketio
    elif url:
        emitter = RedisEmitter(url)
    background = app.config.get("CONSOLE_RELAY_BACKGROUND", not app.testing)
    app.extensions["hotline"].console = ConsoleRelay(
        emitter, app, background=bool(background) and emitter is not None)


# ---------------------------------------------------------------- the board


@endpoint("/console/board", "GET", "The live console's board: open tickets with their feed seq",
          roles=tuple(Role))
def board(actor: Any) -> dict[str, Any]:
    now = services().clock.now()
    top = feed.head(db.session)  # read first: every event after it is replayed on resume
    tickets = list(db.session.scalars(
        select(Ticket).where(Ticket.status.in_([s.value for s in OPEN_STATES]),
                             visible_tickets(actor))
        .options(selectinload(Ticket.assignments), selectinload(Ticket.extensions))
        .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(BOARD_LIMIT)))
    seqs = feed.board_seqs(db.session, [t.id for t in tickets])
    workers = dict(db.session.execute(select(User.id, User.username).where(User.id.in_(
        {a.grid_worker_id for t in tickets for a in t.assignments if a.grid_worker_id}))).all())
    decorate = services().console.decorate(db.session)
    rows = []
    for t in tickets:
        summary = decorate(feed.summarise(t, now, workers))
        summary["seq"] = seqs.get(t.id, 0)
        rows.append(summary)
    return {"seq": top, "server_now": now.isoformat(), "tickets": rows,
            "truncated": len(tickets) == BOARD_LIMIT,
            "map_tile_url": current_app.config.get("MAP_TILE_URL")}
