"""The one SQLAlchemy declarative base every model of the project is declared on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, cast

from sqlalchemy import (
    JSON,
    CursorResult,
    DateTime,
    MetaData,
    Result,
    TextClause,
    TypeDecorator,
    bindparam,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import DeclarativeBase

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.orm import Session

# Stable constraint names so that Alembic migrations agree on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSON everywhere, JSONB where PostgreSQL offers it.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Declarative base shared by dispatch/ and grid/ models and by Flask-SQLAlchemy."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    if TYPE_CHECKING:
        # Every model here is declared with __tablename__, so its table is a Table (the base
        # types it as any FromClause).
        __table__: ClassVar[Table]


def utcnow() -> datetime:
    """The current time, UTC, timezone-aware."""
    return datetime.now(UTC)


def upsert_insert(session: Session, table: Any) -> Any:
    """An INSERT that supports ON CONFLICT, for the session's backend (PostgreSQL, SQLite)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql_insert(table)
    if dialect == "sqlite":
        return sqlite_insert(table)
    raise RuntimeError(f"unsupported database dialect {dialect!r}")  # pragma: no cover


_ADDING_UPSERTS: dict[tuple[str, str, tuple[str, ...], tuple[str, ...], str | None],
                     TextClause] = {}


def adding_upsert(session: Session, table: Table, keys: Sequence[str], counters: Sequence[str],
                  returning: str | None = None) -> TextClause:
    """`INSERT INTO table (keys…, counters…) VALUES (…) ON CONFLICT (keys…) DO UPDATE SET
    counter = table.counter + excluded.counter, …` (and `RETURNING returning`), the same SQL on
    PostgreSQL and SQLite, its parameters named and typed as the columns. Written once per
    shape and kept: SQLAlchemy cannot cache an ON CONFLICT DO UPDATE construct and compiled it
    anew at each execution."""
    dialect = session.get_bind().dialect
    shape = (dialect.name, table.name, tuple(keys), tuple(counters), returning)
    kept = _ADDING_UPSERTS.get(shape)
    if kept is None:
        q = dialect.identifier_preparer.quote
        name, columns = q(table.name), [*keys, *counters]
        sql = (f"INSERT INTO {name} ({', '.join(q(c) for c in columns)}) "
               f"VALUES ({', '.join(f':{c}' for c in columns)}) "
               f"ON CONFLICT ({', '.join(q(c) for c in keys)}) DO UPDATE SET "
               + ", ".join(f"{q(c)} = {name}.{q(c)} + excluded.{q(c)}" for c in counters)
               + (f" RETURNING {q(returning)}" if returning else ""))
        kept = text(sql).bindparams(*(bindparam(c, type_=table.c[c].type) for c in columns))
        _ADDING_UPSERTS[shape] = kept
    return kept


def add_rows(session: Session, table: Table, keys: Sequence[str], counters: Sequence[str],
             rows: Sequence[dict[str, Any]]) -> None:
    """Upsert `rows` (dicts of keys and counters, each key once) adding their counters to the
    rows already there, as `adding_upsert` does row by row: on PostgreSQL in one statement,
    the rows sent as one array a column (`INSERT … SELECT * FROM unnest(…) ON CONFLICT …`;
    row by row, a refresh's hundreds of rows cost more CPU than the rest of it)."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        session.execute(adding_upsert(session, table, keys, counters), list(rows))
        return
    shape = (dialect.name, table.name, tuple(keys), tuple(counters), "unnest")
    kept = _ADDING_UPSERTS.get(shape)
    columns = [*keys, *counters]
    if kept is None:
        q = dialect.identifier_preparer.quote
        name = q(table.name)
        arrays = ", ".join(f"CAST(:{c} AS {table.c[c].type.compile(dialect)}[])"
                           for c in columns)
        sql = (f"INSERT INTO {name} ({', '.join(q(c) for c in columns)}) "
               f"SELECT * FROM unnest({arrays}) "
               f"ON CONFLICT ({', '.join(q(c) for c in keys)}) DO UPDATE SET "
               + ", ".join(f"{q(c)} = {name}.{q(c)} + excluded.{q(c)}" for c in counters))
        kept = text(sql)
        _ADDING_UPSERTS[shape] = kept
    session.execute(kept, {c: [r[c] for r in rows] for c in columns})


def affected_rows(result: Result[Any]) -> int:
    """The number of rows an executed INSERT, UPDATE or DELETE matched."""
    return cast(CursorResult[Any], result).rowcount


def insert_ignoring_duplicates(session: Session, table: Table,
                               rows: list[dict[str, Any]]) -> None:
    """INSERT rows, skipping those whose primary key exists (PostgreSQL and SQLite)."""
    if rows:
        session.execute(upsert_insert(session, table).on_conflict_do_nothing(), rows)
