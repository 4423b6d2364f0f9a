"""The audit viewer's API (CONTRACT.md, Administration: `GET /api/v1/admin/audit`): each log
(ticket events, personal-data reads, admin changes) with names, never a citizen's data; each
filter; server-side paging newest first; the Excel export read back; refusals in Chinese
naming the field with nothing written; admins only."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from tests.web.conftest import counts, dispatched, error_of, mismatches

AUDIT = "/api/v1/admin/audit"
EXPORT = "/api/v1/admin/audit.xlsx"
PHONE, NAME = "13800138000", "张三"
SHANGHAI = ZoneInfo("Asia/Shanghai")
URBAN_NAME = "长垣市城市管理局"


def _audit(api, **params):
    r = api.get("admin1", AUDIT, query_string=params)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _record(app, actor: str | None, subject: str, key: str, action: str, before, after,
            minutes: float = 0) -> None:
    """An admin change as a domain function records it, at the clock's time."""
    from sqlalchemy import select

    from dispatch.core.audit import record_change
    from dispatch.core.models import User
    from web.extensions import db
    from web.services import services

    with app.app_context():
        actor_id = db.session.scalar(select(User.id).where(User.username == actor))
        at = services().clock.now() + timedelta(minutes=minutes)
        record_change(db.session, actor_id, subject, key, action, before, after, at=at)
        db.session.commit()


def _admin_changes(app) -> int:
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM admin_changes")).scalar_one()


def _no_citizen_data(answer) -> None:
    body = json.dumps(answer, ensure_ascii=False)
    assert PHONE not in body and NAME not in body, body


@pytest.fixture
def story(app, api, clock, long_tokens, tokens):
    """Two tickets: A taken in and dispatched (with a note holding the citizen's number and
    name), B taken in a day later; operator1 reads A unmasked; an admin changes handler1."""
    a = dispatched(api)
    clock.advance(minutes=5)
    r = api.act("operator1", a["number"], "note", text=f"{NAME}又来电，回拨 {PHONE}")
    assert r.status_code == 200, r.get_json()
    clock.advance(minutes=5)
    assert api.get("operator1", f"/api/v1/tickets/{a['number']}").status_code == 200
    clock.advance(days=1)
    b = api.create(text="路灯不亮了")
    _record(app, "admin1", "user", "handler1", "update",
            {"role": "handler", "department": "urban_management", "extension": None,
             "active": True, "password_hash": "secret-before"},
            {"role": "dispatcher", "department": None, "extension": "8001",
             "active": True, "password_hash": "secret-after"})
    return {"a": a["number"], "b": b["number"], "start": clock.now()}


# ---------------------------------------------------------------- each log


def test_events_are_listed_newest_first_with_names_and_no_citizen_data(app, api, story):
    data = _audit(api, kind="events")
    assert data["total"] == 4 and data["page"] == 1 and data["per_page"] == 50
    actions = [(i["ticket"], i["action"]) for i in data["items"]]
    assert actions == [(story["b"], "intake"), (story["a"], "note"),
                       (story["a"], "dispatch"), (story["a"], "intake")]
    intake_b, note, dispatch, _ = data["items"]
    assert dispatch["user"] == "派单员一" and dispatch["action_name"] == "派单"
    assert dispatch["from_status"] == "待派单" and dispatch["to_status"] == "已派单"
    assert f"主办：{URBAN_NAME}" in dispatch["summary"]
    assert intake_b["user"] == "话务员一" and "渠道：电话" in intake_b["summary"]
    assert note["role"] == "话务员" and "138****8000" in note["summary"]
    assert "张*" in note["summary"]
    _no_citizen_data(data)


def test_reads_show_who_read_which_ticket_and_fields_and_reading_them_logs_nothing(
        app, api, story):
    reads_before = counts(app)["personal_data_reads"]
    data = _audit(api, kind="reads")
    assert data["total"] == reads_before >= 1
    first = data["items"][-1]
    assert first["user"] == "话务员一" and first["ticket"] == story["a"]
    assert first["fields"] == ["citizen"] and first["field_names"] == ["来电人姓名/电话"]
    assert counts(app)["personal_data_reads"] == reads_before  # the audit is not a read
    _no_citizen_data(data)


def test_changes_show_before_and_after_per_field_by_name_with_secrets_hidden(app, api, story):
    data = _audit(api, kind="changes")
    assert data["total"] == 1
    (item,) = data["items"]
    assert item["user"] == "管理员一" and item["subject_name"] == "用户"
    assert item["key_name"] == "城管局承办人（handler1）" and item["action_name"] == "修改"
    by_field = {c["field"]: c for c in item["changes"]}
    assert set(by_field) == {"role", "department", "extension", "password_hash"}
    assert (by_field["role"]["field_name"], by_field["role"]["before"],
            by_field["role"]["after"]) == ("角色", "承办人", "派单员")
    assert (by_field["department"]["before"], by_field["department"]["after"]) == (
        URBAN_NAME, "（空）")
    assert by_field["extension"]["after"] == "8001"
    assert by_field["password_hash"]["before"] == by_field["password_hash"]["after"] == \
        "（已隐藏）"
    assert "secret" not in json.dumps(data)


# ---------------------------------------------------------------- filters and paging


def test_each_filter_narrows_the_list(app, api, story, clock):
    def numbers(**params):
        return [(i["ticket"], i["action"]) for i in _audit(api, **params)["items"]]

    assert numbers(kind="events", ticket=story["b"]) == [(story["b"], "intake")]
    assert numbers(kind="events", user="dispatcher1") == [(story["a"], "dispatch")]
    assert numbers(kind="events", user="派单员一") == [(story["a"], "dispatch")]  # a name
    assert numbers(kind="events", action="note") == [(story["a"], "note")]
    # Days are Asia/Shanghai days: A's events on the first day, B's intake on the next.
    first_day = (story["start"] - timedelta(days=1)).astimezone(SHANGHAI).date()
    next_day = first_day + timedelta(days=1)
    assert len(numbers(kind="events", to=first_day.isoformat())) == 3
    assert numbers(kind="events", **{"from": next_day.isoformat()}) == [(story["b"], "intake")]
    assert numbers(kind="events", **{"from": first_day.isoformat(),
                                     "to": first_day.isoformat()})[-1][1] == "intake"
    # A time: from the note on (10:05 Shanghai on the first day), local unless an offset.
    note_at = _audit(api, kind="events", action="note")["items"][0]["at"]
    local = datetime.fromisoformat(note_at).astimezone(SHANGHAI)
    since = local.strftime("%Y-%m-%d %H:%M")
    assert numbers(kind="events", **{"from": since}) == [(story["b"], "intake"),
                                                        (story["a"], "note")]
    assert numbers(kind="events", to=since)[0] == (story["a"], "note")  # its minute included

    reads = _audit(api, kind="reads")["items"]
    for username, name in (("operator1", "话务员一"), ("dispatcher1", "派单员一")):
        mine = _audit(api, kind="reads", user=username)["items"]
        assert mine and {i["user"] for i in mine} == {name}
        assert [i["id"] for i in mine] == [i["id"] for i in reads if i["user"] == name]
    of_b = _audit(api, kind="reads", ticket=story["b"])["items"]
    assert of_b and {i["ticket"] for i in of_b} == {story["b"]} and len(of_b) < len(reads)
    assert _audit(api, kind="reads", action="citizen")["total"] >= 1
    assert _audit(api, kind="reads", action="contact")["total"] == 0

    _record(app, "admin1", "department", "urban_management", "update",
            {"phones": []}, {"phones": ["0373-1234567"]}, minutes=1)
    assert [i["subject"] for i in _audit(api, kind="changes")["items"]] == [
        "department", "user"]
    assert _audit(api, kind="changes", action="department")["items"][0]["key_name"] == \
        URBAN_NAME
    assert _audit(api, kind="changes", action="user/update")["total"] == 1
    assert _audit(api, kind="changes", action="user/create")["total"] == 0
    assert _audit(api, kind="changes", action="update")["total"] == 2
    assert _audit(api, kind="changes", user="dispatcher1")["total"] == 0


def test_paging_is_done_by_the_server_newest_first(api, story):
    whole = [i["id"] for i in _audit(api, kind="events")["items"]]
    pages = [_audit(api, kind="events", per_page=3, page=p) for p in (1, 2, 3)]
    assert [p["total"] for p in pages] == [4, 4, 4]
    assert [len(p["items"]) for p in pages] == [3, 1, 0]
    assert [i["id"] for p in pages for i in p["items"]] == whole
    assert whole == sorted(whole, reverse=True)


# ---------------------------------------------------------------- export


def _sheets(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    return book.worksheets[0], book["说明"]


def test_the_export_holds_the_filtered_list_with_names(app, api, story):
    table, about = _sheets(api.get("admin1", EXPORT, query_string={
        "kind": "events", "ticket": story["a"]}))
    rows = list(table.iter_rows(values_only=True))
    assert table.title == "操作事件"
    assert rows[0] == ("时间", "操作人", "角色", "工单编号", "操作", "状态变化", "摘要")
    assert [r[4] for r in rows[1:]] == ["备注/进展", "派单", "受理"]
    assert rows[2][1] == "派单员一" and rows[2][3] == story["a"]
    assert rows[2][5] == "待派单 → 已派单" and URBAN_NAME in rows[2][6]
    notes = dict((r[0], r[1]) for r in about.iter_rows(min_row=2, values_only=True))
    assert notes["行数"] == "共 3 条" and story["a"] in notes["筛选条件"]
    everything = json.dumps([list(map(str, r)) for r in rows], ensure_ascii=False)
    assert PHONE not in everything and NAME not in everything

    table, _ = _sheets(api.get("admin1", EXPORT, query_string={"kind": "changes"}))
    rows = list(table.iter_rows(values_only=True))
    assert rows[1][1:5] == ("管理员一", "用户", "城管局承办人（handler1）", "修改")
    assert "角色：承办人 → 派单员" in rows[1][5] and "secret" not in rows[1][5]

    table, _ = _sheets(api.get("admin1", EXPORT, query_string={"kind": "reads"}))
    assert list(table.iter_rows(min_row=2, values_only=True))[-1][1:] == (
        "话务员一", story["a"], None, "来电人姓名/电话")


def test_an_export_over_the_limit_holds_the_newest_rows_and_says_so(api, story, monkeypatch):
    from dispatch.stats import audit_log as audit

    monkeypatch.setattr(audit, "EXPORT_MAX_ROWS", 2)
    assert _audit(api, kind="events")["export_limit"] == 2
    table, about = _sheets(api.get("admin1", EXPORT, query_string={"kind": "events"}))
    rows = list(table.iter_rows(min_row=2, values_only=True))
    assert [r[3] for r in rows] == [story["b"], story["a"]] and rows[1][4] == "备注/进展"
    notes = dict((r[0], r[1]) for r in about.iter_rows(min_row=2, values_only=True))
    assert notes["行数"].startswith("共 4 条，超过导出上限 2 条：本文件只列出最新的 2 条")


# ---------------------------------------------------------------- refusals and roles


def test_bad_filters_are_refused_in_chinese_naming_the_field_and_nothing_is_written(
        app, api, story):
    cases = [
        ("unknown kind", {"kind": "logins"}, 400, "invalid", "kind"),
        ("bad day", {"kind": "events", "from": "2026-13-01"}, 400, "invalid", "from"),
        ("not a date", {"kind": "events", "to": "昨天"}, 400, "invalid", "to"),
        ("bad time", {"kind": "events", "from": "2026-11-23 25:00"}, 400, "invalid", "from"),
        ("from after to", {"kind": "reads", "from": "2026-11-24", "to": "2026-11-23"}, 400,
         "invalid", "to"),
        ("per_page 0", {"kind": "events", "per_page": "0"}, 400, "invalid", "per_page"),
        ("per_page too big", {"kind": "events", "per_page": "201"}, 400, "invalid",
         "per_page"),
        ("page 0", {"kind": "events", "page": "0"}, 400, "invalid", "page"),
        ("unknown user", {"kind": "events", "user": "nobody"}, 400, "invalid", "user"),
        ("unknown ticket", {"kind": "reads", "ticket": "X-1"}, 400, "invalid", "ticket"),
        ("ticket of changes", {"kind": "changes", "ticket": story["a"]}, 400, "invalid",
         "ticket"),
        ("unknown event action", {"kind": "events", "action": "explode"}, 400, "invalid",
         "action"),
        ("unknown read field", {"kind": "reads", "action": "address"}, 400, "invalid",
         "action"),
        ("unknown subject", {"kind": "changes", "action": "planet/update"}, 400, "invalid",
         "action"),
        ("unknown parameter", {"kind": "events", "sort": "old"}, 400, "invalid", "sort"),
    ]
    before = counts(app), _admin_changes(app)
    wrong = mismatches(cases, lambda q: api.get("admin1", AUDIT, query_string=q))
    wrong += mismatches([c for c in cases if "page" not in c[4]],
                        lambda q: api.get("admin1", EXPORT, query_string=q))
    assert wrong == []
    assert (counts(app), _admin_changes(app)) == before


@pytest.mark.parametrize("username", ["leader1", "dispatcher1", "supervisor1", "operator1"])
def test_only_an_admin_reads_the_audit(app, api, story, username):
    api.headers(username)
    before = counts(app), _admin_changes(app)
    for url in (AUDIT, EXPORT):
        error_of(api.get(username, url, query_string={"kind": "events"}), 403, "forbidden")
    assert (counts(app), _admin_changes(app)) == before


def test_the_audit_page_is_an_admin_page(app, client):
    from tests.web.test_page_security import sign_in

    sign_in(client, "admin1")
    html = client.get("/admin/audit").get_data(as_text=True)
    for words in ("操作事件", "管理变更", "个人信息查阅", "导出 Excel", 'data-testid="admin-menu"'):
        assert words in html
    assert client.get(AUDIT).status_code == 200  # the page's own session reads the API
    client.post("/logout")
    sign_in(client, "leader1")
    assert client.get("/admin/audit").status_code == 403
