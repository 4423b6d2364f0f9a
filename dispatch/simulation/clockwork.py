"""The clockwork of a simulation (see `dispatch.simulation.engine`): an event-driven run on a
`ManualClock`, a heap of (time, sequence, what); each ticket's story a generator that performs
its next action and says when the one after is due. Work is committed in batches; the
production clock sweep runs at the simulated time in a session of its own on the batch's
connection; the day's console events are numbered at each local midnight; the tables the
history churns are vacuumed now and then."""

from __future__ import annotations

import heapq
import math
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, inspect, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from dispatch.console import feed
from dispatch.console.feed import ConsoleEvent
from dispatch.core.commands import (
    Strict,
)
from dispatch.core.models import (
    Assignment,
    CalendarDay,
    Contact,
    Event,
    Extension,
    Ticket,
)
from dispatch.core.ports import Directory, IntakePorts, ManualClock
from dispatch.core.vocab import (
    CLOSED_STATES,
    AssignmentStatus,
)
from dispatch.intake.contacts import ContactCreate, log_contacts
from dispatch.outbound.outbox import OutboxMessage
from dispatch.simulation.parameters import Parameters
from dispatch.simulation.report import Counters, SimulationReport
from dispatch.simulation.world import (
    PortsFactory,
    SimulationError,
    World,
)
from dispatch.tickets.calendar import LOCAL_TZ, ensure_years
from dispatch.tickets.clocks import get_time_limits
from dispatch.tickets.lifecycle import Actor, perform
from dispatch.tickets.sweeps import sweep_clocks


@dataclass(eq=False)
class Case:
    """One simulated demand: its ticket and what was decided for it."""

    ticket: Ticket
    category: str
    type: str
    urgency: str
    path: str  # void | answer | police | handle
    parent: Case | None = None
    classified: bool = True  # False: the dispatcher sets category, type and urgency
    auto_dispatched: bool = False  # 智能派单 at intake: no dispatcher's first dispatch
    rounds: int = 0


Progress = Callable[[float, float, int, int], None]  # hours done, total, tickets, contacts
# What the heap holds: the start of a local day, a sweep tick, a clock that may step, a
# contact, a demand, the next step of a story, a demand staged for the end (the finale).
DAY, SWEEP, CLOCK, CONTACT, DEMAND, STEP, STAGED = range(7)
# The tables a history writes again and again (vacuumed now and then).
CHURNED = (Ticket, Assignment, Extension, Event, Contact, ConsoleEvent, OutboxMessage)
# What a sweep may change on a ticket: its columns and its events (urge, supervise).
SWEPT_TICKET = [*(c.key for c in inspect(Ticket).column_attrs), "events"]
HANDLING_ASSIGNMENT = (AssignmentStatus.DISPATCHED, AssignmentStatus.SIGNED)


class Clockwork(ABC):
    """The running of a simulation: the heap of what is due on a manual clock, the batches and
    their commits, the production sweep at the ticks a clock can step, the open cases, and
    `act`, the one way a story changes a ticket. What arrives (`_plan_day`, `_contact`,
    `_demand`) and the report are the subclass's."""

    def __init__(
        self,
        session: Session,
        params: Parameters,
        world: World,
        *,
        start: datetime,
        seed: int,
        ports: PortsFactory,
        directory: Directory,
        scale: float = 1.0,
        days: int | None = None,
        progress: Progress | None = None,
        photos: Path | None = None,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be an aware datetime")
        if not world.staff.operators or not world.staff.dispatchers:
            raise SimulationError("the county has no operator or no dispatcher")
        self.session = session
        self.p = params.scaled(scale)
        self.scale = scale
        self.world = world
        self.rng = random.Random(seed)
        self.seed = seed
        self.ports_for = ports
        self.directory = directory
        self.progress = progress
        self.photos = photos  # where the grid workers' patrol photos are kept (None: no patrols)
        self.start = start.astimezone(UTC)
        self.clock = ManualClock(self.start)
        self.end = self.start + timedelta(days=days if days is not None else params.days)
        self.counters = Counters()
        self._heap: list[tuple[datetime, int, int, Any]] = []
        self._seq = 0
        self._pending = 0  # actions since the last commit
        self._maintained = 0  # actions when the tables were last vacuumed
        self._open: list[Case] = []  # open handled cases (follow-ups and repeats pick here)
        self._open_at: dict[int, int] = {}  # id(case) → position in _open
        self._logged: list[tuple[ContactCreate, Actor, datetime]] = []  # contacts to write
        self._incidents = 0
        self._sweeps: set[datetime] = set()
        streets = [s for s in world.places.streets()]
        self._streets = streets
        self._street_w = [
            params.street_weights.get(s, params.street_weight_default) for s in streets
        ]
        self._hours = list(range(24))
        self._workdays: dict[date, bool] = {}
        self._max_extensions = get_time_limits(session).max_extensions

    # ------------------------------------------------------------ running

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def run(self) -> SimulationReport:
        """Make the history from `start` for the period; commits as it goes."""
        t0 = time.perf_counter()
        s = self.session
        self._first_ticket = (s.scalar(select(func.max(Ticket.id))) or 0) + 1
        self._first_contact = (s.scalar(select(func.max(Contact.id))) or 0) + 1
        self._load_calendar()
        s.commit()
        self._loop()
        return self.report(time.perf_counter() - t0)

    def _loop(self) -> None:
        first_day = self.start.astimezone(LOCAL_TZ).date()
        self._push(self.start, DAY, first_day)
        self._plan_finale()
        total = (self.end - self.start).total_seconds() / 3600
        last_report = self.start
        while self._heap and self._heap[0][0] < self.end:
            at, _, kind, what = heapq.heappop(self._heap)
            self.clock.current = max(self.clock.current, at)
            if kind == DAY:
                self._plan_day(what)
                self._number_feed()
            elif kind == SWEEP:
                self._sweeps.discard(at)
                self._sweep()
            elif kind == CLOCK:
                self._clock_step(*what)
            elif kind == CONTACT:
                self._contact(what)
            elif kind == DEMAND:
                self._demand()
            elif kind == STAGED:
                self._staged(what)
            else:
                self._advance(what)
            if self._pending >= self.p.commit_every:
                self._commit()
            if self.progress and self.now - last_report >= timedelta(hours=1):
                last_report = self.now
                self.progress(
                    (self.now - self.start).total_seconds() / 3600,
                    total,
                    self.counters.tickets,
                    self.counters.contacts,
                )
        self.clock.current = max(self.clock.current, self.end)
        self._sweep()
        self._number_feed()
        if self.progress:
            self.progress(total, total, self.counters.tickets, self.counters.contacts)

    def _push(self, at: datetime, kind: int, what: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at.astimezone(UTC), self._seq, kind, what))

    def _commit(self) -> None:
        s = self.session
        if self._logged:  # the batch's contacts that made no ticket, in one INSERT
            log_contacts(s, self._logged)
            self._logged.clear()
        # What the history owed outside parties (SMS, 110) was sent at the time: mark it
        # delivered in the same transaction, so no deliverer ever sends a simulated message.
        s.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.delivered_at.is_(None),
                OutboxMessage.dead.is_(False),
                OutboxMessage.ticket_id >= self._first_ticket,
                OutboxMessage.created_at >= self.start,
                OutboxMessage.created_at <= self.now,
            )
            .values(delivered_at=OutboxMessage.created_at, attempts=1, receipt={"simulated": True})
            .execution_options(synchronize_session=False)
        )
        s.commit()
        self._pending = 0
        self.counters.commits += 1

    def _sweep(self) -> None:
        """The production clock sweep at the simulated time, in a session of its own on this
        transaction's connection (its commits are savepoints: it sees the batch and the batch
        goes on); what it changed is expired here, so only those tickets are read again."""
        s = self.session
        s.flush()
        with Session(
            s.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as sweeper:
            report = sweep_clocks(sweeper, self.now, directory=self.directory)
        held = s.identity_map
        for published in report.events:  # a suspended clock resumed at its end date
            if published.action != "resume":
                continue
            resumed = held.get(identity_key(Ticket, published.ticket_id))
            if resumed is not None:
                for row in (*resumed.assignments, *resumed.suspensions):
                    s.expire(row)
                s.expire(resumed)
                self._watch(resumed)
        for f in report.fired:
            ticket = held.get(identity_key(Ticket, f.ticket_id))
            if ticket is not None:  # its columns and events; its assignments are the same
                s.expire(ticket, SWEPT_TICKET)
            assignment = held.get(identity_key(Assignment, f.assignment_id))
            if assignment is not None:
                s.expire(assignment)
        self.counters.sweeps += 1

    def _number_feed(self) -> None:
        # Number the console events of the past (what a relay does before it sends), so
        # that no live console is ever sent the simulated history.
        self._commit()
        feed.number_pending(self.session)
        if self.counters.actions - self._maintained >= self.p.maintain_every:
            self._maintain()

    def _maintain(self) -> None:
        """VACUUM (ANALYZE) the tables the history churns, between two transactions: their
        dead row versions go and the planner sees their size (PostgreSQL; SQLite needs none)."""
        self._maintained = self.counters.actions
        bind = self.session.get_bind()
        if not isinstance(bind, Engine) or bind.dialect.name != "postgresql":
            return
        tables = ", ".join(m.__tablename__ for m in CHURNED)
        with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"VACUUM (ANALYZE) {tables}"))

    def _plan_sweep(self, at: datetime) -> None:
        """A sweep at the first tick of the sweep period strictly after `at` (production
        sweeps every minute; here only the ticks at which some clock can fire are swept)."""
        step = timedelta(minutes=self.p.sweep_minutes)
        tick = self.start + step * (math.floor((at - self.start) / step) + 1)
        if tick not in self._sweeps and tick >= self.now:
            self._sweeps.add(tick)
            self._push(tick, SWEEP, None)

    def _watch(self, ticket: Ticket) -> None:
        """After a dispatch or a moved deadline: the times its running clocks step."""
        for a in ticket.assignments:
            if a.closed_at is not None or a.status not in HANDLING_ASSIGNMENT:
                continue
            if a.status == AssignmentStatus.DISPATCHED:
                self._push(a.sign_warn_at, CLOCK, (a, True))
                self._push(a.sign_deadline, CLOCK, (a, True))
            self._push(a.complete_warn_at, CLOCK, (a, False))
            self._push(a.complete_deadline, CLOCK, (a, False))

    def _clock_step(self, a: Assignment, sign: bool) -> None:
        """A clock may step now: sweep at the next tick if it still runs."""
        if a.closed_at is not None:
            return
        running = (
            a.status == AssignmentStatus.DISPATCHED if sign else a.status in HANDLING_ASSIGNMENT
        )
        if running:
            self._plan_sweep(self.now)

    def _load_calendar(self) -> None:
        first = self.start.astimezone(LOCAL_TZ).date()
        last = self.end.astimezone(LOCAL_TZ).date()
        ensure_years(self.session, range(first.year, last.year + 1))
        rows = self.session.execute(
            select(CalendarDay.day, CalendarDay.working).where(
                CalendarDay.day >= first, CalendarDay.day <= last
            )
        )
        self._workdays = {d: w for d, w in rows}

    def _pick_open(self) -> Case | None:
        for _ in range(3):
            if not self._open:
                return None
            case = self._open[self.rng.randrange(len(self._open))]
            if case.ticket.citizen_phone and case.ticket.status not in CLOSED_STATES:
                return case
        return None

    def _incident(self) -> str:
        """A 110 incident number, unique in the database (the run's first ticket id is in
        it, so a second run over the same days makes new ones)."""
        self._incidents += 1
        day = self.now.astimezone(LOCAL_TZ).strftime("%Y%m%d")
        return f"J410728{day}{self._first_ticket % 10_000:04d}{self._incidents:06d}"

    def _remember(self, case: Case) -> None:
        self._open_at[id(case)] = len(self._open)
        self._open.append(case)

    def _forget(self, case: Case) -> None:
        at = self._open_at.pop(id(case), None)
        if at is None:
            return
        last = self._open.pop()
        if last is not case:
            self._open[at] = last
            self._open_at[id(last)] = at

    def _advance(self, story: Iterator[float | datetime]) -> None:
        """Run a story to its next wait, and schedule it."""
        try:
            wait = next(story)
        except StopIteration:
            return
        at = wait if isinstance(wait, datetime) else self.now + timedelta(hours=wait)
        self._push(max(at, self.now), STEP, story)

    def _actions(self, n: int) -> None:
        self.counters.actions += n
        self._pending += n

    def act(
        self,
        ticket: Ticket,
        action: str,
        actor: Actor,
        payload: Strict,
        ports: IntakePorts | None = None,
    ) -> None:
        """Take one action of the state table; a refusal stops the run (a simulation bug)."""
        from dispatch.core.errors import DomainError

        try:
            perform(
                self.session,
                ticket,
                action,
                actor,
                payload,
                now=self.now,
                directory=self.directory,
                ports=ports,
            )
        except DomainError as exc:
            raise SimulationError(
                f"{self.now.isoformat()}: ticket {ticket.number} ({ticket.status}): "
                f"'{action}' by {actor.username} was refused: {exc.message}"
            ) from exc
        self._actions(1)
        if action in ("dispatch", "approve_extension", "decide_lead", "approve_suspend",
                      "resume"):
            self._watch(ticket)

    # ------------------------------------------------------------ the subclass's

    @abstractmethod
    def _plan_day(self, day: date) -> None:
        """Draw the day's arrivals."""

    @abstractmethod
    def _contact(self, kind: str) -> None:
        """A contact that makes no ticket."""

    @abstractmethod
    def _demand(self) -> None:
        """A new demand."""

    @abstractmethod
    def _plan_finale(self) -> None:
        """Stage what the period ends on (at its start, on the heap as STAGED)."""

    @abstractmethod
    def _staged(self, what: Any) -> None:
        """A demand staged by `_plan_finale`."""

    @abstractmethod
    def report(self, wall_seconds: float) -> SimulationReport:
        """What the run made."""
