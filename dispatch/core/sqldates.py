"""Local calendar dates in SQL, the same on PostgreSQL and SQLite.

`local_date(column)` is the local (Asia/Shanghai) date of a UTC timestamp column, as
`dispatch.stats.metrics.local_day` computes it in Python; `month_start(column)` is the first day
of a date column's month. PostgreSQL converts with the time zone database
(`AT TIME ZONE`); SQLite has
none and adds the zone's offset, which for Asia/Shanghai has been +08:00 since 1991 (no summer
time), so both give the same dates for anything the hotline records.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Date
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from dispatch.tickets.calendar import LOCAL_TZ


class local_date(FunctionElement[Any]):  # noqa: N801 (an SQL function)
    """SQL: the local calendar date of a UTC timestamp."""

    type = Date()
    inherit_cache = True
    name = "local_date"


class month_start(FunctionElement[Any]):  # noqa: N801 (an SQL function)
    """SQL: the first day of a date's month."""

    type = Date()
    inherit_cache = True
    name = "month_start"


def _sqlite_offset() -> str:
    offset = LOCAL_TZ.utcoffset(datetime.now(UTC).replace(tzinfo=None))
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    return f"{minutes:+d} minutes"


@compiles(local_date, "postgresql")
def _local_date_pg(element: local_date, compiler: Any, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    # Constants written into the SQL (not bound), so that a GROUP BY on the same expression
    # matches the SELECT list's.
    return f"CAST(timezone('{LOCAL_TZ.key}', {compiler.process(arg, **kw)}) AS DATE)"


@compiles(local_date, "sqlite")
def _local_date_sqlite(element: local_date, compiler: Any, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    return f"date({compiler.process(arg, **kw)}, '{_sqlite_offset()}')"


@compiles(month_start, "postgresql")
def _month_start_pg(element: month_start, compiler: Any, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    return f"CAST(date_trunc('month', {compiler.process(arg, **kw)}) AS DATE)"


@compiles(month_start, "sqlite")
def _month_start_sqlite(element: month_start, compiler: Any, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    return f"date({compiler.process(arg, **kw)}, 'start of month')"


__all__ = ["local_date", "month_start"]
