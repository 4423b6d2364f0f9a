"""Two people acting at once, and many intakes at once, on PostgreSQL (the production backend):
exactly one of two racing actions wins, and ticket numbers never repeat or skip."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from dispatch.core.errors import Conflict
from dispatch.core.models import Event, Ticket, TicketCounter
from dispatch.intake.pipeline import intake
from dispatch.tickets.lifecycle import perform
from grid.directory import SqlDirectory

# Run on PostgreSQL only; skipped (or failed under HOTLINE_REQUIRE_SERVICES=1) without it.
pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

RACES = 20
LOSER_ERRORS = (StaleDataError, Conflict)  # Conflict covers StaleVersion


def _race(engine: Engine, ticket_id: int, contenders: list[tuple[str, Any, dict]],
          actors, clock) -> tuple[list[str], list[BaseException]]:
    """Each contender loads the ticket in its own session, waits until all have read it,
    then acts and commits. Returns the actions that committed and the errors of the rest."""
    barrier = threading.Barrier(len(contenders))
    won: list[str] = []
    lost: list[BaseException] = []
    unexpected: list[BaseException] = []
    lock = threading.Lock()

    def contend(action: str, user: str, payload: dict) -> None:
        with Session(engine, expire_on_commit=False) as s:
            try:
                ticket = s.get(Ticket, ticket_id)
                assert ticket is not None
                seen = ticket.version
                list(ticket.assignments)  # loaded before the barrier, as a request would
                barrier.wait(timeout=10)
                perform(s, ticket, action, actors[user], payload, now=clock.now(),
                        directory=SqlDirectory(s), expected_version=seen)
                s.commit()
                with lock:
                    won.append(action)
            except LOSER_ERRORS as exc:
                s.rollback()
                with lock:
                    lost.append(exc)
            except BaseException as exc:  # noqa: BLE001 - anything else fails the test
                s.rollback()
                with lock:
                    unexpected.append(exc)

    threads = [threading.Thread(target=contend, args=c) for c in contenders]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert not any(th.is_alive() for th in threads), "a contender hung"
    assert unexpected == []
    return won, lost


def _events(session: Session, ticket_id: int) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.ticket_id == ticket_id)
                                .order_by(Event.id)))


def _check_one_winner(desk, engine, ticket: Ticket, contenders, expected: dict[str, str]):
    before = len(desk.events(ticket))
    version = ticket.version
    won, lost = _race(engine, ticket.id, contenders, desk.actors, desk.clock)
    assert len(won) == 1, (won, lost)
    assert len(lost) == len(contenders) - 1
    desk.session.expire_all()
    events = desk.events(ticket)
    assert len(events) == before + 1
    assert events[-1].action == won[0]
    fresh = desk.session.get(Ticket, ticket.id)
    assert fresh.status == expected[won[0]]
    assert fresh.version == version + 1
    return won[0]


def test_sign_and_return_racing_on_one_ticket_have_exactly_one_winner(desk, engine):
    winners: set[str] = set()
    contenders: list[tuple[str, str, dict]] = [
        ("sign", "handler1", {}),
        ("return", "handler1", {"reason": "不属于本部门"}),
    ]
    for _ in range(RACES):
        t = desk.dispatched()
        desk.clock.advance(minutes=1)
        winners.add(_check_one_winner(desk, engine, t, contenders,
                                      {"sign": "SIGNED", "return": "RETURNED"}))
        lead = desk.assignments(t)[0]
        assert lead.status == {"SIGNED": "signed", "RETURNED": "returned"}[t.status]
    assert winners <= {"sign", "return"}


def test_review_accept_and_reject_racing_have_exactly_one_winner(desk, engine):
    contenders: list[tuple[str, str, dict]] = [
        ("review_accept", "dispatcher1", {}),
        ("review_reject", "dispatcher1", {"reason": "照片不清晰"}),
    ]
    for _ in range(RACES // 2):
        t = desk.completed()
        desk.clock.advance(minutes=1)
        won = _check_one_winner(desk, engine, t, contenders,
                                {"review_accept": "REVIEWED", "review_reject": "SIGNED"})
        lead = desk.assignments(t)[0]
        assert lead.status == ("completed" if won == "review_accept" else "signed")


def test_two_state_keeping_actions_at_the_same_instant_still_conflict(desk, engine):
    """Actions that leave the status as it is must still bump the version, or a racing
    writer would overwrite what the other did without noticing."""
    t = desk.dispatched()  # no clock advance: `now` equals the ticket's last update
    contenders: list[tuple[str, str, dict]] = [
        ("urge", "supervisor1", {}),
        ("note", "operator1", {"text": "市民再次来电催促"}),
    ]
    _check_one_winner(desk, engine, t, contenders, {"urge": "DISPATCHED",
                                                    "note": "DISPATCHED"})


THREADS, PER_THREAD = 8, 25
NUMBER = re.compile(r"^12345-(\d{8})-(\d{6})$")


def _intake_many(engine: Engine, demand, actors, now) -> tuple[list[str], list[BaseException]]:
    barrier = threading.Barrier(THREADS)
    numbers: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(k: int) -> None:
        try:
            barrier.wait(timeout=10)
            for i in range(PER_THREAD):
                with Session(engine, expire_on_commit=False) as s:
                    r = intake(s, demand(text=f"并发受理 {k}-{i}"), actors["operator1"], now=now)
                    s.commit()
                    with lock:
                        numbers.append(r.ticket.number)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert not any(th.is_alive() for th in threads), "an intake thread hung"
    return numbers, errors


def test_concurrent_intake_hands_out_contiguous_unique_numbers_per_local_day(desk, engine,
                                                                           demand):
    numbers, errors = _intake_many(engine, demand, desk.actors, desk.clock.now())
    assert errors == []
    total = THREADS * PER_THREAD
    assert len(numbers) == len(set(numbers)) == total
    parsed = [NUMBER.match(n) for n in numbers]
    assert all(parsed), numbers[:5]
    assert {m.group(1) for m in parsed} == {"20261123"}
    assert sorted(int(m.group(2)) for m in parsed) == list(range(1, total + 1))
    desk.session.expire_all()
    assert desk.session.scalar(select(func.count()).select_from(Ticket)) == total
    assert desk.session.get(TicketCounter, "20261123").last == total

    # Local midnight in Asia/Shanghai is 16:00 UTC: the next number starts a new day.
    desk.clock.current = desk.clock.now().replace(hour=16) + timedelta(seconds=1)
    nxt = desk.intake()
    assert nxt.number == "12345-20261124-000001"
