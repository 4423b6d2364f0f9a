"""The call centre's endpoint (CONTRACT.md, Calls (CTI)): `POST /hooks/cti/events`.

A request is verified (key, signature, time window, as the 110 desk's) and its nonce recorded
in the same transaction as the event it carries: a refused request writes nothing. The same
(call, event) twice changes nothing (200 `duplicate`). After the commit, the agent's pages
hear of the call (`dispatch.subscribers.ON_CALL_EVENT`: the screen pop when it rings).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from dispatch import subscribers
from dispatch.calls.events import record_event
from dispatch.outbound.police import claim_nonce, purge_nonces
from integrations.cti import mapping
from integrations.cti.inbound import CtiError, load_keys, read_event, verify
from web.console.relay import NAMESPACE
from web.extensions import db
from web.hooks.refusals import refuse as _refuse
from web.services import services

bp = Blueprint("cti", __name__)

UNCONFIGURED = "呼叫中心接入尚未配置（HOTLINE_CTI_KEYS）"
# The centre's nonces share the 110 desk's table, under their own key ids' prefix.
NONCE_SCOPE = "cti:"
PURGE_EVERY = 60.0
_last_purge = float("-inf")


def _purge_now_and_then(now: datetime) -> None:
    """Forget nonces past their 10 minutes once a minute per process (not at every event)."""
    global _last_purge
    stamp = time.monotonic()
    if stamp - _last_purge >= PURGE_EVERY:
        _last_purge = stamp
        purge_nonces(db.session, now)


def send_to_agents(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Send `call` events to the agents' rooms (after the commit)."""
    relay = services().console
    emitter = relay.emitter if relay is not None else None
    if emitter is None:
        return
    for room, payload in messages:
        emitter.emit("call", payload, namespace=NAMESPACE, to=[room])


@bp.post("/hooks/cti/events")
def receive_event() -> ResponseReturnValue:
    """One call event: 202 when it changed something, 200 when it was a repeat."""
    now = services().clock.now()
    keys = load_keys(current_app.config.get("CTI_KEYS") or "")
    if keys is None:
        return _refuse(503, UNCONFIGURED, code="unavailable")
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        return _refuse(413, "请求内容超过 64 KiB 上限")
    try:
        signed = verify(keys, request.headers, body, now.timestamp())
        event = read_event(body, request.content_type, current_app.config.get("CTI_URL"))
    except CtiError as exc:
        return _refuse(exc.http_status, exc.message, exc.field)
    for attempt in (1, 2):
        _purge_now_and_then(now)
        if not claim_nonce(db.session, (NONCE_SCOPE + signed.key_id)[:64], signed.nonce, now):
            return _refuse(401, "X-Hotline-Nonce：10 分钟内已使用过，可能是重放的请求",
                           "X-Hotline-Nonce")
        try:
            recorded = record_event(db.session, event, now)
            messages = [m for build in subscribers.ON_CALL_EVENT.values()
                        for m in build(db.session, recorded, now)]
            answer = mapping.receipt(recorded.new, recorded.call.state)
            db.session.commit()
            break
        except IntegrityError:
            # Another event of the same call (or extension) was stored at the same moment:
            # once more, now that it is there.
            db.session.rollback()
            if attempt == 2:
                return _refuse(409, "同一通话事件正在处理，请稍后重试", "call_id", "conflict")
    send_to_agents(messages)
    return answer, 202 if recorded.new else 200


__all__ = ["bp", "send_to_agents"]
