"""Who acts on a ticket: a person (id, role, department) or the system."""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.core.vocab import Role


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (id, role, department) or the system."""

    id: int | None
    role: Role
    department_code: str | None = None
    username: str = "system"
    # A grid worker's cells (from the duty roster): they see the tickets located there too.
    cells: frozenset[str] = frozenset()


SYSTEM = Actor(None, Role.SYSTEM)
