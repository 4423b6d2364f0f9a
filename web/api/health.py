"""`GET /healthz`: the database and the queue, each named when down; and the classifier in use
(the active model version, or "rules" with `classifier_error` when the model cannot be loaded:
intake goes on with the rules, so this is reported, not a failure).

It also reports the workers and the beat from their heartbeats (workers/heartbeats.py; stale
after two sweep intervals), or in embedded mode the web process's own runner; these are
reported, never a failure of this web process (503 is for the database and the queue). While
WeChat outbound is unconfigured and WeChat messages wait in the outbox, it says so
(`wechat_outbound: unconfigured`, `wechat_waiting`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select, text

from web.extensions import db
from web.services import services
from workers import heartbeats
from workers.celery_app import SWEEP_EVERY, _setting

bp = Blueprint("health", __name__)


def _redis_ok(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        return bool(client.ping())
    except redis.RedisError:
        return False


def _background(url: str | None) -> dict[str, Any]:
    """The workers and beat from their heartbeats; in embedded mode, this process's runner."""
    if not url:
        out: dict[str, Any] = {"workers": "embedded", "beat": "embedded"}
        health = getattr(services().runner, "health", None)
        if callable(health):
            out["runner"] = health()
        return out
    stale_after = 2 * _setting(current_app, "SWEEP_INTERVAL", SWEEP_EVERY)
    try:
        return heartbeats.read(url, stale_after)
    except Exception:  # noqa: BLE001 - Redis unreadable: the queue is reported down already
        return {"workers": "unknown", "beat": "unknown"}


def _wechat_outbound() -> dict[str, Any]:
    """Without the account's id and secret, WeChat messages wait in the outbox: say so, and
    how many, when any do."""
    from dispatch.outbound.outbox import OutboxMessage
    from integrations.wechat.client import TOPICS

    config = current_app.config
    if config.get("WECHAT_APP_ID") and config.get("WECHAT_APP_SECRET"):
        return {}
    waiting = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.topic.in_(TOPICS), OutboxMessage.delivered_at.is_(None),
        OutboxMessage.dead.is_(False))) or 0
    return {"wechat_outbound": "unconfigured", "wechat_waiting": waiting} if waiting else {}


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    body = {"status": "ok", "database": "ok", "queue": "embedded"}
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means the database is down for us
        db.session.rollback()
        body["database"] = "down"
    else:
        try:
            body.update(services().model_cache.status(db.session))
        except Exception:  # noqa: BLE001 - a classifier fault never makes the service down
            db.session.rollback()
            body.update(classifier="rules", classifier_error="无法读取分类模型状态")
        try:
            body.update(_wechat_outbound())
        except Exception:  # noqa: BLE001 - reported, never a failure
            db.session.rollback()
        finally:
            db.session.rollback()  # end the read transaction
    url = current_app.config.get("REDIS_URL")
    if url:
        body["queue"] = "ok" if _redis_ok(url) else "down"
    body.update(_background(url))
    if "down" in body.values():
        body["status"] = "down"
        return jsonify(body), 503
    return jsonify(body), 200
