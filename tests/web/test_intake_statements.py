"""The intake request path stays short: `POST /api/v1/tickets` (a demand text, a phone, a point
in the demo county, type and category left to the classifier) costs a bounded number of SQL
statements, counted on the engine in the request's thread, and none of them writes the
statistics' rollups (they are refreshed in batches off the request path). The console's relay
numbers and sends the events in its own thread, as in `hotline serve`; reference data
(settings, rules, categories, catalogue, roster, users, place names) is read once per process
and kept under the shared reference revision (dispatch/core/memo.py), one read a request."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import cell_centre, cell_code, make_test_grid, statements

LIMIT = 15
ROLLUP_TABLES = ("stat_daily", "stat_tickets", "stat_assignments", "stat_reviews", "stat_head")
# A cell of 蒲东街道.
POINT = dict(zip(("lon", "lat"), cell_centre(0, 0, 0), strict=True))


def shape(statement: str) -> str:
    """A statement reduced to its verb and first table, for a readable summary."""
    verb = statement.split(" ", 1)[0]
    table = re.search(r"(?:FROM|INTO|UPDATE)\s+(\w+)", statement)
    return f"{verb} {table.group(1) if table else ''}"


@pytest.fixture
def county(app) -> Iterator[Any]:
    """The test grid (two streets of the demo county, built in milliseconds where the whole
    county takes seconds) with a catalogue rule, a grid worker on duty, the classifier's
    phrases and the demo's 智能派单 settings: every step of intake has its data."""
    from dispatch.triage.rules import load_classifier_rules
    from grid import catalogue, duties
    from grid.demo.reference import load_demo_triage_settings
    from grid.locator import build_index
    from web.extensions import db

    with app.app_context():
        index = build_index(db.session, make_test_grid(db.session))
        catalogue.create_rule(db.session, {"category": "urban", "lead": "urban_management",
                                           "co_territorial": True, "on_site": True}, index)
        duties.add_roster_entry(db.session, {"cell": cell_code(0, 0, 0),
                                             "username": "worker1"}, index)
        load_classifier_rules(db.session)
        load_demo_triage_settings(db.session)
        db.session.commit()
    relay = app.extensions["hotline"].console
    relay.background = True  # as `hotline serve` relays: in its own thread
    yield app
    relay.stop()


def test_an_intake_costs_at_most_15_statements_and_no_rollup_write(county, api):
    from web.extensions import db

    body = {"channel": "phone", "text": "小区门口有人占道经营，堵住了出口，晚上还很吵",
            "citizen": {"name": "张三", "phone": "13800138000"}, **POINT}
    api.headers("operator1")
    first = api.post("operator1", "/api/v1/tickets", json=body)  # caches warm up once
    assert first.status_code == 201, first.get_json()
    with county.app_context():
        engine = db.engine
    body["citizen"] = {"name": "李四", "phone": "13900139000"}
    with statements(engine, this_thread=True) as seen:
        r = api.post("operator1", "/api/v1/tickets", json=body)
    assert r.status_code == 201, r.get_json()
    ticket = r.get_json()
    assert ticket["location"]["cell"] == cell_code(0, 0, 0)
    assert ticket["category"], ticket  # the classifier's
    # The first demand, same place and category, is found as a repeat (the one query).
    assert [c["reason"] for c in ticket["repeat_candidates"]] == ["nearby"]

    summary = Counter(shape(s) for s in seen)
    print(f"\n{len(seen)} statements:")
    for what, n in summary.most_common():
        print(f"  {n:3d}  {what}")
    rollup_writes = [s for s in seen if re.match(r"(INSERT INTO|UPDATE|DELETE FROM) ("
                                                 + "|".join(ROLLUP_TABLES) + r")\b", s)]
    assert rollup_writes == []
    assert len(seen) <= LIMIT, "\n".join(seen)
    with county.app_context():
        n = db.session.execute(text("SELECT count(*) FROM tickets")).scalar_one()
    assert n == 2
