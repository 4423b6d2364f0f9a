"""Importing an old system's history (`dispatch.intake.history_import`) on a real database:
states and their events, location and routing, the mapping file, rejected rows (nothing
written), a second run that changes nothing, nothing live triggered, the statistics after."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.console.feed import ConsoleEvent
from dispatch.core.errors import InvalidInput
from dispatch.core.models import Assignment, Event, Ticket, TicketCounter
from dispatch.intake.history_import import (
    HEADINGS,
    import_history,
    parse_mapping,
    read_rows,
)
from dispatch.intake.history_import import writer as import_writer
from dispatch.outbound.outbox import OutboxMessage
from dispatch.stats import metrics, rollups
from dispatch.stats.definitions import DateRange, Filters
from dispatch.stats.rollups import StatPending
from dispatch.tickets.sweeps import sweep_clocks
from grid import catalogue as cat
from grid.history import HistoryGridRouting
from grid.locator import GridCache, build_index
from tests.conftest import cell_centre, cell_code, make_test_grid

VENDING = "urban.appearance.street_vending"
COLUMNS = list(HEADINGS)


def sheet(rows: list[dict[str, str]], columns: list[str] | None = None) -> bytes:
    columns = columns or COLUMNS
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return out.getvalue().encode("utf-8-sig")


def row(ref: str, state: str, **more: str) -> dict[str, str]:
    lon, lat = cell_centre(0, 0, 0)
    base = {"原工单编号": ref, "受理时间": "2025-03-03 09:00:00", "渠道": "电话",
            "诉求类型": "投诉", "事项分类": "占道", "诉求内容": "门口有人占道经营",
            "诉求人": "张三", "联系电话": "13800138000", "经度": f"{lon}", "纬度": f"{lat}",
            "状态": state}
    base.update(more)
    return base


HANDLED = {"承办单位": "城管局", "派单时间": "2025-03-03 09:30", "签收时间": "2025-03-03 10:00",
           "办结时间": "2025-03-04 15:00", "办结情况": "已清理"}
MAPPING = {"categories": {"占道": VENDING}, "departments": {"城管局": "urban_management"},
           "states": {"结案": "ARCHIVED"}}


@pytest.fixture
def grid(session: Session) -> int:
    version = make_test_grid(session)
    cat.create_rule(session, {"category": "urban", "lead": "urban_management"},
                    build_index(session, version))
    session.commit()
    return version


def run(session: Session, clock, data: bytes, mapping=MAPPING, name: str = "old.csv",
        commit: bool = True):
    m = parse_mapping(mapping)
    now = clock.now()
    report = import_history(session, read_rows(data, name, m), mapping=m,
                            grid=HistoryGridRouting(session, now, GridCache()), now=now,
                            source=name, commit=commit)
    if report.rejected:
        session.rollback()
    else:
        session.commit()
    return report


def count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_each_state_is_imported_with_its_events_location_and_routing(session, clock, grid):
    rows = [
        row("A1", "结案", **HANDLED, **{"回访时间": "2025-03-05 10:00", "满意度": "满意",
                                       "是否解决": "是", "诉求内容": "门口\t占道\\经营\n第二行"}),
        row("A2", "已签收", **{**HANDLED, "办结时间": "", "办结情况": "", "承办单位": ""}),
        row("A3", "作废"),
        row("A4", "直接答复", **{"办结情况": "告知办理流程"}),
        row("A5", "重办", **HANDLED, **{"满意度": "不满意", "是否解决": "否"}),
        row("A6", "待派单", **{"经度": "", "纬度": ""}),
    ]
    report = run(session, clock, sheet(rows))
    assert report.committed and report.imported == 6 and not report.rejected
    by_ref = {t.import_ref: t for t in session.scalars(select(Ticket))}
    assert {r: t.status for r, t in by_ref.items()} == {
        "A1": "ARCHIVED", "A2": "SIGNED", "A3": "VOID", "A4": "ARCHIVED", "A5": "REOPENED",
        "A6": "NEW"}
    a1 = by_ref["A1"]
    assert a1.outcome == "callback" and a1.satisfaction == "satisfied" and a1.resolved is True
    assert a1.cell_code == cell_code(0, 0, 0) and a1.street_code == "street_pudong"
    assert a1.number.startswith("12345-20250303-")
    assert a1.text == "门口\t占道\\经营\n第二行"  # COPY's escapes round-trip
    assert [e.action for e in a1.events] == ["intake", "dispatch", "sign", "complete",
                                             "review_accept", "callback"]
    assert a1.events[0].payload["imported"]["ref"] == "A1"
    assert a1.assignments[0].department_code == "urban_management"
    assert a1.version == len(a1.events)
    assert by_ref["A4"].outcome == "direct_answer"
    # No department in the file: the catalogue's lead (by category and cell) takes it.
    a2 = by_ref["A2"]
    assert a2.routing["lead"] == "urban_management"
    assert [(a.department_code, a.status) for a in a2.assignments] == [
        ("urban_management", "signed")]
    assert by_ref["A6"].cell_code is None and by_ref["A6"].assignments == []
    # Numbers follow the day's counter: live intake goes on after them.
    assert session.get(TicketCounter, "20250303").last == 6
    # Nothing live: no console events, no SMS or 110 messages, no rollup queue.
    assert count(session, ConsoleEvent) == 0
    assert count(session, OutboxMessage) == 0
    assert count(session, StatPending) == 0


def test_an_open_imported_ticket_keeps_its_clock_without_urges_for_the_past(
        session, clock, grid, directory):
    old = {"承办单位": "城管局", "派单时间": "2025-03-03 09:30"}
    recent = {"承办单位": "城管局", "受理时间": "2026-11-23 08:30", "派单时间": "2026-11-23 09:00"}
    report = run(session, clock, sheet([row("B1", "已派单", **old),
                                        row("B2", "已派单", **recent)]))
    assert report.imported == 2
    past, fresh = (session.scalar(select(Assignment).join(Ticket).where(Ticket.import_ref == r))
                   for r in ("B1", "B2"))
    assert past.sign_deadline.date() == date(2025, 3, 4)
    # Steps that fell due before the import are marked fired at the import: no urges for them.
    assert past.sign_overdue_at == clock.now() and past.complete_overdue_at == clock.now()
    assert fresh.sign_warned_at is None and fresh.sign_overdue_at is None
    report = sweep_clocks(session, clock.now() + timedelta(hours=20), directory=directory)
    assert [(f.ticket_number, f.step) for f in report.fired] == [
        (fresh.ticket.number, "sign_warning")]


def test_rejected_rows_are_reported_by_row_and_field_and_nothing_is_written(
        session, clock, grid):
    rows = [
        row("C1", "结案", **HANDLED),
        row("C2", "已归档", **{**HANDLED, "受理时间": "昨天"}),
        row("C3", "待派单", **{"事项分类": "不存在的分类"}),
        row("C4", "待派单", **{"联系电话": "12"}),
        row("C1", "待派单"),
        row("C6", "已办结", **{**HANDLED, "办结时间": ""}),
        row("C7", "待派单", **{"诉求内容": ""}),
    ]
    before = {m: count(session, m) for m in (Ticket, Event, Assignment, TicketCounter)}
    report = run(session, clock, sheet(rows))
    got = {(r.row, r.field) for r in report.rejected}
    assert got == {(3, "受理时间"), (4, "事项分类"), (5, "联系电话"), (6, "原工单编号"),
                   (7, "办结时间"), (8, "诉求内容")}
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in r.message) for r in report.rejected)
    assert "不存在的分类" in next(r.message for r in report.rejected if r.row == 4)
    assert not report.committed
    assert {m: count(session, m) for m in before} == before


def test_a_second_run_of_the_same_file_changes_nothing(session, clock, grid):
    data = sheet([row("D1", "结案", **HANDLED), row("D2", "待派单")])
    assert run(session, clock, data).imported == 2
    before = {m: count(session, m) for m in (Ticket, Event, Assignment)}
    counter = session.get(TicketCounter, "20250303").last
    again = run(session, clock, data)
    assert (again.imported, again.skipped) == (0, 2)
    assert {m: count(session, m) for m in before} == before
    session.expire_all()
    assert session.get(TicketCounter, "20250303").last == counter
    # A file with one more row adds just that one.
    more = run(session, clock, sheet([row("D1", "结案", **HANDLED), row("D3", "待派单")]))
    assert (more.imported, more.skipped) == (1, 1)


def test_a_failure_while_writing_leaves_nothing_written(session, clock, grid, monkeypatch):
    run(session, clock, sheet([row("F1", "待派单")]))
    before = {m: count(session, m) for m in (Ticket, Event, Assignment)}
    # As if another import of the same file had committed F1 after this one looked: the
    # unique old number stops the writing (in the COPY thread on PostgreSQL).
    monkeypatch.setattr(import_writer, "imported_refs", lambda session, refs: set())
    rows = [row(f"F{i}", "结案", **HANDLED) for i in range(2, 2600)] + [row("F1", "待派单")]
    with pytest.raises(Exception) as caught:
        run(session, clock, sheet(rows))
    assert "import_ref" in str(caught.value)
    session.rollback()
    assert {m: count(session, m) for m in before} == before


def test_the_old_systems_headings_are_mapped_and_statistics_count_the_past(
        session, clock, grid):
    old = {"工单号": "原工单编号", "来电时间": "受理时间", "来源": "渠道", "内容": "诉求内容",
           "类别": "事项分类", "处理部门": "承办单位", "工单状态": "状态", "完成时间": "办结时间",
           "评价": "满意度", "解决": "是否解决", "回访日期": "回访时间", "派单日期": "派单时间"}
    columns = list(old)
    rows = []
    for i in range(4):
        rows.append({"工单号": f"E{i}", "来电时间": f"2025-03-0{3 + i} 09:00", "来源": "热线",
                     "内容": "占道经营", "类别": "占道", "处理部门": "城管局", "工单状态": "结案",
                     "派单日期": f"2025-03-0{3 + i} 10:00",
                     "完成时间": f"2025-03-0{3 + i} 16:00",
                     "评价": "满意" if i else "基本满意", "解决": "是",
                     "回访日期": f"2025-03-0{4 + i} 09:00"})
    rows.append({"工单号": "E9", "来电时间": "2025-03-04 11:00", "来源": "微信", "内容": "咨询",
                 "类别": "占道", "工单状态": "作废"})
    report = run(session, clock, sheet(rows, columns), {**MAPPING, "columns": old})
    assert report.imported == 5, report.rejected
    assert rollups.rebuild(session) == 5
    span = DateRange(date(2025, 3, 1), date(2025, 3, 31))
    s = metrics.summary(session, span, Filters(), clock.now())
    assert s.figures["intake"].numerator == 4
    assert (s.figures["completion_rate"].numerator,
            s.figures["completion_rate"].denominator) == (4, 4)
    assert (s.figures["satisfaction_rate"].numerator,
            s.figures["satisfaction_rate"].denominator) == (4, 4)
    assert s.figures["on_time_completion_rate"].numerator == 4
    raw = metrics.summary(session, span, Filters(), clock.now(), source=metrics.RAW)
    assert {k: (f.numerator, f.denominator) for k, f in raw.figures.items()} == {
        k: (f.numerator, f.denominator) for k, f in s.figures.items()}


def test_a_bad_mapping_file_is_refused_in_chinese():
    with pytest.raises(InvalidInput) as caught:
        parse_mapping(b"{not json")
    assert caught.value.field == "mapping" and "JSON" in caught.value.message
    with pytest.raises(InvalidInput) as caught:
        parse_mapping({"states": {"结案": "DONE"}})
    assert "结案" in caught.value.message


def test_text_with_tabs_line_ends_backslashes_and_quotes_is_written_as_given(
        session, clock, grid):
    """The rows go to PostgreSQL by COPY in binary format: what the file says reaches the
    columns and the JSON payloads unchanged, whatever characters it holds."""
    awkward = '门口\t有人"占道"\n经营\\N 第二行\\t结尾 ✓'
    result = '已\t清理\\"完毕"\n明天回访'
    report = run(session, clock, sheet([
        row("Q1", "已办结", **{**HANDLED, "诉求内容": awkward, "办结情况": result,
                             "诉求人": "李\\四"})]))
    assert report.imported == 1, report.rejected
    ticket = session.scalars(select(Ticket).where(Ticket.import_ref == "Q1")).one()
    assert (ticket.text, ticket.citizen_name) == (awkward, "李\\四")
    complete = session.scalars(select(Event).where(Event.ticket_id == ticket.id,
                                                   Event.action == "complete")).one()
    assert complete.payload["result"] == result
    assignment = session.scalars(select(Assignment).where(
        Assignment.ticket_id == ticket.id)).one()
    assert assignment.result == result
    intake = session.scalars(select(Event).where(Event.ticket_id == ticket.id,
                                                 Event.action == "intake")).one()
    assert intake.payload["imported"]["ref"] == "Q1"


def _postgres_only(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL: the keys checked once per import")


def test_the_keys_are_checked_once_the_parents_locked_and_the_row_checks_on_again_after(
        session, clock, grid):
    """PostgreSQL: the per-row foreign-key checks are off during the COPY only; the department
    and category the rows refer to stay locked until the import commits, as the per-row checks
    would lock them; the rows refer to what exists."""
    _postgres_only(session)
    from sqlalchemy import text

    m = parse_mapping(MAPPING)
    now = clock.now()
    data = sheet([row("K1", "结案", **HANDLED), row("K2", "待派单")])
    report = import_history(session, read_rows(data, "k.csv", m), mapping=m,
                            grid=HistoryGridRouting(session, now, GridCache()), now=now,
                            source="k.csv")
    assert report.imported == 2
    assert session.execute(text("SHOW session_replication_role")).scalar() == "origin"
    # Another connection cannot delete the department before the import commits.
    with session.get_bind().connect() as other:  # type: ignore[union-attr]
        other.execute(text("SET lock_timeout = '300ms'"))
        with pytest.raises(Exception) as caught:
            other.execute(text("DELETE FROM departments WHERE code = 'urban_management'"))
        assert "lock timeout" in str(caught.value)
        other.rollback()
    session.commit()
    orphans = session.execute(text(
        "SELECT count(*) FROM events e LEFT JOIN tickets t ON t.id = e.ticket_id "
        "WHERE t.id IS NULL")).scalar()
    assert orphans == 0
    assert session.execute(text(
        "SELECT count(*) FROM assignments a JOIN tickets t ON t.id = a.ticket_id "
        "JOIN departments d ON d.code = a.department_code "
        "WHERE t.import_ref = 'K1'")).scalar() == 1
    # After the import the row checks are on again in the same session.
    with pytest.raises(Exception) as refused:
        session.execute(text(
            "INSERT INTO events (ticket_id, at, actor_role, action, to_status, payload) "
            "VALUES (-1, now(), 'system', 'note', 'NEW', '{}')"))
    assert "fk_events_ticket_id_tickets" in str(refused.value)
    session.rollback()


def test_an_unchecked_foreign_key_is_refused_while_the_row_checks_are_off(session):
    """A column with a foreign key that `check_keys_once` was not told about cannot be written
    by COPY while the per-row checks are off (a programming error, not a silent orphan)."""
    _postgres_only(session)
    from dispatch.intake.history_import.copying import Sink, core_table

    tickets, events = core_table(Ticket), core_table(Event)
    sink = Sink(session)
    assert sink.check_keys_once([tickets, events], {})
    sink.reserve(events, 1)
    with pytest.raises(RuntimeError, match="actor_id"):
        sink.put(events, [{"id": 1, "ticket_id": 1, "actor_id": 1}])
    sink.close()
    session.rollback()


def test_a_missing_parent_leaves_the_row_checks_on(session):
    _postgres_only(session)
    from dispatch.intake.history_import.copying import Sink, core_table

    tickets = core_table(Ticket)
    sink = Sink(session)
    assert not sink.check_keys_once([tickets], {tickets.c.category_code: {"no.such.code"}})
    assert not sink.keys_relaxed
    session.rollback()
