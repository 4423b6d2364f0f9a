"""The one place domain errors become HTTP answers: `{"error": {"code", "message"}}` for the API
and the hooks, a small Chinese HTML page for a browser on the pages (`/login`, `/console`, …),
plain text for the WeChat hook (its protocol). `code` and `field` stay English; every
`message` is zh-CN (CONTRACT.md, "Errors, retries and limits")."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from dispatch.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    StaleVersion,
    Unauthorized,
)
from dispatch.core.idempotency import KeyReused
from web.extensions import db
from web.i18n import t

log = logging.getLogger("hotline.web")
# Seconds a client should wait before trying again after a database or queue outage (a
# PostgreSQL restart or a Redis failover takes some seconds).
RETRY_AFTER = 5

STATUS: dict[type[DomainError], int] = {
    InvalidInput: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    StaleVersion: 409,
    KeyReused: 422,
}

HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large",
    415: "unsupported_media_type", 422: "invalid", 429: "too_many_requests",
    500: "internal_error", 503: "unavailable",
}
# What a status says when nothing more precise was given (werkzeug's own descriptions are
# English).
HTTP_MESSAGES = {
    400: "请求格式不正确", 401: "请先登录", 403: "没有权限访问此地址",
    404: "找不到请求的地址", 405: "此地址不接受该请求方法", 409: "与当前状态冲突",
    413: "请求内容过大", 415: "请求的内容类型不受支持", 422: "请求中的值无效",
    429: "请求过于频繁，请稍后重试", 500: "服务器内部错误，请稍后重试",
    503: "服务暂时不可用，请稍后重试",
}
# The titles of the HTML error pages.
PAGE_TITLES = {
    400: "请求有误", 401: "需要登录", 403: "无权访问", 404: "页面不存在", 405: "请求方法不允许",
    413: "内容过大", 415: "内容类型不支持", 429: "请求过于频繁", 500: "服务器出错",
    503: "服务暂时不可用",
}
# Paths answered for machines (JSON or their own protocol); everything else is a page.
MACHINE_PREFIXES = ("/api/", "/hooks/", "/open311/", "/healthz", "/static/", "/socket.io")
WECHAT_HOOK = "/hooks/wechat"
# Open311 answers its errors as its own list (`[{"code", "description"}]`, JSON or XML).
OPEN311 = "/open311/"
# PostgreSQL's "numeric value out of range" (22003) and "invalid text representation" (22P02):
# a value the input checks let through, refused by the database.
OUT_OF_RANGE = ("22003", "22P02")


def error_response(status: int, code: str, message: str,
                   field: str | None = None) -> ResponseReturnValue:
    """A JSON error in the house shape."""
    body: dict = {"code": code, "message": message}
    if field:
        body["field"] = field
    return jsonify({"error": body}), status


def is_page_request() -> bool:
    """Whether this request is a browser's on a page (not the API, a hook or a static file)."""
    path = request.path
    return not any(path == p.rstrip("/") or path.startswith(p) for p in MACHINE_PREFIXES)


def page_error(status: int, message: str) -> Response:
    """A small Chinese HTML error page (the pages' own style, with a link back)."""
    try:
        html = render_template("error.html", status=status, message=message,
                               title=PAGE_TITLES.get(status, "出错了"), me=None, nav=[])
    except Exception:  # noqa: BLE001 - the page itself failed: say it in plain text
        log.exception("the error page could not be rendered")
        return Response(f"{status} {message}", status, mimetype="text/plain")
    return Response(html, status, mimetype="text/html")


def answer(status: int, code: str, message: str, field: str | None = None,
           headers: dict[str, str] | None = None) -> Response:
    """An error in the shape this request expects: a page, WeChat's plain text, Open311's
    error list, else JSON."""
    if is_page_request():
        response = page_error(status, message)
    elif request.path == WECHAT_HOOK:
        response = Response(message, status, mimetype="text/plain")
    elif request.path.startswith(OPEN311):
        response = _open311_error(status, message)
    else:
        response, _ = error_response(status, code, message, field)  # type: ignore[misc]
        response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _open311_error(status: int, message: str) -> Response:
    """An error in Open311's shape and in the format the URL asks for (JSON or XML)."""
    from integrations.open311.formats import render_error, split_format

    fmt = g.get("open311_format") or split_format(request.path.rsplit("/", 1)[-1])[1]
    body, content_type = render_error(fmt, status, message)
    return Response(body, status, content_type=content_type)


def unavailable(what: str) -> Response:
    """503 with Retry-After: the database or the queue is out for a moment; try again."""
    return answer(503, "unavailable", f"{what}暂时不可用，请稍后重试",
                  headers={"Retry-After": str(RETRY_AFTER)})


def http_message(exc: HTTPException) -> str:
    """The Chinese message of an HTTP error: the raiser's own words, else the status's."""
    status = exc.code or 500
    if status == 413:
        limit = request.max_content_length  # this endpoint's limit (uploads: larger)
        return f"请求内容超过上限（{limit} 字节）" if limit else HTTP_MESSAGES[413]
    if status == 405:
        allowed = [m for m in getattr(exc, "valid_methods", None) or () if m != "OPTIONS"]
        if allowed:
            return f"此地址不接受 {request.method} 请求（可用：{'、'.join(allowed)}）"
    description = exc.description
    if not description or description == type(exc).description:
        return HTTP_MESSAGES.get(status, exc.name)
    return description


def _queue_errors() -> tuple[type[BaseException], ...]:
    """The exceptions of a broker or Redis that cannot be reached."""
    import redis
    from kombu.exceptions import OperationalError as KombuOperationalError

    return (redis.ConnectionError, redis.TimeoutError, KombuOperationalError)


def _status_of(exc: DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def register(app: Flask) -> None:
    """Install the error handlers."""

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError) -> ResponseReturnValue:
        db.session.rollback()
        return answer(_status_of(exc), exc.code, exc.translated(t), exc.field)

    @app.errorhandler(StaleDataError)
    def _stale(exc: StaleDataError) -> ResponseReturnValue:
        db.session.rollback()
        return answer(409, StaleVersion.code, "工单已被他人同时修改，请刷新后重试")

    @app.errorhandler(DBAPIError)
    def _database(exc: DBAPIError) -> ResponseReturnValue:
        _rollback()
        sqlstate = getattr(exc.orig, "sqlstate", None)
        # SQLite: a concurrent writer holds the lock; PostgreSQL: deadlock or serialization.
        if "database is locked" in str(exc.orig) or sqlstate in ("40P01", "40001"):
            return answer(409, StaleVersion.code, "数据已被他人同时修改，请重试")
        if isinstance(exc, DataError) or sqlstate in OUT_OF_RANGE:
            # A value the input checks let through and the database refuses (out of range,
            # a NUL character): the request's fault, never a server error.
            log.warning("database refused a value: %s", exc.orig)
            return answer(400, "bad_request",
                          "请求中有数据库无法接受的值（超出范围或含 NUL 字符）")
        if isinstance(exc, OperationalError) or exc.connection_invalidated:
            log.warning("database unavailable: %s", exc.orig)
            return unavailable("数据库")
        raise exc

    @app.errorhandler(DisconnectionError)
    @app.errorhandler(PoolTimeout)
    def _no_connection(exc: Exception) -> ResponseReturnValue:
        _rollback()
        log.warning("database unavailable: %s", exc)
        return unavailable("数据库")

    for queue_error in _queue_errors():
        @app.errorhandler(queue_error)
        def _queue(exc: Exception) -> ResponseReturnValue:
            _rollback()
            log.warning("queue unavailable: %s", exc)
            return unavailable("消息队列")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        headers = {name: value for name, value in exc.get_headers()  # Allow, Retry-After
                   if name.lower() != "content-type"}
        return answer(status, HTTP_CODES.get(status, "error"), http_message(exc),
                      headers=headers)


def _rollback() -> None:
    """End the failed transaction; with the database gone even that may fail."""
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection is already lost: nothing to undo
        db.session.remove()
