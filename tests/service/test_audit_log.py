"""The audit's queries (dispatch.core.audit, the read side) on a real database, SQLite and
PostgreSQL: the three logs with their filters, paged newest first, with names for people,
tickets and departments, and never a citizen's phone or name."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from dispatch.core.audit import record_change
from dispatch.core.errors import InvalidInput
from dispatch.core.models import AdminChange, Contact, PersonalDataRead
from dispatch.stats import audit_log as audit
from dispatch.stats.audit_log import audit_filter, audit_page, audit_table
from dispatch.stats.export import listing_file
from dispatch.tickets.calendar import LOCAL_TZ
from dispatch.tickets.readmodel import log_personal_reads

URBAN_NAME = "长垣市城市管理局"


def _page(session, directory, kind, **filters):
    return audit_page(session, audit_filter(session, kind, **filters), directory)


@pytest.fixture
def logs(session, desk, clock, actors):
    """Events of two tickets a day apart, four reads of personal data (by field), and three
    admin changes; returns the tickets and the first moment."""
    start = clock.now()
    a = desk.dispatched()
    clock.advance(minutes=10)
    desk.act(a, "note", "operator1", text="张三说他的电话是 13800138000")
    clock.advance(days=1)
    b = desk.intake(text="路灯不亮")
    contact = session.scalar(select(Contact.id).where(Contact.ticket_id == b.id))
    operator, dispatcher = actors["operator1"], actors["dispatcher1"]
    log_personal_reads(session, operator, [(a.id, "citizen")], start)
    log_personal_reads(session, operator, [(a.id, "citizen,text")], start + timedelta(hours=1))
    log_personal_reads(session, dispatcher, [(b.id, "text")], clock.now())
    session.execute(PersonalDataRead.__table__.insert(), [{
        "user_id": operator.id, "ticket_id": None, "contact_id": contact,
        "at": clock.now() + timedelta(minutes=1), "fields": "contact"}])
    admin = actors["admin1"].id
    record_change(session, admin, "user", "handler1", "update",
                  {"role": "handler", "department": "urban_management"},
                  {"role": "dispatcher", "department": None}, at=start)
    record_change(session, admin, "department", "urban_management", "update",
                  {"phones": []}, {"phones": ["0373-1234567"]}, at=start + timedelta(hours=2))
    record_change(session, None, "setting", "repeat_window_days", "create", None, 7,
                  at=clock.now())
    session.commit()
    return {"a": a.number, "b": b.number, "start": start}


def test_events_newest_first_with_names_and_masked_texts(session, directory, logs):
    page = _page(session, directory, "events")
    assert page.total == 4
    assert [(i["ticket"], i["action"]) for i in page.items] == [
        (logs["b"], "intake"), (logs["a"], "note"), (logs["a"], "dispatch"),
        (logs["a"], "intake")]
    note, dispatch = page.items[1], page.items[2]
    assert dispatch["user"] == "派单员一" and URBAN_NAME in dispatch["summary"]
    assert "138****8000" in note["summary"] and "张*" in note["summary"]
    text = json.dumps(page.items, ensure_ascii=False)
    assert "13800138000" not in text and "张三" not in text


def test_event_filters_user_ticket_action_and_local_days(session, directory, logs):
    def seen(**filters):
        return [(i["ticket"], i["action"])
                for i in _page(session, directory, "events", **filters).items]

    first_day = logs["start"].astimezone(LOCAL_TZ).date()
    assert seen(user="dispatcher1") == [(logs["a"], "dispatch")]
    assert seen(ticket=logs["b"]) == [(logs["b"], "intake")]
    assert seen(action="note") == [(logs["a"], "note")]
    assert len(seen(start=first_day.isoformat(), end=first_day.isoformat())) == 3
    assert seen(start=(first_day + timedelta(days=1)).isoformat()) == [(logs["b"], "intake")]
    noted = (logs["start"] + timedelta(minutes=10)).astimezone(LOCAL_TZ)
    assert seen(start=noted.strftime("%Y-%m-%dT%H:%M"), end=noted.strftime("%Y-%m-%d")) == [
        (logs["a"], "note")]
    # An explicit offset is taken as given (the same instant in UTC).
    utc = (logs["start"] + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    assert seen(start=utc, end=utc) == [(logs["a"], "note")]


def test_reads_filter_by_the_field_read_as_a_whole_word(session, directory, logs):
    def fields(**filters):
        return [i["fields"] for i in _page(session, directory, "reads", **filters).items]

    assert fields() == [["contact"], ["text"], ["citizen", "text"], ["citizen"]]
    assert fields(action="citizen") == [["citizen", "text"], ["citizen"]]
    assert fields(action="text") == [["text"], ["citizen", "text"]]
    assert fields(action="contact") == [["contact"]]
    assert fields(user="dispatcher1") == [["text"]]
    assert fields(ticket=logs["a"]) == [["citizen", "text"], ["citizen"]]
    loose = _page(session, directory, "reads", action="contact").items[0]
    assert loose["ticket"] is None and loose["contact"].startswith("联系记录 #")


def test_changes_by_subject_and_action_with_fields_before_and_after(session, directory, logs):
    page = _page(session, directory, "changes")
    assert [i["subject"] for i in page.items] == ["setting", "department", "user"]
    setting, department, user = page.items
    assert setting["user"] == "系统" and setting["changes"] == [
        {"field": "value", "field_name": "值", "before": None, "after": "7"}]
    assert department["key_name"] == URBAN_NAME
    assert user["changes"] == [
        {"field": "department", "field_name": "部门", "before": URBAN_NAME, "after": "（空）"},
        {"field": "role", "field_name": "角色", "before": "handler", "after": "dispatcher"},
    ]  # role codes stay codes without a translation table (the web passes one)
    assert [i["subject"] for i in _page(session, directory, "changes",
                                        action="user").items] == ["user"]
    assert _page(session, directory, "changes", action="department/update").total == 1
    assert _page(session, directory, "changes", action="create").total == 1
    assert _page(session, directory, "changes", user="admin1").total == 2


def test_pages_are_cut_by_the_database(session, directory, logs):
    pages = [_page(session, directory, "events", page=p, per_page=3) for p in (1, 2)]
    assert [len(p.items) for p in pages] == [3, 1] and pages[1].total == 4
    assert pages[0].as_dict()["export_limit"] == audit.EXPORT_MAX_ROWS


@pytest.mark.parametrize(("kind", "filters", "field"), [
    ("everything", {}, "kind"),
    ("events", {"start": "2026-02-30"}, "from"),
    ("events", {"end": "23/11/2026"}, "to"),
    ("events", {"start": "2026-11-24", "end": "2026-11-23"}, "to"),
    ("events", {"per_page": 0}, "per_page"),
    ("events", {"per_page": audit.MAX_PER_PAGE + 1}, "per_page"),
    ("events", {"page": 0}, "page"),
    ("reads", {"user": "nobody"}, "user"),
    ("events", {"ticket": "20990101-0001"}, "ticket"),
    ("changes", {"ticket": "20990101-0001"}, "ticket"),
    ("events", {"action": "fly"}, "action"),
    ("reads", {"action": "citizen,text"}, "action"),
    ("changes", {"action": "moon/update"}, "action"),
    ("changes", {"action": "user/DROP TABLE"}, "action"),
])
def test_a_bad_filter_is_refused_naming_its_field_and_nothing_is_written(
        session, logs, kind, filters, field):
    before = session.scalar(select(func.count()).select_from(AdminChange))
    with pytest.raises(InvalidInput) as caught:
        audit_filter(session, kind, **filters)
    assert caught.value.field == field
    assert any("\u3400" <= ch <= "\u9fff" for ch in caught.value.message)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(AdminChange)) == before


def test_an_export_is_capped_at_its_limit_with_a_chinese_note(session, directory, logs):
    now = datetime(2026, 12, 7, 4, 0, tzinfo=LOCAL_TZ)
    table = audit_table(session, audit_filter(session, "reads"), directory, now, limit=3)
    assert len(table.rows) == 3 and table.rows[0][0] == datetime(2026, 11, 24, 10, 11)
    made = listing_file(table)
    book = load_workbook(io.BytesIO(made.content))
    rows = list(book["个人信息查阅"].iter_rows(min_row=2, values_only=True))
    assert len(rows) == 3 and rows[0][3].startswith("联系记录 #")
    notes = dict(book["说明"].iter_rows(min_row=2, values_only=True))
    assert notes["行数"].startswith("共 4 条，超过导出上限 3 条")
    assert made.filename == "审计-个人信息查阅-2026-12-07.xlsx"
