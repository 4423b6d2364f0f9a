"""The one place domain errors become HTTP answers: `{"error": {"code", "message"}}`."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
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


def unavailable(what: str) -> ResponseReturnValue:
    """503 with Retry-After: the database or the queue is out for a moment; try again."""
    body, status = error_response(503, "unavailable", f"{what}暂时不可用，请稍后重试")  # type: ignore[misc]
    body.headers["Retry-After"] = str(RETRY_AFTER)
    return body, status


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
        return error_response(_status_of(exc), exc.code, exc.message, exc.field)

    @app.errorhandler(StaleDataError)
    def _stale(exc: StaleDataError) -> ResponseReturnValue:
        db.session.rollback()
        return error_response(409, StaleVersion.code,
                              "工单已被他人同时修改，请刷新后重试")

    @app.errorhandler(DBAPIError)
    def _database(exc: DBAPIError) -> ResponseReturnValue:
        _rollback()
        sqlstate = getattr(exc.orig, "sqlstate", None)
        # SQLite: a concurrent writer holds the lock; PostgreSQL: deadlock or serialization.
        if "database is locked" in str(exc.orig) or sqlstate in ("40P01", "40001"):
            return error_response(409, StaleVersion.code,
                                  "数据已被他人同时修改，请重试")
        if isinstance(exc, DataError) or sqlstate in OUT_OF_RANGE:
            # A value the input checks let through and the database refuses (out of range,
            # a NUL character): the request's fault, never a server error.
            log.warning("database refused a value: %s", exc.orig)
            return error_response(400, "bad_request",
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
        message = exc.description or exc.name
        if status == 413:
            limit = request.max_content_length  # this endpoint's limit (uploads: larger)
            message = f"请求内容超过上限（{limit} 字节）"
        response, status = error_response(  # type: ignore[misc]
            status, HTTP_CODES.get(status, "error"), message)
        for name, value in exc.get_headers():  # Allow on 405, Retry-After on 429 and 503
            if name.lower() != "content-type":
                response.headers[name] = value
        return response, status


def _rollback() -> None:
    """End the failed transaction; with the database gone even that may fail."""
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection is already lost: nothing to undo
        db.session.remove()
