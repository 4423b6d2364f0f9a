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

Bursts (a viral event: hundreds of messages a second, each retried by WeChat after 5 s): at most
`WECHAT_INTAKE_SLOTS` pushes per process run the full intake at once. A demand, image or
location that finds no slot free, or whose request has already spent `WECHAT_BUDGET_SECONDS`,
or whose intake hits a lock or statement timeout, or that comes within 2 s of such a hold
(a burst is on), is held instead: one INSERT into the WeChat
inbox keyed by its MsgId, answered at once with `mapping.HELD`; it is processed off the request
(the embedded runner, or the Celery workers' outbox round) and the reply with the ticket number
goes to the citizen as a customer-service message through the outbox. An emergency is judged
before any holding and is never held: it waits for a slot and gets its 110 advice at once.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, Response, current_app, request
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import RequestEntityTooLarge

from dispatch.outbound.police import claim_nonce, purge_nonces, remember_nonce
from grid.directory import SqlDirectory
from integrations.wechat import conversation, inbox, mapping
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


# Defaults of the burst settings (app config WECHAT_INTAKE_SLOTS, WECHAT_BUDGET_SECONDS).
INTAKE_SLOTS = 4
BUDGET_SECONDS = 3.0
# How long 查询 waits for a slot before it is asked to try again later.
QUERY_WAIT = 1.0
# Workers are poked about held messages at most this often (a poke per push would flood the
# broker in a burst; the runner takes every waiting message each round).
POKE_EVERY = 0.2
# Expired nonces are purged at most this often per process (not on every push).
PURGE_EVERY = 60.0
# Once a push was held, this process holds every deferrable push for this long (a burst is on:
# a full intake now would only lengthen the answers of everyone behind it).
PRESSURE_SECONDS = 2.0
_state_lock = threading.Lock()


@dataclass
class BurstState:
    """This process's intake slots and the times of its last hold, poke and purge (per app,
    so that apps in one process, as in the tests, do not share them)."""

    slots: threading.BoundedSemaphore
    last_hold: float = float("-inf")
    last_poke: float = float("-inf")
    last_purge: float = float("-inf")


def _state() -> BurstState:
    """The app's burst state, made on first use."""
    ext = current_app.extensions
    state = ext.get("wechat_burst")
    if state is None:
        with _state_lock:
            state = ext.get("wechat_burst")
            if state is None:
                count = int(current_app.config.get("WECHAT_INTAKE_SLOTS") or INTAKE_SLOTS)
                state = ext["wechat_burst"] = BurstState(threading.BoundedSemaphore(max(count, 1)))
    return state


def _budget() -> float:
    value = current_app.config.get("WECHAT_BUDGET_SECONDS")
    return BUDGET_SECONDS if value is None else float(value)


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
    started = time.monotonic()
    try:
        body = request.get_data(cache=False)
        push = read_push(creds, request.args, body, now=now.timestamp())
    except RequestEntityTooLarge:
        return _plain(TOO_LARGE, 413)
    except WeChatError as exc:
        return _plain(exc.message, exc.http_status)
    try:
        content = handle(push, nonce_key(creds), now, started)
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


def handle(push: Push, key_id: str, now: datetime, started: float | None = None
           ) -> str | None:
    """Remember the push's nonce, act on its message (or hold it, in a burst) and give the
    reply text (None: answer `success`): what the message means is decided by
    `integrations.wechat.conversation`; here it is committed. A used nonce raises a 401
    `WeChatError`, unless the push is a retry."""
    message = push.message
    started = time.monotonic() if started is None else started
    _bound_waits()
    if not claim_nonce(db.session, key_id, push.nonce, now):
        # WeChat retries a push it got no answer to within 5 s; if it resends the same query
        # string, the MsgId (and the citizen) tell the retry from a replay.
        seen = conversation.retry_reply(db.session, message)
        if seen is None and message.msg_id is not None and inbox.is_held(
                db.session, message.msg_id, message.from_user):
            seen = mapping.HELD
        db.session.rollback()
        if seen is None:
            raise WeChatError(401, NONCE_USED)
        return seen
    _purge_now_and_then(now)
    held_type = message.msg_type in conversation.HELD_TYPES
    state = _state()
    slots = state.slots
    deferrable: bool | None = None

    def may_hold() -> bool:
        nonlocal deferrable
        if deferrable is None:
            deferrable = conversation.deferrable(message, lambda: services().triage(db.session))
        return deferrable

    budget = _budget()
    slot = slots.acquire(blocking=False)
    try:
        pressed = time.monotonic() - state.last_hold < PRESSURE_SECONDS
        if held_type and (not slot or pressed or time.monotonic() - started >= budget) \
                and may_hold():
            return _hold(push, now)
        if held_type:
            assert message.msg_id is not None  # inbound refuses messages without one
            seen = conversation.recorded_reply(db.session, message)
            if seen is None and inbox.is_held(db.session, message.msg_id):
                seen = mapping.HELD
            if seen is not None:
                commit()  # the nonce: a retry with a fresh one
                return seen
        if not slot and mapping.is_query(message):  # wait a little for a slot
            slot = slots.acquire(timeout=min(max(budget - (time.monotonic() - started), 0.0),
                                             QUERY_WAIT))
            if not slot:
                db.session.rollback()
                _remember_alone(push, key_id, now)
                return mapping.BUSY_QUERY
        # Anything else that may not be held (an emergency, an event) runs now, slot or not:
        # the 110 advice cannot wait, and emergencies are few.
        try:
            return _answer(push, key_id, now)
        except (OperationalError, StaleDataError):
            # Locked or slow past the statement timeout: hold what may be held.
            db.session.rollback()
            if held_type and may_hold():
                _bound_waits()
                if not claim_nonce(db.session, key_id, push.nonce, now):
                    db.session.rollback()
                    raise WeChatError(401, NONCE_USED) from None
                return _hold(push, now)
            raise
    finally:
        if slot:
            slots.release()


def _hold(push: Push, now: datetime) -> str:
    """Store the message in the inbox (the nonce is already in this transaction), commit, poke
    the workers, and give the reply that says the ticket number follows; a retry of a message
    held or recorded before writes nothing but its nonce and gets that message's reply."""
    message = push.message
    if not inbox.hold_unless_recorded(db.session, message, now):
        seen = conversation.recorded_reply(db.session, message)
        commit()  # the nonce
        return mapping.HELD if seen is None else seen
    commit()
    runner, state = services().runner, _state()
    stamp = state.last_hold = time.monotonic()
    if runner is not None and stamp - state.last_poke >= POKE_EVERY:
        state.last_poke = stamp
        runner.poke()
    return mapping.HELD


def _purge_now_and_then(now: datetime) -> None:
    """Forget nonces past their 10 minutes, once a minute per process (not on every push)."""
    state, stamp = _state(), time.monotonic()
    if stamp - state.last_purge >= PURGE_EVERY:
        state.last_purge = stamp
        purge_nonces(db.session, now)


def _answer(push: Push, key_id: str, now: datetime) -> str | None:
    """The full path: decide, write and commit in the request."""
    message = push.message
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
    if db.session.get_bind().dialect.name == "postgresql":  # one round trip for both
        db.session.execute(text("SELECT set_config('lock_timeout', '2s', true), "
                                "set_config('statement_timeout', '3s', true)"))
