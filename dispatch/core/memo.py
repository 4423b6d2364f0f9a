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
Outside a transaction nothing is kept. A long-running process shares nothing between sessions
here; the process-wide caches (the grid index, the classifier) stay keyed by revisions.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, scoped_session

if TYPE_CHECKING:
    from dispatch.core.db import Base

T = TypeVar("T")

_INFO_KEY = "reference_memo"


def memo(session: Session, key: Hashable, models: tuple[type[Base], ...],
         load: Callable[[], T]) -> T:
    """`load()`'s value, read at most once per transaction while no row of `models` changes;
    `load` reads only the tables of `models`."""
    if isinstance(session, scoped_session):  # the web's request session: the one behind it
        session = session()
    kept: dict[Hashable, tuple[frozenset[str], Any]] | None = session.info.get(_INFO_KEY)
    if session.autoflush and _pending(session, models):
        session.flush()  # drops what the change touches (before_flush below)
    if kept is not None and key in kept:
        return kept[key][1]
    with session.no_autoflush:  # only changes to `models` matter here: flushed above
        value = load()
    if session.in_transaction():
        tables = frozenset(m.__table__.name for m in models)
        session.info.setdefault(_INFO_KEY, {})[key] = (tables, value)
    return value


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


def flushing(session: Session, flush_context: Any, instances: Any) -> None:
    if not session.info.get(_INFO_KEY):
        return
    changed = {
        table.name
        for objects in (session.new, session.dirty, session.deleted)
        for o in objects
        if (table := getattr(type(o), "__table__", None)) is not None
    }
    _drop_tables(session, changed)


def executing(state: ORMExecuteState) -> None:
    session = state.session
    if not session.info.get(_INFO_KEY):
        return
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        name = getattr(table, "name", None)
        _drop_tables(session, {name} if name else set())
