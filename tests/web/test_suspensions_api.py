"""Suspension (挂起) over HTTP: handler1 asks, dispatcher1 approves, the ticket view shows the
stopped clock and offers the resume, handler1 resumes; each bad request a Chinese error that
names its field and writes nothing (row counts, suspensions included, and the ticket, with
`unchanged`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from tests.web.conftest import TICKETS, dispatched, error_of


def suspension_rows(app) -> list[tuple[str, str]]:
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT status, reason FROM suspensions ORDER BY id")).all()]


def test_request_approve_and_resume_over_http(api, app, clock, long_tokens):
    t = dispatched(api)
    n = t["number"]
    signed = api.act("handler1", n, "sign", version=t["version"]).get_json()
    assert "request_suspend" in signed["actions"] and "resume" not in signed["actions"]
    deadline = signed["assignments"][0]["complete_deadline"]

    asked = api.act("handler1", n, "request_suspend", version=signed["version"],
                    reason="等待法院判决", until="2026-11-30")
    assert asked.status_code == 200, asked.get_json()
    view = asked.get_json()
    assert [(s["status"], s["reason"]) for s in view["suspensions"]] == [
        ("pending", "等待法院判决")]
    assert "request_suspend" not in view["actions"]

    read = api.get("dispatcher1", f"{TICKETS}/{n}").get_json()
    assert {"approve_suspend", "refuse_suspend"} <= set(read["actions"])
    approved = api.act("dispatcher1", n, "approve_suspend", version=read["version"]).get_json()
    lead = approved["assignments"][0]
    assert datetime.fromisoformat(lead["suspended_until"]) == datetime.fromisoformat(
        "2026-11-30T00:00:00+08:00")
    assert lead["complete_deadline"] > deadline
    assert approved["suspensions"][0]["status"] == "active"

    clock.advance(days=1)
    read = api.get("handler1", f"{TICKETS}/{n}").get_json()
    assert "resume" in read["actions"]
    resumed = api.act("handler1", n, "resume", version=read["version"]).get_json()
    assert resumed["assignments"][0]["suspended_until"] is None
    assert resumed["suspensions"][0]["status"] == "ended"
    assert resumed["events"][-1]["action"] == "resume"
    assert suspension_rows(app) == [("ended", "等待法院判决")]


def test_bad_suspension_requests_are_refused_in_chinese_and_write_nothing(
        api, app, unchanged, long_tokens):
    t = dispatched(api)
    n = t["number"]
    signed = api.act("handler1", n, "sign", version=t["version"]).get_json()
    v = signed["version"]
    cases = [
        ({"until": "2026-11-30"}, "reason"),  # no reason
        ({"reason": "等待判决"}, "until"),  # no end date
        ({"reason": "等待判决", "until": "2026-11-20"}, "until"),  # in the past
        ({"reason": "等待判决", "until": "2027-01-31"}, "until"),  # beyond 30 days
    ]
    with unchanged(n):
        for body, field in cases:
            r = api.act("handler1", n, "request_suspend", version=v, **body)
            assert r.status_code in (400, 422), (body, r.status_code)
            error_of(r, r.status_code, r.get_json()["error"]["code"], field)
        # Resuming a ticket whose clock runs.
        r = api.act("handler1", n, "resume", version=v)
        assert "没有挂起" in error_of(r, 409, "conflict")["message"]
        # A dispatcher may not ask, an assignee may not decide.
        r = api.act("dispatcher1", n, "request_suspend", version=v, reason="x",
                    until="2026-11-30")
        error_of(r, 403, "forbidden")
    assert suspension_rows(app) == []
