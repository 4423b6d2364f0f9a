"""`GET /healthz`: the database and the queue, each named when down; and the classifier in use
(the active model version, or "rules" with `classifier_error` when the model cannot be loaded:
intake goes on with the rules, so this is reported, not a failure).

It also reports the workers and the beat from their heartbeats (workers/heartbeats.py; stale
after two sweep intervals), or in embedded mode the web process's own runner; these are
reported, never a failure of this web process (503 is for the database and the queue)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

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
