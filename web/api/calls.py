"""Calls under /api/v1 (CONTRACT.md, Calls (CTI)): the 漏接回拨 queue and the tries logged on
it, a call's recording streamed through the server, 一键转接 during a call, the operator's own
agent state, the call-centre board and the call metrics. Scoped like tickets and contacts."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, current_app, make_response, stream_with_context
from flask.typing import ResponseReturnValue
from pydantic import Field

from dispatch.calls.access import get_call
from dispatch.calls.agents import AgentStateSet, set_agent_state
from dispatch.calls.board import board, call_metrics
from dispatch.calls.missed import CallbackTry, CallQuery, find_calls, log_callback_attempt
from dispatch.calls.pop import current_pop
from dispatch.calls.transfer import TransferRequest, command_state, request_transfer
from dispatch.calls.views import call_views, listen
from dispatch.core.commands import Strict
from dispatch.core.errors import InvalidInput
from dispatch.core.vocab import Role
from dispatch.outbound.outbox import PermanentError, TransientError, deliver_due
from grid.directory import SqlDirectory
from integrations.cti.client import centre_client_from_config
from web.api.base import STAFF, ApiBlueprint, commit
from web.errors import RETRY_AFTER, error_response
from web.extensions import db
from web.services import services

bp = ApiBlueprint("calls", __name__)

CALLBACK_ROLES = (Role.OPERATOR, Role.DISPATCHER, Role.SUPERVISOR)
BOARD_ROLES = (Role.DISPATCHER, Role.SUPERVISOR, Role.LEADER, Role.ADMIN, Role.OPERATOR)
METRIC_ROLES = (Role.DISPATCHER, Role.SUPERVISOR, Role.LEADER, Role.ADMIN)
COMMAND_MESSAGES = {
    "sent": "已通知呼叫中心转接",
    "queued": "呼叫中心暂时无法连接，转接指令已排队，将自动重试；请告知来电人稍候或改用三方通话",
    "failed": "呼叫中心拒绝了转接指令，请改用电话手动转接",
}


def _now():  # noqa: ANN202
    return services().clock.now()


class Period(Strict):
    """A period of local days, both ends included (default: today)."""

    start: date | None = Field(None, alias="from")
    end: date | None = Field(None, alias="to")


@bp.endpoint("/calls", "GET", "Calls: the 漏接回拨 queue (state=missed, earliest deadline "
          "first), settled missed calls, calls of unknown extensions, or all; scoped and "
          "masked like contacts", query=CallQuery, roles=STAFF)
def calls(actor: Any, query: CallQuery) -> dict[str, Any]:
    now = _now()
    page = find_calls(db.session, actor, query, now)
    items = call_views(db.session, page.items, actor, now, attempts=query.state != "all")
    commit()  # the audit of unmasked reads
    return {"items": items, "total": page.total, "overdue": page.overdue,
            "limit": query.limit, "offset": query.offset}


@bp.endpoint("/calls/<call_id>", "GET", "One call", roles=STAFF)
def read_call(actor: Any, call_id: str) -> dict[str, Any]:
    now = _now()
    view = call_views(db.session, [get_call(db.session, call_id, actor)], actor, now,
                      attempts=True)[0]
    commit()
    return view


@bp.endpoint("/calls/<call_id>/callback_attempts", "POST", "Log a try at calling a missed "
          "caller back (outcome reached settles it)", body=CallbackTry, roles=CALLBACK_ROLES,
          status=201, errors=(409,))
def callback_attempt(actor: Any, call_id: str, body: CallbackTry) -> dict[str, Any]:
    now = _now()
    call, _ = log_callback_attempt(db.session, call_id, body, actor, now)
    view = call_views(db.session, [call], actor, now, attempts=True)[0]
    commit()
    return view


@bp.endpoint("/calls/<call_id>/recording", "GET", "The call's recording, streamed from the "
          "call centre's host (the listen is logged)", roles=STAFF, errors=(502, 503))
def recording(actor: Any, call_id: str) -> ResponseReturnValue:
    url = listen(db.session, call_id, actor, _now())
    client = centre_client_from_config(current_app.config)
    if client is None:
        db.session.rollback()
        response = make_response(error_response(503, "unavailable",
                                                "呼叫中心地址尚未配置（HOTLINE_CTI_URL）"))
        response.headers["Retry-After"] = str(RETRY_AFTER)
        return response
    try:
        audio = client.recording(url)
    except TransientError as exc:
        db.session.rollback()
        response = make_response(error_response(503, "unavailable", f"暂时无法取得录音：{exc}"))
        response.headers["Retry-After"] = str(RETRY_AFTER)
        return response, 503
    except PermanentError as exc:
        db.session.rollback()
        return error_response(502, "bad_gateway", f"无法取得录音：{exc}")
    commit()  # the listen is logged once the stream starts
    headers = {"Cache-Control": "no-store"}
    if audio.length is not None:
        headers["Content-Length"] = str(audio.length)
    return Response(stream_with_context(audio.chunks), mimetype=audio.content_type,
                    headers=headers), 200


@bp.endpoint("/calls/<call_id>/transfer", "POST", "一键转接 or 三方通话 of the call in progress "
          "(default to 110): sent to the call centre through the outbox, recorded on the "
          "call's ticket", body=TransferRequest, roles=(Role.OPERATOR, Role.DISPATCHER),
          status=202, errors=(409,))
def transfer(actor: Any, call_id: str, body: TransferRequest) -> dict[str, Any]:
    now = _now()
    owed = request_transfer(db.session, call_id, body, actor, now, SqlDirectory(db.session))
    commit(list(owed.events))
    client = centre_client_from_config(current_app.config)
    if client is not None:  # try now; the outbox retries with back-off when it fails
        deliver_due(db.session, client.senders(), now, limit=3)
    state, error = command_state(db.session, owed.outbox_key)
    view = call_views(db.session, [get_call(db.session, call_id, actor)], actor, now)[0]
    commit()
    message = COMMAND_MESSAGES[state]
    if client is None:
        message = "呼叫中心地址尚未配置（HOTLINE_CTI_URL），转接指令已排队"
    return {"call": view, "command": {"state": state, "message": message, "error": error}}


@bp.endpoint("/calls/current", "GET", "The screen pop of the call ringing or in progress on "
          "the operator's extension (null: none), for a page opened during a call",
          roles=(Role.OPERATOR,))
def current_call(actor: Any) -> dict[str, Any]:
    pop = current_pop(db.session, actor, _now())
    commit()  # the reads the pop logged
    return {"call": pop}


@bp.endpoint("/calls/agent_state", "PUT", "The operator's own agent state: 示闲 (idle) or "
          "示忙 (busy)", body=AgentStateSet, roles=(Role.OPERATOR,))
def agent_state(actor: Any, body: AgentStateSet) -> dict[str, Any]:
    row = set_agent_state(db.session, actor, body, _now())
    answer = {"extension": row.extension, "state": row.state, "since": row.since.isoformat()}
    commit()
    return answer


@bp.endpoint("/calls/board", "GET", "The call-centre board: calls waiting, longest wait, "
          "agents by state, answered within 15 s today, missed calls owed",
          roles=BOARD_ROLES)
def call_board(actor: Any) -> dict[str, Any]:
    figures = board(db.session, _now())
    commit()
    return figures


@bp.endpoint("/stats/calls", "GET", "15秒接通率 and 漏接回拨率 for a period (local days, "
          "both ends included; default today)", query=Period, roles=METRIC_ROLES)
def call_stats(actor: Any, query: Period) -> dict[str, Any]:
    now = _now()
    from dispatch.tickets.calendar import LOCAL_TZ

    today = now.astimezone(LOCAL_TZ).date()
    start, end = query.start or today, query.end or query.start or today
    if end < start:
        raise InvalidInput("to: 结束日期不能早于开始日期", field="to")
    figures = call_metrics(db.session, start, end, now)
    commit()
    return {"from": start.isoformat(), "to": end.isoformat(), **figures}
