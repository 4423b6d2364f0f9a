"""The WeChat official-account endpoint (CONTRACT.md): `GET/POST /hooks/wechat`.

Everything happens inside the request and nothing calls out, so the passive reply comes within
WeChat's 5 seconds; on PostgreSQL lock and statement timeouts keep a stuck row from holding
the request. A MsgId is a contact's external id: a retried push changes nothing and gets the
same reply.
"""

from __future__ import annotations

import os
from datetime import datetime

from flask import Blueprint, Response, current_app, request
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import RequestEntityTooLarge

from grid.directory import SqlDirectory
from integrations.wechat import conversation, mapping
from integrations.wechat.inbound import (
    Credentials,
    Message,
    WeChatError,
    read_push,
    verify_url,
)
from web.api.tickets import commit
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
    return Response(body, status, mimetype="text/plain")


UNCONFIGURED = "the WeChat account is not configured"


@bp.get(HOOK)
def verify() -> Response:
    """The server-address check: echo `echostr` when the signature is right."""
    creds = credentials()
    if creds is None:
        return _plain(UNCONFIGURED, 503)
    try:
        return _plain(verify_url(creds, request.args))
    except WeChatError as exc:
        return _plain(exc.message, exc.http_status)


@bp.post(HOOK)
def receive() -> Response:
    """One push: verify, act, and answer with a passive reply (or `success`)."""
    creds = credentials()
    if creds is None:
        return _plain(UNCONFIGURED, 503)
    try:
        body = request.get_data(cache=False)
        push = read_push(creds, request.args, body)
    except RequestEntityTooLarge:
        return _plain("the body is over 64 KiB", 413)
    except WeChatError as exc:
        return _plain(exc.message, exc.http_status)
    now = services().clock.now()
    try:
        content = handle(push.message, now)
    except (OperationalError, StaleDataError):
        # Busy or locked: answer an error so WeChat retries; the MsgId keeps it harmless.
        db.session.rollback()
        return _plain("busy, try again", 503)
    if content is None:
        return _plain("success")
    stamp = int(now.timestamp())
    reply = mapping.text_reply(push.message, content, stamp)
    if push.encrypted:
        reply = mapping.encrypted_reply(creds.crypto(), creds.token, reply, str(stamp),
                                        push.nonce)
    return Response(reply, 200, mimetype="application/xml")


def handle(message: Message, now: datetime) -> str | None:
    """Act on one message and give the reply text (None: answer `success`): what the message
    means is decided by `integrations.wechat.conversation`; here it is committed."""
    if message.msg_type in ("text", "voice", "image", "location"):
        assert message.msg_id is not None  # inbound refuses messages without one
        _bound_waits()
        seen = conversation.recorded_reply(db.session, message)
        if seen is not None:
            db.session.rollback()
            return seen
    try:
        outcome = conversation.answer(
            db.session, message, now,
            ports=lambda: services().intake_ports(db.session, now),
            directory=lambda: SqlDirectory(db.session))
        if not outcome.changed:
            db.session.rollback()
            return outcome.reply
        commit(outcome.events)
    except IntegrityError:
        # The same push twice at once: the other request recorded this MsgId first.
        db.session.rollback()
        seen = conversation.recorded_reply(db.session, message)
        if seen is None:
            raise
        return seen
    return outcome.reply


def _bound_waits() -> None:
    """On PostgreSQL, cap lock and statement waits well inside WeChat's 5 seconds."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL lock_timeout = '2s'"))
        db.session.execute(text("SET LOCAL statement_timeout = '3s'"))
