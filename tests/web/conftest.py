"""Helpers for the HTTP tests: row counts and ticket state straight from the database, so a
test can show that a refused request wrote nothing, and small flows that bring a ticket to a
given state through the API."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import empty_database, pg_url

# Every table a request could write to (reference tables left out: nothing here edits them).
TABLES = ("tickets", "events", "assignments", "extensions", "suspensions", "contacts", "users",
          "api_tokens", "personal_data_reads", "settings", "ticket_counters", "console_events")
DEMO_USERS = ("operator1", "dispatcher1", "handler1", "street1", "worker1", "supervisor1",
              "leader1", "admin1", "police1")
TICKETS = "/api/v1/tickets"


# The HTTP layer's tests run once, on the database a county runs: PostgreSQL when the suite has
# one (CI always does), SQLite otherwise. What differs between the two databases is the domain's
# business and runs on both in tests/service; a web test that is about the difference itself
# parametrizes `db_url` explicitly (`indirect=True`).
WEB_DATABASE = "postgresql" if pg_url() else "sqlite"


@pytest.fixture(params=[WEB_DATABASE])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty schema on the suite's production-like database."""
    return empty_database(request.param, request, tmp_path)


def counts(app) -> dict[str, int]:
    """Row counts of the tables a request could write to, read on a fresh connection."""
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def ticket_state(app, number: str) -> dict[str, Any]:
    """What a refused action must leave alone: status, version, update time, history, clocks."""
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        row = conn.execute(text("SELECT id, status, version, updated_at FROM tickets "
                                "WHERE number = :n"), {"n": number}).one()
        events = conn.execute(text("SELECT count(*) FROM events WHERE ticket_id = :t"),
                              {"t": row.id}).scalar_one()
        assignments = conn.execute(text(
            "SELECT id, status, sign_deadline, complete_deadline FROM assignments "
            "WHERE ticket_id = :t ORDER BY id"), {"t": row.id}).all()
    return {"status": row.status, "version": row.version, "updated_at": str(row.updated_at),
            "events": events, "assignments": [tuple(map(str, a)) for a in assignments]}


@pytest.fixture
def tokens(api) -> None:
    """Bearer tokens for every demo user, issued before a test takes its 'before' picture."""
    for user in DEMO_USERS:
        api.headers(user)


@pytest.fixture
def unchanged(app, tokens) -> Callable[..., Any]:
    """`with unchanged(number, ...):` asserts that the block wrote no row anywhere and left
    the named tickets exactly as they were."""

    @contextmanager
    def check(*numbers: str) -> Iterator[None]:
        before = counts(app), {n: ticket_state(app, n) for n in numbers}
        yield
        after = counts(app), {n: ticket_state(app, n) for n in numbers}
        assert after == before

    return check


@pytest.fixture
def long_tokens(app) -> None:
    """Tokens that outlive the clock jumps of a test (the default lifetime is 12 hours)."""
    app.config["TOKEN_TTL_HOURS"] = 24 * 400


def error_of(response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """Assert the house error shape, its status, code and (when given) the field it names, and
    that its message is zh-CN."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    # Every message a person may read is zh-CN (CONTRACT.md); code and field stay English.
    assert any("\u3400" <= ch <= "\u9fff" for ch in error["message"]), error
    if field is not None:
        assert error.get("field") == field, error
    return error


def dispatched(api, lead: str = "urban_management", **fields: Any) -> dict[str, Any]:
    """A new ticket dispatched by dispatcher1 to `lead`; returns the dispatch answer."""
    grid_worker = fields.pop("grid_worker", None)
    ticket = api.create(**fields)
    payload: dict[str, Any] = {"lead": lead}
    if grid_worker:
        payload["grid_worker"] = grid_worker
    r = api.act("dispatcher1", ticket["number"], "dispatch", version=ticket["version"],
                **payload)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def archived(api, **fields: Any) -> dict[str, Any]:
    """A ticket taken through the whole flow by handler1 to ARCHIVED."""
    t = dispatched(api, **fields)
    n, v = t["number"], t["version"]
    for user, action, payload in (
        ("handler1", "sign", {}),
        ("handler1", "complete", {"result": "已清理占道摊点"}),
        ("dispatcher1", "review_accept", {}),
        ("operator1", "callback", {"satisfaction": "satisfied", "resolved": True}),
    ):
        r = api.act(user, n, action, version=v, **payload)
        assert r.status_code == 200, (action, r.get_json())
        v = r.get_json()["version"]
    assert r.get_json()["status"] == "ARCHIVED"
    return r.get_json()


def mismatches(cases: list[tuple[str, Any, int, str, str | None]],
               send: Callable[[Any], Any]) -> list[tuple[str, int, Any]]:
    """Send every case `(name, request, status, code, field)`; return those whose answer is
    not that status with the house error shape, that code and that field (so one test can
    report all the cases that went wrong at once)."""
    wrong = []
    for name, request, status, code, field in cases:
        r = send(request)
        try:
            error_of(r, status, code, field)
        except AssertionError:
            wrong.append((name, r.status_code, r.get_json(silent=True)))
    return wrong


def personal_reads(app) -> list[tuple[str, str]]:
    """The audit of unmasked personal-data reads, as (username, ticket number), in order."""
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT u.username, t.number FROM personal_data_reads r "
            "JOIN users u ON u.id = r.user_id JOIN tickets t ON t.id = r.ticket_id "
            "ORDER BY r.id")).all()
    return [tuple(r) for r in rows]


def schema_value(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A value that satisfies a JSON schema of the OpenAPI document (the simple shapes it
    uses: $ref, anyOf, enum, string, integer, number, boolean, array, object)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return schema_value(doc, doc["components"]["schemas"][name])
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return schema_value(doc, options[0])
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "string" and schema.get("format") == "date":
        return "2026-12-01"
    if kind == "string":
        return "测" * max(schema.get("minLength", 1), 1)
    if kind == "integer":
        return max(schema.get("minimum", 1), 1)
    if kind == "number":
        return schema.get("minimum", 0)
    if kind == "boolean":
        return True
    if kind == "array":
        return [schema_value(doc, schema["items"])] * schema.get("minItems", 0)
    if kind == "object":
        return {k: schema_value(doc, schema["properties"][k])
                for k in schema.get("required", [])}
    raise AssertionError(f"no value for schema {schema}")


def action_schema(doc: dict[str, Any], action: str) -> dict[str, Any]:
    """The request-body schema the OpenAPI document gives for one ticket action."""
    op = doc["paths"][f"/api/v1/tickets/{{number}}/actions/{action}"]["post"]
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def required_body(doc: dict[str, Any], action: str, version: int) -> dict[str, Any]:
    """A body for an action with the required properties only, built from the document."""
    body = schema_value(doc, action_schema(doc, action))
    body["version"] = version
    return body


def unused_port() -> int:
    """A local port nothing listens on (an outage to point a setting at)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def unreachable_database_app(tmp_path: Path) -> Iterator[Any]:
    """An app whose PostgreSQL server is not there (the WeChat account configured, token
    `wx-token`)."""
    from web.app import create_app
    from web.extensions import db

    application = create_app({
        "TESTING": True, "SECRET_KEY": "test", "REDIS_URL": None,
        "INSTANCE_PATH": str(tmp_path / "instance"), "WECHAT_TOKEN": "wx-token",
        "SQLALCHEMY_DATABASE_URI":
            f"postgresql+psycopg://postgres@127.0.0.1:{unused_port()}/hotline",
    })
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()
