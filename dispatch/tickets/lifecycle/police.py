"""The 110 side of the desk (DOMAIN.md, 12345 ↔ 110) and the emergency alarms: transfers to 110
under 首接 (after a rejection only a supervisor sends a ticket again, with an arbitration),
110's accept / reject / complete, the call transfer, and an alarm raised, acknowledged and
escalated."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from dispatch.core.errors import Conflict, Forbidden, InvalidInput
from dispatch.core.models import Ticket, User
from dispatch.core.vocab import Outcome, Role
from dispatch.tickets.calendar import LOCAL_TZ
from dispatch.tickets.lifecycle.context import Context, Step
from dispatch.tickets.lifecycle.table import SAME, R, S

SUPERVISOR_ONLY_AFTER_REJECTION = ("督办员只能在110退回后填写仲裁意见再次转110（transfer_110）；"
                                  "其余转110由话务员或派单员办理")


def first_receiver_refusal(ticket: Ticket, role: Role, arbitration: str | None) -> str | None:
    """Why 首接 forbids this transfer to 110 (None: it may go). After 110 rejected a ticket,
    12345 keeps it: only a supervisor may send it again, with an arbitration; a matter 110
    rejected again after an arbitration stays with 12345 for good."""
    rejected = [e for e in ticket.events if e.action == "police_reject"]
    if not rejected:
        return SUPERVISOR_ONLY_AFTER_REJECTION if role == R.SUPERVISOR else None
    cause = rejected[-1].reason or (rejected[-1].payload or {}).get("cause") or "未说明"
    arbitrated = [e for e in ticket.events
                  if e.action == "transfer_110" and (e.payload or {}).get("arbitration")]
    if arbitrated and arbitrated[-1].id is not None and rejected[-1].id is not None \
            and rejected[-1].id > arbitrated[-1].id:
        return (f"110 在仲裁后再次退回此工单（原因：{cause}）。双方均不受理的事项按首接原则"
                "由 12345 办理，不能再转110")
    if role not in (R.SUPERVISOR,):
        return (f"110 已退回此工单（原因：{cause}）。按首接原则由 12345 办理；如确需再次"
                "转110，须由督办员填写仲裁意见后转出")
    if not arbitration:
        return (f"110 已退回此工单（原因：{cause}）。再次转110须填写仲裁意见"
                "（arbitration）")
    return None


def _transfer_110(c: Context) -> Step:
    p, t = c.payload, c.ticket
    refusal = first_receiver_refusal(t, c.actor.role, p.arbitration)
    if refusal == SUPERVISOR_ONLY_AFTER_REJECTION:
        raise Forbidden(refusal)
    if refusal is not None:
        raise Conflict(refusal, field="arbitration" if c.actor.role == R.SUPERVISOR else None)
    payload: dict[str, Any] = {"direction": "to_110"}
    if p.arbitration is not None:
        if t.police_state != "rejected":
            raise InvalidInput("arbitration: 仅在110退回后再次转110时填写仲裁意见",
                               field="arbitration")
        payload |= {"arbitration": p.arbitration, "arbitrated_by": c.actor.username,
                    "previous_cause": t.police_cause}
    if c.actor.role == R.SYSTEM:
        payload["automatic"] = True  # auto_transfer_110: an emergency of an unattended channel
    t.police_state = "pending"
    t.police_cause = None
    return Step(S.TRANSFERRED_110, payload)


def _raise_alarm(c: Context) -> Step:
    t = c.ticket
    if t.alarm_raised_at is not None:
        raise Conflict(f"工单 {t.number} 已发出过警报")
    t.alarm_raised_at = c.now
    return Step(SAME, {"numbers": list(c.payload.numbers), "reasons": list(c.payload.reasons),
                       "channel": t.channel})


def _local_time(moment: datetime) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%H:%M:%S")


def _acknowledge_alarm(c: Context) -> Step:
    t = c.ticket
    if t.alarm_raised_at is None:
        raise Conflict(f"工单 {t.number} 没有警报，无需确认")
    if t.alarm_acknowledged_at is not None:
        who = c.session.get(User, t.alarm_acknowledged_by_id) \
            if t.alarm_acknowledged_by_id else None
        by = f"由 {who.display_name or who.username} " if who is not None else ""
        raise Conflict(f"工单 {t.number} 的警报已于 {_local_time(t.alarm_acknowledged_at)} "
                       f"{by}确认，无需重复确认")
    t.alarm_acknowledged_at = c.now
    t.alarm_acknowledged_by_id = c.actor.id
    waited = (c.now - t.alarm_raised_at).total_seconds()
    return Step(SAME, {"raised_at": t.alarm_raised_at.isoformat(), "waited_s": round(waited, 1),
                       "escalated": t.alarm_escalated_at is not None})


def _escalate_alarm(c: Context) -> Step:
    t = c.ticket
    if t.alarm_raised_at is None or t.alarm_acknowledged_at is not None \
            or t.alarm_escalated_at is not None:
        raise Conflict(f"工单 {t.number} 没有待升级的警报")
    t.alarm_escalated_at = c.now
    waited = (c.now - t.alarm_raised_at).total_seconds()
    return Step(SAME, {"raised_at": t.alarm_raised_at.isoformat(), "waited_s": round(waited, 1),
                       "to": "supervisor"})


def _call_transfer(c: Context) -> Step:
    return Step(SAME, {"kind": c.payload.kind, "to": c.payload.to})


def _police_accept(c: Context) -> Step:
    t = c.ticket
    t.police_state = "accepted"
    if c.payload.incident_no and t.external_ref is None:
        t.external_ref = c.payload.incident_no
    return Step(SAME, {"incident_no": c.payload.incident_no})


def _police_reject(c: Context) -> Step:
    c.ticket.police_state = "rejected"
    c.ticket.police_cause = c.payload.reason
    return Step(S.NEW, {"cause": c.payload.reason})


def _police_complete(c: Context) -> Step:
    c.ticket.police_state = "completed"
    return Step(S.ARCHIVED, {"result": c.payload.result}, Outcome.HANDLED_BY_110)


# action → its handler (the 110 and alarm part of the state table)
POLICE_HANDLERS: dict[str, Callable[[Context], Step]] = {
    "transfer_110": _transfer_110,
    "call_transfer": _call_transfer,
    "police_accept": _police_accept,
    "police_reject": _police_reject,
    "police_complete": _police_complete,
    "raise_alarm": _raise_alarm,
    "acknowledge_alarm": _acknowledge_alarm,
    "escalate_alarm": _escalate_alarm,
}
