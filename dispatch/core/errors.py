"""Domain errors; `web/` maps each kind to one HTTP status and the JSON error shape."""

from __future__ import annotations

from collections.abc import Callable, Mapping


class DomainError(Exception):
    """Base of every refusal the domain gives; nothing has been written when it is raised.

    A message may name codes of DOMAIN.md (a role, a status, an action) as `terms`: then it is
    a template (`"工单当前状态为“{status}”"`) and `terms` maps each name to its (group, code);
    `message` shows the codes, `translated(label)` the names a person reads (the web layer
    passes its one translation table)."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None,
                 terms: Mapping[str, tuple[str, str]] | None = None) -> None:
        self.terms = dict(terms or {})
        self.template = message
        if self.terms:
            message = message.format(**{name: code for name, (_, code) in self.terms.items()})
        super().__init__(message)
        self.message = message
        self.field = field

    def translated(self, label: Callable[[str, str], str]) -> str:
        """The message with each term named by `label(group, code)`."""
        if not self.terms:
            return self.message
        return self.template.format(**{name: label(group, code)
                                       for name, (group, code) in self.terms.items()})


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
