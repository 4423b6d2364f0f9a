"""The live console: Socket.IO namespace `/console` (CONTRACT.md). The relay that sends the
console feed out after each commit is `web.console.relay`; the board the page starts from,
`web.console.board`.

Handlers hold no business rules: they authenticate, join rooms and relay (dispatch/console/feed.py
decides what an event says and who may see it). With `HOTLINE_REDIS_URL` the Socket.IO server
uses Redis as its message queue, so an event raised in any web process or worker reaches the
consoles connected to every web process.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask_socketio import (
    ConnectionRefusedError,
    Namespace,
    SocketIO,
    disconnect,
    emit,
    join_room,
)

from dispatch.calls.pop import agent_room
from dispatch.console import feed, views
from dispatch.core.accounts import user_for_token
from dispatch.core.errors import DomainError
from dispatch.core.models import User
from dispatch.core.vocab import Role
from grid.duties import duty_cells
from web.auth import session_user
from web.console.relay import CHANNEL, NAMESPACE, ConsoleRelay, RedisEmitter, make_queue
from web.extensions import db
from web.services import services


def _viewer(user: User) -> views.Viewer:
    cells = frozenset(duty_cells(db.session, user.id)) if user.role == Role.GRID_WORKER \
        else frozenset()
    return views.Viewer(user.id, user.role, user.department_code, cells)


def _authenticate(auth: Any) -> User:
    token = auth.get("token") if isinstance(auth, dict) else None
    if token:
        try:
            return user_for_token(db.session, str(token), services().clock.now())
        except DomainError as exc:
            raise ConnectionRefusedError("未授权：" + exc.message) from None
    user = session_user()  # a cookie from before a logout or password change: refused
    if user is None:
        raise ConnectionRefusedError("未授权：请先登录，或在 auth 中提供 token")
    return user


class ConsoleNamespace(Namespace):
    """Authenticate, join the viewer's rooms, replay on `resume`."""

    def __init__(self, namespace: str) -> None:
        super().__init__(namespace)
        self.viewers: dict[str, views.Viewer] = {}
        self.epochs: dict[str, tuple[int, int]] = {}  # sid -> (user id, session epoch)

    def on_connect(self, auth: Any = None) -> None:
        user = _authenticate(auth)
        if user.must_change_password:  # as on every page and API call (web/auth.py)
            raise ConnectionRefusedError("请先修改管理员重置的临时密码，再打开调度台")
        viewer = _viewer(user)
        self.viewers[request.sid] = viewer  # type: ignore[attr-defined]
        self.epochs[request.sid] = (user.id, user.session_epoch)  # type: ignore[attr-defined]
        for room in viewer.rooms():
            join_room(room)
        if user.extension:  # the screen pop of calls ringing this extension (web/hooks/cti.py)
            join_room(agent_room(user.extension))
        emit("welcome", {"seq": feed.head(db.session), "rooms": viewer.rooms()})
        db.session.commit()

    def on_disconnect(self, reason: Any = None) -> None:
        self.viewers.pop(request.sid, None)  # type: ignore[attr-defined]
        self.epochs.pop(request.sid, None)  # type: ignore[attr-defined]

    def on_resume(self, data: Any = None) -> None:
        viewer = self.viewers.get(request.sid)  # type: ignore[attr-defined]
        after = data.get("after_seq") if isinstance(data, dict) else None
        if viewer is None:
            return
        user_id, epoch = self.epochs[request.sid]  # type: ignore[attr-defined]
        user = db.session.get(User, user_id)
        if user is None or not user.active or user.session_epoch != epoch:
            db.session.rollback()  # signed out, disabled or password changed since connecting
            emit("error", {"error": {"code": "unauthorized", "message": "登录已失效，请重新登录"}})
            disconnect()
            return
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            emit("error", {"error": {"code": "bad_request", "field": "after_seq",
                                     "message": "after_seq: 须为不小于 0 的整数"}})
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
        queue: dict[str, Any] = {}
        if url and url.startswith(("redis://", "rediss://")):
            queue["client_manager"] = make_queue(url)  # tells consoles to resume after a cut
        socketio = SocketIO(app, async_mode="threading", message_queue=url,
                            channel=CHANNEL, logger=False, engineio_logger=False,
                            ping_interval=20, ping_timeout=20, **queue)
        socketio.on_namespace(ConsoleNamespace(NAMESPACE))
        emitter = socketio
    elif url:
        emitter = RedisEmitter(url)
    background = app.config.get("CONSOLE_RELAY_BACKGROUND", not app.testing)
    app.extensions["hotline"].console = ConsoleRelay(
        emitter, app, background=bool(background) and emitter is not None)
