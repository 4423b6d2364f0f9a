"""Service-test helpers: demo actors, the department directory, and a `desk` that logs tickets
and acts on them as demo users at the manual clock's time, committing like a request does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.core.accounts import actor_for
from dispatch.core.errors import DomainError
from dispatch.core.models import (
    Assignment,
    Contact,
    Event,
    Extension,
    Ticket,
    TicketCounter,
    User,
)
from dispatch.core.ports import ManualClock
from dispatch.intake.pipeline import intake
from dispatch.tickets.lifecycle import ActionResult, Actor, perform
from grid.directory import SqlDirectory

URBAN = "urban_management"
PUDONG = "street_pudong"
VENDING = "urban.appearance.street_vending"


def demand(**fields: Any) -> dict[str, Any]:
    """An intake form as an operator fills it in; `fields` replace or add to it."""
    body: dict[str, Any] = {
        "channel": "phone",
        "text": "小区门口有人占道经营，堵住了出口",
        "citizen": {"name": "张三", "phone": "13800138000"},
        "type": "complaint",
        "category": VENDING,
        "urgency": "normal",
    }
    body.update(fields)
    return body


@pytest.fixture(name="demand")
def demand_fixture():
    """The intake form builder, for tests that call `intake` themselves."""
    return demand


@pytest.fixture
def actors(session: Session) -> dict[str, Actor]:
    """Each demo user as the domain sees them, by username."""
    return {u.username: actor_for(u) for u in session.scalars(select(User))}


@pytest.fixture
def directory(session: Session) -> SqlDirectory:
    return SqlDirectory(session)


@dataclass(frozen=True)
class Snapshot:
    """What a refused action must leave as it was."""

    counts: dict[str, int]
    status: str
    version: int
    outcome: str | None
    assignments: tuple[tuple[int, str], ...]


@dataclass
class Desk:
    """Logs tickets and takes actions as demo users, committing after each success."""

    session: Session
    clock: ManualClock
    directory: SqlDirectory
    actors: dict[str, Actor]

    # ------------------------------------------------------------ acting

    def intake(self, user: str = "operator1", **fields: Any) -> Ticket:
        result = intake(self.session, demand(**fields), self.actors[user], now=self.clock.now())
        self.session.commit()
        return result.ticket

    def act(self, ticket: Ticket, action: str, user: str,
            expected_version: int | None = None, **payload: Any) -> ActionResult:
        result = perform(self.session, ticket, action, self.actors[user], payload,
                         now=self.clock.now(), directory=self.directory,
                         expected_version=expected_version)
        self.session.commit()
        return result

    def refused(self, ticket: Ticket, action: str, user: str, error: type[DomainError],
                expected_version: int | None = None, **payload: Any) -> DomainError:
        """Assert the action is refused with `error`, in zh-CN, and that nothing was
        written."""
        self.session.commit()
        before = self.snapshot(ticket)
        with pytest.raises(error) as caught:
            perform(self.session, ticket, action, self.actors[user], payload,
                    now=self.clock.now(), directory=self.directory,
                    expected_version=expected_version)
        self.session.rollback()
        assert self.snapshot(ticket) == before
        # What the person is told is zh-CN (CONTRACT.md); code and field stay English.
        assert any("\u3400" <= ch <= "\u9fff" for ch in caught.value.message), caught.value
        return caught.value

    # ------------------------------------------------------------ reading

    def count(self, model: type) -> int:
        return self.session.scalar(select(func.count()).select_from(model)) or 0

    def counts(self) -> dict[str, int]:
        return {m.__tablename__: self.count(m)
                for m in (Ticket, Event, Assignment, Extension, Contact, TicketCounter)}

    def snapshot(self, ticket: Ticket) -> Snapshot:
        self.session.expire_all()
        fresh = self.session.get(Ticket, ticket.id)
        assert fresh is not None
        rows = self.session.execute(
            select(Assignment.id, Assignment.status).where(Assignment.ticket_id == ticket.id)
            .order_by(Assignment.id)).all()
        return Snapshot(self.counts(), fresh.status, fresh.version, fresh.outcome,
                        tuple((i, s) for i, s in rows))

    def events(self, ticket: Ticket) -> list[Event]:
        return list(self.session.scalars(
            select(Event).where(Event.ticket_id == ticket.id).order_by(Event.id)))

    def assignments(self, ticket: Ticket) -> list[Assignment]:
        return list(self.session.scalars(
            select(Assignment).where(Assignment.ticket_id == ticket.id).order_by(Assignment.id)))

    def uid(self, user: str) -> int | None:
        return self.actors[user].id

    # ------------------------------------------------------------ tickets in a given state

    def dispatched(self, co: list[str] | None = None, **fields: Any) -> Ticket:
        t = self.intake(**fields)
        self.act(t, "dispatch", "dispatcher1", lead=URBAN, co_handlers=co or [])
        return t

    def signed(self, **fields: Any) -> Ticket:
        t = self.dispatched(**fields)
        self.act(t, "sign", "handler1")
        return t

    def completed(self, **fields: Any) -> Ticket:
        t = self.signed(**fields)
        self.act(t, "complete", "handler1", result="已清理占道摊点")
        return t

    def reviewed(self, **fields: Any) -> Ticket:
        t = self.completed(**fields)
        self.act(t, "review_accept", "dispatcher1")
        return t

    def transferred(self, **fields: Any) -> Ticket:
        t = self.intake(**fields)
        self.act(t, "transfer_110", "operator1", reason="涉警事项，转110处置")
        return t

    def in_state(self, state: str) -> Ticket:
        makers = {"NEW": self.intake, "DISPATCHED": self.dispatched, "SIGNED": self.signed,
                  "COMPLETED": self.completed, "REVIEWED": self.reviewed,
                  "TRANSFERRED_110": self.transferred}
        return makers[state]()


@pytest.fixture
def desk(session: Session, clock: ManualClock, directory: SqlDirectory,
         actors: dict[str, Actor]) -> Desk:
    return Desk(session, clock, directory, actors)
