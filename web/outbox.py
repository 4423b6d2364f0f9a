"""Delivering the outbox: the senders of every outside party that is configured (the 110 desk,
the SMS backend), and one delivery round; the embedded runner, the CLI and (later) the Celery
task all call `deliver_round`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask

from dispatch.outbox import DeliveryReport, Sender, deliver_due
from web import services
from web.extensions import db

SMS_TOPICS = ("sms.notice",)


def _sms_sender(payload: dict[str, Any]) -> dict[str, Any]:
    """Send one queued SMS; the payload's `ref` (or its ticket and kind) is the idempotency key."""
    ref = payload.get("ref") or ":".join(
        str(payload.get(k, "")) for k in ("ticket_no", "kind", "to"))
    receipt = services().sms.send(payload["to"], payload["text"], ref=ref)
    return {"provider_id": receipt.provider_id, "accepted_at": receipt.accepted_at.isoformat()}


def senders(now: datetime) -> dict[str, Sender]:
    """Every topic this installation can deliver now (110 topics only when the desk is set)."""
    from web.police110 import desk_client

    out: dict[str, Sender] = {topic: _sms_sender for topic in SMS_TOPICS}
    client = desk_client()
    if client is not None:
        out.update(client.senders(now))
    return out


def deliver_round(app: Flask, now: datetime | None = None, limit: int = 50) -> DeliveryReport:
    """One round over what is due, in the app's context."""
    with app.app_context():
        when = now or services().clock.now()
        try:
            return deliver_due(db.session, senders(when), when, limit)
        finally:
            db.session.remove()


def summary(report: DeliveryReport) -> str:
    """A round as one line for the command line (中文)."""
    return (f"已送达 {len(report.delivered)} 条，待重试 {len(report.retried)} 条，"
            f"失败 {len(report.dead)} 条")
