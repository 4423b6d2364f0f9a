"""Page security: CSRF tokens on every state-changing request a browser makes, and the
response headers (CSP without inline scripts, no framing, no sniffing).

A browser request is one that rides on the session cookie. Machine clients authenticate each
request themselves (a bearer token, a signed 110 push, a WeChat signature, an Open311 key), so
a forged cross-site request cannot carry their credentials; they are left to their own checks.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, request, session
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect

from web.errors import answer

csrf = CSRFProtect()

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Blueprints whose callers prove themselves on every request (not by cookie).
MACHINE_BLUEPRINTS = frozenset({"wechat", "police110", "open311", "sms_hooks", "health"})


def _needs_token() -> bool:
    if request.method in SAFE_METHODS or request.blueprint in MACHINE_BLUEPRINTS:
        return False
    if request.headers.get("Authorization"):
        return False  # a bearer request: the token is the credential, no cookie involved
    # Pages always (the login form too: no login CSRF); the API when a session rides along.
    return request.blueprint == "pages" or "user_id" in session


def _csp(app: Flask) -> str:
    img = ["'self'", "data:", "blob:"]
    tiles = app.config.get("MAP_TILE_URL")
    if tiles:
        parts = urlsplit(tiles.replace("{s}", "a"))
        img.append(f"{parts.scheme}://{parts.netloc.replace('a.', '*.', 1)}")
    return "; ".join([
        "default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'self'",
        "frame-ancestors 'none'", "form-action 'self'", f"img-src {' '.join(img)}",
        "style-src 'self' 'unsafe-inline'", "connect-src 'self' ws: wss:", "media-src 'self'",
    ])


def init_app(app: Flask) -> None:
    """Install CSRF checks and security headers."""
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # checked by the rule above
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # bound to the session instead
    app.config.setdefault("WTF_CSRF_SSL_STRICT", True)
    csrf.init_app(app)
    policy = _csp(app)

    @app.before_request
    def _protect() -> None:
        if app.config.get("WTF_CSRF_ENABLED", True) and _needs_token():
            csrf.protect()

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError) -> ResponseReturnValue:
        return answer(400, "csrf", "页面已过期或缺少安全令牌（CSRF），请刷新页面后重试")

    @app.after_request
    def _headers(response):  # noqa: ANN001, ANN202
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.blueprint == "pages":
            response.headers.setdefault("Cache-Control", "no-store")
        return response
