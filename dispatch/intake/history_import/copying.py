"""Writing an import's rows: old numbers already imported, numbers reserved per day, points
located in bulk, and the rows sent to PostgreSQL by COPY from a writer thread."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Table, func, insert, select, text
from sqlalchemy.orm import Session

from dispatch.core.db import UTCDateTime, upsert_insert
from dispatch.core.models import Ticket, TicketCounter
from dispatch.core.ports import Location
from dispatch.intake.history_import.mapping import HistoryGrid
from dispatch.intake.history_import.rows import HistoryRow
from dispatch.intake.numbering import PREFIX
from dispatch.tickets.calendar import LOCAL_TZ


def imported_refs(session: Session, refs: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(refs), 5000):
        chunk = refs[i:i + 5000]
        found.update(session.scalars(select(Ticket.import_ref).where(
            Ticket.import_ref.in_(chunk))))
    return found


def reserve_numbers(session: Session, rows: Sequence[HistoryRow]) -> list[str]:
    """A ticket number per row by its local day of intake: each day's counter moved once for
    the whole file (an upsert, as live intake takes its numbers: never a shared number)."""
    days = [r.created_at.astimezone(LOCAL_TZ).strftime("%Y%m%d") for r in rows]
    wanted: dict[str, int] = {}
    for d in days:
        wanted[d] = wanted.get(d, 0) + 1
    table = core_table(TicketCounter)
    next_of: dict[str, int] = {}
    items = sorted(wanted.items())
    for i in range(0, len(items), 1000):
        chunk = [{"day": day, "last": count} for day, count in items[i:i + 1000]]
        stmt = upsert_insert(session, table).values(chunk)
        stmt = stmt.on_conflict_do_update(
            index_elements=["day"], set_={"last": table.c.last + stmt.excluded.last}
        ).returning(table.c.day, table.c.last)
        for day, last in session.connection().execute(stmt):
            next_of[day] = last - wanted[day] + 1
    out = []
    for d in days:
        out.append(f"{PREFIX}-{d}-{next_of[d]:06d}")
        next_of[d] += 1
    return out


class Sink:
    """Where the batches go. Ids are taken up front for the whole file (from the sequences on
    PostgreSQL; after the largest on SQLite, whose one writer holds the database from the
    counters' upsert on). On PostgreSQL each batch goes by COPY in text format (the values
    formatted here, once) from a thread of its own, so that the database takes one batch
    while the next is made; elsewhere by a batched executemany. Nothing else may use the
    session between `start` and `close`."""

    def __init__(self, session: Session) -> None:
        self.connection = session.connection()
        self.postgresql = self.connection.dialect.name == "postgresql"
        self.ids: dict[str, Iterator[int]] = {}
        self.database_seconds = 0.0
        self.queue: queue.Queue[tuple[str, list[str], str] | None] = queue.Queue(maxsize=3)
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None

    def relax_commit(self) -> None:
        """PostgreSQL: the commit does not wait for its WAL to reach the disk (seconds for a
        large file). A crash in that moment loses the import, never half of it; running the
        file again brings it."""
        if self.postgresql:
            self.connection.execute(text("SET LOCAL synchronous_commit TO OFF"))

    def reserve(self, table: Table, n: int) -> None:
        """Take `n` ids of `table` for the rows to come."""
        if self.postgresql:
            taken = list(self.connection.execute(text(
                "SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                {"t": table.name, "n": n}).scalars())
        else:
            top = self.connection.execute(select(func.max(table.c.id))).scalar() or 0
            taken = list(range(top + 1, top + 1 + n))
        self.ids[table.name] = iter(taken)

    def next_id(self, table: Table) -> int:
        return next(self.ids[table.name])

    def start(self) -> None:
        if self.postgresql:
            self.thread = threading.Thread(target=self._copy, name="history-import-copy",
                                           daemon=True)
            self.thread.start()

    def put(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """Write rows (the same keys in each; columns left out are NULL or their default)."""
        if not rows:
            return
        if not self.postgresql:
            started = time.perf_counter()
            self.connection.execute(insert(table), rows)
            self.database_seconds += time.perf_counter() - started
            return
        columns = list(rows[0])
        self.queue.put((table.name, columns, _copy_lines(table, columns, rows)))
        if self.error is not None:
            self.close()

    def _copy(self) -> None:
        raw = self.connection.connection.driver_connection
        assert raw is not None
        while (item := self.queue.get()) is not None:
            if self.error is not None:
                continue  # drain: the main thread sees the error at its next put or close
            name, columns, data = item
            started = time.perf_counter()
            try:
                with raw.cursor() as cursor, cursor.copy(
                        f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                    copy.write(data)
            except BaseException as exc:  # handed to the main thread
                self.error = exc
            self.database_seconds += time.perf_counter() - started

    def close(self) -> None:
        """Wait for the batches sent; raise what failed."""
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()
            self.thread = None
        if self.error is not None:
            error, self.error = self.error, None
            raise error


def _copy_lines(table: Table, columns: list[str], rows: list[dict[str, Any]]) -> str:
    """The rows in COPY's text format."""
    formats = [_copy_format(table.c[c].type) for c in columns]
    encoded: dict[int, str] = {}  # a JSON value shared by many rows is encoded once

    def as_json(v: Any) -> str:
        found = encoded.get(id(v))
        if found is None:
            found = encoded[id(v)] = _copy_text(json.dumps(v, ensure_ascii=False))
        return found

    pairs = [(c, as_json if f is None else f) for c, f in zip(columns, formats, strict=True)]
    lines = ["\t".join(["\\N" if (v := row[c]) is None else f(v) for c, f in pairs])
             for row in rows]
    lines.append("")
    return "\n".join(lines)


def _copy_format(kind: Any) -> Callable[[Any], str] | None:
    """How COPY's text format writes a non-null value of a column type (None: JSON)."""
    if isinstance(kind, JSON):
        return None
    python = kind.python_type if not isinstance(kind, UTCDateTime) else datetime
    if python is bool:
        return lambda v: "t" if v else "f"
    if python is str:
        return _copy_text
    if python is datetime:
        return datetime.isoformat
    return str


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(text_: str) -> str:
    """A text value as COPY's text format reads it (backslash, tab and line ends escaped)."""
    return text_.translate(_COPY_ESCAPES) if ("\\" in text_ or "\t" in text_ or "\n" in text_
                                              or "\r" in text_) else text_


def locate_all(rows: Sequence[HistoryRow], grid: HistoryGrid) -> list[Location]:
    located: list[Location | None] = [None] * len(rows)
    points = [i for i, r in enumerate(rows) if r.lon is not None]
    if points:
        found = grid.locate_points([rows[i].lon or 0.0 for i in points],
                                   [rows[i].lat or 0.0 for i in points],
                                   [rows[i].crs for i in points],
                                   [rows[i].address for i in points])
        for i, loc in zip(points, found, strict=True):
            located[i] = loc
    by_address: dict[str | None, Location] = {}
    for i, r in enumerate(rows):
        if located[i] is None:
            found_at = by_address.get(r.address)
            if found_at is None:
                found_at = by_address[r.address] = grid.locate(None, None, r.crs, r.address)
            located[i] = found_at
    return [loc for loc in located if loc is not None]


def core_table(model: Any) -> Table:
    table: Table = model.__table__
    return table
