"""GET /api/v1/stats/*: the leadership metrics of a period with the counts behind them, by
dimension and over time, and the tickets behind every figure; for leaders, dispatchers,
supervisors and administrators only."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from dispatch import subscribers
from dispatch.stats.metrics import METRICS
from tests.web.conftest import archived, dispatched, error_of, mismatches

SUMMARY, BREAKDOWN, TREND, TICKETS = (f"/api/v1/stats/{p}"
                                      for p in ("summary", "breakdown", "trend", "tickets"))
MONDAY = {"from": "2026-11-23", "to": "2026-11-23"}
STAT_TABLES = ("stat_pending", "stat_daily", "stat_tickets", "stat_assignments", "stat_reviews",
               "stat_head")


@pytest.fixture(autouse=True)
def installed():
    was = subscribers.running("statistics")
    subscribers.resume("statistics")
    try:
        yield
    finally:
        if not was:
            subscribers.pause("statistics")


@pytest.fixture
def history(api):
    """Monday: one ticket archived (satisfied), one dispatched, one new, one void."""
    done = archived(api)
    open_ = dispatched(api, lead="street_pudong")
    new = api.create(channel="wechat")
    void = api.create()
    r = api.act("operator1", void["number"], "void", reason="骚扰电话")
    assert r.status_code == 200, r.get_json()
    return {"archived": done["number"], "dispatched": open_["number"], "new": new["number"],
            "void": void["number"]}


def stat_counts(app) -> dict[str, int]:
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in STAT_TABLES}


def test_summary_gives_every_metric_with_its_counts_right_after_the_changes(api, history):
    r = api.get("leader1", SUMMARY, query_string=MONDAY)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert set(body) == {"from", "to", "as_of", "filters", "pending", "fresh_at", *METRICS}
    assert (body["from"], body["to"], body["filters"], body["pending"]) == (
        "2026-11-23", "2026-11-23", {}, 0)
    assert body["as_of"].startswith("2026-11-23T02:00:00")
    assert body["fresh_at"] == body["as_of"]  # nothing waits: current as of the request
    assert body["intake"] == {"value": 3}
    assert body["void"] == {"value": 1}
    assert body["completion_rate"] == {"rate": 0.5, "numerator": 1, "denominator": 2}
    assert body["callback_rate"] == {"rate": 1.0, "numerator": 1, "denominator": 1}
    assert body["satisfaction_rate"] == {"rate": 1.0, "numerator": 1, "denominator": 1}
    assert body["direct_answer_rate"] == {"rate": 0.0, "numerator": 0, "denominator": 3}
    # Sign-for deadlines are on Tuesday: none fell on Monday.
    assert body["on_time_sign_rate"] == {"rate": None, "numerator": 0, "denominator": 0}
    assert body["return_rate"] == {"rate": 0.0, "numerator": 0, "denominator": 2}
    assert body["overdue_now"] == {"value": 0}


def test_the_period_defaults_to_the_month_so_far_and_filters_narrow_it(api, history):
    body = api.get("dispatcher1", SUMMARY).get_json()
    assert (body["from"], body["to"], body["intake"]) == ("2026-11-01", "2026-11-23",
                                                          {"value": 3})
    for query, intake in (({"department": "urban_management"}, 1),
                          ({"department": "street_pudong"}, 1),
                          ({"department": "none"}, 1),
                          ({"channel": "wechat"}, 1),
                          ({"type": "complaint", "category": "urban"}, 3),
                          ({"street": "none", "cell": "none"}, 3),
                          ({"category": "environment"}, 0)):
        body = api.get("supervisor1", SUMMARY, query_string={**MONDAY, **query}).get_json()
        assert body["intake"] == {"value": intake}, query
        assert body["filters"] == query


def test_breakdown_ranks_the_departments_by_the_metric_asked(api, history):
    dispatched(api)  # a second ticket for 城管
    r = api.get("leader1", BREAKDOWN,
                query_string={**MONDAY, "by": "department", "sort": "completion_rate"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["by"], body["sort"]) == ("department", "completion_rate")
    rows = [(i["rank"], i["group"], i["key"], i["intake"]["value"],
             i["completion_rate"]["rate"]) for i in body["items"]]
    # Fewer than 5 dispatched: listed, not ranked; bureaus apart from streets; 未派单 last.
    assert body["min_volume"] == 5
    assert rows == [(None, "functional", "urban_management", 2, 0.5),
                    (None, "territorial", "street_pudong", 1, 0.0),
                    (None, None, None, 1, None)]
    by_intake = api.get("leader1", BREAKDOWN,
                        query_string={**MONDAY, "by": "department"}).get_json()
    assert [i["key"] for i in by_intake["items"]][0] == "urban_management"


def test_a_department_with_five_dispatched_is_ranked_within_its_kind(api, history):
    for _ in range(5):
        dispatched(api)
    body = api.get("leader1", BREAKDOWN, query_string={
        **MONDAY, "by": "department", "sort": "completion_rate"}).get_json()
    rows = [(i["group"], i["rank"], i["key"]) for i in body["items"]]
    assert rows == [("functional", 1, "urban_management"),
                    ("territorial", None, "street_pudong"), (None, None, None)]
    by_street = api.get("leader1", BREAKDOWN, query_string={
        **MONDAY, "by": "street", "sort": "intake"}).get_json()["items"]
    assert all(i["group"] is None for i in by_street)
    assert [i["rank"] for i in by_street if i["key"] is None] in ([], [None])


def test_trend_gives_each_week_of_the_period(api, history, clock):
    r = api.get("admin1", TREND,
                query_string={"from": "2026-11-20", "to": "2026-12-06", "every": "week"})
    assert r.status_code == 200, r.get_json()
    items = r.get_json()["items"]
    assert [(i["from"], i["to"], i["intake"]["value"]) for i in items] == [
        ("2026-11-20", "2026-11-22", 0), ("2026-11-23", "2026-11-29", 3),
        ("2026-11-30", "2026-12-06", 0)]
    assert all("overdue_now" not in i for i in items)


def test_every_figure_links_to_the_tickets_behind_it(api, history):
    summary = api.get("leader1", SUMMARY, query_string=MONDAY).get_json()
    for name, metric in METRICS.items():
        for part in ("numerator", "denominator") if metric.denominator else ("numerator",):
            r = api.get("leader1", TICKETS,
                        query_string={**MONDAY, "metric": name, "part": part})
            assert r.status_code == 200, (name, part, r.get_json())
            body = r.get_json()
            figure = summary[name]
            expected = figure["value"] if "value" in figure else figure[part]
            assert body["total"] == len(body["items"]) == expected, (name, part)
    r = api.get("leader1", TICKETS, query_string={**MONDAY, "metric": "completion_rate"})
    assert [(i["number"], i["status"], i["unit"], i["department"])
            for i in r.get_json()["items"]] == [
        (history["archived"], "ARCHIVED", "ticket", "urban_management")]
    r = api.get("leader1", TICKETS, query_string={**MONDAY, "metric": "completion_rate",
                                                  "part": "denominator", "per_page": 1,
                                                  "page": 2})
    body = r.get_json()
    assert (body["total"], body["page"], body["per_page"]) == (2, 2, 1)
    assert [i["number"] for i in body["items"]] == [history["dispatched"]]


@pytest.mark.parametrize("user", ["operator1", "handler1", "street1", "worker1", "police1"])
def test_other_roles_are_refused_and_nothing_is_written(app, api, history, unchanged, user):
    before = stat_counts(app)
    with unchanged(*history.values()):
        for url in (SUMMARY, BREAKDOWN + "?by=street", TREND, TICKETS + "?metric=intake"):
            error_of(api.get(user, url), 403, "forbidden")
    assert stat_counts(app) == before
    assert before["stat_pending"] > 0  # the changes are still waiting for a reader


def test_bad_queries_are_refused_naming_the_field_and_nothing_is_written(app, api, history,
                                                                         unchanged):
    cases = [
        ("to before from", f"{SUMMARY}?from=2026-11-24&to=2026-11-23", 400, "invalid", "to"),
        ("no such date", f"{SUMMARY}?from=2026-13-01", 400, "invalid", "from"),
        ("unknown parameter", f"{SUMMARY}?colour=red", 400, "invalid", "colour"),
        ("unknown channel", f"{SUMMARY}?channel=fax", 400, "invalid", "channel"),
        ("unknown type", f"{SUMMARY}?type=gossip", 400, "invalid", "type"),
        ("ten years and more", f"{SUMMARY}?from=2010-01-01&to=2026-01-01", 400, "invalid",
         "to"),
        ("no breakdown", BREAKDOWN, 400, "invalid", "by"),
        ("unknown breakdown", f"{BREAKDOWN}?by=weather", 400, "invalid", "by"),
        ("unknown ranking", f"{BREAKDOWN}?by=street&sort=speed", 400, "invalid", "sort"),
        ("unknown step", f"{TREND}?every=year", 400, "invalid", "every"),
        ("too many points", f"{TREND}?from=2020-01-01&to=2026-01-01", 400, "invalid",
         "every"),
        ("no metric", TICKETS, 400, "invalid", "metric"),
        ("denominator of a count", f"{TICKETS}?metric=intake&part=denominator", 400,
         "invalid", "part"),
        ("page too long", f"{TICKETS}?metric=intake&per_page=101", 400, "invalid",
         "per_page"),
    ]
    before = stat_counts(app)
    with unchanged(*history.values()):
        assert mismatches(cases, lambda url: api.get("leader1", url)) == []
    assert stat_counts(app) == before


def test_the_statistics_routes_are_documented_with_their_parameters(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    params = {p["name"] for p in doc["paths"][SUMMARY]["get"]["parameters"]}
    assert params == {"from", "to", "department", "street", "cell", "channel", "type",
                      "category"}
    tickets = {p["name"] for p in doc["paths"][TICKETS]["get"]["parameters"]}
    assert {"metric", "part", "page", "per_page"} <= tickets
    assert "leader" in doc["paths"][BREAKDOWN]["get"]["description"]
