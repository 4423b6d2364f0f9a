"""Who may call, and what each user sees: tokens and sessions, department and assignment
scoping, and the masking and audit of citizens' personal data."""

from __future__ import annotations

import base64
from datetime import datetime

from dispatch.tickets.lifecycle import PUBLIC_ACTIONS
from tests.web.conftest import (
    TICKETS,
    counts,
    dispatched,
    error_of,
    personal_reads,
    required_body,
    ticket_state,
)

TOKEN = "/api/v1/auth/token"
LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"
PASSWORD = "/api/v1/auth/password"


def _numbers(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [t["number"] for t in response.get_json()["items"]]


# ---------------------------------------------------------------- bearer tokens


def test_token_with_wrong_password_is_401_and_writes_no_token(app, client):
    before = counts(app)
    wrong = client.post(TOKEN, json={"username": "operator1", "password": "demo1234"})
    nobody = client.post(TOKEN, json={"username": "nobody", "password": "demo12345"})
    assert counts(app) == before
    error_of(wrong, 401, "unauthorized")
    error_of(nobody, 401, "unauthorized")
    assert wrong.get_json() == nobody.get_json()  # does not tell which part was wrong


def test_token_request_without_password_is_400_naming_it(app, client):
    before = counts(app)
    r = client.post(TOKEN, json={"username": "operator1"})
    assert counts(app) == before
    error_of(r, 400, "invalid", "password")


def test_token_works_until_its_expiry_then_401(app, client, clock):
    r = client.post(TOKEN, json={"username": "operator1", "password": "demo12345"})
    assert r.status_code == 200
    token, expires_at = r.get_json()["token"], datetime.fromisoformat(r.get_json()["expires_at"])
    assert expires_at > clock.now()
    headers = {"Authorization": f"Bearer {token}"}

    clock.advance(seconds=(expires_at - clock.now()).total_seconds() - 1)
    assert client.get(ME, headers=headers).get_json()["username"] == "operator1"
    clock.advance(seconds=1)
    assert clock.now() == expires_at
    error_of(client.get(ME, headers=headers), 401, "unauthorized")
    error_of(client.get(TICKETS, headers=headers), 401, "unauthorized")


def test_authorization_other_than_a_valid_bearer_token_is_401(client):
    basic = base64.b64encode(b"operator1:demo12345").decode()
    for header in (f"Basic {basic}", "Bearer", "Bearer    ", "Bearer not-a-token",
                   "Token abc", "operator1:demo12345"):
        error_of(client.get(ME, headers={"Authorization": header}), 401, "unauthorized")


def test_no_credentials_is_401_everywhere_but_the_public_endpoints(app, client):
    before = counts(app)
    for method, url, body in (
        ("get", ME, None),
        ("get", TICKETS, None),
        ("post", TICKETS, {"channel": "phone", "text": "占道经营"}),
        ("get", f"{TICKETS}/12345-20261123-000001", None),
        ("post", f"{TICKETS}/12345-20261123-000001/actions/note", {"version": 1, "text": "x"}),
        ("post", "/api/v1/contacts", {"channel": "phone", "kind": "silent"}),
        ("put", "/api/v1/admin/time-limits", {}),
        ("post", PASSWORD, {"old_password": "demo12345", "new_password": "x" * 10}),
    ):
        r = getattr(client, method)(url, json=body)
        error_of(r, 401, "unauthorized")
    assert counts(app) == before
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/healthz").status_code == 200


# ---------------------------------------------------------------- sessions


def _session_login(client, username: str) -> dict[str, str]:
    """Sign in with the session cookie; the CSRF header the session's changes need."""
    r = client.post(LOGIN, json={"username": username, "password": "demo12345"})
    assert r.status_code == 200, r.get_json()
    return {"X-CSRFToken": r.get_json()["csrf_token"]}


def test_session_login_then_me_and_tickets_work_with_the_cookie_until_logout(app, client):
    r = client.post(LOGIN, json={"username": "dispatcher1", "password": "demo12345"})
    assert r.status_code == 200
    assert r.get_json()["role"] == "dispatcher"
    assert client.get_cookie("session") is not None
    me = client.get(ME).get_json()
    # The token is signed with a timestamp, so /me's copy may differ from the login's in its
    # last characters; what matters is that it is the session's token: logout accepts it.
    me_csrf = me.pop("csrf_token")
    assert me == {"username": "dispatcher1", "role": "dispatcher",
                  "display_name": "派单员一", "department": None,
                  "must_change_password": False}
    assert client.get(TICKETS).status_code == 200

    error_of(client.post("/api/v1/auth/logout", headers={"X-CSRFToken": "forged"}), 400, "csrf")
    assert client.get(ME).status_code == 200
    assert client.post("/api/v1/auth/logout",
                       headers={"X-CSRFToken": me_csrf}).status_code == 200
    error_of(client.get(ME), 401, "unauthorized")
    error_of(client.get(TICKETS), 401, "unauthorized")


def test_a_session_change_without_the_csrf_token_is_refused_and_writes_nothing(app, client):
    csrf = _session_login(client, "operator1")
    body = {"channel": "phone", "text": "路灯不亮"}
    before = counts(app)
    for headers in ({}, {"X-CSRFToken": "forged"}):
        error_of(client.post(TICKETS, json=body, headers=headers), 400, "csrf")
    assert counts(app) == before
    assert client.post(TICKETS, json=body, headers=csrf).status_code == 201
    # A bearer client carries its own credential: no token needed, no cookie involved.
    fresh = app.test_client()
    token = fresh.post(TOKEN, json={"username": "operator1", "password": "demo12345"}
                       ).get_json()["token"]
    assert fresh.post(TICKETS, json=body, headers={"Authorization": f"Bearer {token}"}
                      ).status_code == 201


def test_session_login_with_wrong_password_is_401_and_signs_nobody_in(app, client):
    r = client.post(LOGIN, json={"username": "dispatcher1", "password": "wrong-password"})
    error_of(r, 401, "unauthorized")
    error_of(client.get(ME), 401, "unauthorized")


def test_password_change_ends_other_sessions_tokens_and_the_old_password(app):
    mine, other = app.test_client(), app.test_client()
    csrf = _session_login(mine, "handler1")
    _session_login(other, "handler1")
    old_token = app.test_client().post(
        TOKEN, json={"username": "handler1", "password": "demo12345"}).get_json()["token"]
    bearer = {"Authorization": f"Bearer {old_token}"}
    assert app.test_client().get(ME, headers=bearer).status_code == 200
    r = mine.post(PASSWORD, json={"old_password": "demo12345", "new_password": "new-secret-9"},
                  headers=csrf)
    assert r.status_code == 200, r.get_json()

    assert mine.get(ME).get_json()["username"] == "handler1"  # the changer stays signed in
    error_of(other.get(ME), 401, "unauthorized")
    error_of(app.test_client().get(ME, headers=bearer), 401, "unauthorized")
    fresh = app.test_client()
    error_of(fresh.post(LOGIN, json={"username": "handler1", "password": "demo12345"}), 401,
             "unauthorized")
    error_of(fresh.post(TOKEN, json={"username": "handler1", "password": "demo12345"}), 401,
             "unauthorized")
    assert fresh.post(LOGIN, json={"username": "handler1", "password": "new-secret-9"}
                      ).status_code == 200


def test_password_change_with_wrong_old_password_or_short_new_one_changes_nothing(app, client):
    csrf = _session_login(client, "handler1")
    error_of(client.post(PASSWORD, json={"old_password": "guess-1234",
                                         "new_password": "new-secret-9"}, headers=csrf),
             401, "unauthorized")
    error_of(client.post(PASSWORD, json={"old_password": "demo12345", "new_password": "short"},
                         headers=csrf), 400, "invalid", "new_password")
    fresh = app.test_client()
    assert fresh.post(TOKEN, json={"username": "handler1", "password": "demo12345"}
                      ).status_code == 200


# ---------------------------------------------------------------- scoping


def test_department_handler_sees_its_tickets_and_another_department_gets_404(api, app, tokens):
    ours = dispatched(api, lead="urban_management")
    n = ours["number"]

    read = api.get("handler1", f"{TICKETS}/{n}")
    assert read.status_code == 200
    assert read.get_json()["assignments"][0]["department"] == "urban_management"
    assert n in _numbers(api.get("handler1", TICKETS))

    before = counts(app), ticket_state(app, n)
    error_of(api.get("street1", f"{TICKETS}/{n}"), 404, "not_found")
    for action, payload in (("sign", {}), ("note", {"text": "看看"}),
                            ("return", {"reason": "不是我们的"})):
        r = api.post("street1", f"{TICKETS}/{n}/actions/{action}",
                     json={"version": ours["version"], **payload})
        error_of(r, 404, "not_found")
    assert n not in _numbers(api.get("street1", TICKETS))
    assert api.get("street1", TICKETS, query_string={"q": n}).get_json()["total"] == 0
    assert (counts(app), ticket_state(app, n)) == before


def test_grid_worker_sees_only_tickets_where_they_are_the_grid_worker(api):
    theirs = dispatched(api, lead="street_pudong", grid_worker="worker1")
    not_theirs = dispatched(api, lead="street_pudong")

    assert _numbers(api.get("worker1", TICKETS)) == [theirs["number"]]
    assert api.get("worker1", f"{TICKETS}/{theirs['number']}").status_code == 200
    error_of(api.get("worker1", f"{TICKETS}/{not_theirs['number']}"), 404, "not_found")
    r = api.act("worker1", theirs["number"], "sign", version=theirs["version"])
    assert r.status_code == 200 and r.get_json()["status"] == "SIGNED"
    error_of(api.act("worker1", not_theirs["number"], "sign", version=not_theirs["version"]),
             404, "not_found")


def test_police_desk_sees_only_police110_tickets(api):
    from_110 = api.create(channel="police110", text="110 转来：小区门口车辆堵住出口")
    by_phone = api.create()

    assert _numbers(api.get("police1", TICKETS)) == [from_110["number"]]
    assert api.get("police1", f"{TICKETS}/{from_110['number']}").status_code == 200
    error_of(api.get("police1", f"{TICKETS}/{by_phone['number']}"), 404, "not_found")


def test_leader_reads_everything_but_may_take_no_action_except_a_note(api, app):
    ticket = dispatched(api, lead="street_pudong", grid_worker="worker1")
    other = api.create(channel="police110", text="110 转来：噪音扰民")
    n = ticket["number"]
    assert set(_numbers(api.get("leader1", TICKETS))) == {n, other["number"]}
    assert api.get("leader1", f"{TICKETS}/{n}").status_code == 200

    doc = api.client.get("/api/v1/openapi.json").get_json()
    before = counts(app), ticket_state(app, n)
    refused = {}
    for action in PUBLIC_ACTIONS:
        if action == "note":
            continue
        r = api.post("leader1", f"{TICKETS}/{n}/actions/{action}",
                     json=required_body(doc, action, ticket["version"]))
        refused[action] = (r.status_code, r.get_json()["error"]["code"])
    assert refused == {a: (403, "forbidden") for a in PUBLIC_ACTIONS if a != "note"}
    assert (counts(app), ticket_state(app, n)) == before

    # DOMAIN.md: a note may be added by anyone who can see the ticket.
    r = api.act("leader1", n, "note", version=ticket["version"], text="请加快办理")
    assert r.status_code == 200
    assert r.get_json()["events"][-1]["actor"] == "leader1"


# ---------------------------------------------------------------- privacy


def test_handler_sees_a_masked_citizen_and_no_read_is_logged(api, app):
    n = dispatched(api)["number"]
    reads = personal_reads(app)

    citizen = api.get("handler1", f"{TICKETS}/{n}").get_json()["citizen"]
    assert citizen["phone"] == "138****8000"
    assert citizen["name"] == "张*"
    assert citizen["openid"] is None and citizen["hidden"] is False
    listed = api.get("handler1", TICKETS).get_json()["items"]
    assert [t["citizen"]["phone"] for t in listed] == ["138****8000"]
    assert [t["citizen"]["name"] for t in listed] == ["张*"]
    assert personal_reads(app) == reads


def test_grid_worker_sees_a_masked_citizen_in_read_and_list(api, app):
    n = dispatched(api, lead="street_pudong", grid_worker="worker1")["number"]
    reads = personal_reads(app)
    assert api.get("worker1", f"{TICKETS}/{n}").get_json()["citizen"]["phone"] == "138****8000"
    assert [t["citizen"]["phone"] for t in api.get("worker1", TICKETS).get_json()["items"]] == [
        "138****8000"]
    assert personal_reads(app) == reads


def test_direct_contact_shows_the_handler_the_full_phone_and_logs_the_read(api, app):
    n = dispatched(api, citizen={"name": "张三", "phone": "13800138000",
                                 "direct_contact": True})["number"]
    reads = personal_reads(app)
    citizen = api.get("handler1", f"{TICKETS}/{n}").get_json()["citizen"]
    assert citizen["phone"] == "13800138000"
    assert citizen["name"] == "张三"
    assert citizen["direct_contact"] is True
    assert personal_reads(app) == reads + [("handler1", n)]


def test_a_masked_read_shows_a_leader_the_masked_citizen_and_logs_nothing(api, app):
    # The dashboard opens tickets this way: leaders see figures, not contact details.
    n = dispatched(api, citizen={"name": "张三", "phone": "13800138000",
                                 "direct_contact": True})["number"]
    reads = personal_reads(app)
    for user in ("leader1", "dispatcher1", "handler1"):
        citizen = api.get(user, f"{TICKETS}/{n}?masked=1").get_json()["citizen"]
        assert (citizen["name"], citizen["phone"], citizen["openid"]) == (
            "张*", "138****8000", None), user
    assert personal_reads(app) == reads
    assert api.get("leader1", f"{TICKETS}/{n}").get_json()["citizen"]["phone"] == "13800138000"
    assert personal_reads(app) == reads + [("leader1", n)]


def test_a_read_with_a_bad_option_is_refused_and_logs_nothing(api, app):
    n = dispatched(api, citizen={"name": "张三", "phone": "13800138000"})["number"]
    reads = personal_reads(app)
    for query in ("masked=perhaps", "mask=1"):
        r = api.get("leader1", f"{TICKETS}/{n}?{query}")
        assert r.status_code == 400, query
        assert r.get_json()["error"]["field"] == query.split("=")[0], query
    assert personal_reads(app) == reads


def test_confidential_citizen_is_hidden_from_all_but_operators(api, app):
    n = dispatched(api, citizen={"name": "王五", "phone": "13800138000",
                                 "confidential": True})["number"]
    reads = personal_reads(app)
    for user in ("dispatcher1", "handler1", "leader1", "supervisor1"):
        citizen = api.get(user, f"{TICKETS}/{n}").get_json()["citizen"]
        assert citizen["hidden"] is True, user
        assert (citizen["name"], citizen["phone"], citizen["openid"]) == (None, None, None)
        listed = api.get(user, TICKETS).get_json()["items"]
        assert [(t["citizen"]["hidden"], t["citizen"]["phone"]) for t in listed] == [
            (True, None)], user
    assert personal_reads(app) == reads  # nothing personal was shown

    citizen = api.get("operator1", f"{TICKETS}/{n}").get_json()["citizen"]
    assert (citizen["name"], citizen["phone"], citizen["hidden"]) == ("王五", "13800138000",
                                                                      False)
    assert personal_reads(app) == reads + [("operator1", n)]


def test_unmasked_reads_are_logged_per_ticket_for_read_and_list(api, app):
    first, second = api.create(), api.create(citizen={"name": "李四", "phone": "13900139000"})
    anonymous = api.create(citizen={"anonymous": True})
    reads = personal_reads(app)

    citizen = api.get("dispatcher1", f"{TICKETS}/{first['number']}").get_json()["citizen"]
    assert citizen["phone"] == "13800138000"
    assert personal_reads(app) == reads + [("dispatcher1", first["number"])]

    listed = api.get("dispatcher1", TICKETS).get_json()["items"]
    assert {t["citizen"]["phone"] for t in listed} == {"13800138000", "13900139000", None}
    logged = personal_reads(app)[len(reads) + 1:]
    assert sorted(logged) == sorted([("dispatcher1", first["number"]),
                                     ("dispatcher1", second["number"])])
    assert anonymous["number"] not in {n for _, n in logged}
