"""110 payloads ⇄ our commands: a transfer becomes an intake dict, an ack one of the police_*
actions; the receipts we answer with."""

from __future__ import annotations

from typing import Any

from dispatch.core.commands import MAX_TEXT
from dispatch.core.errors import InvalidInput
from dispatch.core.vocab import Channel
from dispatch.intake.phones import normalize_phone
from dispatch.tickets.calendar import LOCAL_TZ
from integrations.police110.inbound import Ack, Transfer

ACTIONS = {"accepted": "police_accept", "rejected": "police_reject",
           "completed": "police_complete"}
# The police state each ack leaves on the ticket (dispatch.tickets.lifecycle's police handlers).
POLICE_STATES = {"accepted": "accepted", "rejected": "rejected", "completed": "completed"}


def _clock(moment: Any) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%m-%d %H:%M")


def demand_text(t: Transfer, phone_kept: bool) -> str:
    """The ticket text: 110's summary, then its category hint, remarks and, when it could not
    be stored as the citizen's number, the caller's phone as 110 gave it."""
    lines = [t.summary]
    if t.category_hint:
        lines.append(f"【110分类】{t.category_hint}")
    lines += [f"【110备注 {_clock(r.at)}】{r.text}" for r in t.remarks]
    if t.caller.phone and not phone_kept:
        lines.append(f"【110报警电话】{t.caller.phone}")
    text = "\n".join(lines)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def intake_data(t: Transfer) -> dict[str, Any]:
    """The intake dict of one transfer (channel police110, 110's urgency and place)."""
    phone = t.caller.phone
    if phone is not None:
        try:
            normalize_phone(phone)
        except InvalidInput:
            phone = None  # keep the demand; the number goes into the text instead
    loc = t.location
    data: dict[str, Any] = {
        "channel": Channel.POLICE110,
        "text": demand_text(t, phone is not None),
        "citizen": {"name": t.caller.name, "phone": phone,
                    "anonymous": t.caller.name is None and t.caller.phone is None},
        "urgency": t.urgency,
        "crs": loc.crs,
    }
    if loc.address is not None:
        data["address"] = loc.address
    if loc.lon is not None and loc.lat is not None:
        data |= {"lon": loc.lon, "lat": loc.lat}
    return data


def ack_action(a: Ack) -> tuple[str, dict[str, Any]]:
    """The lifecycle action and payload of one ack."""
    if a.status == "accepted":
        return ACTIONS[a.status], {"incident_no": a.incident_no}
    if a.status == "rejected":
        return ACTIONS[a.status], {"reason": a.cause}
    return ACTIONS[a.status], {"result": a.result}


def already_applied(a: Ack, police_state: str | None, police_cause: str | None) -> bool:
    """Whether the ticket already shows this ack (a repeat changes nothing)."""
    if police_state != POLICE_STATES[a.status]:
        return False
    return a.status != "rejected" or police_cause == a.cause


def receipt(ticket_no: str, **extra: Any) -> dict[str, Any]:
    """What we answer a transfer or an ack with."""
    return {"receipt": "received", "ticket_no": ticket_no, **extra}
