"""The monthly assessment over HTTP (CONTRACT.md, Governance and assessment): read, publish,
appeal, decide, export, the admin's scheme; scoping (a department sees its own row and
appeals); every refusal in Chinese with nothing written; the pages."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from openpyxl import load_workbook
from sqlalchemy import text

from tests.web.conftest import TABLES
from tests.web.test_page_security import sign_in

ASSESS = "/api/v1/stats/assessment"
NOV = "2026-11"
URBAN = "urban_management"
ALL_TABLES = (*TABLES, "appeals", "assessment_publications", "admin_changes", "attachments")


def counts(app) -> dict[str, int]:
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in ALL_TABLES}


def _late_sign(api, clock, archived: bool = False) -> str:
    """One urgent ticket for urban management, signed an hour past its 2 h: a lost point
    (`archived`: then completed, reviewed and called back satisfied: closed)."""
    number = api.create(urgency="urgent")["number"]
    assert api.act("dispatcher1", number, "dispatch", lead=URBAN).status_code == 200
    clock.advance(hours=3)
    assert api.act("handler1", number, "sign").status_code == 200
    if archived:
        for user, action, payload in (
                ("handler1", "complete", {"result": "已清理"}),
                ("dispatcher1", "review_accept", {}),
                ("operator1", "callback", {"satisfaction": "satisfied", "resolved": True})):
            r = api.act(user, number, action, **payload)
            assert r.status_code == 200, r.get_json()
    clock.current = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 1 December, 10:00 local
    for user in ("operator1", "dispatcher1", "handler1", "street1", "supervisor1", "leader1",
                 "admin1"):  # tokens of 1 December (those of 23 November have expired)
        api._tokens.pop(user, None)
        api.headers(user)
    return number


def _jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 30), "orange").save(out, "JPEG")
    return out.getvalue()


def _chinese(r) -> str:
    message = r.get_json()["error"]["message"]
    assert any("\u4e00" <= c <= "\u9fff" for c in message), message
    return message


def test_publish_appeal_decide_and_republish_with_scoping(app, api, clock):
    number = _late_sign(api, clock, archived=True)
    r = api.get("leader1", ASSESS, query_string={"month": NOV})
    assert r.status_code == 200 and r.get_json()["state"] == "draft"
    urban = next(d for d in r.get_json()["departments"] if d["department"] == URBAN)
    assert urban["rank"] == "not ranked" and urban["deductions"][0]["tickets"] == [number]
    mine = api.get("handler1", ASSESS, query_string={"month": NOV}).get_json()
    assert [d["department"] for d in mine["departments"]] == [URBAN]

    r = api.post("supervisor1", f"{ASSESS}/{NOV}/publish", json={})
    assert r.status_code == 201 and r.get_json()["number"] == 1
    # A photo for the appeal, kept on the ticket although it is archived.
    photo = api.client.post(f"/api/v1/appeals/photos?ticket={number}",
                            headers=api.headers("handler1"), content_type="multipart/form-data",
                            data={"file": (io.BytesIO(_jpeg()), "截图.jpg", "image/jpeg")})
    assert photo.status_code == 201, photo.get_json()
    body = {"month": NOV, "department": URBAN, "ticket": number,
            "reason": "系统故障导致无法签收，附截图", "attachments": [photo.get_json()["id"]]}
    r = api.post("handler1", "/api/v1/appeals", json=body)
    assert r.status_code == 201, r.get_json()
    appeal = r.get_json()
    assert appeal["state"] == "pending" and appeal["ticket"] == number
    assert appeal["attachments"] == [photo.get_json()["id"]]
    shown = api.get("supervisor1", photo.get_json()["url"])
    assert shown.status_code == 200
    shown.close()  # a file response holds the file
    assert api.get("street1", "/api/v1/appeals").get_json()["items"] == []
    assert len(api.get("leader1", "/api/v1/appeals").get_json()["items"]) == 1

    r = api.post("supervisor1", f"/api/v1/appeals/{appeal['id']}/decide",
                 json={"accept": True, "reason": "经核实系统故障属实"})
    assert r.status_code == 200 and r.get_json()["state"] == "accepted"
    seen = api.get("leader1", ASSESS, query_string={"month": NOV}).get_json()
    urban = next(d for d in seen["departments"] if d["department"] == URBAN)
    assert urban["excluded"] == [number] and urban["deductions"] == []
    assert [p["number"] for p in seen["publications"]] == [1, 2]

    r = api.get("leader1", f"{ASSESS}/export", query_string={"month": NOV})
    assert r.status_code == 200
    book = load_workbook(io.BytesIO(r.data))
    assert {"考核排名", "扣分明细", "考核方案", "说明"} <= set(book.sheetnames)
    scheme = {row[2]: row[1] for row in book["考核方案"].iter_rows(min_row=2, values_only=True)}
    assert scheme["satisfaction"] == 30 and scheme["min_assignments"] == 5


def test_refusals_answer_in_chinese_and_write_nothing(app, api, clock):
    number = _late_sign(api, clock)
    appeal = {"month": NOV, "department": URBAN, "ticket": number, "reason": "理由"}
    before = counts(app)
    refused = [
        (api.post("handler1", "/api/v1/appeals", json=appeal), 409),  # not published yet
        (api.post("handler1", f"{ASSESS}/{NOV}/publish", json={}), 403),
        (api.post("supervisor1", f"{ASSESS}/2026-12/publish", json={}), 409),  # unfinished
        (api.post("supervisor1", f"{ASSESS}/2026-13/publish", json={}), 400),
        (api.get("leader1", ASSESS, query_string={"month": "2026-1"}), 400),
        (api.get("operator1", ASSESS, query_string={"month": NOV}), 403),
        (api.put("leader1", "/api/v1/admin/assessment-scheme", json={}), 403),
        (api.put("admin1", "/api/v1/admin/assessment-scheme", json={"satisfaction": "30"}), 400),
        (api.put("admin1", "/api/v1/admin/assessment-scheme", json={"resolution": 90}), 400),
        (api.post("supervisor1", "/api/v1/appeals/999/decide",
                  json={"accept": True, "reason": "采纳"}), 404),
    ]
    for r, status in refused:
        assert r.status_code == status, r.get_json()
        _chinese(r)
    assert counts(app) == before

    assert api.post("supervisor1", f"{ASSESS}/{NOV}/publish", json={}).status_code == 201
    before = counts(app)
    for user, body, status in [
        ("street1", appeal, 403), ("supervisor1", appeal, 403),
        ("handler1", {**appeal, "ticket": "12345-20261101-999999"}, 404),
        ("handler1", {**appeal, "reason": ""}, 400),
        ("handler1", {**appeal, "attachments": [7]}, 400),
    ]:
        r = api.post(user, "/api/v1/appeals", json=body)
        assert r.status_code == status, (user, r.get_json())
        _chinese(r)
    for user, status in (("street1", 404), ("supervisor1", 403)):  # not its ticket; no dept
        r = api.client.post(f"/api/v1/appeals/photos?ticket={number}", headers=api.headers(user),
                            content_type="multipart/form-data",
                            data={"file": (io.BytesIO(_jpeg()), "a.jpg", "image/jpeg")})
        assert r.status_code == status, r.get_json()
        _chinese(r)
    assert counts(app) == before
    filed = api.post("handler1", "/api/v1/appeals", json=appeal).get_json()
    before = counts(app)
    assert api.post("handler1", "/api/v1/appeals", json=appeal).status_code == 409  # twice
    r = api.post("handler1", f"/api/v1/appeals/{filed['id']}/decide",
                 json={"accept": True, "reason": "自己采纳"})
    assert r.status_code == 403
    r = api.post("supervisor1", f"/api/v1/appeals/{filed['id']}/decide", json={"accept": True})
    assert r.status_code == 400 and _chinese(r).startswith("reason")
    clock.current = datetime(2026, 12, 9, 1, 0, tzinfo=UTC)  # past the 5 working days
    api._tokens.pop("handler1")
    api.headers("handler1")
    before = counts(app)
    r = api.post("handler1", "/api/v1/appeals", json={**appeal, "reason": "再次申诉"})
    assert r.status_code == 409 and "申诉期已过" in _chinese(r)
    assert counts(app) == before


def test_the_pages_open_for_their_roles_in_chinese(app, client):
    sign_in(client, "leader1")
    html = client.get("/assessment").get_data(as_text=True)
    assert "月度考核" in html and "属地街镇排名" in html
    sign_in(client, "operator1")
    assert client.get("/assessment").status_code == 403
    sign_in(client, "admin1")
    r = client.get("/admin/assessment-scheme")
    assert r.status_code == 200 and "考核方案" in r.get_data(as_text=True)
