"""Configuration from `HOTLINE_*` environment variables (CONTRACT.md)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any


def instance_path() -> Path:
    """Where the SQLite database and the generated secret key live."""
    return Path(os.environ.get("HOTLINE_INSTANCE_PATH", "instance")).resolve()


def _secret_key(instance: Path) -> str:
    configured = os.environ.get("HOTLINE_SECRET_KEY")
    if configured:
        return configured
    key_file = instance / "secret_key"
    if not key_file.exists():
        instance.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def from_environment() -> dict[str, Any]:
    """The settings of CONTRACT.md's configuration table, read now."""
    instance = instance_path()
    db_url = os.environ.get("HOTLINE_DATABASE_URL") or f"sqlite:///{instance / 'hotline.db'}"
    return {
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": db_url,
        "REDIS_URL": os.environ.get("HOTLINE_REDIS_URL") or None,
        "SECRET_KEY": _secret_key(instance),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("HOTLINE_SECURE_COOKIES", "0") == "1",
        "MAX_CONTENT_LENGTH": 64 * 1024,
        "GRID_UPLOAD_MAX_BYTES": int(os.environ.get("HOTLINE_GRID_UPLOAD_MAX_MB", "200")) << 20,
        "TOKEN_TTL_HOURS": int(os.environ.get("HOTLINE_TOKEN_TTL_HOURS", "12")),
        # Login throttling, per account and per address: this many failures within the window
        # lock both until the oldest failure leaves it (429 + Retry-After; an admin unlocks).
        "LOGIN_MAX_FAILURES": int(os.environ.get("HOTLINE_LOGIN_MAX_FAILURES", "5")),
        "LOGIN_WINDOW_SECONDS": int(os.environ.get("HOTLINE_LOGIN_WINDOW_SECONDS", "900")),
        # Reverse proxies in front of the web processes (nginx: 1); their X-Forwarded-For
        # gives the client's address (login throttling), otherwise the header is ignored.
        "PROXY_COUNT": int(os.environ.get("HOTLINE_PROXY_COUNT", "0")),
        "JSON_AS_ASCII": False,
        # The console map draws the grid from our own GeoJSON; a tile layer is optional
        # (e.g. an intranet tile server: https://tiles.example/{z}/{x}/{y}.png).
        "MAP_TILE_URL": os.environ.get("HOTLINE_MAP_TILE_URL") or None,
        # Photos and files attached to tickets (worker and department pages).
        "UPLOAD_MAX_BYTES": int(os.environ.get("HOTLINE_UPLOAD_MAX_MB", "10")) << 20,
        # Channels (CONTRACT.md): unset = that endpoint answers 503 / refuses.
        "WECHAT_TOKEN": os.environ.get("HOTLINE_WECHAT_TOKEN") or None,
        "WECHAT_AES_KEY": os.environ.get("HOTLINE_WECHAT_AES_KEY") or None,
        "WECHAT_APP_ID": os.environ.get("HOTLINE_WECHAT_APP_ID") or None,
        # The 110 desk: JSON {key id: secret}; its base URL for our transfers and acks.
        "POLICE110_KEYS": os.environ.get("HOTLINE_POLICE110_KEYS") or None,
        "POLICE110_URL": os.environ.get("HOTLINE_POLICE110_URL") or None,
        # SMS gateway (notifications, callback questionnaires); unset URL = log only.
        "SMS_GATEWAY_URL": os.environ.get("HOTLINE_SMS_GATEWAY_URL") or None,
        "SMS_GATEWAY_TOKEN": os.environ.get("HOTLINE_SMS_GATEWAY_TOKEN") or None,
        "SMS_GATEWAY_TIMEOUT": float(os.environ.get("HOTLINE_SMS_GATEWAY_TIMEOUT", "5")),
        "OPEN311_API_KEYS": tuple(k.strip() for k in
                                  os.environ.get("HOTLINE_OPEN311_API_KEYS", "").split(",")
                                  if k.strip()),
    }
