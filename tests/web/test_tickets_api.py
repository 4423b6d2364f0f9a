"""The tickets API end to end: intake, lists and their filters, reading, the action flow and
what is published, contacts, and the administration of time limits, the calendar and users."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tests.web.conftest import (
    TICKETS,
    counts,
    dispatched,
    error_of,
    ticket_state,
)

NUMBER = re.compile(r"^12345-\d{8}-\d{6}$")
TIME_LIMITS = "/api/v1/admin/time-limits"
CALENDAR_2027 = "/api/v1/admin/calendar/2027"


def at(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    assert moment.tzinfo is not None, value
    return moment


def _numbers(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [t["number"] for t in response.get_json()["items"]]


def _published(publisher) -> list[tuple[str, str]]:
    return [(e.number, e.action) for e in publisher.published]


# ---------------------------------------------------------------- intake


def test_create_answers_201_with_number_status_version_and_intake_event(api, app):
    before = counts(app)
    r = api.post("operator1", TICKETS, json={"channel": "phone", "text": "路灯不亮"})
    assert r.status_code == 201, r.get_json()
    ticket = r.get_json()
    assert NUMBER.match(ticket["number"])
    assert ticket["number"].startswith("12345-20261123-")  # the local day of the clock
    assert ticket["status"] == "NEW"
    assert isinstance(ticket["version"], int) and ticket["version"] >= 1
    assert [(e["action"], e["actor"], e["to"]) for e in ticket["events"]] == [
        ("intake", "operator1", "NEW")]
    assert ticket["text"] == "路灯不亮" and ticket["channel"] == "phone"
    assert ticket["assignments"] == []
    after = counts(app)
    assert (after["tickets"], after["events"], after["contacts"]) == (
        before["tickets"] + 1, before["events"] + 1, before["contacts"] + 1)

    second = api.create()
    assert int(second["number"][-6:]) == int(ticket["number"][-6:]) + 1
    read = api.get("dispatcher1", f"{TICKETS}/{ticket['number']}").get_json()
    assert (read["status"], read["version"]) == ("NEW", ticket["version"])


def test_only_operators_may_create_tickets(api, app, tokens):
    before = counts(app)
    for user in ("dispatcher1", "handler1", "leader1", "police1"):
        r = api.post(user, TICKETS, json={"channel": "phone", "text": "路灯不亮"})
        error_of(r, 403, "forbidden")
    assert counts(app) == before


# ---------------------------------------------------------------- lists


def test_list_filters_by_status_channel_type_category_department_and_text(api):
    a = dispatched(api, lead="urban_management")["number"]
    b = api.create(channel="wechat", type="consult", category="environment.noise",
                   text="楼下广场舞噪音扰民")["number"]
    c = api.create(channel="police110", type="help", category="transport",
                   text="路口井盖缺失，有人掉下去的危险")["number"]

    def find(**query) -> set[str]:
        return set(_numbers(api.get("dispatcher1", TICKETS, query_string=query)))

    assert find() == {a, b, c}
    assert find(status="DISPATCHED") == {a}
    assert find(status="NEW,DISPATCHED") == {a, b, c}
    assert find(status="ARCHIVED") == set()
    assert find(channel="wechat") == {b}
    assert set(_numbers(api.get("dispatcher1", f"{TICKETS}?channel=wechat&channel=police110"))
               ) == {b, c}
    assert find(type="consult") == {b}
    assert find(type="complaint,help") == {a, c}
    assert find(category="environment") == {b}  # the subtree of a category
    assert find(category="environment.noise") == {b}
    assert find(category="environment.air") == set()
    assert find(category="urban") == {a}
    assert find(department="urban_management") == {a}
    assert find(department="transport") == set()
    assert find(q="井盖") == {c}
    assert find(q=b) == {b}
    assert find(q="100%") == set()  # LIKE wildcards are taken literally


def test_list_filters_overdue_after_the_sign_deadline_passes(api, clock, long_tokens):
    late = dispatched(api)
    fresh = api.create()["number"]
    deadline = at(late["assignments"][0]["sign_deadline"])

    assert _numbers(api.get("dispatcher1", TICKETS, query_string={"overdue": "true"})) == []
    clock.advance(seconds=(deadline - clock.now()).total_seconds() + 60)
    overdue = api.get("dispatcher1", TICKETS, query_string={"overdue": "true"})
    assert _numbers(overdue) == [late["number"]]
    assert _numbers(api.get("dispatcher1", TICKETS, query_string={"overdue": "false"})) == [
        fresh]
    read = api.get("handler1", f"{TICKETS}/{late['number']}").get_json()
    assert read["assignments"][0]["sign_overdue"] is True


def test_the_ticket_offers_an_extension_only_before_the_completion_deadline(api, clock,
                                                                              long_tokens):
    t = dispatched(api)
    n = t["number"]
    signed = api.act("handler1", n, "sign", version=t["version"]).get_json()
    assert "request_extension" in signed["actions"]
    deadline = at(signed["assignments"][0]["complete_deadline"])
    clock.advance(seconds=(deadline - clock.now()).total_seconds())
    read = api.get("handler1", f"{TICKETS}/{n}").get_json()
    assert "request_extension" not in read["actions"]
    assert "complete" in read["actions"]
    r = api.act("handler1", n, "request_extension", version=read["version"], days=2,
                reason="材料未到")
    assert "办结时限已过" in error_of(r, 409, "conflict")["message"]
    assert api.get("handler1", f"{TICKETS}/{n}").get_json()["extensions"] == []


def test_list_filters_by_creation_date_and_time_in_local_time(api, clock, long_tokens):
    monday = api.create()["number"]  # 2026-11-23 10:00 Asia/Shanghai
    clock.advance(hours=15)  # 2026-11-24 01:00 Asia/Shanghai, still the 23rd in UTC
    tuesday = api.create()["number"]
    clock.advance(days=2)
    thursday = api.create()["number"]

    def find(**query) -> list[str]:
        return _numbers(api.get("dispatcher1", TICKETS, query_string=query))

    assert find(**{"to": "2026-11-23"}) == [monday]
    assert find(**{"from": "2026-11-24", "to": "2026-11-24"}) == [tuesday]
    assert find(**{"from": "2026-11-25"}) == [thursday]
    assert find(**{"from": "2026-11-24T00:30:00+08:00"}) == [thursday, tuesday]
    assert find(**{"from": "2026-11-23T16:30:00Z", "to": "2026-11-23T17:30:00+00:00"}) == [
        tuesday]


def test_list_pages_newest_first_with_total_page_and_per_page(api, clock):
    numbers = []
    for _ in range(5):
        numbers.append(api.create()["number"])
        clock.advance(minutes=1)
    newest_first = numbers[::-1]

    first = api.get("dispatcher1", TICKETS, query_string={"per_page": 2}).get_json()
    assert (first["total"], first["page"], first["per_page"]) == (5, 1, 2)
    assert [t["number"] for t in first["items"]] == newest_first[:2]
    third = api.get("dispatcher1", TICKETS, query_string={"per_page": 2, "page": 3}).get_json()
    assert [t["number"] for t in third["items"]] == newest_first[4:]
    beyond = api.get("dispatcher1", TICKETS, query_string={"per_page": 2, "page": 4}).get_json()
    assert (beyond["items"], beyond["total"]) == ([], 5)
    default = api.get("dispatcher1", TICKETS).get_json()
    assert (default["page"], default["per_page"], len(default["items"])) == (1, 20, 5)
    assert api.get("dispatcher1", TICKETS, query_string={"per_page": 100}).status_code == 200
    error_of(api.get("dispatcher1", TICKETS, query_string={"per_page": 101}), 400, "invalid",
             "per_page")


# ---------------------------------------------------------------- reading


def test_read_shows_assignments_with_their_clocks_and_events_with_usernames(api):
    answer = dispatched(api)  # Monday 2026-11-23 10:00 local, a normal complaint
    read = api.get("handler1", f"{TICKETS}/{answer['number']}").get_json()

    assert read["status"] == "DISPATCHED"
    [assignment] = read["assignments"]
    assert (assignment["department"], assignment["role"], assignment["status"]) == (
        "urban_management", "lead", "dispatched")
    dispatched_at = at(assignment["dispatched_at"])
    assert dispatched_at == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    # Sign for within 24 hours, warned at 75 %; complete within 7 working days, at 23:59:59.
    assert at(assignment["sign_deadline"]) == dispatched_at + timedelta(hours=24)
    assert at(assignment["sign_warn_at"]) == dispatched_at + timedelta(hours=18)
    assert at(assignment["complete_deadline"]) == datetime(2026, 12, 2, 15, 59, 59, tzinfo=UTC)
    assert dispatched_at < at(assignment["complete_warn_at"]) < at(
        assignment["complete_deadline"])
    assert assignment["deadline_provisional"] is False
    assert (assignment["sign_overdue"], assignment["complete_overdue"]) == (False, False)
    assert [(e["action"], e["actor"], e["actor_role"]) for e in read["events"]] == [
        ("intake", "operator1", "operator"), ("dispatch", "dispatcher1", "dispatcher")]


def test_action_answer_shows_the_same_clocks_as_a_later_read(api):
    answer = dispatched(api)
    read = api.get("dispatcher1", f"{TICKETS}/{answer['number']}").get_json()
    assert answer["assignments"] == read["assignments"]
    assert answer["version"] == read["version"]


# ---------------------------------------------------------------- the action flow


def test_full_flow_over_http_ends_archived_and_publishes_each_event_after_commit(
        api, app, publisher):
    ticket = api.create()
    n, version = ticket["number"], ticket["version"]
    steps = [
        ("dispatcher1", "dispatch", {"lead": "urban_management"}, "DISPATCHED"),
        ("handler1", "sign", {}, "SIGNED"),
        ("handler1", "complete", {"result": "已清理占道摊点，现场恢复通行"}, "COMPLETED"),
        ("dispatcher1", "review_accept", {}, "REVIEWED"),
        ("operator1", "callback", {"satisfaction": "satisfied", "resolved": True}, "ARCHIVED"),
    ]
    for user, action, payload, status in steps:
        r = api.act(user, n, action, version=version, **payload)
        assert r.status_code == 200, (action, r.get_json())
        body = r.get_json()
        assert body["status"] == status
        assert body["version"] == version + 1
        version = body["version"]

    read = api.get("operator1", f"{TICKETS}/{n}").get_json()
    assert (read["status"], read["version"], read["outcome"]) == ("ARCHIVED", version,
                                                                  "callback")
    assert read["callback"]["satisfaction"] == "satisfied"
    assert read["assignments"][0]["result"] == "已清理占道摊点，现场恢复通行"
    actions = ["intake", "dispatch", "sign", "complete", "review_accept", "callback"]
    assert [(e["action"], e["actor"]) for e in read["events"]] == list(zip(
        actions, ["operator1", "dispatcher1", "handler1", "handler1", "dispatcher1",
                  "operator1"], strict=True))

    assert _published(publisher) == [(n, a) for a in actions]
    ids = [e.event_id for e in publisher.published]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert ids == [e["id"] for e in read["events"]]  # committed: a fresh read sees them
    assert [(e.from_status, e.to_status) for e in publisher.published][-1] == ("REVIEWED",
                                                                               "ARCHIVED")
    assert counts(app)["events"] == len(actions)


def test_refused_action_publishes_nothing_and_changes_nothing(api, app, publisher, tokens):
    ticket = dispatched(api)
    n = ticket["number"]
    published = list(publisher.published)
    before = counts(app), ticket_state(app, n)

    error_of(api.act("dispatcher1", n, "review_accept", version=ticket["version"]), 409,
             "conflict")
    error_of(api.act("operator1", n, "sign", version=ticket["version"]), 403, "forbidden")
    error_of(api.act("handler1", n, "sign", version=ticket["version"] + 1), 409,
             "stale_version")
    error_of(api.act("handler1", n, "complete", version=ticket["version"], result="办好了"),
             409, "conflict")  # not signed for yet

    assert publisher.published == published
    assert (counts(app), ticket_state(app, n)) == before


def test_second_action_with_the_same_version_loses(api, publisher):
    ticket = dispatched(api)
    n, v = ticket["number"], ticket["version"]
    assert api.act("handler1", n, "sign", version=v).status_code == 200
    published = list(publisher.published)
    error_of(api.act("handler1", n, "return", version=v, reason="非本部门职责"), 409,
             "stale_version", "version")
    assert publisher.published == published
    assert api.get("handler1", f"{TICKETS}/{n}").get_json()["status"] == "SIGNED"


# ---------------------------------------------------------------- contacts


def test_silent_call_is_recorded_without_a_ticket(api, app, publisher):
    before = counts(app)
    r = api.post("operator1", "/api/v1/contacts",
                 json={"channel": "phone", "kind": "silent", "phone": "13800138000"})
    assert r.status_code == 201, r.get_json()
    contact = r.get_json()
    assert (contact["kind"], contact["ticket"], contact["phone"]) == ("silent", None,
                                                                      "13800138000")
    after = counts(app)
    assert after["contacts"] == before["contacts"] + 1
    assert (after["tickets"], after["events"]) == (before["tickets"], before["events"])
    assert publisher.published == []
    listed = api.get("dispatcher1", "/api/v1/contacts", query_string={"kind": "silent"})
    assert [c["id"] for c in listed.get_json()["items"]] == [contact["id"]]


def test_follow_up_call_adds_a_note_to_the_ticket(api, app, publisher):
    ticket = dispatched(api)
    n = ticket["number"]
    r = api.post("operator1", "/api/v1/contacts",
                 json={"channel": "phone", "kind": "follow_up", "ticket": n,
                       "phone": "13800138000", "note": "询问办理进度"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["ticket"] == n

    read = api.get("dispatcher1", f"{TICKETS}/{n}").get_json()
    note = read["events"][-1]
    assert (note["action"], note["actor"], note["from"], note["to"]) == (
        "note", "operator1", "DISPATCHED", "DISPATCHED")
    assert "询问办理进度" in note["payload"]["text"]
    assert read["version"] == ticket["version"] + 1
    assert _published(publisher)[-1] == (n, "note")


def test_contact_naming_a_ticket_wrongly_is_refused_and_writes_nothing(api, app, unchanged):
    n = api.create()["number"]
    with unchanged(n):
        no_ticket = api.post("operator1", "/api/v1/contacts",
                             json={"channel": "phone", "kind": "follow_up"})
        silent_with_ticket = api.post("operator1", "/api/v1/contacts",
                                      json={"channel": "phone", "kind": "silent", "ticket": n})
        unknown = api.post("operator1", "/api/v1/contacts",
                           json={"channel": "phone", "kind": "follow_up",
                                 "ticket": "12345-20261123-999999"})
        by_handler = api.post("handler1", "/api/v1/contacts",
                              json={"channel": "phone", "kind": "silent"})
    error_of(no_ticket, 400, "invalid", "ticket")
    error_of(silent_with_ticket, 400, "invalid", "ticket")
    error_of(unknown, 404, "not_found", "ticket")
    error_of(by_handler, 403, "forbidden")


# ---------------------------------------------------------------- administration


def _limits_with_sign(normal: dict) -> dict:
    return {"sign": {"critical": {"unit": "minutes", "value": 30},
                     "urgent": {"unit": "hours", "value": 2}, "normal": normal}}


def test_admin_time_limits_change_the_sign_deadline_of_the_next_dispatch(api, clock):
    earlier = dispatched(api)
    r = api.put("admin1", TIME_LIMITS, json=_limits_with_sign({"unit": "hours", "value": 4}))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["sign"]["normal"] == {"unit": "hours", "value": 4}
    assert api.get("dispatcher1", TIME_LIMITS).get_json()["sign"]["normal"]["value"] == 4

    clock.advance(minutes=10)
    later = dispatched(api)
    sign = at(later["assignments"][0]["sign_deadline"])
    assert sign == clock.now() + timedelta(hours=4)
    # A clock already running keeps the limit it started with.
    read = api.get("dispatcher1", f"{TICKETS}/{earlier['number']}").get_json()
    assert at(read["assignments"][0]["sign_deadline"]) == at(
        earlier["assignments"][0]["dispatched_at"]) + timedelta(hours=24)


def test_time_limits_by_a_dispatcher_or_invalid_are_refused_and_old_limits_stay(api, app,
                                                                                unchanged):
    with unchanged():
        by_dispatcher = api.put("dispatcher1", TIME_LIMITS,
                                json=_limits_with_sign({"unit": "hours", "value": 4}))
        bad_unit = api.put("admin1", TIME_LIMITS,
                           json=_limits_with_sign({"unit": "weeks", "value": 1}))
        bad_ratio = api.put("admin1", TIME_LIMITS, json={"warning_ratio": 1.5})
        unknown = api.put("admin1", TIME_LIMITS, json={"sign_for": {}})
    error_of(by_dispatcher, 403, "forbidden")
    error_of(bad_unit, 400, "invalid", "sign.normal.unit")
    error_of(bad_ratio, 400, "invalid", "warning_ratio")
    error_of(unknown, 400, "invalid", "sign_for")

    ticket = dispatched(api)
    [assignment] = ticket["assignments"]
    assert at(assignment["sign_deadline"]) == at(assignment["dispatched_at"]) + timedelta(
        hours=24)


OFFICIAL_2027 = {
    "holidays": [
        {"day": "2027-01-01", "name": "元旦"},
        {"day": "2027-01-04", "name": "元旦"},
        {"day": "2027-02-05", "name": "春节"},
        {"day": "2027-02-08", "name": "春节"},
        {"day": "2027-02-09", "name": "春节"},
        {"day": "2027-02-10", "name": "春节"},
        {"day": "2027-02-11", "name": "春节"},
    ],
    "makeup_workdays": [{"day": "2027-02-20", "name": "春节调休上班"}],
}


def test_official_calendar_for_2027_recomputes_provisional_deadlines(api, clock, publisher,
                                                                     long_tokens):
    before = api.get("admin1", CALENDAR_2027).get_json()
    assert before["provisional"] is True
    assert before["sources"] == ["provisional"]

    # Wednesday 2026-12-30 10:00 local: 7 working days reach into provisional 2027.
    clock.advance(days=37)
    ticket = dispatched(api)
    n = ticket["number"]
    [assignment] = ticket["assignments"]
    assert assignment["deadline_provisional"] is True
    # Provisional 2027: 1 January off; Dec 31, Jan 4–8, Jan 11 are the 7 working days.
    assert at(assignment["complete_deadline"]).date() == datetime(2027, 1, 11).date()

    r = api.put("admin1", CALENDAR_2027, json=OFFICIAL_2027)
    assert r.status_code == 200, r.get_json()
    after = r.get_json()
    assert after["provisional"] is False
    assert after["sources"] == ["admin"]
    assert after["tickets_recomputed"] == 1
    assert {"day": "2027-02-20", "name": "春节调休上班"} in after["makeup_workdays"]
    assert {"day": "2027-01-04", "name": "元旦"} in after["holidays"]
    assert api.get("dispatcher1", CALENDAR_2027).get_json() == {
        k: v for k, v in after.items() if k != "tickets_recomputed"}

    read = api.get("dispatcher1", f"{TICKETS}/{n}").get_json()
    [assignment] = read["assignments"]
    assert assignment["deadline_provisional"] is False
    # 4 January is now off as well: the seventh working day is 12 January.
    assert at(assignment["complete_deadline"]) == datetime(2027, 1, 12, 15, 59, 59, tzinfo=UTC)
    event = read["events"][-1]
    assert (event["action"], event["actor"], event["from"], event["to"]) == (
        "recompute_deadlines", "system", "DISPATCHED", "DISPATCHED")
    assert read["version"] == ticket["version"] + 1
    assert _published(publisher)[-1] == (n, "recompute_deadlines")


def test_calendar_put_by_a_dispatcher_or_invalid_is_refused(api, unchanged):
    with unchanged():
        by_dispatcher = api.put("dispatcher1", CALENDAR_2027, json=OFFICIAL_2027)
        weekday_makeup = api.put("admin1", CALENDAR_2027, json={
            "holidays": [], "makeup_workdays": [{"day": "2027-02-22", "name": "调休"}]})
        other_year = api.put("admin1", CALENDAR_2027, json={
            "holidays": [{"day": "2028-01-01", "name": "元旦"}]})
        not_a_date = api.put("admin1", CALENDAR_2027, json={
            "holidays": [{"day": "2027-02-30", "name": "春节"}]})
    error_of(by_dispatcher, 403, "forbidden")
    error_of(weekday_makeup, 400, "invalid", "makeup_workdays")
    error_of(other_year, 400, "invalid", "holidays")
    error_of(not_a_date, 400, "invalid", "holidays.0.day")
    assert api.get("admin1", CALENDAR_2027).get_json()["provisional"] is True


def test_admin_adds_a_user_who_can_then_get_a_token(api, app, client):
    users = counts(app)["users"]
    no_department = api.post("admin1", "/api/v1/admin/users", json={
        "username": "handler2", "password": "password-123", "role": "handler"})
    duplicate = api.post("admin1", "/api/v1/admin/users", json={
        "username": "handler1", "password": "password-123", "role": "handler",
        "department": "urban_management"})
    by_dispatcher = api.post("dispatcher1", "/api/v1/admin/users", json={
        "username": "handler3", "password": "password-123", "role": "handler",
        "department": "urban_management"})
    error_of(no_department, 400, "invalid", "department")
    error_of(duplicate, 400, "invalid", "username")
    error_of(by_dispatcher, 403, "forbidden")
    assert counts(app)["users"] == users
    error_of(client.post("/api/v1/auth/token",
                         json={"username": "handler2", "password": "password-123"}), 401,
             "unauthorized")

    r = api.post("admin1", "/api/v1/admin/users", json={
        "username": "handler2", "password": "password-123", "role": "handler",
        "department": "urban_management", "display_name": "城管局承办人二"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json() | {"username": "handler2", "role": "handler",  # the list's item
                           "department": "urban_management",
                           "display_name": "城管局承办人二"} == r.get_json()
    assert counts(app)["users"] == users + 1

    token = client.post("/api/v1/auth/token",
                        json={"username": "handler2", "password": "password-123"})
    assert token.status_code == 200
    headers = {"Authorization": f"Bearer {token.get_json()['token']}"}
    assert client.get("/api/v1/auth/me", headers=headers).get_json()["username"] == "handler2"
    n = dispatched(api)["number"]
    assert [t["number"] for t in client.get(TICKETS, headers=headers).get_json()["items"]] == [n]
