"""The console feed: one numbered console event per committed ticket event, gap-free in commit
order, replayed to each viewer as they may see it; nothing recorded for what rolls back."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from dispatch.console import feed
from dispatch.console.feed import ConsoleEvent
from dispatch.console.views import Viewer
from dispatch.core.errors import Conflict
from dispatch.core.models import Event, User
from dispatch.intake.pipeline import intake
from dispatch.tickets.lifecycle import perform
from dispatch.tickets.sweeps import sweep_clocks

from .conftest import URBAN, demand


class Collect:
    """A sink that keeps what was relayed, with its rooms."""

    def __init__(self) -> None:
        self.sent: list[tuple[dict, list[str]]] = []

    def emit(self, message, rooms) -> None:
        self.sent.append((message, list(rooms)))


def rows(session: Session) -> list[ConsoleEvent]:
    return list(session.scalars(select(ConsoleEvent).order_by(ConsoleEvent.id)))


def viewer(session: Session, username: str, cells: frozenset[str] = frozenset()) -> Viewer:
    u = session.scalars(select(User).where(User.username == username)).one()
    return Viewer(u.id, u.role, u.department_code, cells)


def test_every_committed_ticket_event_becomes_one_console_event_numbered_in_order(desk):
    t = desk.dispatched()
    desk.act(t, "sign", "handler1")
    events = list(desk.session.scalars(select(Event).order_by(Event.id)))
    assert [e.action for e in events] == ["intake", "dispatch", "sign"]
    recorded = rows(desk.session)
    assert [r.event_id for r in recorded] == [e.id for e in events]
    assert all(r.seq is None for r in recorded)  # numbered after commit, by the relay

    sink = Collect()
    assert feed.relay(desk.session, sink) == 3
    assert [m["seq"] for m, _ in sink.sent] == [1, 2, 3]
    assert [m["type"] for m, _ in sink.sent] == ["created", "updated", "updated"]
    assert [m["action"] for m, _ in sink.sent] == ["intake", "dispatch", "sign"]
    last = sink.sent[-1][0]["ticket"]
    assert (last["number"], last["status"], last["department"], last["clock"]) == (
        t.number, "SIGNED", URBAN, "complete")
    assert sink.sent[-1][1][:2] == ["all", f"dept:{URBAN}"]
    assert feed.relay(desk.session, sink) == 0  # nothing twice
    assert feed.head(desk.session) == 3


def test_a_refused_or_rolled_back_action_records_no_console_event(desk):
    t = desk.intake()
    before = desk.count(ConsoleEvent)
    desk.refused(t, "review_accept", "dispatcher1", Conflict)
    perform(desk.session, t, "note", desk.actors["dispatcher1"], {"text": "先看看"},
            now=desk.clock.now(), directory=desk.directory)
    desk.session.rollback()
    assert desk.count(ConsoleEvent) == before == 1


def test_the_summary_carries_no_citizen_data_and_the_queues_of_the_state(desk):
    t = desk.intake(text="联系我 13900001111 张三", citizen={"name": "李四",
                                                           "phone": "13800138000"})
    summary = rows(desk.session)[-1].summary
    flat = repr(summary)
    assert "13800138000" not in flat and "李四" not in flat
    assert summary["queues"] == ["to_dispatch"] and summary["open"] is True
    desk.act(t, "void", "dispatcher1", reason="测试电话")
    assert rows(desk.session)[-1].summary["open"] is False


def test_110_transfers_both_ways_and_clock_steps_have_their_types(desk):
    inbound = desk.intake(user="police1", channel="police110")
    outbound = desk.intake()
    desk.act(outbound, "transfer_110", "operator1", reason="涉嫌违法，转110")
    t = desk.dispatched()
    (a,) = desk.assignments(t)
    desk.clock.current = a.sign_warn_at
    sweep_clocks(desk.session, desk.clock.now(), directory=desk.directory)
    desk.clock.current = a.sign_deadline.replace(microsecond=0) + (a.sign_deadline - a.sign_warn_at)
    sweep_clocks(desk.session, desk.clock.now(), directory=desk.directory)
    types = [(r.ticket_id, r.type) for r in rows(desk.session)]
    assert (inbound.id, "transfer") in types
    assert (outbound.id, "transfer") in types
    mine = [ty for tid, ty in types if tid == t.id]
    assert mine == ["created", "updated", "sla_warning", "sla_overdue"]
    assert "transfer" in rows(desk.session)[0].summary["queues"]


def test_replay_gives_each_viewer_what_they_may_see_after_a_point_in_order(desk):
    ours = desk.dispatched()  # urban management's
    other = desk.intake()
    desk.act(other, "dispatch", "dispatcher1", lead="street_pudong")
    desk.act(ours, "sign", "handler1")
    feed.relay(desk.session, Collect())
    s = desk.session

    everything = feed.replay(s, viewer(s, "dispatcher1"), 0)
    assert [m["seq"] for m in everything.events] == [1, 2, 3, 4, 5]
    assert [m["seq"] for m in feed.replay(s, viewer(s, "dispatcher1"), 3).events] == [4, 5]
    handler = feed.replay(s, viewer(s, "handler1"), 0)
    assert {m["ticket"]["number"] for m in handler.events} == {ours.number}
    assert [m["action"] for m in handler.events] == ["dispatch", "sign"]  # not its intake
    street = feed.replay(s, viewer(s, "street1"), 0)
    assert {m["ticket"]["number"] for m in street.events} == {other.number}
    nobody_cells = feed.replay(s, viewer(s, "worker1"), 0)
    assert nobody_cells.events == []
    assert feed.replay(s, viewer(s, "worker1", frozenset({"no-such-cell"})), 0).events == []


def test_the_110_desk_hears_of_transfers_both_ways_and_of_nothing_else(desk):
    inbound = desk.intake(user="police1", channel="police110")
    outbound = desk.intake()
    plain = desk.dispatched()
    desk.act(outbound, "transfer_110", "operator1", reason="涉嫌违法，转110")
    desk.act(outbound, "police_accept", "police1")
    sink = Collect()
    feed.relay(desk.session, sink)
    police = [(m["ticket"]["number"], m["action"]) for m, rooms in sink.sent
              if "police" in rooms]
    # The outbound ticket's intake (before the transfer) is not the desk's; all after it are.
    assert police == [(inbound.number, "intake"), (outbound.number, "transfer_110"),
                      (outbound.number, "police_accept")]
    assert all("police" not in rooms for m, rooms in sink.sent
               if m["ticket"]["number"] == plain.number)
    s = desk.session
    desk_viewer = viewer(s, "police1")
    assert desk_viewer.rooms() == ["police"]
    replayed = feed.replay(s, desk_viewer, 0).events
    assert [(m["ticket"]["number"], m["action"]) for m in replayed] == police
    assert [(m["ticket"]["number"], m["action"])
            for m in feed.recent(s, desk_viewer, feed.head(s))] == police


def test_a_replay_too_long_or_from_an_unknown_point_asks_for_a_board_reload(desk):
    for _ in range(4):
        desk.intake()
    feed.relay(desk.session, Collect())
    v = viewer(desk.session, "dispatcher1")
    assert feed.replay(desk.session, v, 0, limit=3).reset
    assert feed.replay(desk.session, v, 1, limit=3).events[0]["seq"] == 2
    assert feed.replay(desk.session, v, 99).reset  # a seq this database never gave


def test_rows_a_crashed_process_left_unnumbered_go_out_with_the_next_relay(desk):
    desk.intake()  # committed; its process "died" before relaying
    desk.intake()
    sink = Collect()
    assert feed.relay(desk.session, sink) == 2
    assert [m["seq"] for m, _ in sink.sent] == [1, 2]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_concurrent_writers_and_relays_number_every_event_once_without_gaps(
        engine: Engine, session: Session, desk):
    """Eight threads log tickets and relay at once: seqs are 1..n, each event once."""
    operator = desk.actors["operator1"]
    sent: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        sink = Collect()
        try:
            with Session(engine, expire_on_commit=False) as s:
                for _ in range(10):
                    intake(s, demand(), operator, now=desk.clock.now())
                    s.commit()
                    feed.relay(s, sink)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        with lock:
            sent.extend(m["seq"] for m, _ in sink.sent)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert sorted(sent) == list(range(1, 81))
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(ConsoleEvent)
                        .where(ConsoleEvent.seq.is_(None))) == 0
        assert s.scalar(select(func.count()).select_from(ConsoleEvent)) == 80
