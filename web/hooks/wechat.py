"""The WeChat official-account endpoint (CONTRACT.md): `GET/POST /hooks/wechat`.

Everything happens inside the request and nothing calls out, so the passive reply comes within
WeChat's 5 seconds; on PostgreSQL lock and statement timeouts keep a stuck row from holding
the request. A MsgId is a contact's external id: a retried push changes nothing and gets the
same reply.

Replays: inbound refuses a timestamp more than 300 s from our clock (and plain mode once the
AES key is set); here the nonce is remembered for 10 minutes in the 110 desk's nonce table
(key `wechat:<appid>`, shared by every process), in the transaction of what the push writes,
or alone when it writes nothing. A used nonce is refused with 401, unless the push is WeChat
retrying a recorded message of the same citizen: that gets the recorded reply, writing nothing.
"""

from __future__ import annotations

import os
from datetime import datetime

from flask import Blueprint, Response, current_app, request
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import RequestEntityTooLarge

from dispatch.outbound.police import remember_nonce
from grid.directory import SqlDirectory
from integrations.wechat import conversation, mapping
from integrations.wechat.inbound import (
    Credentials,
    Push,
    WeChatError,
    read_push,
    verify_url,
)
from web.api.base import commit
from web.errors import RETRY_AFTER
from web.extensions import db
from web.services import services

bp = Blueprint("wechat", __name__)

HOOK = "/hooks/wechat"


def credentials() -> Credentials | None:
    """The account's settings from the app config (or HOTLINE_WECHAT_*); None when unset."""

    def setting(key: str) -> str | None:
        return current_app.config.get(key) or os.environ.get(f"HOTLINE_{key}") or None

    token = setting("WECHAT_TOKEN")
    if not token:
        return None
    return Credentials(token, setting("WECHAT_AES_KEY"), setting("WECHAT_APP_ID"))


def _plain(body: str, status: int = 200) -> Response:
    response = Response(body, status, mimetype="text/plain")
    if status == 503:  # like every 503 of the system: when to try again
        response.headers["Retry-After"] = str(RETRY_AFTER)
    return response


UNCONFIGURED = "微信公众号接入尚未配置"
TOO_LARGE = "请求内容超过 64 KiB 上限"
BUSY = "系统繁忙（数据库暂时不可用或数据被锁定），请稍后重试"
NONCE_USED = "nonce：10 分钟内已使用过，可能是重放的请求"


def nonce_key(creds: Credentials) -> str:
    """The key id this account's nonces are remembered under in the shared nonce table."""
    return f"wechat:{creds.app_id or 'plain'}"[:64]


@bp.get(HOOK)
def verify() -> Response:
    """The server-address check: echo `echostr` when the signature is right."""
    creds = credentials()
    if creds is None:
        return _plain(UNCONFIGURED, 503)
    try:
        return _plain(verify_url(creds, request.args, now=services().clock.now().timestamp()))
    except WeChatError as exc:
        return _plain(exc.message, exc.http_status)


@bp.post(HOOK)
def receive() -> Response:
    """One push: verify, act, and answer with a passive reply (or `success`)."""
    creds = credentials()
    if creds is None:
        return _plain(UNCONFIGURED, 503)
    now = services().clock.now()
    try:
        body = request.get_data(cache=False)
        push = read_push(creds, request.args, body, now=now.timestamp())
    except RequestEntityTooLarge:
        return _plain(TOO_LARGE, 413)
    except WeChatError as exc:
        return _plain(exc.message, exc.http_status)
    try:
        content = handle(push, nonce_key(creds), now)
    except WeChatError as exc:  # a used nonce: a replay
        return _plain(exc.message, exc.http_status)
    except (OperationalError, StaleDataError):
        # Busy or locked: answer an error so WeChat retries; the MsgId keeps it harmless.
        db.session.rollback()
        return _plain(BUSY, 503)
    if content is None:
        return _plain("success")
    stamp = int(now.timestamp())
    reply = mapping.text_reply(push.message, content, stamp)
    if push.encrypted:
        reply = mapping.encrypted_reply(creds.crypto(), creds.token, reply, str(stamp),
                                        push.nonce)
    return Response(reply, 200, mimetype="application/xml")


def handle(push: Push, key_id: str, now: datetime) -> str | None:
    """Remember the push's nonce, act on its message and give the reply text (None: answer
    `success`): what the message means is decided by `integrations.wechat.conversation`; here
    it is committed. A used nonce raises a 401 `WeChatError`, unless the push is a retry."""
    message = push.message
    _bound_waits()
    if not remember_nonce(db.session, key_id, push.nonce, now):
        # WeChat retries a push it got no answer to within 5 s; if it resends the same query
        # string, the MsgId (and the citizen) tell the retry from a replay.
        seen = conversation.retry_reply(db.session, message)
        db.session.rollback()
        if seen is None:
            raise WeChatError(401, NONCE_USED)
        return seen
    if message.msg_type in ("text", "voice", "image", "location"):
        assert message.msg_id is not None  # inbound refuses messages without one
        seen = conversation.recorded_reply(db.session, message)
        if seen is not None:
            commit()  # the nonce: a retry with a fresh one
            return seen
    try:
        outcome = conversation.answer(
            db.session, message, now,
            ports=lambda: services().intake_ports(db.session, now),
            directory=lambda: SqlDirectory(db.session))
        if not outcome.changed:
            db.session.rollback()
            _remember_alone(push, key_id, now)
            return outcome.reply
        commit(outcome.events)
    except IntegrityError:
        # The same push twice at once: the other request recorded this MsgId first.
        db.session.rollback()
        seen = conversation.recorded_reply(db.session, message)
        if seen is None:
            raise
        _remember_alone(push, key_id, now)
        return seen
    return outcome.reply


def _remember_alone(push: Push, key_id: str, now: datetime) -> None:
    """Commit the nonce of a push that wrote nothing else, so it cannot carry another body."""
    _bound_waits()
    if not remember_nonce(db.session, key_id, push.nonce, now):
        # Another request with this nonce committed meanwhile: one of them was a replay.
        db.session.rollback()
        raise WeChatError(401, NONCE_USED)
    commit()


def _bound_waits() -> None:
    """On PostgreSQL, cap lock and statement waits well inside WeChat's 5 seconds."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL lock_timeout = '2s'"))
        db.session.execute(text("SET LOCAL statement_timeout = '3s'"))
