"""The call centre's payloads ⇄ our commands: an event is read straight into the domain's
`CallReport` (inbound); a transfer command owed in the outbox is the body of
`POST {HOTLINE_CTI_URL}/transfer`."""

from __future__ import annotations

from typing import Any


def transfer_body(payload: dict[str, Any]) -> dict[str, Any]:
    """The outbox row's payload as the centre's /transfer takes it."""
    return {"call_id": payload["call_id"], "to": payload["to"],
            "mode": payload.get("mode", "blind")}


def receipt(recorded_new: bool, state: str) -> dict[str, Any]:
    """Our answer to an event: whether it changed anything, and the call's state now."""
    return {"receipt": "received" if recorded_new else "duplicate", "state": state}
