"""The clock sweep: warning at 75 %, overdue, supervision after 5 working days, each step once
however often the sweep runs; extensions re-arm the completion clock; SMS notices in the
outbox; two sweepers at once on PostgreSQL. Time moves by the manual clock, never by sleeping.
"""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

import dispatch.tickets.sweeps as sweeps
from dispatch.core.models import Assignment, Event, Ticket, User
from dispatch.outbound.outbox import OutboxMessage
from dispatch.tickets.calendar import LOCAL_TZ
from dispatch.tickets.clock_steps import Step, notice_text
from dispatch.tickets.overdue import overdue_list
from dispatch.tickets.sweeps import SweepReport, sweep_clocks

from .conftest import PUDONG

HANDLER_PHONE = "13900000001"
WORKER_PHONE = "13900000005"


def at(*args: int) -> datetime:
    """A local (Asia/Shanghai) time."""
    return datetime(*args, tzinfo=LOCAL_TZ)


@pytest.fixture
def phones(session: Session) -> None:
    """handler1 and worker1 get phones; a second urban handler has none (and gets no SMS)."""
    session.scalars(select(User).where(User.username == "handler1")).one().phone = HANDLER_PHONE
    session.scalars(select(User).where(User.username == "worker1")).one().phone = WORKER_PHONE
    session.add(User(username="handler9", display_name="城管局承办人九", role="handler",
                     department_code="urban_management", phone=None, password_hash="x"))
    session.commit()


def sweep(desk, now: datetime | None = None) -> SweepReport:
    if now is not None:
        desk.clock.current = now
    report = sweep_clocks(desk.session, desk.clock.now(), directory=desk.directory)
    assert report.failed_tickets == ()
    # A second sweep at the same moment finds nothing left to do.
    again = sweep_clocks(desk.session, desk.clock.now(), directory=desk.directory)
    assert (again.fired, again.events, again.notices) == ((), (), 0)
    return report


def steps(report: SweepReport) -> list[str]:
    return [str(f.step) for f in report.fired]


def sms(session: Session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "sms.notice")
                                .order_by(OutboxMessage.id)))


def system_events(desk, ticket: Ticket) -> list[Event]:
    return [e for e in desk.events(ticket) if e.actor_role == "system"]


# ---------------------------------------------------------------- the whole clock


def test_warning_overdue_and_supervision_across_new_year_fire_once_each(desk, phones):
    # Mon 2026-12-28 10:00: a normal consultation. Sign-for: 24 h, warning at 18 h (Tue 04:00),
    # due Tue 10:00. Completion: 3 working days, Tue 29 (1), Wed 30 (2), Thu 31 (3): due Thu
    # 2026-12-31 23:59:59; warning at 75 % of that span = Thu 02:29:59.25.
    desk.clock.current = at(2026, 12, 28, 10, 0)
    t = desk.dispatched(type="consult")
    (a,) = desk.assignments(t)
    assert a.sign_warn_at == at(2026, 12, 29, 4, 0)
    assert a.complete_deadline == at(2026, 12, 31, 23, 59, 59)

    assert steps(sweep(desk, at(2026, 12, 29, 3, 59))) == []
    r = sweep(desk, at(2026, 12, 29, 4, 0, 30))
    assert steps(r) == ["sign_warning"] and r.sign_warnings == 1
    assert [e.action for e in r.events] == ["urge"]
    assert steps(sweep(desk, at(2026, 12, 29, 10, 0, 30))) == ["sign_overdue"]
    desk.act(t, "sign", "handler1")
    assert steps(sweep(desk, at(2026, 12, 31, 2, 29))) == []
    assert steps(sweep(desk, at(2026, 12, 31, 2, 30, 30))) == ["complete_warning"]
    assert steps(sweep(desk, at(2027, 1, 1, 0, 0, 30))) == ["complete_overdue"]
    # Overdue by more than 5 working days: Fri 1 January is New Year's Day, then the weekend;
    # Mon 4 (1), Tue 5 (2), Wed 6 (3), Thu 7 (4), Fri 8 (5). Not before Fri 8 has ended.
    assert steps(sweep(desk, at(2027, 1, 8, 23, 59, 0))) == []
    r = sweep(desk, at(2027, 1, 9, 0, 0, 30))
    assert steps(r) == ["supervision"] and r.supervisions == 1
    assert [e.action for e in r.events] == ["supervise"]
    assert steps(sweep(desk, at(2027, 2, 1, 9, 0))) == []

    desk.session.refresh(t)
    a = desk.assignments(t)[0]
    desk.session.refresh(a)
    assert t.supervised is True
    # Supervision's own deadline: 3 working days from Sat 9: Mon 11, Tue 12, Wed 13.
    assert t.supervise_deadline == at(2027, 1, 13, 23, 59, 59)
    assert a.sign_warned_at == at(2026, 12, 29, 4, 0, 30)
    assert a.sign_overdue_at == at(2026, 12, 29, 10, 0, 30)
    assert a.complete_warned_at == at(2026, 12, 31, 2, 30, 30)
    assert a.complete_overdue_at == at(2027, 1, 1, 0, 0, 30)
    assert a.escalated_at == at(2027, 1, 9, 0, 0, 30)

    events = system_events(desk, t)
    assert [(e.action, e.reason) for e in events] == [
        ("urge", "签收时限已过75%，自动催办"),
        ("urge", "已超过签收时限，自动催办"),
        ("urge", "办理时限已过75%，自动催办"),
        ("urge", "已超过办理时限，自动催办"),
        ("supervise", "超过办理时限5个工作日，自动督办"),
    ]
    assert all(e.from_status == e.to_status for e in events)

    notices = sms(desk.session)
    assert [m.payload["kind"] for m in notices] == [
        "sign_warning", "sign_overdue", "complete_warning", "complete_overdue", "supervision"]
    assert {m.payload["to"] for m in notices} == {HANDLER_PHONE}  # handler9 has no phone
    assert all(m.payload["ticket_no"] == t.number and m.ticket_id == t.id for m in notices)
    head = f"【长垣12345】工单{t.number}"
    assert notices[0].payload["text"] == f"{head}即将超过签收时限，请于12月29日10:00前签收。"
    assert notices[3].payload["text"] == f"{head}已超过办理时限（12月31日23:59），请立即办理。"
    assert notices[4].payload["text"] == f"{head}超期已列入督办，请于1月13日23:59前办结并反馈。"
    assert all(len(m.payload["text"]) <= 70 for m in notices)

    (entry,) = overdue_list(desk.session, desk.clock.now())
    assert (entry.ticket_number, entry.assignment_id, entry.clock) == (t.number, a.id, "complete")
    assert entry.supervised and entry.supervise_deadline == t.supervise_deadline


def test_every_notice_fits_one_sms_segment() -> None:
    number = "12345-20261231-999999"
    for step in Step:
        assert len(notice_text(step, number, at(2026, 12, 31, 23, 59, 59))) <= 70


def test_a_sweep_after_downtime_sends_the_overdue_urge_and_not_the_stale_warning(desk, phones):
    desk.clock.current = at(2026, 12, 28, 10, 0)
    t = desk.dispatched(type="consult")
    r = sweep(desk, at(2026, 12, 29, 11, 0))  # warning time and deadline both passed
    assert steps(r) == ["sign_overdue"]
    a = desk.assignments(t)[0]
    desk.session.refresh(a)
    assert a.sign_warned_at == a.sign_overdue_at == at(2026, 12, 29, 11, 0)
    assert [m.payload["kind"] for m in sms(desk.session)] == ["sign_overdue"]


# ---------------------------------------------------------------- what does not fire


def test_a_signed_assignments_sign_clock_does_not_fire(desk, phones):
    desk.clock.current = at(2026, 12, 28, 10, 0)
    t = desk.signed(type="consult")
    assert steps(sweep(desk, at(2026, 12, 30, 9, 0))) == []  # sign deadline long past
    assert system_events(desk, t) == []
    assert sms(desk.session) == []


def test_a_closed_assignment_fires_nothing(desk, phones):
    desk.clock.current = at(2026, 12, 28, 10, 0)
    done = desk.reviewed(type="consult")
    returned = desk.dispatched(type="consult")
    desk.act(returned, "return", "handler1", reason="不属于本单位职责")
    assert all(a.closed_at is not None for t in (done, returned) for a in desk.assignments(t))
    assert steps(sweep(desk, at(2027, 3, 1, 9, 0))) == []
    assert sms(desk.session) == []
    assert overdue_list(desk.session, desk.clock.now()) == []


def test_an_already_supervised_ticket_is_not_supervised_again(desk, phones):
    desk.clock.current = at(2026, 12, 28, 10, 0)
    t = desk.signed(type="consult")
    desk.act(t, "supervise", "supervisor1", reason="群众反映强烈")
    r = sweep(desk, at(2027, 1, 11, 9, 0))
    assert steps(r) == ["complete_overdue"]  # escalation checked and marked, nothing to do
    a = desk.assignments(t)[0]
    desk.session.refresh(a)
    assert a.escalated_at == at(2027, 1, 11, 9, 0)
    assert [e.action for e in desk.events(t)].count("supervise") == 1


# ---------------------------------------------------------------- extensions and recipients


def test_an_approved_extension_re_arms_the_completion_clock(desk, phones):
    desk.clock.current = at(2026, 12, 28, 10, 0)
    t = desk.signed(type="consult")
    assert steps(sweep(desk, at(2026, 12, 31, 3, 0))) == ["complete_warning"]
    desk.act(t, "request_extension", "handler1", days=3, reason="需协调供水单位")
    desk.act(t, "approve_extension", "dispatcher1", reason="同意")
    a = desk.assignments(t)[0]
    desk.session.refresh(a)
    # Thu 31 + 3 working days: Mon 4, Tue 5, Wed 6 January; the marks are cleared.
    assert a.complete_deadline == at(2027, 1, 6, 23, 59, 59)
    assert (a.complete_warned_at, a.complete_overdue_at) == (None, None)
    assert a.complete_warn_at > at(2027, 1, 4, 0, 0)
    assert steps(sweep(desk, at(2027, 1, 1, 9, 0))) == []  # the old deadline passed: no alarm
    assert steps(sweep(desk, at(2027, 1, 5, 9, 0))) == ["complete_warning"]
    assert steps(sweep(desk, at(2027, 1, 7, 0, 0, 30))) == ["complete_overdue"]
    kinds = [m.payload["kind"] for m in sms(desk.session)]
    assert kinds == ["complete_warning", "complete_warning", "complete_overdue"]
    assert "1月6日23:59" in sms(desk.session)[1].payload["text"]


def test_a_grid_workers_assignment_notifies_the_grid_worker(desk, phones):
    desk.clock.current = at(2026, 12, 28, 10, 0)
    t = desk.intake(type="consult")
    desk.act(t, "dispatch", "dispatcher1", lead=PUDONG, co_handlers=["urban_management"],
             grid_worker="worker1")
    lead, co = desk.assignments(t)
    r = sweep(desk, at(2026, 12, 29, 4, 30))
    assert sorted((f.assignment_id, str(f.step)) for f in r.fired) == [
        (lead.id, "sign_warning"), (co.id, "sign_warning")]
    by_assignment = {m.dedupe_key.split(":")[1]: m.payload["to"] for m in sms(desk.session)}
    assert by_assignment == {str(lead.id): WORKER_PHONE, str(co.id): HANDLER_PHONE}
    urban = desk.directory.department("urban_management")
    assert [e.reason for e in system_events(desk, t)] == [
        "签收时限已过75%，自动催办", f"签收时限已过75%，自动催办（协办：{urban.name}）"]


# ---------------------------------------------------------------- two sweepers at once


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_concurrent_sweeps_fire_each_clock_once(desk, phones, engine: Engine):
    desk.clock.current = at(2026, 12, 28, 10, 0)
    tickets = [desk.dispatched(type="consult", co=["street_pudong"]) for _ in range(12)]
    assignments = 2 * len(tickets)

    def race(now: datetime) -> list[SweepReport]:
        barrier = threading.Barrier(2)
        reports: list[SweepReport] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with Session(engine, expire_on_commit=False) as s:
                    barrier.wait(timeout=10)
                    reports.append(sweep_clocks(s, now, limit=3))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=60)
        assert not any(th.is_alive() for th in threads) and errors == []
        assert all(r.failed_tickets == () for r in reports)
        return reports

    for now, step in ((at(2026, 12, 29, 4, 30), Step.SIGN_WARNING),
                      (at(2026, 12, 29, 10, 30), Step.SIGN_OVERDUE)):
        reports = race(now)
        assert sum(r.count(step) for r in reports) == assignments
        fired = [f.assignment_id for r in reports for f in r.fired]
        assert len(fired) == len(set(fired)) == assignments

    s = desk.session
    s.expire_all()
    assert s.scalar(select(func.count()).select_from(Event).where(
        Event.action == "urge")) == 2 * assignments
    marks = s.execute(select(Assignment.sign_warned_at, Assignment.sign_overdue_at)).all()
    assert len(marks) == assignments and all(w and o for w, o in marks)
    # One SMS per assignment and step: urban_management has handler1's phone; the street
    # office's handler has none, so co-handler notices are skipped.
    assert len(sms(s)) == 2 * len(tickets)
    assert len({m.dedupe_key for m in sms(s)}) == 2 * len(tickets)
    assert sweeps.SMS_TOPIC == "sms.notice"


def test_a_ticket_that_fails_is_set_aside_and_the_rest_of_its_batch_still_fires(
        desk, phones, monkeypatch):
    # Three tickets due in one batch; firing the second raises. The batch is redone a ticket
    # at a time: the other two fire (urge, SMS, mark), the second is left as it was, untouched,
    # and the next sweep fires it once the fault is gone.
    desk.clock.current = at(2026, 12, 28, 10, 0)
    tickets = [desk.dispatched(type="consult") for _ in range(3)]
    versions = {t.id: t.version for t in tickets}
    bad = tickets[1].id
    fire = sweeps._fire

    def failing(sweep, ticket, a, step, batch):
        if ticket.id == bad:
            raise RuntimeError("injected fault")
        return fire(sweep, ticket, a, step, batch)

    monkeypatch.setattr(sweeps, "_fire", failing)
    desk.clock.current = at(2026, 12, 29, 4, 0, 30)
    r = sweep_clocks(desk.session, desk.clock.now(), directory=desk.directory)
    assert r.failed_tickets == (bad,)
    assert [(f.ticket_id, str(f.step)) for f in r.fired] == [
        (tickets[0].id, "sign_warning"), (tickets[2].id, "sign_warning")]
    assert r.notices == 2 and len(sms(desk.session)) == 2
    for t in tickets:
        desk.session.refresh(t)
        (a,) = desk.assignments(t)
        desk.session.refresh(a)
        fired = t.id != bad
        assert (a.sign_warned_at is not None) is fired
        assert len(system_events(desk, t)) == int(fired)
        assert t.version == versions[t.id] + int(fired)  # an action is a new version

    monkeypatch.setattr(sweeps, "_fire", fire)
    r = sweep(desk)
    assert [(f.ticket_id, str(f.step)) for f in r.fired] == [(bad, "sign_warning")]
    assert len(sms(desk.session)) == 3
