"""HTTP: suggestions for a demand text, and the admin's classifier rules."""

from __future__ import annotations

import pytest

import web.api.classify  # noqa: F401 - adds its routes to the API blueprint before create_app
from dispatch.triage.rules import DOUBT, load_classifier_rules

RULES = "/api/v1/admin/classifier-rules"


@pytest.fixture
def rules(app) -> None:
    from web.extensions import db

    with app.app_context():
        load_classifier_rules(db.session)
        db.session.commit()


def test_classify_suggests_with_reasons(api, rules) -> None:
    r = api.post("operator1", "/api/v1/classify", json={"text": "楼下饭店油烟太大，投诉一下"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert set(body) == {"type", "category", "urgency", "police_matter", "reasons",
                         "confidence", "emergency", "model", "doubts"}
    assert body["model"] == "rules" and body["emergency"] is False  # no model trained here
    assert set(body["confidence"]) == {"type", "category", "urgency", "police_matter"}
    assert (body["type"], body["category"], body["police_matter"]) == (
        "complaint", "environment", False)
    assert any("油烟" in reason for reason in body["reasons"])


def test_classify_flags_a_police_matter_for_the_operator(api, rules) -> None:
    body = api.post("dispatcher1", "/api/v1/classify",
                    json={"text": "小区门口有人持刀抢劫"}).get_json()
    assert body["police_matter"] is True and body["urgency"] == "critical"
    assert DOUBT in body["reasons"]


def test_classify_refuses_bad_input_and_other_roles(api, rules) -> None:
    assert api.post("operator1", "/api/v1/classify", json={"text": ""}).status_code == 400
    assert api.post("operator1", "/api/v1/classify", json={"txt": "噪音"}).status_code == 400
    assert api.post("handler1", "/api/v1/classify", json={"text": "噪音"}).status_code == 403


def test_readers_list_rules_and_admins_edit_them(api, rules) -> None:
    listed = api.get("leader1", RULES + "?field=category&value=environment").get_json()
    assert listed["total"] > 20
    assert {i["value"] for i in listed["items"]} == {"environment"}
    r = api.post("admin1", RULES, json={"field": "category", "value": "market",
                                        "phrase": "盲盒", "weight": 4})
    assert r.status_code == 201, r.get_json()
    rule_id = r.get_json()["id"]
    # The classifier follows the edit at once (a new rules revision).
    body = api.post("operator1", "/api/v1/classify", json={"text": "盲盒店骗小孩"}).get_json()
    assert body["category"] == "market"
    r = api.put("admin1", f"{RULES}/{rule_id}", json={"value": "education"})
    assert r.status_code == 200 and r.get_json()["value"] == "education"
    body = api.post("operator1", "/api/v1/classify", json={"text": "盲盒店骗小孩"}).get_json()
    assert body["category"] == "education"
    r = api.client.delete(f"{RULES}/{rule_id}", headers=api.headers("admin1"))
    assert r.status_code == 200
    assert api.get("admin1", RULES + "?phrase=盲盒").get_json()["total"] == 0


def test_rule_writes_are_for_admins_and_refusals_write_nothing(api, rules) -> None:
    total = api.get("admin1", RULES).get_json()["total"]
    good = {"field": "category", "value": "market", "phrase": "盲盒", "weight": 4}
    assert api.post("dispatcher1", RULES, json=good).status_code == 403
    assert api.get("handler1", RULES).status_code == 403
    for bad, field in (({"value": "market.food"}, "value"), ({"weight": 11}, "weight"),
                       ({"phrase": "x" * 21}, "phrase"), ({"field": "colour"}, "field")):
        r = api.post("admin1", RULES, json={**good, **bad})
        assert r.status_code == 400, r.get_json()
        assert field in r.get_json()["error"]["message"]
    assert api.put("admin1", f"{RULES}/999999", json={"weight": 1}).status_code == 404
    assert api.client.delete(f"{RULES}/999999",
                             headers=api.headers("admin1")).status_code == 404
    assert api.get("admin1", RULES).get_json()["total"] == total
