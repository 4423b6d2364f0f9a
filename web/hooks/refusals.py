"""The refusal of a signed hook (the 110 desk's, the call centre's): the house error shape,
nothing of the request kept, and on a 503 when to try again."""

from __future__ import annotations

from flask import Response, make_response

from web.errors import HTTP_CODES, RETRY_AFTER, error_response
from web.extensions import db


def refuse(status: int, message: str, field: str | None = None,
           code: str | None = None) -> Response:
    """Roll back and answer `status` with `message` (naming `field`), Retry-After on a 503."""
    db.session.rollback()
    response = make_response(error_response(status, code or HTTP_CODES.get(status, "error"),
                                            message, field))
    if status == 503:  # like every 503 of the system: when to try again
        response.headers["Retry-After"] = str(RETRY_AFTER)
    return response
