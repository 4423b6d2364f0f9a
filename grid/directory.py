"""The department directory the domain reads through its `Directory` port."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.memo import memo, memo_many
from dispatch.core.ports import DepartmentRef
from grid.models import Area, Department


class SqlDirectory:
    """Departments from the database, read once per instance (one request or task)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._cache: dict[str, DepartmentRef] | None = None

    def department(self, code: str) -> DepartmentRef | None:
        if self._cache is None:  # reference data: kept by the process (dispatch/core/memo.py)
            self._cache = memo(self._session, "departments", (Department,), lambda: {
                d.code: DepartmentRef(d.code, d.name, d.kind, d.street_code, d.active)
                for d in self._session.scalars(select(Department))
            })
        return self._cache.get(code)

    def place_names(self, location: Mapping[str, Any]) -> dict[str, str]:
        """The names of a ticket's cell, community and street (of the grid version it was
        located in), by level: what a person reads where the codes would be."""
        codes = {location.get(level) for level in ("cell", "community", "street")} - {None}
        version = location.get("grid_version")
        if not codes or version is None:
            return {}
        found = memo_many(self._session, ("place", version), codes, (Area,), lambda missing: {
            code: (level, name) for code, level, name in self._session.execute(
                select(Area.code, Area.level, Area.name).where(
                    Area.grid_version == version, Area.code.in_(missing))).tuples()})
        return dict(found.values())
