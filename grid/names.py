"""Names for codes (departments, categories, areas) and for usernames (people), cached per
process for the console feed, whose events carry codes and are named when they go out."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.models import Category, User
from grid.models import Area, Department, GridVersion

REFRESH_SECONDS = 300.0
MISS_REFRESH_SECONDS = 30.0  # an unknown code (a new grid, a new department) reloads, not often


class NameBook:
    """Code → name for departments, categories and the areas of every grid version; username →
    display name for people (a summary's grid worker)."""

    def __init__(self) -> None:
        self._names: dict[str, dict[str, str]] = {}
        self._loaded = float("-inf")
        self._lock = threading.Lock()

    def _load(self, session: Session) -> None:
        areas = dict(session.execute(
            select(Area.code, Area.name).join(GridVersion, GridVersion.id == Area.grid_version)
            .order_by(GridVersion.active, GridVersion.id)).tuples().all())  # the active grid wins
        self._names = {
            "department": dict(session.execute(
                select(Department.code, Department.name)).tuples().all()),
            "category": dict(session.execute(
                select(Category.code, Category.name)).tuples().all()),
            "area": areas,
            "person": {username: name for username, name in session.execute(
                select(User.username, User.display_name)).tuples() if name},
        }
        self._loaded = time.monotonic()

    def refresh(self, session: Session, *, missing: bool = False) -> None:
        """Reload when stale (or, after a miss, when not reloaded in the last seconds)."""
        age = time.monotonic() - self._loaded
        if age >= REFRESH_SECONDS or (missing and age >= MISS_REFRESH_SECONDS):
            with self._lock:
                self._load(session)

    def name(self, kind: str, code: str | None) -> str | None:
        """The cached name, or None."""
        return self._names.get(kind, {}).get(code) if code else None

    def decorate(self, session: Session, summary: dict[str, Any]) -> dict[str, Any]:
        """Add `*_name` fields to a console summary (the grid worker's: its display name, the
        username staying in `grid_worker`)."""
        self.refresh(session)
        wanted = (("category", "category"), ("department", "department"), ("area", "street"),
                  ("area", "community"), ("area", "cell"), ("person", "grid_worker"))
        if any(summary.get(f) and self.name(k, summary[f]) is None for k, f in wanted):
            self.refresh(session, missing=True)
        for kind, field in wanted:
            summary[f"{field}_name"] = self.name(kind, summary.get(field))
        return summary
