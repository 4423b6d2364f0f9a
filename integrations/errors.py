"""What an inbound adapter raises when it refuses a request (the 110 desk's, the call
centre's): the route answers it in the house error shape."""

from __future__ import annotations


class RefusedRequest(Exception):
    """A request refused, with the HTTP status to answer and the field at fault (if any)."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.http_status = status
        self.message = message
        self.field = field
