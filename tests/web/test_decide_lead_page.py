"""定责 over HTTP: a ticket returned by two departments is listed by `GET /api/v1/tickets?
disputed=true` and on the office's page /disputes (zh-CN; other roles get the Chinese 403);
decide_lead by a dispatcher writes exactly {lead, reason, unfounded}; a leader may read the
queue but not decide (nothing written)."""

from __future__ import annotations

from tests.web.conftest import TICKETS, error_of


def disputed(api) -> dict:
    t = api.create()
    n = t["number"]
    for user, action, payload in (("dispatcher1", "dispatch", {"lead": "urban_management"}),
                                  ("handler1", "return", {"reason": "属街道职责"}),
                                  ("dispatcher1", "dispatch", {"lead": "street_pudong"}),
                                  ("street1", "return", {"reason": "属城管职责"})):
        r = api.act(user, n, action, **payload)
        assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_the_queue_the_page_and_the_decision(api, unchanged):
    t = disputed(api)
    other = api.create()
    listed = api.get("dispatcher1", f"{TICKETS}?disputed=true").get_json()
    assert [x["number"] for x in listed["items"]] == [t["number"]]
    rest = api.get("dispatcher1", f"{TICKETS}?disputed=false").get_json()
    assert other["number"] in [x["number"] for x in rest["items"]]

    page = api.get("dispatcher1", "/disputes")
    assert page.status_code == 200 and "定责队列" in page.get_data(as_text=True)
    assert api.get("leader1", "/disputes").status_code == 200
    assert api.get("handler1", "/disputes").status_code == 403

    v = t["version"]
    with unchanged(t["number"]):
        error_of(api.act("leader1", t["number"], "decide_lead", version=v,
                         lead="urban_management", reason="x"), 403, "forbidden")
        error_of(api.act("dispatcher1", t["number"], "decide_lead", version=v,
                         lead="urban_management"), 400, "invalid", "reason")
    r = api.act("dispatcher1", t["number"], "decide_lead", lead="urban_management",
                reason="占道经营执法属城管")
    assert r.status_code == 200, r.get_json()
    view = r.get_json()
    assert view["status"] == "DISPATCHED"
    (e,) = [x for x in view["events"] if x["action"] == "decide_lead"]
    assert e["payload"] == {"lead": "urban_management", "reason": "占道经营执法属城管",
                            "unfounded": ["urban_management"]}
    assert api.get("dispatcher1", f"{TICKETS}?disputed=true").get_json()["items"] == []
