"""Bad input on the ticket endpoints: each refusal has the right status, the house error shape
naming the field, and writes nothing (no row anywhere, the ticket's status and version as they
were)."""

from __future__ import annotations

import json

import pytest

from tests.web.conftest import TICKETS, dispatched, error_of, mismatches

GOOD = {"channel": "phone", "text": "小区门口有人占道经营，堵住了出口",
        "citizen": {"name": "张三", "phone": "13800138000"},
        "type": "complaint", "category": "urban", "urgency": "normal"}
JSON = "application/json"


def _without(key: str) -> dict:
    return {k: v for k, v in GOOD.items() if k != key}


# (name, body, field): each is refused with 400 "invalid" naming the field.
BAD_INTAKE = [
    ("missing text", _without("text"), "text"),
    ("missing channel", _without("channel"), "channel"),
    ("text as a number", {**GOOD, "text": 12345}, "text"),
    ("text blank", {**GOOD, "text": "   "}, "text"),
    ("text over 4000 characters", {**GOOD, "text": "占" * 4001}, "text"),
    ("lon as a string", {**GOOD, "lon": "114.6", "lat": 35.2}, "lon"),
    ("lon without lat", {**GOOD, "lon": 114.6}, "lat"),
    ("lat without lon", {**GOOD, "lat": 35.2}, "lon"),
    ("lon out of range", {**GOOD, "lon": 214.6, "lat": 35.2}, "lon"),
    ("unknown crs", {**GOOD, "crs": "EPSG:3857"}, "crs"),
    ("anonymous as 'yes'", {**GOOD, "citizen": {"name": "张三", "anonymous": "yes"}},
     "citizen.anonymous"),
    ("citizen not an object", {**GOOD, "citizen": "张三"}, "citizen"),
    ("unknown citizen field", {**GOOD, "citizen": {"name": "张三", "age": 40}}, "citizen.age"),
    ("unknown type", {**GOOD, "type": "gossip"}, "type"),
    ("unknown category", {**GOOD, "category": "urban.no_such_thing"}, "category"),
    ("unknown urgency", {**GOOD, "urgency": "whenever"}, "urgency"),
    ("unknown channel", {**GOOD, "channel": "fax"}, "channel"),
    ("unknown extra field", {**GOOD, "priority": 1}, "priority"),
    ("phone '12345'", {**GOOD, "citizen": {"phone": "12345"}}, "citizen.phone"),
    ("phone 'abc'", {**GOOD, "citizen": {"phone": "abc"}}, "citizen.phone"),
    ("NUL character in text", {**GOOD, "text": "占道\u0000经营"}, "text"),
    ("NUL character in name", {**GOOD, "citizen": {"name": "张\u0000三"}}, "citizen.name"),
]


def test_intake_refuses_each_bad_field_naming_it_and_writes_nothing(api, unchanged):
    cases = [(name, body, 400, "invalid", field) for name, body, field in BAD_INTAKE]
    with unchanged():
        wrong = mismatches(cases, lambda body: api.post("operator1", TICKETS, json=body))
    assert wrong == []


def test_intake_accepts_text_of_exactly_4000_characters(api):
    r = api.post("operator1", TICKETS, json={**GOOD, "text": "占" * 4000})
    assert r.status_code == 201, r.get_json()
    assert len(r.get_json()["text"]) == 4000


def test_emoji_and_rare_characters_are_kept_intact(api):
    text = "𠀀𪚥😀 门口的井盖𡈽丢了 👍🏽"
    created = api.create(text=text, citizen={"name": "𪚥𠀀", "phone": "13800138000"},
                         address="蒲西街道𠀀𪚥路 1 号")
    assert created["text"] == text
    read = api.get("operator1", f"{TICKETS}/{created['number']}").get_json()
    assert read["text"] == text
    assert read["citizen"]["name"] == "𪚥𠀀"
    assert read["address"] == "蒲西街道𠀀𪚥路 1 号"
    found = api.get("operator1", TICKETS, query_string={"q": "𪚥"}).get_json()
    assert [t["number"] for t in found["items"]] == [created["number"]]
    assert found["items"][0]["text"] == text


# ---------------------------------------------------------------- the body itself


def test_intake_body_that_is_too_large_not_json_or_malformed_is_refused(api, unchanged):
    good = json.dumps(GOOD)
    gb18030 = json.dumps(GOOD, ensure_ascii=False).encode("gb18030")
    cases = [
        ("over 64 KiB", (json.dumps({**GOOD, "text": "x" * (65 * 1024)}), JSON), 413,
         "too_large", None),
        ("JSON sent as text/plain", (good, "text/plain"), 415, "unsupported_media_type", None),
        ("form fields", ("channel=phone&text=x", "application/x-www-form-urlencoded"), 415,
         "unsupported_media_type", None),
        ("no content type", (good, None), 415, "unsupported_media_type", None),
        ("truncated JSON", (good[:-1], JSON), 400, "invalid", None),
        ("not JSON at all", ("{channel: 'phone'}", JSON), 400, "invalid", None),
        ("empty body", ("", JSON), 400, "invalid", None),
        ("an array instead of an object", (json.dumps([GOOD]), JSON), 400, "invalid", None),
        ("a string instead of an object", ('"占道经营"', JSON), 400, "invalid", None),
        ("GB18030 instead of UTF-8", (gb18030, JSON), 400, "invalid", None),
        ("bytes that are not UTF-8", (b'{"channel": "phone", "text": "\xff\xfe"}', JSON), 400,
         "invalid", None),
    ]

    def send(request):
        data, content_type = request
        kw = {"content_type": content_type} if content_type else {}
        return api.post("operator1", TICKETS, data=data, **kw)

    with unchanged():
        wrong = mismatches(cases, send)
    assert wrong == []


# ---------------------------------------------------------------- list filters


def test_list_refuses_each_bad_filter_naming_it(api, unchanged):
    api.create()
    cases = [
        ("from without a time zone", {"from": "2026-11-01T10:00:00"}, "from"),
        ("to not a date", {"to": "2026-11-31"}, "to"),
        ("to before from", {"from": "2026-11-24", "to": "2026-11-23"}, "to"),
        ("per_page over 100", {"per_page": "101"}, "per_page"),
        ("page zero", {"page": "0"}, "page"),
        ("overdue not a boolean", {"overdue": "maybe"}, "overdue"),
        ("unknown filter", {"sort": "number"}, "sort"),
        ("phone not a phone number", {"phone": "abc"}, "phone"),
        ("NUL character in q", {"q": "占道\u0000"}, "q"),
        ("unknown status", {"status": "NEW,PENDING"}, "status.1"),
    ]
    with unchanged():
        wrong = mismatches(
            [(name, query, 400, "invalid", field) for name, query, field in cases],
            lambda query: api.get("dispatcher1", TICKETS, query_string=query))
    assert wrong == []


# ---------------------------------------------------------------- actions


@pytest.fixture
def ticket(api) -> dict:
    """A ticket dispatched to urban_management (status DISPATCHED)."""
    return dispatched(api)


def _action(api, user: str, number: str, action: str, body) -> object:
    return api.post(user, f"{TICKETS}/{number}/actions/{action}", json=body)


def test_unknown_action_is_404_naming_the_action(api, unchanged, ticket):
    n, v = ticket["number"], ticket["version"]
    with unchanged(n):
        unknown = _action(api, "dispatcher1", n, "escalate", {"version": v})
        system_only = _action(api, "dispatcher1", n, "recompute_deadlines", {"version": v})
    error_of(unknown, 404, "not_found", "action")
    error_of(system_only, 404, "not_found", "action")


def test_action_not_allowed_from_the_state_is_409_conflict(api, unchanged, ticket):
    with unchanged(ticket["number"]):
        r = _action(api, "dispatcher1", ticket["number"], "review_accept",
                    {"version": ticket["version"]})
    error = error_of(r, 409, "conflict")
    assert "“已派单”" in error["message"]  # the state by its name, not its code


def test_action_by_a_role_that_may_not_take_it_is_403(api, unchanged, ticket):
    n, v = ticket["number"], ticket["version"]
    cases = [
        ("handler reviews", ("handler1", "review_accept", {}), 403, "forbidden", None),
        ("handler voids", ("handler1", "void", {"reason": "不是我们的"}), 403, "forbidden",
         None),
        ("operator signs", ("operator1", "sign", {}), 403, "forbidden", None),
        ("dispatcher completes", ("dispatcher1", "complete", {"result": "办好了"}), 403,
         "forbidden", None),
        ("supervisor dispatches", ("supervisor1", "dispatch", {"lead": "transport"}), 403,
         "forbidden", None),
    ]
    with unchanged(n):
        wrong = mismatches(cases, lambda req: _action(api, req[0], n, req[1],
                                                      {"version": v, **req[2]}))
    assert wrong == []


def test_stale_version_is_409_stale_version(api, unchanged, ticket):
    with unchanged(ticket["number"]):
        r = _action(api, "handler1", ticket["number"], "sign",
                    {"version": ticket["version"] - 1})
    error_of(r, 409, "stale_version", "version")


def test_action_body_with_bad_version_or_payload_is_400_naming_the_field(api, unchanged,
                                                                         ticket):
    n, v = ticket["number"], ticket["version"]
    cases = [
        ("version missing", ("sign", {}), "version"),
        ("version missing, reason given", ("return", {"reason": "非本部门职责"}), "version"),
        ("version as a string", ("sign", {"version": str(v)}), "version"),
        ("version zero", ("sign", {"version": 0}), "version"),
        ("unknown field", ("sign", {"version": v, "signature": "x"}), "signature"),
        ("empty reason", ("sign", {"version": v, "reason": ""}), "reason"),
        ("return without reason", ("return", {"version": v}), "reason"),
        ("result as a number", ("complete", {"version": v, "result": 42}), "result"),
        ("extension over 60 days",
         ("request_extension", {"version": v, "days": 61, "reason": "材料未到"}), "days"),
        ("extension without reason", ("request_extension", {"version": v, "days": 3}),
         "reason"),
    ]
    with unchanged(n):
        wrong = mismatches(
            [(name, req, 400, "invalid", field) for name, req, field in cases],
            lambda req: _action(api, "handler1", n, req[0], req[1]))
    assert wrong == []


def test_unknown_ticket_number_is_404(api, unchanged, ticket):
    with unchanged(ticket["number"]):
        act = _action(api, "dispatcher1", "12345-20261123-999999", "urge", {"version": 1})
        read = api.get("dispatcher1", f"{TICKETS}/12345-20261123-999999")
        nul = api.get("dispatcher1", f"{TICKETS}/{ticket['number']}%00")
    error_of(act, 404, "not_found")
    error_of(read, 404, "not_found")
    error_of(nul, 404, "not_found")


def test_action_body_that_is_too_large_or_not_a_json_object_is_refused(api, unchanged,
                                                                       ticket):
    n, v = ticket["number"], ticket["version"]
    big = json.dumps({"version": v, "result": "x" * (65 * 1024)})
    cases = [
        ("over 64 KiB", ("complete", big, JSON), 413, "too_large", None),
        ("form", ("sign", f"version={v}", "application/x-www-form-urlencoded"), 415,
         "unsupported_media_type", None),
        ("text/plain", ("sign", json.dumps({"version": v}), "text/plain"), 415,
         "unsupported_media_type", None),
        ("malformed JSON", ("sign", json.dumps({"version": v})[:-1], JSON), 400, "invalid", None),
        ("an array", ("sign", json.dumps([{"version": v}]), JSON), 400, "invalid", None),
        ("not UTF-8", ("sign", b'{"version": 2, "reason": "\xe5\xa5"}', JSON), 400, "invalid",
         None),
    ]
    with unchanged(n):
        wrong = mismatches(cases, lambda req: api.post(
            "handler1", f"{TICKETS}/{n}/actions/{req[0]}", data=req[1], content_type=req[2]))
    assert wrong == []


def test_calendar_year_out_of_range_is_400_naming_the_year(api, unchanged):
    with unchanged():
        far = api.get("admin1", "/api/v1/admin/calendar/99999")
        old = api.get("admin1", "/api/v1/admin/calendar/1999")
    error_of(far, 400, "invalid", "year")
    error_of(old, 400, "invalid", "year")


def test_unknown_route_and_wrong_method_answer_in_the_house_error_shape(api, unchanged):
    with unchanged():
        route = api.get("operator1", "/api/v1/complaints")
        method = api.client.delete(TICKETS, headers=api.headers("operator1"))
        action_get = api.get("operator1", f"{TICKETS}/12345-20261123-000001/actions/sign")
    error_of(route, 404, "not_found")
    error_of(method, 405, "method_not_allowed")
    error_of(action_get, 405, "method_not_allowed")
