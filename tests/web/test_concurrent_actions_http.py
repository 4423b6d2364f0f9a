"""Two people acting on one ticket at the same moment over HTTP: exactly one wins, the other
gets 409 and nothing of theirs is written (PostgreSQL, real threads)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from dispatch.core.models import Event, Ticket

# The race is proven on PostgreSQL (SQLite serialises writers by a file lock).
pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


def _completed_ticket(api) -> tuple[str, int]:
    number = api.create()["number"]
    assert api.act("dispatcher1", number, "dispatch", lead="urban_management").status_code == 200
    assert api.act("handler1", number, "sign").status_code == 200
    r = api.act("handler1", number, "complete", result="已处理")
    assert r.status_code == 200
    return number, r.get_json()["version"]


def test_review_accept_and_reject_at_once_one_wins_the_other_gets_409(app, api, db_url):
    from web.extensions import db

    headers = api.headers("dispatcher1")
    for _ in range(10):
        number, version = _completed_ticket(api)
        barrier = threading.Barrier(2)
        results: dict[str, tuple[int, dict]] = {}

        def act(action: str, payload: dict, number=number, version=version,
                barrier=barrier, results=results) -> None:
            client = app.test_client()
            barrier.wait()
            r = client.post(f"/api/v1/tickets/{number}/actions/{action}", headers=headers,
                            json={"version": version, **payload})
            results[action] = (r.status_code, r.get_json())

        threads = [threading.Thread(target=act, args=("review_accept", {})),
                   threading.Thread(target=act, args=("review_reject", {"reason": "照片不清"}))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        codes = sorted(code for code, _ in results.values())
        assert codes == [200, 409], results
        loser = next(body for code, body in results.values() if code == 409)
        assert loser["error"]["code"] in ("stale_version", "conflict")
        winner = next(a for a, (code, _) in results.items() if code == 200)
        with app.app_context():
            ticket = db.session.scalar(select(Ticket).where(Ticket.number == number))
            actions = db.session.scalars(select(Event.action).where(
                Event.ticket_id == ticket.id, Event.action.like("review_%"))).all()
            assert actions == [winner]
            assert ticket.status == ("REVIEWED" if winner == "review_accept" else "SIGNED")
            assert ticket.version == version + 1
            total = db.session.scalar(select(func.count()).select_from(Event)
                                      .where(Event.ticket_id == ticket.id))
            assert total == 5  # intake, dispatch, sign, complete, and the winner's review
