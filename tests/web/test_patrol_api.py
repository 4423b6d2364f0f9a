"""Patrol reports (巡查上报) over HTTP: worker1 uploads photos taken on patrol, then files the
report (`POST /api/v1/tickets`, channel patrol); photos and place are required (a Chinese
error naming the field, nothing written); a self-handled matter (自办自结) is completed at once
and reviewed by the street office; anything else waits for dispatch like any demand."""

from __future__ import annotations

from sqlalchemy import text

from tests.web.conftest import TICKETS, error_of
from tests.web.test_attachments_api import fetch, form, jpeg

PLACE = {"lon": 114.69, "lat": 35.21}


def photo(api, user: str = "worker1") -> int:
    r = api.client.post("/api/v1/attachments", headers=api.headers(user),
                        data=form(jpeg()), content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def report(api, user: str = "worker1", **fields):
    body = {"channel": "patrol", "text": "人行道井盖缺失", "category": "urban",
            "type": "report", **fields}
    return api.post(user, TICKETS, json=body)


def unfiled(app) -> int:
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(text(
            "SELECT count(*) FROM attachments WHERE ticket_id IS NULL")).scalar_one()


def test_a_patrol_report_goes_up_for_dispatch_with_its_photo_and_place(api):
    shot = photo(api)
    r = report(api, attachments=[shot], **PLACE)
    assert r.status_code == 201, r.get_json()
    t = r.get_json()
    assert (t["status"], t["channel"], t["assignments"]) == ("NEW", "patrol", [])
    intake = t["events"][0]
    assert intake["action"] == "intake"
    # The worker sees their own report, and its photo is the ticket's now.
    r = api.get("worker1", f"{TICKETS}/{t['number']}")
    assert r.status_code == 200
    assert fetch(api, "worker1", f"/api/v1/attachments/{shot}").status_code == 200
    assert fetch(api, "handler1", f"/api/v1/attachments/{shot}").status_code == 404
    listed = api.get("dispatcher1", f"{TICKETS}?status=NEW&channel=patrol").get_json()
    assert [x["number"] for x in listed["items"]] == [t["number"]]


def test_a_self_handled_report_is_completed_and_reviewed_by_the_street_office(api):
    found, before, after = photo(api), photo(api), photo(api)
    r = report(api, attachments=[found], self_handled={
        "result": "已补装临时井盖", "before": [before], "after": [after]}, **PLACE)
    assert r.status_code == 201, r.get_json()
    t = r.get_json()
    assert t["status"] == "SIGNED"
    (a,) = t["assignments"]
    assert (a["department"], a["status"]) == ("street_pudong", "signed")
    (d,) = t["delegations"]
    assert (d["status"], d["from"], d["grid_worker"], d["result"]) == (
        "completed", "street_pudong", "worker1", "已补装临时井盖")
    view = api.get("street1", f"{TICKETS}/{t['number']}").get_json()
    assert "review_delegated_accept" in view["actions"]
    r = api.act("street1", t["number"], "review_delegated_accept", version=view["version"])
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "COMPLETED"


def test_a_report_without_photo_or_place_is_refused_and_writes_nothing(api, app, unchanged):
    shot = photo(api)
    assert fetch(api, "street1", f"/api/v1/attachments/{shot}").status_code == 404
    before = unfiled(app)
    cases = (({"lon": 114.69, "lat": 35.21}, "attachments"),
             ({"attachments": [shot], "lat": 35.21}, "lon"),
             ({"attachments": [shot], "lon": 114.69}, "lat"),
             ({"attachments": [shot + 1000], **PLACE}, "attachments"),
             ({"attachments": [shot], "self_handled": {"result": "已处理", "before": [],
                                                       "after": []}, **PLACE},
              "self_handled.before"))
    with unchanged():
        for fields, field in cases:
            error_of(report(api, **fields), 400, "invalid", field)
        error_of(report(api, channel="phone", attachments=[shot], **PLACE), 400, "invalid",
                 "channel")
        error_of(report(api, "operator1", attachments=[shot], **PLACE), 403, "forbidden")
        error_of(api.post("operator1", TICKETS, json={
            "channel": "phone", "text": "噪音扰民", "attachments": [shot]}), 400, "invalid",
            "attachments")
        r = api.client.post("/api/v1/attachments", headers=api.headers("handler1"),
                            data=form(jpeg()), content_type="multipart/form-data")
        error_of(r, 403, "forbidden")
    assert unfiled(app) == before
