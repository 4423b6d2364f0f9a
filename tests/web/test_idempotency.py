"""`Idempotency-Key` on intake and the ticket actions: the same key with the same request
within 24 hours gives the first answer again and writes nothing; with another request, 422 and
nothing written; two requests with one key at once: one writes, the other gets its answer."""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import text

from tests.web.conftest import TICKETS, counts, error_of, ticket_state

INTAKE = {"channel": "phone", "text": "小区门口有人占道经营，堵住了出口",
          "citizen": {"name": "张三", "phone": "13800138000"},
          "type": "complaint", "category": "urban", "urgency": "normal"}
KEY = "Idempotency-Key"


def _post(api, user: str, url: str, body, key: str | None, raw: bytes | None = None):
    headers = {**api.headers(user), **({KEY: key} if key is not None else {})}
    if raw is not None:
        return api.client.post(url, data=raw, content_type="application/json", headers=headers)
    return api.client.post(url, json=body, headers=headers)


def _keys(app) -> int:
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM idempotency_keys")).scalar_one()


def test_the_same_key_and_intake_give_the_first_answer_again_and_write_nothing(app, api,
                                                                                 tokens):
    first = _post(api, "operator1", TICKETS, INTAKE, "intake-0001")
    assert first.status_code == 201, first.get_json()
    assert "Idempotent-Replayed" not in first.headers
    before = counts(app)
    # The same request, its JSON spaced and ordered otherwise.
    again = _post(api, "operator1", TICKETS, None, "intake-0001",
                  raw=json.dumps(dict(reversed(INTAKE.items())), indent=2).encode())
    assert counts(app) == before
    assert again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _keys(app) == 1


def test_the_same_key_with_another_body_is_422_and_writes_nothing(app, api, unchanged):
    first = _post(api, "operator1", TICKETS, INTAKE, "intake-0002")
    assert first.status_code == 201
    with unchanged(first.get_json()["number"]):
        r = _post(api, "operator1", TICKETS, {**INTAKE, "text": "另一件事：路灯不亮"},
                  "intake-0002")
    error_of(r, 422, "idempotency_key_reused", KEY)


def test_without_a_key_each_intake_is_stored(app, api, tokens):
    before = counts(app)["tickets"]
    for _ in range(2):
        assert _post(api, "operator1", TICKETS, INTAKE, None).status_code == 201
    assert counts(app)["tickets"] == before + 2
    assert _keys(app) == 0


def test_keys_belong_to_their_user(app, api, tokens):
    from web.extensions import db

    with app.app_context():  # a second operator
        db.session.execute(text("UPDATE users SET role = 'operator' WHERE username = "
                                "'dispatcher1'"))
        db.session.commit()
    a = _post(api, "operator1", TICKETS, INTAKE, "shared-key")
    b = _post(api, "dispatcher1", TICKETS, INTAKE, "shared-key")
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.get_json()["number"] != b.get_json()["number"]


def test_a_refused_request_does_not_use_up_its_key(app, api, tokens):
    bad = _post(api, "operator1", TICKETS, {**INTAKE, "text": ""}, "intake-0003")
    error_of(bad, 400, "invalid", "text")
    assert _keys(app) == 0
    good = _post(api, "operator1", TICKETS, INTAKE, "intake-0003")
    assert good.status_code == 201


def test_a_key_is_forgotten_after_24_hours(app, api, clock, long_tokens, tokens):
    first = _post(api, "operator1", TICKETS, INTAKE, "intake-0004")
    clock.advance(hours=23, minutes=59)
    assert _post(api, "operator1", TICKETS, INTAKE, "intake-0004").get_json() == first.get_json()
    clock.advance(minutes=2)
    later = _post(api, "operator1", TICKETS, INTAKE, "intake-0004")
    assert later.status_code == 201
    assert later.get_json()["number"] != first.get_json()["number"]
    assert _keys(app) == 1


@pytest.mark.parametrize("key", ["", "x" * 201, "带中文的键", "with space"])
def test_a_malformed_key_is_400_naming_the_header_and_writes_nothing(api, unchanged, key):
    with unchanged():
        r = _post(api, "operator1", TICKETS, INTAKE, key)
    error_of(r, 400, "invalid", KEY)


def test_an_action_with_a_key_is_taken_once(app, api, tokens):
    ticket = api.create()
    n, v = ticket["number"], ticket["version"]
    url = f"{TICKETS}/{n}/actions/urge"
    first = _post(api, "dispatcher1", url, {"version": v, "reason": "市民再次来电"}, "urge-1")
    assert first.status_code == 200, first.get_json()
    state = ticket_state(app, n)
    again = _post(api, "dispatcher1", url, {"version": v, "reason": "市民再次来电"}, "urge-1")
    assert ticket_state(app, n) == state
    assert (again.status_code, again.get_json()) == (200, first.get_json())
    # The same key on another action of the ticket is another request.
    other = _post(api, "dispatcher1", f"{TICKETS}/{n}/actions/urge",
                  {"version": first.get_json()["version"]}, "urge-1")
    error_of(other, 422, "idempotency_key_reused", KEY)
    assert ticket_state(app, n) == state


def test_the_document_offers_the_key_on_intake_and_every_action(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    ops = [doc["paths"][TICKETS]["post"]] + [
        ops["post"] for path, ops in doc["paths"].items() if "/actions/" in path]
    assert len(ops) > 10
    for op in ops:
        assert any(p["name"] == KEY and p["in"] == "header" for p in op["parameters"])
        assert "422" in op["responses"]


def test_two_intakes_with_one_key_at_once_store_one_ticket_and_give_both_its_answer(
        app, api, tokens, db_url, monkeypatch):
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite serialises writers by refusing one (409): the race is PostgreSQL's")
    import web.api.tickets as routes

    real = routes.log_demand  # the route's one domain call (intake, with its call or patrol)

    def slow_intake(*args, **kwargs):
        result = real(*args, **kwargs)
        time.sleep(0.4)  # the key and ticket written, not yet committed: the other arrives
        return result

    monkeypatch.setattr(routes, "log_demand", slow_intake)
    before = counts(app)["tickets"]
    headers = {**api.headers("operator1"), KEY: "intake-race"}
    start = threading.Barrier(2)
    answers: list = [None, None]

    def send(i: int) -> None:
        client = app.test_client()
        start.wait()
        time.sleep(0.1 * i)
        r = client.post(TICKETS, json=INTAKE, headers=headers)
        answers[i] = (r.status_code, r.get_json())

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert answers[0] is not None and answers[1] is not None
    assert answers[0] == answers[1]
    assert answers[0][0] == 201
    assert counts(app)["tickets"] == before + 1
    assert _keys(app) == 1


def test_the_clock_sweep_forgets_keys_older_than_24_hours(app, api, clock, long_tokens, tokens):
    from workers.rounds import sweep_round

    _post(api, "operator1", TICKETS, INTAKE, "intake-0005")
    sweep_round(app)
    assert _keys(app) == 1
    clock.advance(hours=24, minutes=1)
    sweep_round(app)
    assert _keys(app) == 0
