"""`POST /hooks/sms/replies`: the SMS gateway's inbound replies to the questionnaire, by
bearer token, idempotent by the gateway's message id."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import UnsupportedMediaType

from dispatch.outbound.callbacks import SmsReplyOutcome, record_sms_reply, sms_reply_seen
from grid.directory import SqlDirectory
from integrations.sms.inbound import gateway_authorised, parse_reply
from web.api.base import commit
from web.errors import RETRY_AFTER, answer
from web.extensions import db
from web.services import services

bp = Blueprint("sms_hooks", __name__)

REPLIES = "/hooks/sms/replies"


def _refuse(status: int, code: str, message: str) -> ResponseReturnValue:
    db.session.rollback()
    # A 503, like every 503 of the system, says when to try again.
    headers = {"Retry-After": str(RETRY_AFTER)} if status == 503 else None
    return answer(status, code, message, headers=headers)


def _answer(message_id: str, outcome: SmsReplyOutcome) -> ResponseReturnValue:
    return jsonify({"id": message_id, "result": outcome.result, "duplicate": outcome.duplicate})


@bp.post(REPLIES)
def sms_reply() -> ResponseReturnValue:
    """A citizen's SMS reply: recorded as the callback answer when it is one."""
    token = current_app.config.get("SMS_GATEWAY_TOKEN")
    if not token:
        return _refuse(503, "unavailable",
                       "短信网关接入尚未配置（HOTLINE_SMS_GATEWAY_TOKEN）")
    if not gateway_authorised(token, request.headers.get("Authorization", "")):
        return _refuse(401, "unauthorized", "Authorization: 须提供有效的短信网关令牌（Bearer）")
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("请以 application/json 发送请求内容")
    body = parse_reply(request.get_data())
    outcome = record_sms_reply(db.session, external_id=body.external_id, sender=body.sender,
                               text=body.text, now=services().clock.now(),
                               directory=SqlDirectory(db.session))
    if outcome.duplicate:
        db.session.rollback()
        return _answer(body.id, outcome)
    try:
        commit(outcome.events)
    except IntegrityError:
        # The same reply twice at once: the other request recorded this id first.
        db.session.rollback()
        seen = sms_reply_seen(db.session, body.external_id)
        if seen is None:
            raise
        return _answer(body.id, seen)
    return _answer(body.id, outcome)
