"""A database that goes away just after a request committed: the write stands, so the answer is
the write's own, never a 503 (found by tests/bench/test_bench_faults.py: PostgreSQL stopped
between an Open311 intake's commit and its answer; the app answered 503, the client retried as
503 invites, and the demand was stored twice). Channels without an idempotency key (Open311, an
intake or action sent without `Idempotency-Key`) cannot tell a retry from a new request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from integrations.open311.fake import Open311App
from tests.conftest import cell_centre, make_test_grid
from tests.web.conftest import TICKETS

KEY = "test-open311-key"
LEAF = "urban.appearance.street_vending"


@pytest.fixture
def app(app, db_url):  # db_url named so that pytest keeps its backends
    from web.hooks import open311

    if "open311" not in app.blueprints:
        app.register_blueprint(open311.bp)
    app.config["OPEN311_API_KEYS"] = (KEY,)
    from web.extensions import db

    with app.app_context():
        make_test_grid(db.session)
        db.session.commit()
    return app


@contextmanager
def database_lost_after_a_ticket_commit(app) -> Iterator[list[str]]:
    """From the commit of a transaction that wrote a ticket on, every statement fails as on a
    PostgreSQL that was stopped (`OperationalError`); the statements refused are listed."""
    from dispatch.core.models import Ticket
    from web.extensions import db

    state = {"ticket": False, "down": False}
    refused: list[str] = []

    def before_flush(session, context, instances) -> None:
        if any(isinstance(o, Ticket) for o in session.new):
            state["ticket"] = True

    def after_commit(session) -> None:
        if state["ticket"]:
            state["down"] = True

    def after_rollback(session) -> None:
        if not state["down"]:
            state["ticket"] = False

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        if state["down"]:
            refused.append(statement.split()[0])
            raise OperationalError(statement, parameters,
                                   Exception("terminating connection due to administrator "
                                             "command"))

    with app.app_context():
        engine = db.engine
    listeners = [(Session, "before_flush", before_flush), (Session, "after_commit", after_commit),
                 (Session, "after_rollback", after_rollback),
                 (engine, "before_cursor_execute", before_cursor_execute)]
    for target, name, fn in listeners:
        event.listen(target, name, fn)
    try:
        yield refused
    finally:
        for target, name, fn in listeners:
            event.remove(target, name, fn)


def _tickets(app, text: str) -> int:
    from dispatch.core.models import Ticket
    from web.extensions import db

    with app.app_context():
        try:
            return db.session.scalar(select(func.count()).select_from(Ticket)
                                     .where(Ticket.text.contains(text)))
        finally:
            db.session.remove()


def test_an_open311_post_whose_database_goes_away_after_the_commit_answers_its_number(
        app, client):
    text = "宏力大道有人占道经营（断库测试一）"
    lon, lat = cell_centre(0, 0, 0)
    o311 = Open311App(client, KEY)
    with database_lost_after_a_ticket_commit(app) as refused:
        r = o311.report(LEAF, text, lat=lat, long=lon)
    assert refused, "the database never went away: the test does not test anything"
    assert r.status_code == 200, r.get_data(as_text=True)
    [created] = o311.body(r)
    assert created["service_request_id"].startswith("12345-")
    assert _tickets(app, text) == 1


def test_an_intake_without_a_key_whose_database_goes_away_after_the_commit_answers_201(
        app, api):
    text = "小区门口有人占道经营（断库测试二）"
    headers = api.headers("operator1")
    with database_lost_after_a_ticket_commit(app) as refused:
        r = api.client.post(TICKETS, headers=headers, json={
            "channel": "phone", "text": text, "type": "complaint", "category": "urban"})
    assert refused, "the database never went away: the test does not test anything"
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.get_json()["number"].startswith("12345-")
    assert _tickets(app, text) == 1


def test_a_database_gone_away_before_the_request_s_session_is_removed_is_no_500(app, api):
    """The answer is made; then PostgreSQL goes away, and the ROLLBACK with which the session is
    removed at the end of the request fails. The answer stands (it was a 500 page from gunicorn:
    seen for a WeChat push when PostgreSQL stopped, in tests/bench/test_bench_faults.py)."""
    from sqlalchemy.engine import Connection

    from web.extensions import db

    state = {"armed": False, "refused": 0}

    def arm(response):
        db.session.execute(text("SELECT 1"))  # a transaction left open, as many requests do
        state["armed"] = True
        return response

    def rollback(conn: Connection) -> None:
        if state["armed"]:
            state["refused"] += 1
            raise OperationalError("ROLLBACK", {}, Exception(
                "terminating connection due to administrator command"))

    app.after_request(arm)  # before the app's first request
    headers = api.headers("operator1")
    state["armed"] = False
    with app.app_context():
        engine = db.engine
    event.listen(engine, "rollback", rollback)
    try:
        r = api.client.get(TICKETS, headers=headers)
    finally:
        event.remove(engine, "rollback", rollback)
        state["armed"] = False
    assert state["refused"], "no ROLLBACK failed: the test does not test anything"
    assert r.status_code == 200, r.get_data(as_text=True)
    assert "items" in r.get_json()
    assert api.client.get(TICKETS, headers=headers).status_code == 200  # the next one too
