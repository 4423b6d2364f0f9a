"""One round of the periodic work, for a Celery task or for the embedded runner of the web
process: deliver what the outbox has due, sweep the ticket clocks. Each takes the Flask app
that holds the configuration and the wired parts (`app.extensions["hotline"]`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from dispatch.core import idempotency
from dispatch.outbound.citizen_notices import TOPIC as NOTICE_TOPIC
from dispatch.outbound.outbox import DeliveryReport, Sender, TransientError, deliver_due
from dispatch.stats import rollups
from dispatch.tickets.alarm_clock import AlarmSweepReport, sweep_alarms
from dispatch.tickets.sweeps import SweepReport, sweep_clocks
from grid.directory import SqlDirectory
from integrations.cti.client import centre_client_from_config
from integrations.police110.client import desk_client_from_config
from integrations.wechat.client import outbound_from_config

SMS_TOPICS = ("sms.notice", "sms.questionnaire")
log = logging.getLogger("hotline.workers")


def _parts(app: Flask) -> tuple[Any, Session]:
    """The app's services and its scoped database session."""
    return app.extensions["hotline"], app.extensions["sqlalchemy"].session


def senders(app: Flask, now: datetime) -> dict[str, Sender]:
    """Every topic this installation can deliver now (110 topics only when the desk is set,
    WeChat topics only when the account's id and secret are)."""
    services, _ = _parts(app)

    def sms(payload: dict[str, Any]) -> dict[str, Any]:
        # The payload's `ref` (or its ticket, kind and number) is the idempotency key.
        ref = payload.get("ref") or ":".join(
            str(payload.get(k, "")) for k in ("ticket_no", "kind", "to"))
        receipt = services.sms.send(payload["to"], payload["text"], ref=ref)
        return {"provider_id": receipt.provider_id,
                "accepted_at": receipt.accepted_at.isoformat()}

    out: dict[str, Sender] = {topic: sms for topic in SMS_TOPICS}
    client = desk_client_from_config(app.config)
    if client is not None:
        out.update(client.senders(now))
    centre = centre_client_from_config(app.config)
    if centre is not None:  # 一键转接 commands to the call centre
        out.update(centre.senders())
    wechat = outbound_from_config(app.config, sms=services.sms, clock=services.clock)
    if wechat is not None:
        out.update(wechat.senders(now))
    else:
        # No account to send from: a notice goes by its SMS fallback, as the questionnaire did
        # before there was WeChat outbound; without a phone it waits (retried hourly) for the
        # account to be configured, as the burst's owed numbers do.
        out[NOTICE_TOPIC] = lambda payload: _notice_by_sms(sms, payload)
    return out


def _notice_by_sms(sms: Sender, payload: dict[str, Any]) -> dict[str, Any]:
    """A WeChat notice sent by its SMS fallback (the account cannot send)."""
    fallback = payload.get("sms")
    if not fallback:
        raise TransientError("未配置微信公众号发送（HOTLINE_WECHAT_APP_SECRET），且无手机号"
                             "可改发短信：等待配置")
    return {"via": "sms", **sms({"to": fallback["to"], "text": fallback["text"],
                                 "ref": payload["ref"]})}


def deliver_round(app: Flask, now: datetime | None = None, limit: int = 50) -> DeliveryReport:
    """Deliver what is due (each row in its own transaction)."""
    with app.app_context():
        services, session = _parts(app)
        when = now or services.clock.now()
        try:
            return deliver_due(session, senders(app, when), when, limit)
        finally:
            session.remove()


@dataclass(frozen=True)
class InboxReport:
    """What one round over the WeChat inbox did: messages processed, failed, still waiting."""

    processed: int = 0
    failed: int = 0
    more: bool = False


def inbox_round(app: Flask, limit: int = 100) -> InboxReport:
    """Process the WeChat messages the hook held in a burst, oldest first, each in its own
    committed transaction (its ticket, and the customer-service message owed with its
    number); a failure is counted on the row and the round goes on."""
    from integrations.wechat import conversation, inbox

    processed = failed = 0
    with app.app_context():
        services, session = _parts(app)
        try:
            for _ in range(limit):
                row = inbox.claim_next(session)
                if row is None:
                    return InboxReport(processed, failed, False)
                row_id, now = row.id, services.clock.now()
                try:
                    outcome = conversation.answer_held(
                        session, row, now,
                        ports=lambda now=now: services.intake_ports(session, now),
                        directory=lambda: SqlDirectory(session))
                    published = services.describe(outcome.events) if outcome.events else []
                    session.commit()
                except Exception as exc:  # noqa: BLE001 — counted on the row, next one
                    session.rollback()
                    log.exception("held WeChat message %s failed", row_id)
                    inbox.record_failure(session, row_id, f"{type(exc).__name__}: {exc}")
                    session.commit()
                    failed += 1
                    continue
                services.after_commit(session, outcome.events, published)
                processed += 1
            return InboxReport(processed, failed, True)
        finally:
            session.remove()


def sweep_round(app: Flask) -> SweepReport:
    """Sweep the ticket clocks once (warnings, overdue marks, urges, supervision)."""
    with app.app_context():
        services, session = _parts(app)
        try:
            report = sweep_clocks(session, services.clock.now(),
                                  directory=SqlDirectory(session))
            if report.events:  # committed: the console hears the urges and supervisions
                services.publisher.publish(list(report.events))
            if services.console is not None:  # and anything a crashed process left unsent
                services.console.relay(session)
            idempotency.purge(session, services.clock.now())  # keys older than 24 hours
            session.commit()
            return report
        finally:
            session.remove()


def alarm_round(app: Flask) -> AlarmSweepReport:
    """Escalate the emergency alarms nobody acknowledged in time (every few seconds)."""
    with app.app_context():
        services, session = _parts(app)
        try:
            report = sweep_alarms(session, services.clock.now(),
                                  directory=SqlDirectory(session))
            if report.events:  # committed: the consoles hear the escalations
                services.publisher.publish(list(report.events))
                if services.console is not None:
                    services.console.relay(session)
            return report
        finally:
            session.remove()


def stats_round(app: Flask) -> rollups.RefreshReport:
    """Bring the statistics' rollups up to date with the tickets changed since (gives way to
    a refresh already running elsewhere)."""
    with app.app_context():
        _, session = _parts(app)
        try:
            return rollups.refresh(session, wait=False)
        finally:
            session.remove()


def summary(report: DeliveryReport) -> str:
    """A delivery round as one line for the command line (中文)."""
    return (f"已送达 {len(report.delivered)} 条，待重试 {len(report.retried)} 条，"
            f"失败 {len(report.dead)} 条")
