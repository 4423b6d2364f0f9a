"""`GET /healthz` names what is down; the OpenAPI document covers every route and says exactly
what the endpoints accept."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from dispatch.tickets.lifecycle import PUBLIC_ACTIONS, SYSTEM_ACTIONS
from tests.conftest import require_service
from tests.web.conftest import (
    TICKETS,
    action_schema,
    archived,
    error_of,
    required_body,
    schema_value,
    unused_port,
)

OPENAPI = "/api/v1/openapi.json"
USER_OF_ROLE = {"operator": "operator1", "dispatcher": "dispatcher1", "handler": "handler1",
                "grid_worker": "worker1", "supervisor": "supervisor1", "leader": "leader1",
                "admin": "admin1", "police_desk": "police1"}


@pytest.fixture
def other_app(tmp_path: Path):
    """Apps of their own configuration (a database or Redis URL), disposed afterwards."""
    from web.app import create_app
    from web.extensions import db

    made = []

    def make(database_url: str, **config):
        application = create_app({
            "TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
            "INSTANCE_PATH": str(tmp_path / f"instance{len(made)}"), "SECRET_KEY": "test",
            "REDIS_URL": None, **config,
        })
        made.append(application)
        return application

    yield make
    for application in made:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()


# ---------------------------------------------------------------- health


def test_healthz_is_ok_in_embedded_mode(app, client):
    app.config["REDIS_URL"] = None
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ok", "database": "ok", "queue": "embedded",
                            "classifier": "rules", "workers": "embedded", "beat": "embedded"}


def test_healthz_reports_the_queue_ok_with_a_reachable_redis(app, db_url, other_app):
    url = os.environ.get("HOTLINE_TEST_REDIS_URL")
    if not url:
        require_service("Redis (HOTLINE_TEST_REDIS_URL)")
    import redis

    from workers.heartbeats import KEY

    redis.Redis.from_url(url).delete(KEY)  # no worker or beat has run on this Redis db
    r = other_app(db_url, REDIS_URL=url).test_client().get("/healthz")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ok", "database": "ok", "queue": "ok",
                            "classifier": "rules", "workers": "none", "beat": "none",
                            "heartbeats": {}}


def test_healthz_is_503_naming_the_queue_when_redis_is_down(app, db_url, other_app):
    url = f"redis://127.0.0.1:{unused_port()}/0"
    r = other_app(db_url, REDIS_URL=url).test_client().get("/healthz")
    assert r.status_code == 503
    assert r.get_json() == {"status": "down", "database": "ok", "queue": "down",
                            "classifier": "rules", "workers": "unknown", "beat": "unknown"}


def test_healthz_is_503_naming_the_database_when_it_cannot_be_reached(tmp_path, other_app):
    # A SQLite "file" that is a directory, and a PostgreSQL server that is not there.
    for url in (f"sqlite:///{tmp_path}",
                f"postgresql+psycopg://postgres@127.0.0.1:{unused_port()}/hotline"):
        r = other_app(url).test_client().get("/healthz")
        assert r.status_code == 503, url
        assert r.get_json() == {"status": "down", "database": "down", "queue": "embedded",
                                "workers": "embedded", "beat": "embedded"}, url


def test_healthz_names_both_when_database_and_queue_are_down(tmp_path, other_app):
    application = other_app(f"sqlite:///{tmp_path}",
                            REDIS_URL=f"redis://127.0.0.1:{unused_port()}/0")
    r = application.test_client().get("/healthz")
    assert r.status_code == 503
    assert r.get_json() == {"status": "down", "database": "down", "queue": "down",
                            "workers": "unknown", "beat": "unknown"}


# ---------------------------------------------------------------- OpenAPI: coverage


@pytest.fixture
def doc(client) -> dict:
    r = client.get(OPENAPI)
    assert r.status_code == 200
    document = r.get_json()
    assert document["openapi"].startswith("3.")
    return document


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def _routes(app) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every rule under /api/v1, the action rule one per action."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        paths = [_openapi_path(rule.rule)]
        if rule.rule.endswith("/actions/<action>"):
            paths = [f"/api/v1/tickets/{{number}}/actions/{a}" for a in PUBLIC_ACTIONS]
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes |= {(p, method.lower()) for p in paths}
    return routes


def test_every_api_route_is_documented_and_nothing_else(app, doc):
    routes = _routes(app)
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert routes - documented == set()
    assert documented - routes == set()
    assert len(routes) > len(PUBLIC_ACTIONS)


def test_every_public_action_has_a_path_and_system_actions_have_none(doc):
    actions = {p.rsplit("/", 1)[-1] for p in doc["paths"] if "/actions/" in p}
    assert actions == set(PUBLIC_ACTIONS)
    assert actions.isdisjoint(SYSTEM_ACTIONS)
    for action in ("answer", "dispatch", "transfer_110", "merge", "void", "sign", "return",
                   "complete", "review_accept", "review_reject", "callback",
                   "request_extension", "approve_extension", "refuse_extension", "urge",
                   "supervise", "note"):  # CONTRACT.md's list
        assert action in actions


def test_each_action_body_requires_version_and_refuses_unknown_fields(doc):
    for action in PUBLIC_ACTIONS:
        op = doc["paths"][f"/api/v1/tickets/{{number}}/actions/{action}"]["post"]
        assert op["requestBody"]["required"] is True
        schema = action_schema(doc, action)
        assert "version" in schema["required"], action
        assert schema["properties"]["version"]["type"] == "integer"
        assert schema["additionalProperties"] is False, action
        assert {"403", "409", "400", "404"} <= set(op["responses"]), action


def test_ticket_create_schema_requires_exactly_channel_and_text(doc):
    op = doc["paths"]["/api/v1/tickets"]["post"]
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    # CONTRACT.md's create form, with the call it came in on and a patrol report's fields.
    assert ref.endswith("/TicketIntake")
    assert sorted(schema["required"]) == ["channel", "text"]
    assert "201" in op["responses"]


def test_error_responses_point_at_the_house_error_shape(doc):
    error = doc["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["code", "message"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (path, method)


# ---------------------------------------------------------------- OpenAPI: agrees with reality


def test_ticket_create_with_the_required_fields_only_is_accepted_and_each_is_needed(api, doc):
    schema = doc["components"]["schemas"]["TicketIntake"]
    body = schema_value(doc, schema)
    assert set(body) == {"channel", "text"}
    r = api.post("operator1", TICKETS, json=body)
    assert r.status_code == 201, r.get_json()
    for field in schema["required"]:
        r = api.post("operator1", TICKETS, json={k: v for k, v in body.items() if k != field})
        error_of(r, 400, "invalid", field)


def test_each_action_body_of_required_properties_only_passes_validation(api, doc):
    # An archived ticket that every documented role can see: from 110, with a grid worker.
    ticket = archived(api, channel="police110", grid_worker="worker1")
    n, version = ticket["number"], ticket["version"]
    answers, missing = {}, {}
    for action in PUBLIC_ACTIONS:
        op = doc["paths"][f"/api/v1/tickets/{{number}}/actions/{action}"]["post"]
        role = op["description"].removeprefix("Roles: ").split(", ")[0]
        user = USER_OF_ROLE[role]
        body = required_body(doc, action, version)
        r = api.post(user, f"{TICKETS}/{n}/actions/{action}", json=body)
        # Valid for the schema, so the only refusal left is the state: ARCHIVED.
        answers[action] = (r.status_code, r.get_json()["error"]["code"])
        for field in body:
            partial = {k: v for k, v in body.items() if k != field}
            r = api.post(user, f"{TICKETS}/{n}/actions/{action}", json=partial)
            error = r.get_json().get("error", {})
            if (r.status_code, error.get("field")) != (400, field):
                missing[(action, field)] = (r.status_code, r.get_json())
    assert answers == {a: (409, "conflict") for a in PUBLIC_ACTIONS}
    assert missing == {}


def test_actions_from_new_succeed_with_the_documented_required_properties_only(api, doc):
    # The actions open from NEW that need no reference to other data (a parent, a lead).
    for action, user in (("answer", "operator1"), ("transfer_110", "operator1"),
                         ("void", "dispatcher1"), ("urge", "supervisor1"),
                         ("supervise", "supervisor1"), ("note", "operator1")):
        ticket = api.create()
        body = required_body(doc, action, ticket["version"])
        r = api.post(user, f"{TICKETS}/{ticket['number']}/actions/{action}", json=body)
        assert r.status_code == 200, (action, r.get_json())
        assert r.get_json()["events"][-1]["action"] == action


def test_every_documented_list_parameter_is_accepted(api, doc):
    op = doc["paths"]["/api/v1/tickets"]["get"]
    names = {p["name"] for p in op["parameters"] if p["in"] == "query"}
    samples = {"status": "NEW", "channel": "phone", "type": "complaint", "urgency": "normal",
               "category": "urban", "department": "urban_management", "overdue": "false",
               "supervised": "false", "disputed": "false", "from": "2026-11-23",
               "to": "2026-11-23T23:00:00+08:00",
               "q": "占道", "phone": "13800138000", "page": "1", "per_page": "5"}
    assert names == set(samples)
    n = api.create()["number"]
    for name, value in samples.items():
        r = api.get("dispatcher1", TICKETS, query_string={name: value})
        assert r.status_code == 200, (name, r.get_json())
    # All at once (but the department: a NEW ticket has none yet) still find the ticket.
    everything = api.get("dispatcher1", TICKETS,
                         query_string={k: v for k, v in samples.items() if k != "department"})
    assert [t["number"] for t in everything.get_json()["items"]] == [n]
