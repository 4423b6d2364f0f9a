"""The call centre's payloads ⇄ our commands: an event becomes the domain's `CallReport`; a
transfer command owed in the outbox is the body of `POST {HOTLINE_CTI_URL}/transfer`."""

from __future__ import annotations

from typing import Any

from dispatch.calls.events import CallReport
from integrations.cti.inbound import CallEventIn


def report(event: CallEventIn) -> CallReport:
    """One verified event as the domain records it."""
    return CallReport(event=event.event, call_id=event.call_id, at=event.at,
                      caller=event.caller, callee=event.callee, agent=event.agent,
                      queue=event.queue, wait_s=event.wait_s, duration_s=event.duration_s,
                      recording_url=event.recording_url, transfer_to=event.transfer_to)


def transfer_body(payload: dict[str, Any]) -> dict[str, Any]:
    """The outbox row's payload as the centre's /transfer takes it."""
    return {"call_id": payload["call_id"], "to": payload["to"],
            "mode": payload.get("mode", "blind")}


def receipt(recorded_new: bool, state: str) -> dict[str, Any]:
    """Our answer to an event: whether it changed anything, and the call's state now."""
    return {"receipt": "received" if recorded_new else "duplicate", "state": state}
