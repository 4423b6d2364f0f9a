"""The department directory the domain reads through its `Directory` port."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.ports import DepartmentRef
from grid.models import Department


class SqlDirectory:
    """Departments from the database, read once per instance (one request or task)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._cache: dict[str, DepartmentRef] | None = None

    def department(self, code: str) -> DepartmentRef | None:
        if self._cache is None:
            self._cache = {
                d.code: DepartmentRef(d.code, d.name, d.kind, d.street_code, d.active)
                for d in self._session.scalars(select(Department))
            }
        return self._cache.get(code)
