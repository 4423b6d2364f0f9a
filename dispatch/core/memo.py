"""Reference data read once per transaction: settings, the working-day calendar, the category
tree, the duty roster of a cell, a grid worker by name, the revisions the process caches are
keyed by.

Every action reads some of these rows again, and they almost never change. `memo(session, key,
models, load)` keeps what `load()` read for the rest of the session's transaction, so a batch of
actions in one transaction reads each once. A kept value is what the query would have returned:

- it is dropped when the transaction ends (commit, rollback, or a savepoint's end), so the next
  transaction reads again and sees what other processes committed;
- it is dropped when the session flushes a change to a row of one of its `models`, or executes
  an INSERT, UPDATE or DELETE on one of their tables (text SQL is not looked at);
- a change to such a row still pending in the session is flushed before the value is served
  or read, as the query's autoflush would have done (not under `no_autoflush`, as the query
  would not); other pending changes are left for a later flush, since `load` reads only the
  tables of `models`.

Its session listeners are installed with the others by `dispatch.subscribers.install`.
Outside a transaction nothing is kept.

Across transactions, reference data is also kept per process (per engine) under the shared
reference revision: the one row of `reference_revision`, a token that every transaction writing
one of `REFERENCE_TABLES` through a session sets to a new random token as it commits (same
transaction), and that a transaction reads once, on its first `memo`. Every process sees the
same row (web processes, workers, the CLI), so an admin's change on one is seen by the others'
next transaction; a request then costs one cheap read instead of one per kind of reference data.
A transaction that wrote reference data reads for itself (per transaction, as above) and shares
nothing; values holding ORM objects are never shared. Writes that bypass the session (raw
connections, migrations) must call `changed(session)` or restart the processes.
"""

from __future__ import annotations

import secrets
import threading
import weakref
from collections.abc import Callable, Hashable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import String, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    SessionTransaction,
    mapped_column,
    scoped_session,
)

from dispatch.core.db import Base, UTCDateTime, utcnow

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_INFO_KEY = "reference_memo"
_REVISION_READ = "reference_revision"  # the shared revision this transaction read
_WRITTEN = "reference_written"  # this transaction wrote reference data
# The reference data kept per process: a write to one of these tables moves the revision.
REFERENCE_TABLES = frozenset({
    "settings", "categories", "classifier_rules", "classifier_models", "catalogue_rules",
    "duty_roster", "users", "calendar_days", "departments", "grid_versions", "grid_areas",
})


class ReferenceRevision(Base):
    """The shared reference revision: one row, a new random token at each committed change
    of reference data (a token, not a count: a database emptied and filled again must not
    meet an old count)."""

    __tablename__ = "reference_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class _Shared:
    """What one process keeps for one database (engine): values read under one revision."""

    def __init__(self) -> None:
        self.revision: str | None = None
        self.values: dict[Hashable, Any] = {}
        self.lock = threading.Lock()


_shared: weakref.WeakKeyDictionary[Engine, _Shared] = weakref.WeakKeyDictionary()
_shared_lock = threading.Lock()


def memo(session: Session, key: Hashable, models: tuple[type[Base], ...],
         load: Callable[[], T]) -> T:
    """`load()`'s value, read at most once per transaction while no row of `models` changes,
    and kept by the process until the shared reference revision moves when every table of
    `models` is reference data; `load` reads only the tables of `models`."""
    if isinstance(session, scoped_session):  # the web's request session: the one behind it
        session = session()
    kept: dict[Hashable, tuple[frozenset[str], Any]] | None = session.info.get(_INFO_KEY)
    if session.autoflush and _pending(session, models):
        session.flush()  # drops what the change touches (before_flush below)
    if kept is not None and key in kept:
        return kept[key][1]
    tables = frozenset(m.__table__.name for m in models)
    shared = _box(session) if tables <= REFERENCE_TABLES else None
    revision = _revision(session) if shared is not None else None
    with session.no_autoflush:  # only changes to `models` matter here: flushed above
        if shared is not None and revision is not None and shared.revision == revision \
                and key in shared.values:
            value = shared.values[key]
        else:
            value = load()
            if shared is not None and revision is not None and _shareable(value) \
                    and not session.info.get(_WRITTEN):
                with shared.lock:
                    if shared.revision != revision:
                        shared.revision, shared.values = revision, {}
                    shared.values[key] = value
    if session.in_transaction():
        session.info.setdefault(_INFO_KEY, {})[key] = (tables, value)
    return value


def memo_many(session: Session, kind: Hashable, keys: Iterable[K], models: tuple[type[Base], ...],
              load: Callable[[set[K]], Mapping[K, V]]) -> dict[K, V]:
    """`memo` for many keys of one kind at once (e.g. user id → name): what is not kept yet
    is read by one `load(missing)`; a key `load` does not answer stays unanswered."""
    if isinstance(session, scoped_session):
        session = session()
    wanted = set(keys)
    if not wanted:
        return {}
    if session.autoflush and _pending(session, models):
        session.flush()
    tables = frozenset(m.__table__.name for m in models)
    kept = session.info.get(_INFO_KEY) or {}
    out: dict[K, V] = {}
    for k in wanted:
        if (kind, k) in kept:
            out[k] = kept[(kind, k)][1]
    shared = _box(session) if tables <= REFERENCE_TABLES else None
    revision = _revision(session) if shared is not None else None
    current = shared is not None and revision is not None and shared.revision == revision
    if current:
        assert shared is not None
        for k in wanted - out.keys():
            if (kind, k) in shared.values:
                out[k] = shared.values[(kind, k)]
    missing = wanted - out.keys()
    if missing:
        with session.no_autoflush:
            found = dict(load(missing))
        out.update(found)
        if shared is not None and revision is not None and not session.info.get(_WRITTEN) \
                and _shareable(tuple(found.values())):
            with shared.lock:
                if shared.revision != revision:
                    shared.revision, shared.values = revision, {}
                shared.values.update({(kind, k): v for k, v in found.items()})
    if session.in_transaction():
        box = session.info.setdefault(_INFO_KEY, {})
        for k, v in out.items():
            box[(kind, k)] = (tables, v)
    return out


def _box(session: Session) -> _Shared | None:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else getattr(bind, "engine", None)
    if engine is None:
        return None
    with _shared_lock:
        box = _shared.get(engine)
        if box is None:
            box = _shared[engine] = _Shared()
    return box


def _revision(session: Session) -> str | None:
    """The shared reference revision, read once per transaction (None: this transaction wrote
    reference data, so it keeps nothing across transactions)."""
    if session.info.get(_WRITTEN):
        return None
    read: str | None = session.info.get(_REVISION_READ)
    if read is not None:
        return read
    table = ReferenceRevision.__table__
    # On the session's connection, not through the ORM: the row is not reference data itself.
    connection = session.connection()
    token = connection.execute(select(table.c.token).where(table.c.id == 1)).scalar()
    if token is None:  # a database that never had one: start it (once)
        from sqlalchemy.dialects import postgresql, sqlite

        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        connection.execute(dialect.insert(table).on_conflict_do_nothing(),
                           [{"id": 1, "token": secrets.token_hex(8), "changed_at": utcnow()}])
        token = connection.execute(select(table.c.token).where(table.c.id == 1)).scalar()
    session.info[_REVISION_READ] = str(token)
    return str(token)


def changed(session: Session) -> None:
    """Say that this transaction changed reference data behind the session's back (raw SQL):
    the shared revision moves when it commits."""
    if isinstance(session, scoped_session):
        session = session()
    session.info[_WRITTEN] = True
    session.info.pop(_INFO_KEY, None)


def committing(session: Session) -> None:
    """Before a commit: a transaction that wrote reference data moves the shared revision
    (in the same transaction, so other processes see the change and the new revision at
    once)."""
    if session.new or session.dirty or session.deleted:
        session.flush()  # marks what the last changes touch
    if not session.info.get(_WRITTEN):
        return
    table = ReferenceRevision.__table__
    token = secrets.token_hex(8)
    connection = session.connection()
    done = connection.execute(update(table).where(table.c.id == 1)
                              .values(token=token, changed_at=utcnow()))
    if not done.rowcount:
        connection.execute(insert(table).values(id=1, token=token, changed_at=utcnow()))
    session.info.pop(_WRITTEN, None)


def _shareable(value: Any, depth: int = 0) -> bool:
    """Whether a value may be kept beyond its session: no ORM object in it (they belong to
    one session and expire)."""
    if hasattr(value, "_sa_instance_state"):
        return False
    if depth < 3 and isinstance(value, tuple | list | frozenset | set):
        return all(_shareable(v, depth + 1) for v in value)
    if depth < 3 and hasattr(value, "_mapping"):  # a Row
        return all(_shareable(v, depth + 1) for v in tuple(value))
    if depth < 3 and isinstance(value, dict):
        return all(_shareable(v, depth + 1) for v in value.values())
    return True


def forget(session: Session) -> None:
    """Drop everything kept for this session."""
    session.info.pop(_INFO_KEY, None)


def _pending(session: Session, models: tuple[type, ...]) -> bool:
    for objects in (session.new, session.deleted, session.dirty):
        if any(isinstance(o, models) for o in objects):
            return True
    return False


def _drop_tables(session: Session, tables: set[str]) -> None:
    kept = session.info.get(_INFO_KEY)
    if not kept or not tables:
        return
    for key in [k for k, (used, _) in kept.items() if used & tables]:
        del kept[key]


def transaction_ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None or transaction.nested:  # not a flush's subtransaction
        forget(session)
    if transaction.parent is None:  # the outermost: the next one reads the revision again
        session.info.pop(_REVISION_READ, None)
        session.info.pop(_WRITTEN, None)


def _mark(session: Session, tables: set[str]) -> None:
    if tables & REFERENCE_TABLES:
        session.info[_WRITTEN] = True


def flushing(session: Session, flush_context: Any, instances: Any) -> None:
    touched = {
        table.name
        for objects in (session.new, session.dirty, session.deleted)
        for o in objects
        if (table := getattr(type(o), "__table__", None)) is not None
    }
    if touched & REFERENCE_TABLES:  # an object merely loaded and touched changes nothing
        _mark(session, {
            table.name
            for objects in (session.new, session.deleted)
            for o in objects
            if (table := getattr(type(o), "__table__", None)) is not None
        } | {
            table.name
            for o in session.dirty
            if (table := getattr(type(o), "__table__", None)) is not None
            and session.is_modified(o)
        })
    if session.info.get(_INFO_KEY):
        _drop_tables(session, touched)


def executing(state: ORMExecuteState) -> None:
    session = state.session
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        name = getattr(table, "name", None)
        touched = {name} if name else set()
        _mark(session, touched)
        if session.info.get(_INFO_KEY):
            _drop_tables(session, touched)
