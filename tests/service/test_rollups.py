"""The daily rollups: kept current from the events by `refresh`, rebuilt from scratch by
`rebuild`, and always giving the figures the raw event log gives — checked on a generated
month of tickets through the domain."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch import subscribers
from dispatch.core.errors import DomainError
from dispatch.core.models import Assignment, Event, Ticket
from dispatch.core.vocab import CLOSED_STATES, Status
from dispatch.intake.pipeline import IntakePorts, intake
from dispatch.stats import rollups
from dispatch.stats.assessment import compute
from dispatch.stats.metrics import (
    BREAKDOWNS,
    DIMENSIONS,
    METRICS,
    RAW,
    DateRange,
    Filters,
    breakdown,
    drill_down,
    summary,
    trend,
)
from dispatch.stats.rollups import (
    ROLLUPS,
    StatPending,
    month_split,
    pending_count,
    refresh,
    slice_for,
)
from dispatch.tickets.calendar import LOCAL_TZ
from dispatch.tickets.lifecycle import perform
from dispatch.tickets.sweeps import sweep_clocks
from grid.locator import GridCache
from grid.service import GridRouting
from tests.conftest import cell_centre, cell_code, make_test_grid
from tests.service.conftest import PUDONG, URBAN, VENDING, demand
from tests.service.test_metrics import auto_dispatch, raise_alarm

HOLDERS = {URBAN: "handler1", PUDONG: "street1"}
CATEGORIES = (
    VENDING,
    "urban.appearance.graffiti",
    "urban",
    "environment.noise.noise_nuisance",
    "environment.air.cooking_fumes",
)
FIRST_DAY = date(2026, 11, 23)
DAYS = 16  # to 8 December: across a month end, every figure non-zero (see the test)


@pytest.fixture
def installed():
    was = subscribers.running("statistics")
    subscribers.resume("statistics")
    try:
        yield
    finally:
        if not was:
            subscribers.pause("statistics")


@pytest.fixture
def not_installed():
    was = subscribers.running("statistics")
    subscribers.pause("statistics")
    try:
        yield
    finally:
        if was:
            subscribers.resume("statistics")


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_TZ)


# ---------------------------------------------------------------- a generated month


class Month:
    """Tickets through the domain over several weeks, on a clock moved by hand: intake on the
    test grid, direct answers, voids, merges, 110 transfers, relocations, dispatches with
    co-handlers and category changes, late and on-time sign-fors, returns and re-routing,
    extensions approved and refused, completions rejected and accepted, callbacks with each
    answer, unreachable citizens, reopens, clock sweeps; the rollups refreshed now and then."""

    def __init__(self, session: Session, clock, actors, directory, seed: int = 7) -> None:
        self.session, self.clock, self.actors, self.directory = session, clock, actors, directory
        self.rng = random.Random(seed)
        self.cache = GridCache()
        self.tickets: list[Ticket] = []

    def ports(self) -> IntakePorts:
        grid = GridRouting(self.session, self.clock.now(), self.cache)
        return IntakePorts(locator=grid, router=grid)

    def act(self, ticket: Ticket, action: str, user: str, **payload) -> bool:
        try:
            perform(
                self.session,
                ticket,
                action,
                self.actors[user],
                payload,
                now=self.clock.now(),
                directory=self.directory,
                ports=self.ports(),
            )
        except DomainError:
            self.session.rollback()
            return False
        self.session.commit()
        return True

    def new_ticket(self) -> None:
        rng = self.rng
        lon, lat = cell_centre(rng.randrange(2), rng.randrange(2), rng.randrange(4))
        citizen = (
            {"anonymous": True}
            if rng.random() < 0.15
            else {"name": "李四", "phone": f"1380013{rng.randrange(10_000):04d}"}
        )
        body = demand(
            channel=rng.choice(("phone", "phone", "wechat", "web")),
            type=rng.choice(("complaint", "consult", "help", "report")),
            category=rng.choice(CATEGORIES),
            urgency=rng.choices(("normal", "urgent", "critical"), (8, 3, 1))[0],
            citizen=citizen,
            lon=lon,
            lat=lat,
        )
        result = intake(
            self.session, body, self.actors["operator1"], now=self.clock.now(), ports=self.ports()
        )
        self.session.commit()
        self.tickets.append(result.ticket)

    def step(self, t: Ticket) -> None:
        rng, status = self.rng, Status(t.status)
        r = rng.random()
        if status == Status.NEW:
            if t.type == "consult" and r < 0.3:
                self.act(t, "answer", "operator1", answer="请携带身份证到政务服务中心办理")
            elif r < 0.07:
                self.act(t, "void", "operator1", reason="无声电话")
            elif r < 0.13:
                parents = [
                    p
                    for p in self.tickets
                    if p is not t and p.parent_id is None and p.status not in CLOSED_STATES
                ]
                if parents and not t.children:
                    self.act(t, "merge", "dispatcher1", parent=rng.choice(parents).number)
            elif r < 0.16:
                self.act(t, "transfer_110", "operator1", reason="涉警事项")
            elif r < 0.19:
                lon, lat = cell_centre(rng.randrange(2), rng.randrange(2), rng.randrange(4))
                self.act(t, "relocate", "operator1", lon=lon, lat=lat)
            elif r < 0.85:
                self.dispatch(t)
        elif status == Status.TRANSFERRED_110:
            if r < 0.4:
                self.act(t, "police_complete", "police1", result="已出警处置")
            elif r < 0.55:
                self.act(t, "police_reject", "police1", reason="非警情")
        elif status in (Status.RETURNED, Status.REOPENED):
            if r < 0.7:
                self.dispatch(t)
        elif status in (Status.DISPATCHED, Status.SIGNED):
            self.handle(t)
        elif status == Status.COMPLETED:
            if r < 0.1:
                self.act(t, "review_reject", "dispatcher1", reason="办理结果不完整")
            elif r < 0.8:
                self.act(t, "review_accept", "dispatcher1")
        elif status == Status.REVIEWED:
            if r < 0.15:
                self.act(t, "callback", "operator1", reached=False)
            elif r < 0.85:
                self.act(
                    t,
                    "callback",
                    "operator1",
                    satisfaction=rng.choices(
                        ("satisfied", "basically_satisfied", "dissatisfied"), (60, 25, 15)
                    )[0],
                    resolved=rng.random() < 0.85,
                )

    def dispatch(self, t: Ticket) -> None:
        rng = self.rng
        lead = rng.choice((URBAN, PUDONG))
        payload: dict = {"lead": lead}
        if rng.random() < 0.25:
            payload["co_handlers"] = [PUDONG if lead == URBAN else URBAN]
        if rng.random() < 0.2:
            payload["category"] = rng.choice(CATEGORIES)
        if t.status == Status.REOPENED and rng.random() < 0.7:
            payload = {}  # back to the same department by default
        self.act(t, "dispatch", "dispatcher1", **payload)

    def handle(self, t: Ticket) -> None:
        rng = self.rng
        if any(x.status == "pending" for x in t.extensions):
            if rng.random() < 0.7:
                self.act(t, "approve_extension", "dispatcher1")
            else:
                self.act(t, "refuse_extension", "dispatcher1", reason="时限内可以办结")
            return
        for a in [a for a in t.assignments if a.closed_at is None]:
            user, r = HOLDERS[a.department_code], rng.random()
            if a.status == "dispatched":
                if r < 0.45:
                    self.act(t, "sign", user)
                elif r < 0.52:
                    self.act(t, "return", user, reason="不属于本单位职责")
            elif a.status == "signed":
                if r < 0.35:
                    self.act(t, "complete", user, result="已到现场处理完毕")
                elif r < 0.42:
                    self.act(
                        t,
                        "request_extension",
                        user,
                        days=rng.randint(1, 3),
                        reason="需要协调其他部门",
                    )
                elif r < 0.44:
                    self.act(t, "return", user, reason="需要改派")
            if t.status not in (Status.DISPATCHED, Status.SIGNED):
                return

    def run(self, days: int) -> None:
        for n in range(days):
            day = FIRST_DAY + timedelta(days=n)
            for hour in (9, 14, 20):
                self.clock.current = local(day, hour, self.rng.randrange(60))
                for _ in range(self.rng.randint(1, 3)):
                    self.new_ticket()
                for t in list(self.tickets):
                    if t.status not in CLOSED_STATES and self.rng.random() < 0.6:
                        self.step(t)
                if hour == 20:
                    sweep_clocks(self.session, self.clock.now())
                if self.rng.random() < 0.5:
                    refresh(self.session, batch=self.rng.choice((3, 50, 500)))


SPANS = (
    DateRange(FIRST_DAY, FIRST_DAY + timedelta(days=DAYS + 10)),  # past the last deadlines
    DateRange(date(2026, 11, 1), date(2026, 12, 31)),  # November whole: its monthly rows
    DateRange(date(2026, 11, 30), date(2026, 12, 6)),
    DateRange(date(2026, 12, 1), date(2026, 12, 1)),
    DateRange(FIRST_DAY + timedelta(days=DAYS - 1), FIRST_DAY + timedelta(days=DAYS - 1)),
)
FILTERS = (
    Filters(),
    Filters(department=URBAN),
    Filters(department=PUDONG),
    Filters(department="none"),
    Filters(street="street_pudong"),
    Filters(cell=cell_code(1, 0, 2)),
    Filters(channel="phone"),
    Filters(type="complaint"),
    Filters(category="urban"),
    Filters(category="environment.noise"),
    Filters(department=URBAN, street="town_naoli"),
    Filters(channel="wechat", category="environment"),
)


class RawFigures:
    """The raw log's figures, each computed once per arguments: a refresh or a rebuild writes
    only the facts and rollups, never the log, so the figures the rollups must give again
    after a rebuild are the ones already computed (the raw side is most of this test's time)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.known: dict[tuple, object] = {}

    def __call__(self, fn, *args, **kw):
        key = (fn.__name__, args, tuple(sorted(kw.items())))
        if key not in self.known:
            self.known[key] = fn(self.session, *args, source=RAW, **kw)
        return self.known[key]


def assert_rollups_equal_raw(
    session: Session, now: datetime, spans=SPANS, drill: bool = True,
    raw: RawFigures | None = None,
) -> None:
    """Every figure, breakdown, trend and drill-down the same from both sources."""
    refresh(session)
    raw = raw or RawFigures(session)
    for span in spans:
        for f in FILTERS:
            rolled = summary(session, span, f, now, source=ROLLUPS)
            assert rolled == raw(summary, span, f, now), (span, f)
        for f in (*FILTERS[:3], *FILTERS[-2:]):  # one filter and two
            for by in BREAKDOWNS:
                assert breakdown(session, span, f, now, by, source=ROLLUPS) == raw(
                    breakdown, span, f, now, by
                ), (span, f, by)
    for f in FILTERS[:4]:
        assert trend(session, SPANS[0], f, now, "day", source=ROLLUPS) == raw(
            trend, SPANS[0], f, now, "day"
        ), f
    month = SPANS[0]
    for f in FILTERS[:2] if drill else ():
        for metric, m in METRICS.items():
            for part in ("numerator", "denominator") if m.denominator else ("numerator",):
                got = drill_down(session, month, f, now, metric, part, per_page=100, source=ROLLUPS)
                assert got == raw(drill_down, month, f, now, metric, part, per_page=100), (
                    f, metric, part)
    if drill:
        assert_every_page_equals_raw(session, raw, now, "on_time_completion_rate", 7)
        assert_every_page_equals_raw(session, raw, now, "overdue_now", 1)


def assert_every_page_equals_raw(
    session: Session, raw: RawFigures, now: datetime, metric: str, per_page: int
) -> None:
    """Every page of a drill-down of the month, and one past the end (empty), the same from
    both sources (the rollups cut a page from the facts before joining its tickets)."""
    part = "denominator" if METRICS[metric].denominator else "numerator"

    def page_of(page: int):
        return drill_down(session, SPANS[0], Filters(), now, metric, part, page=page,
                          per_page=per_page, source=ROLLUPS)

    total = page_of(1).total
    pages = -(-total // per_page)
    assert pages > 1
    for page in range(1, pages + 2):
        got = page_of(page)
        assert got == raw(drill_down, SPANS[0], Filters(), now, metric, part, page=page,
                          per_page=per_page), (metric, page)
        assert len(got.items) == max(0, min(per_page, total - per_page * (page - 1)))


@pytest.mark.timeout(600)  # the suite's longest test: a month made and read both ways
def test_a_generated_month_gives_the_raw_figures_incrementally_and_after_a_rebuild(
    session, clock, actors, directory, installed
):
    make_test_grid(session)
    session.commit()
    month = Month(session, clock, actors, directory)
    month.run(DAYS)
    # Mid-afternoon of the last day: some clocks of today have passed, others not yet.
    clock.current = local(FIRST_DAY + timedelta(days=DAYS - 1), 16, 30)
    now = clock.now()

    # The month is varied enough for every figure to mean something.
    whole = summary(session, SPANS[0], Filters(), now, source=RAW)
    t = whole.tally
    assert t["intake"] > 80 and t["void"] > 0 and t["direct_answer"] > 0 and t["repeat"] > 0
    assert t["dispatched"] > t["completed"] > 0 and t["reopened"] > 0
    assert t["returned"] > 0 and t["extended"] > 0
    assert t["sign_due"] > t["sign_on_time"] > 0
    assert t["complete_due"] > t["complete_on_time"] > 0
    assert t["callback_needed"] > t["callback_done"] > 0
    assert t["answered"] > t["satisfied"] > 0 and t["answered"] > t["resolved"] > 0
    assert t["overdue_now"] > 0
    streets = {r.key for r in breakdown(session, SPANS[0], Filters(), now, "street", source=RAW)}
    assert {"street_pudong", "town_naoli"} <= streets

    raw = RawFigures(session)
    assert_rollups_equal_raw(session, now, raw=raw)
    # The monthly assessment (考核) too, for both months the history crosses.
    for month_name in ("2026-11", "2026-12"):
        assert compute(session, month_name, now, source="rollups") == \
            compute(session, month_name, now, source="raw"), month_name
    # Weeks later: December is a whole month before the current one (its monthly rows).
    later = local(date(2027, 1, 12), 10)
    assert_rollups_equal_raw(session, later, SPANS[:2], drill=False, raw=raw)
    assert_rebuild_gives_the_same_rows(session, len(month.tickets))
    # The rebuilt rows are the incremental ones, row for row (above), and the figures are read
    # from those rows only, so they are the raw figures again: the month's summaries and
    # breakdowns are read once more as a check of that reasoning (the raw side computed once:
    # the log is unchanged), not every drill-down page a second time.
    known = len(raw.known)
    assert_rollups_equal_raw(session, now, SPANS[:1], drill=False, raw=raw)
    assert len(raw.known) == known


def fact_rows(session: Session) -> dict[str, list[tuple]]:
    """Every row of the fact tables, by table, in primary key order."""
    return {
        table.name: [
            tuple(row)
            for row in session.execute(select(table).order_by(*table.primary_key.columns))
        ]
        for table in (
            rollups.StatTicket.__table__,
            rollups.StatAssignment.__table__,
            rollups.StatReview.__table__,
        )
    }


def assert_rebuild_gives_the_same_rows(session: Session, tickets: int) -> None:
    """A rebuild (set-based SQL) leaves every fact and rollup row as the incremental refreshes
    (`compute_facts`) made them."""
    refresh(session)
    facts, slices = fact_rows(session), rollups.slice_rows(session)
    assert rollups.rebuild(session) == tickets
    rebuilt = fact_rows(session)
    for table, rows in facts.items():
        assert sorted(set(rebuilt[table]) - set(rows)) == [], table
        assert sorted(set(rows) - set(rebuilt[table])) == [], table
    rebuilt_slices = rollups.slice_rows(session)
    assert {k: v for k, v in rebuilt_slices.items() if slices.get(k) != v} == {}
    assert {k: v for k, v in slices.items() if rebuilt_slices.get(k) != v} == {}
    # No row left at zero (the incremental refreshes may leave some).
    assert session.scalar(select(func.count()).select_from(rollups.stat_daily)) == len(
        rebuilt_slices
    )


def test_a_rebuild_gives_the_facts_of_every_edge_case(session, desk, clock, installed):
    """Returns and re-dispatch, extensions, reopen and a second round, unreachable citizens,
    reviews needing no callback, void, merged and never dispatched tickets, clocks stopped
    before or after their deadline: the set-based rebuild gives the rows `compute_facts` gives,
    and those rows say what happened."""
    void = desk.intake()
    desk.act(void, "void", "operator1", reason="无声电话")
    parent = desk.intake()
    merged = desk.intake()
    desk.act(merged, "merge", "dispatcher1", parent=parent.number)
    answered = desk.intake(type="consult")
    desk.act(answered, "answer", "operator1", answer="请携带身份证到政务服务中心办理")

    # Returned before its sign-for deadline (clocks stopped: not counted), then re-dispatched
    # to a co-handled round whose co-handler is cancelled, unsigned, when the round closes.
    moved = desk.dispatched()
    desk.act(moved, "return", "handler1", reason="不属于本单位职责")
    desk.act(moved, "dispatch", "dispatcher1", lead=PUDONG, co_handlers=[URBAN])
    desk.act(moved, "sign", "street1")
    desk.act(moved, "complete", "street1", result="已处理")
    clock.advance(hours=1)
    desk.act(moved, "review_accept", "dispatcher1")

    # Signed late, an extension refused then one approved, then reopened: a second round
    # (back to the same department) and a second review with its own callback.
    reopened = desk.dispatched(urgency="urgent")  # two hours to sign for it
    clock.advance(hours=5)
    desk.act(reopened, "sign", "handler1")
    desk.act(reopened, "request_extension", "handler1", days=1, reason="需要协调其他部门")
    desk.act(reopened, "refuse_extension", "dispatcher1", reason="时限内可以办结")
    desk.act(reopened, "request_extension", "handler1", days=2, reason="需要协调其他部门")
    desk.act(reopened, "approve_extension", "dispatcher1")
    desk.act(reopened, "complete", "handler1", result="已处理")
    desk.act(reopened, "review_accept", "dispatcher1")
    desk.act(reopened, "callback", "operator1", satisfaction="dissatisfied", resolved=False)
    desk.act(reopened, "dispatch", "dispatcher1")
    desk.act(reopened, "sign", "handler1")
    desk.act(reopened, "complete", "handler1", result="已再次处理")
    desk.act(reopened, "review_accept", "dispatcher1")
    desk.act(reopened, "callback", "operator1", satisfaction="satisfied", resolved=True)

    unreachable = desk.reviewed()
    for _ in range(3):
        desk.act(unreachable, "callback", "operator1", reached=False)
    anonymous = desk.reviewed(citizen={"anonymous": True})
    late_return = desk.dispatched(urgency="urgent")  # returned after its sign-for deadline
    clock.advance(hours=6)
    desk.act(late_return, "return", "handler1", reason="需要改派")
    still_open = desk.dispatched()
    assert_rebuild_gives_the_same_rows(session, 10)

    def ticket(t):
        return rollups.facts_of(session, t.id).ticket

    def clocks(t):
        return [
            (a["department"], a["returned"], a["extended"], a["sign_state"], a["complete_state"])
            for a in rollups.facts_of(session, t.id).assignments
        ]

    def reviews(t):
        return [
            (
                r["department"],
                r["callback_needed"],
                r["callback_done"],
                r["answered_day"] is not None,
                r["satisfied"],
                r["resolved"],
            )
            for r in rollups.facts_of(session, t.id).reviews
        ]

    assert ticket(void)["void"] and ticket(void)["dispatched_day"] is None
    assert ticket(merged)["repeat"] and not ticket(parent)["repeat"]
    assert ticket(answered)["direct_answer"] and ticket(answered)["department"] == ""
    assert ticket(moved)["department"] == PUDONG and ticket(moved)["completed"]
    assert clocks(moved) == [
        (URBAN, True, False, None, None),
        (PUDONG, False, False, "on_time", "on_time"),
        (URBAN, False, False, None, None),
    ]
    assert reviews(moved) == [(PUDONG, True, False, False, False, False)]
    assert ticket(reopened)["reopened"] and ticket(reopened)["completed"]
    assert clocks(reopened) == [
        (URBAN, False, True, "late", "on_time"),
        (URBAN, False, False, "on_time", "on_time"),
    ]
    assert reviews(reopened) == [
        (URBAN, True, True, True, False, False),
        (URBAN, True, True, True, True, True),
    ]
    first, second = rollups.facts_of(session, reopened.id).reviews
    assert first["callback_event_id"] < second["event_id"] < second["callback_event_id"]
    assert reviews(unreachable) == [(URBAN, True, True, False, False, False)]
    assert reviews(anonymous) == [(URBAN, False, False, False, False, False)]
    assert clocks(late_return) == [(URBAN, True, False, "late", None)]
    assert clocks(still_open) == [(URBAN, False, False, "open", "open")]


def test_a_rebuild_gives_the_auto_dispatch_and_alarm_facts(session, desk, clock, installed):
    """智能派单 kept, returned, taken back, re-routed after a reopen; alarms acknowledged in
    time, late, not yet: the set-based rebuild gives the rows `compute_facts` gives."""
    kept, returned, taken_back, reopened = (desk.intake() for _ in range(4))
    for t in (kept, returned, taken_back, reopened):
        auto_dispatch(desk, t)
    desk.act(returned, "return", "handler1", reason="属于街道职责")
    desk.act(taken_back, "take_back", "dispatcher1")
    desk.act(taken_back, "dispatch", "dispatcher1", lead=URBAN)
    desk.act(reopened, "sign", "handler1")
    desk.act(reopened, "complete", "handler1", result="已处理")
    desk.act(reopened, "review_accept", "dispatcher1")
    desk.act(reopened, "callback", "operator1", satisfaction="dissatisfied", resolved=False)
    desk.act(reopened, "dispatch", "dispatcher1", lead=PUDONG)
    in_time, late, waiting = (desk.intake(channel="wechat") for _ in range(3))
    for t in (in_time, late, waiting):
        raise_alarm(desk, t)
    clock.advance(seconds=30)
    desk.act(in_time, "acknowledge_alarm", "dispatcher1")
    clock.advance(seconds=60)
    desk.act(late, "acknowledge_alarm", "supervisor1")
    assert_rebuild_gives_the_same_rows(session, 7)

    def ticket(t):
        fact = rollups.facts_of(session, t.id).ticket
        return fact["auto_dispatched"], fact["auto_accurate"], fact["alarm_state"]

    assert ticket(kept) == (True, True, None)
    assert [ticket(t) for t in (returned, taken_back, reopened)] == [(True, False, None)] * 3
    assert [ticket(t)[2] for t in (in_time, late, waiting)] == ["on_time", "late", "open"]
    assert ticket(in_time)[:2] == (False, False)


def _figures(session: Session, now: datetime) -> dict:
    return summary(session, DateRange(FIRST_DAY, FIRST_DAY), Filters(), now).tally


def test_only_committed_changes_are_queued_and_idle_actions_are_not(
    session, desk, clock, installed
):
    t = desk.intake()
    assert pending_count(session) == 1
    intake(session, demand(), desk.actors["operator1"], now=clock.now())
    session.rollback()
    assert pending_count(session) == 1
    desk.act(t, "note", "operator1", text="市民来电补充情况")
    desk.act(t, "urge", "supervisor1")
    assert pending_count(session) == 1
    report = refresh(session)
    assert (report.tickets, report.changed, report.pending) == (1, 1, 0)
    assert _figures(session, clock.now())["intake"] == 1
    assert session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_refresh_recomputes_a_ticket_once_however_many_changes_it_had(
    session, desk, clock, installed
):
    t = desk.dispatched()
    desk.act(t, "sign", "handler1")
    assert pending_count(session) == 3
    before = rollups.slice_rows(session)
    report = refresh(session, batch=2, max_rounds=1)  # two of the three rows, one ticket
    assert (report.tickets, report.pending) == (1, 1)
    assert rollups.slice_rows(session) != before
    after_first = rollups.slice_rows(session)
    report = refresh(session)
    assert (report.tickets, report.changed, report.pending) == (1, 0, 0)
    assert rollups.slice_rows(session) == after_first
    assert refresh(session) == rollups.RefreshReport(0, 0, 0)
    facts = rollups.facts_of(session, t.id)
    assert facts.ticket is not None and facts.ticket["department"] == URBAN
    assert [a["sign_state"] for a in facts.assignments] == ["on_time"]
    assert [a["complete_state"] for a in facts.assignments] == ["open"]


def test_mark_changed_queues_tickets_written_around_the_events(session, desk, clock, not_installed):
    t = desk.intake()  # the listener is not installed: nothing is queued
    assert pending_count(session) == 0
    assert _figures(session, clock.now())["intake"] == 0
    rollups.mark_changed(session, [t.id, t.id])
    session.commit()
    assert pending_count(session) == 1
    refresh(session)
    assert _figures(session, clock.now())["intake"] == 1


def test_whole_months_before_the_current_one_are_read_from_the_monthly_rows():
    today = date(2026, 12, 16)
    assert month_split(DateRange(date(2026, 11, 23), date(2026, 12, 20)), today) == (
        None,
        [(date(2026, 11, 23), date(2026, 12, 20))],
    )
    assert month_split(DateRange(date(2026, 10, 5), date(2026, 12, 20)), today) == (
        (date(2026, 11, 1), date(2026, 11, 1)),
        [(date(2026, 10, 5), date(2026, 10, 31)), (date(2026, 12, 1), date(2026, 12, 20))],
    )
    assert month_split(DateRange(date(2026, 1, 1), date(2026, 11, 30)), today) == (
        (date(2026, 1, 1), date(2026, 11, 1)),
        [],
    )
    # The current month is read by day (its clocks still open are decided day by day).
    assert month_split(DateRange(date(2026, 12, 1), date(2026, 12, 31)), today) == (
        None,
        [(date(2026, 12, 1), date(2026, 12, 31))],
    )


def test_the_smallest_slice_holding_the_filters_and_grouping_is_read():
    assert slice_for([]) == "total"
    assert slice_for(["department"]) == "department"
    assert slice_for(["cell"]) == "cell"
    assert slice_for(["street", "cell"]) == "cell"
    # A filter and a grouping, or two filters: the pair slices.
    assert slice_for(["department", "street"]) == "de+st"
    assert slice_for(["category", "channel"]) == "ch+ca"
    assert slice_for(["channel", "cell"]) == "ch+ce"
    assert slice_for(["street", "channel", "cell"]) == "ch+ce"
    # Three dimensions (no pair slice holds them): the full slice.
    assert slice_for(["department", "channel", "street"]) == "full"
    # Every slice keeps dimensions of the key, and each name fits its column with "/m".
    for name, kept in rollups.SLICES.items():
        assert set(kept) <= set(DIMENSIONS) and len(name + rollups.MONTHLY) <= 12


# ---------------------------------------------------------------- concurrency (PostgreSQL)


def _postgres_only(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: no out-of-order commits, no row locks")


def test_changes_committed_out_of_event_order_are_all_counted(
    session, engine, desk, actors, directory, clock, installed
):
    _postgres_only(session)
    first, second = desk.intake(), desk.intake()
    desk.act(desk.intake(), "dispatch", "dispatcher1", lead=URBAN)  # calendar years loaded
    refresh(session)
    with (
        Session(engine, expire_on_commit=False) as early,
        Session(engine, expire_on_commit=False) as late,
    ):
        a = early.get(Ticket, first.id)
        perform(
            early,
            a,
            "dispatch",
            actors["dispatcher1"],
            {"lead": URBAN},
            now=clock.now(),
            directory=directory,
        )
        early.flush()  # its event takes the lower id ...
        b = late.get(Ticket, second.id)
        perform(
            late,
            b,
            "dispatch",
            actors["dispatcher1"],
            {"lead": PUDONG},
            now=clock.now(),
            directory=directory,
        )
        late.commit()  # ... but commits last
        refresh(session)
        assert _figures(session, clock.now())["dispatched"] == 2
        early.commit()
    ids = session.scalars(
        select(Event.id).where(Event.action == "dispatch").order_by(Event.ticket_id)
    ).all()
    assert ids[0] < ids[1]  # `first` got the lower event id
    refresh(session)
    assert _figures(session, clock.now())["dispatched"] == 3


def test_a_refresh_that_must_not_wait_gives_way_to_one_running(
    session, engine, desk, clock, installed
):
    _postgres_only(session)
    desk.intake()
    refresh(session)  # the lock row is made by the first refresh with work to do
    desk.intake()
    with Session(engine) as other:
        assert other.scalar(select(rollups.StatHead.id).with_for_update()) == 1
        report = refresh(session, wait=False)
        assert (report.tickets, report.pending) == (0, 1)
    assert refresh(session, wait=False).pending == 0
    assert _figures(session, clock.now())["intake"] == 2
    assert session.scalar(select(func.count()).select_from(StatPending)) == 0
    assert session.scalar(select(func.count()).select_from(Assignment)) == 0
