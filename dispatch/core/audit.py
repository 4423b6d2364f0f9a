"""The log of administrative changes (CONTRACT.md, Administration): every change an admin makes
to users, departments, categories, the catalogue, time limits, the calendar, the knowledge base,
the grid, the roster, the classifier and the settings is recorded here in the same transaction,
as who, when, what, before → after.

`record_change` is the one writer; the domain function that makes a change calls it, so the API,
the pages, the CLI and the imports are all recorded the same way."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy.orm import Session

from dispatch.core.db import utcnow
from dispatch.core.models import AdminChange

# What `subject` may name (the kinds of things an admin changes).
SUBJECTS = (
    "user", "department", "category", "catalogue_rule", "time_limits", "calendar",
    "kb_article", "grid_version", "roster", "classifier_rule", "classifier_model",
    "repeat_rules", "triage_settings", "setting",
)


def _plain(value: Any) -> Any:
    """A value as JSON can hold it (dates as ISO text, enums as their value, sets sorted)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def record_change(session: Session, actor_id: int | None, subject: str, key: str | int,
                  action: str, before: Any = None, after: Any = None,
                  at: datetime | None = None) -> AdminChange | None:
    """Record one change in the caller's transaction. `before` is None for a creation, `after`
    None for a removal; an update whose before equals its after records nothing."""
    if subject not in SUBJECTS:
        raise ValueError(f"unknown subject of an admin change: {subject!r}")
    plain_before, plain_after = _plain(before), _plain(after)
    if before is not None and after is not None and plain_before == plain_after:
        return None
    row = AdminChange(at=at or utcnow(), actor_id=actor_id, subject=subject, key=str(key)[:120],
                      action=action, before=plain_before, after=plain_after)
    session.add(row)
    return row


def changed_fields(before: dict[str, Any] | None,
                   after: dict[str, Any] | None) -> dict[str, tuple[Any, Any]]:
    """Field → (before, after) for the fields that differ (what the audit page shows)."""
    old, new = before or {}, after or {}
    return {k: (old.get(k), new.get(k)) for k in sorted(set(old) | set(new))
            if old.get(k) != new.get(k)}
