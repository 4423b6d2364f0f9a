"""The one place domain errors become HTTP answers: `{"error": {"code", "message"}}`."""

from __future__ import annotations

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import OperationalError
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
from web.extensions import db

STATUS: dict[type[DomainError], int] = {
    InvalidInput: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    StaleVersion: 409,
}

HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large",
    415: "unsupported_media_type", 422: "invalid", 500: "internal_error",
}


def error_response(status: int, code: str, message: str,
                   field: str | None = None) -> ResponseReturnValue:
    """A JSON error in the house shape."""
    body: dict = {"code": code, "message": message}
    if field:
        body["field"] = field
    return jsonify({"error": body}), status


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
                              "someone else changed the ticket at the same time; reload it")

    @app.errorhandler(OperationalError)
    def _locked(exc: OperationalError) -> ResponseReturnValue:
        db.session.rollback()
        sqlstate = getattr(exc.orig, "sqlstate", None)
        # SQLite: a concurrent writer holds the lock; PostgreSQL: deadlock or serialization.
        if "database is locked" in str(exc.orig) or sqlstate in ("40P01", "40001"):
            return error_response(409, StaleVersion.code,
                                  "someone else changed the data at the same time; try again")
        raise exc

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        message = exc.description or exc.name
        if status == 413:
            limit = request.max_content_length  # this endpoint's limit (uploads: larger)
            message = f"the request body is over the limit of {limit} bytes"
        return error_response(status, HTTP_CODES.get(status, "error"), message)
