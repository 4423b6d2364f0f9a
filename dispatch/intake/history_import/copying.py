"""Writing an import's rows: old numbers already imported, numbers reserved per day, points
located in bulk, and the rows sent to PostgreSQL by COPY from a writer thread."""

from __future__ import annotations

import json
import operator
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Column, Table, func, insert, select, text
from sqlalchemy.orm import Session

from dispatch.core.db import upsert_insert
from dispatch.core.models import Ticket, TicketCounter
from dispatch.core.ports import Location
from dispatch.intake.history_import.mapping import HistoryGrid
from dispatch.intake.history_import.rows import HistoryRow
from dispatch.intake.numbering import PREFIX
from dispatch.tickets.calendar import LOCAL_TZ


def imported_refs(session: Session, refs: Sequence[str]) -> set[str]:
    found: set[str] = set()
    if session.get_bind().dialect.name == "postgresql":  # one array parameter per chunk
        for i in range(0, len(refs), 50000):
            found.update(session.execute(text(
                "SELECT import_ref FROM tickets WHERE import_ref = ANY(:refs)"),
                {"refs": list(refs[i:i + 50000])}).scalars())
        return found
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


_Batch = tuple[str, list[str], list[str], list[Sequence[Any]]]  # table, columns, types, rows


class Sink:
    """Where the batches go. Ids are taken up front for the whole file (from the sequences on
    PostgreSQL; after the largest on SQLite, whose one writer holds the database from the
    counters' upsert on). On PostgreSQL each batch goes by COPY in binary format (the JSON
    values encoded here, once; the rest by psycopg's C dumpers) from a thread of its own, so
    that the database takes one batch while the next is made; elsewhere by a batched
    executemany. Nothing else may use the session between `start` and `close`."""

    def __init__(self, session: Session) -> None:
        self.connection = session.connection()
        self.postgresql = self.connection.dialect.name == "postgresql"
        self.ids: dict[str, Iterator[int]] = {}
        self.kinds: dict[str, dict[str, str]] = {}  # PostgreSQL: table -> column -> type
        self.database_seconds = 0.0
        self.queue: queue.Queue[_Batch | None] = queue.Queue(maxsize=3)
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None
        self.keys_relaxed = False
        self.checked: set[tuple[str, str]] = set()  # (table, column): foreign keys checked

    def relax_commit(self) -> None:
        """PostgreSQL: the commit does not wait for its WAL to reach the disk (seconds for a
        large file). A crash in that moment loses the import, never half of it; running the
        file again brings it."""
        if self.postgresql:
            self.connection.execute(text("SET LOCAL synchronous_commit TO OFF"))

    def check_keys_once(self, tables: Sequence[Table], parents: dict[Column[Any], set[str]]
                        ) -> bool:
        """PostgreSQL: the foreign keys of the rows to come checked once for the whole file
        instead of by a trigger per row (about 7 lookups a ticket: the ticket of each event and
        assignment, the category, the department). The parent rows named in `parents` (a
        foreign-key column -> the codes the rows will hold in it) are locked FOR KEY SHARE
        here, as the per-row checks would lock them (no one can delete a department or a
        category the import refers to before it commits), and each must exist; a key to one
        of `tables` (an event's or assignment's ticket) is a row this import writes in the
        same transaction (its id taken by `reserve`); `put` refuses any other foreign-key
        column. Then the per-row checks are switched off (session_replication_role = replica)
        until `close`. Only when the role may set that parameter and the tables have no
        trigger of their own (replica mode would skip it); otherwise, or when a code is
        missing, the per-row checks stay and say what is wrong, as before. True when done."""
        if not self.postgresql:
            return False
        c = self.connection
        version = c.dialect.server_version_info
        allowed = c.execute(text(
            "SELECT has_parameter_privilege('session_replication_role', 'SET')"
            if version is not None and version >= (15,) else
            "SELECT current_setting('is_superuser') = 'on'")).scalar()
        if not allowed or c.execute(text(
                "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal "
                "AND tgrelid = ANY(CAST(:t AS regclass[]))"),
                {"t": [t.name for t in tables]}).scalar():
            return False
        for column, codes in parents.items():
            (key,) = column.foreign_keys
            parent = key.column
            wanted = sorted(codes)
            found = c.execute(text(
                f"SELECT count(*) FROM (SELECT 1 FROM {parent.table.name} "
                f"WHERE {parent.name} = ANY(:codes) FOR KEY SHARE) AS locked"),
                {"codes": wanted}).scalar()
            if found != len(wanted):
                return False
        self.checked = {(col.table.name, col.name) for col in parents} | {
            (t.name, col.name) for t in tables for col in t.c
            if any(k.column.table in tables for k in col.foreign_keys)}
        c.execute(text("SET LOCAL session_replication_role = replica"))
        self.keys_relaxed = True
        return True

    def reserve(self, table: Table, n: int) -> None:
        """Take `n` ids of `table` for the rows to come."""
        if self.postgresql:  # one row back: the ids as text, not a row each
            listed = self.connection.execute(text(
                "SELECT string_agg(nextval(pg_get_serial_sequence(:t, 'id'))::text, ',') "
                "FROM generate_series(1, :n)"), {"t": table.name, "n": n}).scalar()
            taken = [int(i) for i in listed.split(",")] if listed else []
        else:
            top = self.connection.execute(select(func.max(table.c.id))).scalar() or 0
            taken = list(range(top + 1, top + 1 + n))
        self.ids[table.name] = iter(taken)
        if self.postgresql:  # COPY's binary format needs each column's exact type
            self.kinds[table.name] = {name: kind for name, kind in self.connection.execute(text(
                "SELECT attname, typname FROM pg_attribute JOIN pg_type ON pg_type.oid = atttypid "
                "WHERE attrelid = CAST(:t AS regclass) AND attnum > 0 AND NOT attisdropped"),
                {"t": table.name})}

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
        if self.keys_relaxed:
            unchecked = [c for c in rows[0] if table.c[c].foreign_keys
                         and (table.name, c) not in self.checked]
            if unchecked:  # a programming error: a key nobody checks
                raise RuntimeError(f"{table.name}: foreign keys not checked: {unchecked}")
        kinds = self.kinds[table.name]
        columns, values = _binary_rows(list(rows[0]), [kinds[c] == "jsonb" for c in rows[0]],
                                       rows)
        self.queue.put((table.name, columns, [kinds[c] for c in columns], values))
        if self.error is not None:
            self.close()

    def _copy(self) -> None:
        raw = self.connection.connection.driver_connection
        assert raw is not None
        while (item := self.queue.get()) is not None:
            if self.error is not None:
                continue  # drain: the main thread sees the error at its next put or close
            name, columns, kinds, rows = item
            started = time.perf_counter()
            try:
                with raw.cursor() as cursor, cursor.copy(
                        f"COPY {name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    # A JSON value goes as jsonb's binary form, already made: sent as bytes.
                    copy.set_types(["bytea" if k == "jsonb" else k for k in kinds])
                    write = copy.write_row
                    for row in rows:
                        write(row)
            except BaseException as exc:  # handed to the main thread
                self.error = exc
            self.database_seconds += time.perf_counter() - started

    def close(self) -> None:
        """Wait for the batches sent; raise what failed. The per-row key checks are on again
        for whatever the transaction does next."""
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()
            self.thread = None
        if self.keys_relaxed and self.error is None:
            self.connection.execute(text("SET LOCAL session_replication_role = origin"))
            self.keys_relaxed = False
        if self.error is not None:
            error, self.error = self.error, None
            raise error


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _binary_rows(columns: list[str], json_columns: list[bool],
                 rows: list[dict[str, Any]]) -> tuple[list[str], list[Sequence[Any]]]:
    """The columns (the JSON ones last) and the rows as tuples for COPY's binary format: a
    JSON value as jsonb's binary form (version 1, then the text), encoded once when many rows
    share it."""
    encoded: dict[int, bytes | None] = {}
    encode = _JSON.encode

    def as_jsonb(v: Any) -> bytes | None:
        found = encoded.get(id(v), b"")
        if found == b"":
            found = encoded[id(v)] = None if v is None else b"\x01" + encode(v).encode()
        return found

    plain = [c for c, j in zip(columns, json_columns, strict=True) if not j]
    jsons = [c for c, j in zip(columns, json_columns, strict=True) if j]

    def getter(names: list[str]) -> Any:
        return operator.itemgetter(*names) if len(names) > 1 else (lambda r: (r[names[0]],))

    values = getter(plain)
    if not jsons:
        return plain, list(map(values, rows))
    if len(jsons) == 1:
        (name,) = jsons
        return plain + jsons, [(*values(r), as_jsonb(r[name])) for r in rows]
    documents = getter(jsons)
    return plain + jsons, [(*values(r), *map(as_jsonb, documents(r))) for r in rows]


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
