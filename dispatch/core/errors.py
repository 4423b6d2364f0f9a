"""Domain errors; `web/` maps each kind to one HTTP status and the JSON error shape."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal the domain gives; nothing has been written when it is raised."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    """A value is missing, of the wrong type or out of range (names the field)."""

    code = "invalid"


class NotFound(DomainError):
    """No such thing, or not visible to this user."""

    code = "not_found"


class Forbidden(DomainError):
    """The user's role may not do this."""

    code = "forbidden"


class Conflict(DomainError):
    """Not allowed in the current state."""

    code = "conflict"


class StaleVersion(Conflict):
    """Someone else changed the ticket since the client read it."""

    code = "stale_version"


class Unauthorized(DomainError):
    """Unknown user, wrong password, or a bad or expired token."""

    code = "unauthorized"
