"""Reads and writes made once per batch: reference data kept for a transaction
(`dispatch.core.memo`), a ticket locked once per transaction, and contacts logged in one INSERT.

Each keeps what the one-at-a-time path gives: a change made in the transaction, or committed
by another session before the next transaction, is what the next read sees; a refused contact
in a batch writes none."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from dispatch.core.errors import InvalidInput, NotFound, StaleVersion
from dispatch.core.models import Category, Contact, Ticket
from dispatch.core.vocab import Channel, ContactKind
from dispatch.intake.contacts import ContactCreate, log_contact, log_contacts
from dispatch.intake.pipeline import check_category
from dispatch.tickets.calendar import load_calendar, set_official_year
from dispatch.tickets.clocks import get_time_limits, set_time_limits
from dispatch.tickets.lifecycle import perform
from tests.conftest import statements
from tests.service.conftest import VENDING


def _reading(sent: list[str], table: str) -> int:
    return sum(1 for s in sent if s.startswith("SELECT") and f"FROM {table}" in s)


# ---------------------------------------------------------------- settings


def test_a_setting_is_read_once_and_kept_until_the_reference_revision_moves(
        session: Session, engine: Engine) -> None:
    session.commit()
    with statements(engine) as sent:
        first = get_time_limits(session)
        again = get_time_limits(session)
        session.commit()
        third = get_time_limits(session)
    assert first == again == third
    assert _reading(sent, "settings") == 1  # kept by the process across transactions
    assert _reading(sent, "reference_revision") == 2  # checked once per transaction
    set_time_limits(session, {"max_extensions": 3}, None)
    session.commit()  # a change of reference data moves the revision
    with statements(engine) as sent:
        assert get_time_limits(session).max_extensions == 3
    assert _reading(sent, "settings") == 1


def test_a_change_committed_by_another_process_is_seen_at_the_next_transaction(
        session: Session, db_url: str) -> None:
    from sqlalchemy import create_engine

    from dispatch.core.memo import changed
    from dispatch.core.models import Setting

    assert get_time_limits(session).max_extensions == 2
    session.commit()
    other = create_engine(db_url)  # another process: its own engine, its own kept values
    try:
        with Session(other) as admin:
            assert get_time_limits(admin).max_extensions == 2
            set_time_limits(admin, {"max_extensions": 5}, None)
            admin.commit()
        assert get_time_limits(session).max_extensions == 5
        session.commit()
        with Session(other) as admin:  # raw SQL behind the session's back, then said so
            table = Setting.__table__
            admin.connection().execute(update(table).where(table.c.key == "time_limits")
                                       .values(value={"max_extensions": 6}))
            changed(admin)
            admin.commit()
        assert get_time_limits(session).max_extensions == 6
    finally:
        session.rollback()
        other.dispose()


def test_a_setting_changed_in_the_transaction_is_read_back(session: Session) -> None:
    assert get_time_limits(session).max_extensions == 2
    set_time_limits(session, {"max_extensions": 4}, None)  # not flushed yet
    assert get_time_limits(session).max_extensions == 4
    session.rollback()
    assert get_time_limits(session).max_extensions == 2  # the rollback undid it


def test_a_setting_committed_elsewhere_is_seen_by_the_next_transaction(
    session: Session, engine: Engine
) -> None:
    assert get_time_limits(session).max_extensions == 2
    with Session(engine) as admin:
        set_time_limits(admin, {"max_extensions": 5}, None)
        admin.commit()
    session.commit()
    assert get_time_limits(session).max_extensions == 5


# ---------------------------------------------------------------- calendar and categories


def test_an_official_year_entered_in_the_transaction_moves_the_count(session: Session) -> None:
    before = load_calendar(session, date(2027, 1, 29), 1).add_working_days(date(2027, 1, 29), 1)
    assert before == (date(2027, 2, 1), True)  # Friday → Monday, provisional
    # 2027-01-30 (a Saturday) made a working day: the next working day is the next day.
    set_official_year(session, 2027, holidays={}, makeup_workdays={date(2027, 1, 30): "调休"})
    after = load_calendar(session, date(2027, 1, 29), 1).add_working_days(date(2027, 1, 29), 1)
    assert after == (date(2027, 1, 30), False)


def test_a_category_retired_in_the_transaction_is_refused_at_intake(session: Session) -> None:
    assert check_category(session, VENDING) == VENDING  # the tree is read and kept
    category = session.get(Category, VENDING)
    assert category is not None
    category.active = False  # pending, not flushed
    with pytest.raises(InvalidInput, match="没有启用中的分类"):
        check_category(session, VENDING)


# ---------------------------------------------------------------- ticket locks


def _note(desk, t: Ticket, text: str) -> None:
    perform(
        desk.session,
        t,
        "note",
        desk.actors["dispatcher1"],
        {"text": text},
        now=desk.clock.now(),
        directory=desk.directory,
    )


def test_a_ticket_is_locked_once_per_transaction(desk, engine: Engine) -> None:
    t = desk.dispatched()
    with statements(engine) as sent:
        _note(desk, t, "第一次")
        _note(desk, t, "第二次")
        desk.session.commit()
        _note(desk, t, "下一个事务")
        desk.session.commit()
    locks = sum(1 for x in sent if x.startswith("SELECT tickets.version FROM tickets"))
    # PostgreSQL holds the row lock to the end of the transaction; SQLite takes none, so the
    # version is asked every time there.
    assert locks == (2 if engine.dialect.name == "postgresql" else 3)
    assert [e.action for e in desk.events(t)][-3:] == ["note", "note", "note"]


def test_a_ticket_changed_by_someone_else_since_the_last_transaction_is_refused(
    desk, engine: Engine
) -> None:
    t = desk.dispatched()
    _note(desk, t, "已锁定")
    desk.session.commit()  # the lock ends with the transaction
    with Session(engine) as other:
        other.execute(update(Ticket).where(Ticket.id == t.id).values(version=Ticket.version + 1))
        other.commit()
    with pytest.raises(StaleVersion):
        _note(desk, t, "已过时")
    desk.session.rollback()


# ---------------------------------------------------------------- contacts in one INSERT


def _row(c: Contact) -> tuple:
    return (
        c.channel,
        c.kind,
        c.received_at,
        c.phone,
        c.openid,
        c.external_id,
        c.ticket_id,
        c.note,
        c.recorded_by_id,
    )


def test_contacts_logged_together_are_the_rows_logged_one_by_one(desk) -> None:
    operator, now = desk.actors["operator1"], desk.clock.now()
    bodies = [
        {"channel": "phone", "kind": "silent", "phone": " 138 0013 8000 "},
        {"channel": "wechat", "kind": "enquiry", "note": "问办事时间"},
        ContactCreate(channel=Channel.PHONE, kind=ContactKind.PRANK, phone="13900139000"),
    ]
    one_by_one = [
        log_contact(desk.session, b, actor=operator, now=now, directory=desk.directory)[0]
        for b in bodies
    ]
    desk.session.flush()
    expected = [_row(c) for c in one_by_one]
    first = max(c.id for c in one_by_one)
    assert log_contacts(desk.session, [(b, operator, now) for b in bodies]) == 3
    desk.session.commit()
    together = desk.session.scalars(
        select(Contact).where(Contact.id > first).order_by(Contact.id)
    ).all()
    assert [_row(c) for c in together] == expected


def test_one_refused_contact_writes_none_of_the_batch(desk) -> None:
    t = desk.dispatched()
    operator, now = desk.actors["operator1"], desk.clock.now()
    good = {"channel": "phone", "kind": "hang_up", "phone": "13800138000"}
    cases = [
        ({"channel": "phone", "kind": "silent", "phone": "12"}, InvalidInput, "phone"),
        ({"channel": "phone", "kind": "new_demand"}, InvalidInput, "kind"),
        ({"channel": "phone", "kind": "silent", "ticket": t.number}, InvalidInput, "ticket"),
        # A follow-up is noted on its ticket when it comes: not in a batch.
        ({"channel": "phone", "kind": "follow_up", "ticket": t.number}, InvalidInput, "kind"),
    ]
    desk.session.commit()
    before = desk.counts()
    for bad, error, field in cases:
        with pytest.raises(error) as caught:
            log_contacts(desk.session, [(good, operator, now), (bad, operator, now)])
        assert caught.value.field == field
        desk.session.rollback()
        assert desk.counts() == before


def test_a_follow_up_on_a_held_ticket_must_be_that_ticket(desk) -> None:
    t, other = desk.dispatched(), desk.dispatched()
    body = {"channel": "phone", "kind": "follow_up", "ticket": t.number, "note": "问进展"}

    def log(held):  # noqa: ANN001, ANN202
        return log_contact(desk.session, body, actor=desk.actors["operator1"],
                           now=desk.clock.now(), directory=desk.directory, ticket=held)

    contact, ticket = log(t)
    assert ticket is t
    desk.session.commit()
    assert contact.ticket_id == t.id and desk.events(t)[-1].action == "note"
    # A held ticket that is not the one named is not taken for it: the number decides.
    contact, ticket = log(other)
    assert ticket is t
    body["ticket"] = "12345-20000101-000001"
    with pytest.raises(NotFound):
        log(other)


# ---------------------------------------------------------------- the feed, numbered at once


def test_the_feed_numbered_in_one_update_continues_the_sequence_in_order(desk) -> None:
    from dispatch.console import feed

    first = desk.dispatched()
    relayed = feed.sequence(desk.session)  # as a relay numbers: 2 events so far
    assert [r.seq for r in relayed] == [1, 2]
    second = desk.dispatched()
    desk.act(first, "sign", "handler1")
    assert feed.number_pending(desk.session) == 3
    assert feed.number_pending(desk.session) == 0  # nothing left: nothing numbered twice
    rows = desk.session.scalars(select(feed.ConsoleEvent).order_by(feed.ConsoleEvent.id)).all()
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert [r.ticket_id for r in rows[2:]] == [second.id, second.id, first.id]
    assert feed.head(desk.session) == 5
