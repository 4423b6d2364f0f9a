"""The dashboard's routes under /api/v1/stats: metric definitions, emerging hotspots, demand per
grid area for the heat map, and Excel exports holding the same numbers as the statistics API
with the period, filters and formulas on the sheet 口径; for leaders, dispatchers, supervisors
and administrators only (others get 403 and nothing is written)."""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from dispatch import subscribers
from dispatch.stats.metrics import METRICS
from tests.conftest import cell_centre, cell_code, make_test_grid
from tests.web.conftest import archived, dispatched, error_of, mismatches

STATS = "/api/v1/stats"
EXPORT = f"{STATS}/export.xlsx"
MONDAY = {"from": "2026-11-23", "to": "2026-11-23"}
STAT_TABLES = ("stat_pending", "stat_daily", "stat_tickets", "stat_assignments", "stat_reviews",
               "stat_head")
ROUTES = (f"{STATS}/metrics", f"{STATS}/hotspots", f"{STATS}/heat",
          f"{EXPORT}?table=summary")
RATES = [m for m in METRICS.values() if m.denominator is not None]


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
def grid(app) -> int:
    from web.extensions import db

    with app.app_context():
        version = make_test_grid(db.session)
        db.session.commit()
    return version


def at(street: int, community: int, cell: int, east: float = 0.0) -> dict[str, float]:
    lon, lat = cell_centre(street, community, cell)
    return {"lon": lon + east, "lat": lat}


@pytest.fixture
def history(api, grid, clock) -> dict[str, Any]:
    """Monday morning: in 蒲东街道 one ticket archived, one dispatched, one new (WeChat), one
    void; in 恼里镇 five 占道经营 demands within 200 m, one every ten minutes."""
    done = archived(api, **at(0, 0, 0))
    open_ = dispatched(api, lead="street_pudong", **at(0, 0, 1))
    new = api.create(channel="wechat", **at(0, 1, 2))
    void = api.create(**at(0, 0, 0))
    r = api.act("operator1", void["number"], "void", reason="骚扰电话")
    assert r.status_code == 200, r.get_json()
    cluster = []
    for i in range(5):
        clock.advance(minutes=10)
        cluster.append(api.create(category="urban.appearance.street_vending",
                                  **at(1, 0, 0, east=i * 0.0004))["number"])
    return {"archived": done["number"], "dispatched": open_["number"], "new": new["number"],
            "void": void["number"], "cluster": cluster}


def stat_counts(app) -> dict[str, int]:
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in STAT_TABLES}


def workbook(response) -> Any:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == ("application/vnd.openxmlformats-officedocument."
                                 "spreadsheetml.sheet")
    assert "attachment" in response.headers["Content-Disposition"]
    return load_workbook(io.BytesIO(response.data))


def rows_of(ws) -> list[dict[str, Any]]:
    """A sheet's rows as dicts by header."""
    values = list(ws.iter_rows(values_only=True))
    head = values[0]
    return [dict(zip(head, row, strict=True)) for row in values[1:]]


def about(wb) -> dict[str, Any]:
    """The 口径 sheet's first table (项目 → 内容)."""
    ws = wb["口径"]
    out = {}
    for key, value, *_ in ws.iter_rows(min_row=2, values_only=True):
        if key is None:
            break
        out[key] = value
    return out


def formulas(wb) -> dict[str, tuple[str, str]]:
    """The 口径 sheet's metric table: code → (label, formula)."""
    rows = list(wb["口径"].iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if r[0] == "指标")
    out = {}
    for label, formula, code, *_ in rows[start + 1:]:
        if label is None:
            break
        out[code] = (label, formula)
    return out


# ---------------------------------------------------------------- definitions


def test_the_metric_definitions_name_every_metric_and_its_counts_in_chinese(api):
    r = api.get("leader1", f"{STATS}/metrics")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert [i["name"] for i in body["items"]] == list(METRICS)
    by_name = {i["name"]: i for i in body["items"]}
    assert by_name["completion_rate"]["label"] == "办结率"
    assert "÷" in by_name["satisfaction_rate"]["formula"]
    for item in body["items"]:
        assert item["formula"] and item["label"]
        for part in (item["numerator"], item["denominator"]):
            if part is not None:
                assert body["parts"][part]["label"] and body["parts"][part]["unit_label"]


def test_every_metric_and_count_has_its_chinese_wording():
    # A metric or count added to dispatch.stats.metrics needs its words here (web/api/dashboard.py).
    from dispatch.stats import metrics
    from web.api import dashboard as dashboard_api

    assert set(dashboard_api.FORMULAS) == set(metrics.METRICS)
    assert set(dashboard_api.PARTS) == set(metrics.PARTS)
    assert {str(p.unit) for p in metrics.PARTS.values()} <= set(dashboard_api.UNITS)


# ---------------------------------------------------------------- hotspots


def test_hotspots_list_the_cluster_with_its_place_and_tickets(api, history):
    r = api.get("dispatcher1", f"{STATS}/hotspots")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["rules"] == {"min_count": 5, "radius_m": 500.0, "window_minutes": 120,
                             "category_level": 2}
    assert body["as_of"].startswith("2026-11-23T02:50:00")
    [spot] = body["items"]
    assert (spot["count"], spot["open"], spot["category"]) == (5, 5, "urban.appearance")
    assert spot["category_name"] == "城市管理 > 市容市貌"
    assert (spot["street"], spot["street_name"]) == ("town_naoli", "恼里镇")
    assert spot["cell"] == cell_code(1, 0, 0)
    assert spot["place"].startswith("恼里镇 · 恼里镇第1社区")
    assert sorted(t["number"] for t in spot["tickets"]) == sorted(history["cluster"])
    assert [t["created_at"] for t in spot["tickets"]] == sorted(
        t["created_at"] for t in spot["tickets"])
    assert spot["tickets"][0]["category_name"] == "城市管理 > 市容市貌 > 占道经营"
    assert spot["radius_m"] <= 500


def test_hotspot_rules_and_filters_can_be_given_in_the_query(api, history, clock):
    def count(**query: Any) -> int:
        r = api.get("supervisor1", f"{STATS}/hotspots", query_string=query)
        assert r.status_code == 200, r.get_json()
        return len(r.get_json()["items"])

    assert count(street="town_naoli") == 1
    assert count(street="street_pudong") == 0
    assert count(category="environment") == 0
    assert count(min_count=6) == 0
    assert count(min_count=2, radius_m=100) == 1  # the first three are within 100 m
    clock.advance(minutes=90)  # the first three are now older than two hours
    assert count() == 0
    assert count(window_minutes=180) == 1


def test_hotspot_queries_out_of_range_are_refused_by_name(api):
    cases = [(f"{name}={value}", {name: value}, 400, "invalid", name)
             for name, value in (("min_count", 1), ("radius_m", 5), ("window_minutes", 1),
                                 ("min_count", "many"))]
    cases.append(("unknown", {"size": 3}, 400, "invalid", None))
    assert mismatches(cases, lambda q: api.get("leader1", f"{STATS}/hotspots",
                                               query_string=q)) == []


# ---------------------------------------------------------------- heat


def test_heat_counts_the_demand_per_cell_community_and_street_as_the_breakdown_does(api, grid,
                                                                                  history):
    r = api.get("leader1", f"{STATS}/heat", query_string=MONDAY)
    assert r.status_code == 200, r.get_json()
    heat = r.get_json()
    by_cell = api.get("leader1", f"{STATS}/breakdown",
                      query_string={**MONDAY, "by": "cell"}).get_json()
    expected = {i["key"]: i["intake"]["value"] for i in by_cell["items"]
                if i["intake"]["value"]}
    assert {c["code"]: c["count"] for c in heat["cells"]} == expected
    assert heat["total"] == 8  # void left out, as in the intake
    assert heat["unplaced"] == 0
    assert {s["code"]: s["count"] for s in heat["streets"]} == {"street_pudong": 3,
                                                                 "town_naoli": 5}
    assert {c["code"]: c["count"] for c in heat["communities"]} == {
        "street_pudong-c001": 2, "street_pudong-c002": 1, "town_naoli-c001": 5}
    top = heat["cells"][0]
    assert (top["code"], top["count"], top["street"]) == (cell_code(1, 0, 0), 5, "town_naoli")
    assert top["name"] == "恼里镇第1社区第1网格"
    assert heat["grid_version"] == grid


def test_heat_follows_the_category_filter(api, history):
    heat = api.get("leader1", f"{STATS}/heat",
                   query_string={**MONDAY, "category": "urban.appearance"}).get_json()
    assert heat["filters"] == {"category": "urban.appearance"}
    assert [(c["code"], c["count"]) for c in heat["cells"]] == [(cell_code(1, 0, 0), 5)]
    none = api.get("leader1", f"{STATS}/heat",
                   query_string={**MONDAY, "category": "environment"}).get_json()
    assert (none["total"], none["cells"], none["streets"]) == (0, [], [])


def test_heat_points_place_the_intake_snapped_to_100_m_and_follow_the_filters(api, history):
    r = api.get("leader1", f"{STATS}/heat-points", query_string=MONDAY)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["total"] == 8 and body["capped"] is False  # the intake: void left out
    assert sum(n for _, _, n in body["points"]) == 8
    assert all(round(lon, 3) == lon and round(lat, 3) == lat for lon, lat, _ in body["points"])
    counts = [n for _, _, n in body["points"]]
    assert counts == sorted(counts, reverse=True)
    narrowed = api.get("leader1", f"{STATS}/heat-points", query_string={
        **MONDAY, "category": "urban.appearance"}).get_json()
    assert narrowed["total"] == 5 and narrowed["filters"] == {"category": "urban.appearance"}
    refused = api.get("leader1", f"{STATS}/heat-points", query_string={**MONDAY, "street": ""})
    assert refused.status_code == 400
    assert api.get("handler1", f"{STATS}/heat-points", query_string=MONDAY).status_code == 403


# ---------------------------------------------------------------- exports


def test_the_summary_export_holds_the_numbers_of_the_summary_api(api, history):
    query = {**MONDAY, "street": "street_pudong"}
    summary = api.get("leader1", f"{STATS}/summary", query_string=query).get_json()
    wb = workbook(api.get("leader1", EXPORT, query_string={**query, "table": "summary"}))
    assert wb.sheetnames == ["指标汇总", "口径"]
    rows = {r["代码"]: r for r in rows_of(wb["指标汇总"])}
    assert list(rows) == list(METRICS)
    for name, metric in METRICS.items():
        row, figure = rows[name], summary[name]
        assert row["指标"] == metric.label
        if metric.denominator is None:
            assert row["数值"] == figure["value"], name
        else:
            assert (row["数值"], row["分子"], row["分母"]) == (
                figure["rate"], figure["numerator"], figure["denominator"]), name
    disposition = api.get("leader1", EXPORT, query_string={**query, "table": "summary"}) \
        .headers["Content-Disposition"]
    assert disposition == ("attachment; filename=\"summary_2026-11-23_2026-11-23.xlsx\"; "
                           "filename*=UTF-8''%E6%8C%87%E6%A0%87%E6%B1%87%E6%80%BB-"
                           "2026-11-23%E8%87%B32026-11-23.xlsx")  # 指标汇总-2026-11-23至…
    assert rows["intake"]["数值"] == 3
    assert rows["completion_rate"]["数值"] == 0.5
    assert wb["指标汇总"]["B5"].number_format == "0.00%"  # a rate shows as a percentage


def test_the_export_names_the_period_filters_and_formulas_on_its_own_sheet(api, history):
    query = {"from": "2026-11-01", "to": "2026-11-23", "street": "street_pudong",
             "channel": "wechat", "table": "summary"}
    wb = workbook(api.get("leader1", EXPORT, query_string=query))
    head = about(wb)
    assert head["报表"] == "指标汇总"
    assert head["统计期间"].startswith("2026-11-01 至 2026-11-23")
    assert "街道/乡镇：蒲东街道（street_pudong）" in head["筛选条件"]
    assert "渠道：微信（wechat）" in head["筛选条件"]
    assert head["数据截至"] == datetime(2026, 11, 23, 10, 50)  # local time
    table = formulas(wb)
    assert set(table) == set(METRICS)
    assert table["completion_rate"][0] == "办结率"
    assert "÷" in table["completion_rate"][1]
    assert table["satisfaction_rate"][1] == "（满意 + 基本满意）÷ 有答复的回访数"


def test_the_breakdown_export_holds_the_rows_of_the_breakdown_api_in_its_order(api, history):
    query = {**MONDAY, "by": "department", "sort": "completion_rate"}
    api_rows = api.get("leader1", f"{STATS}/breakdown", query_string=query).get_json()["items"]
    wb = workbook(api.get("leader1", EXPORT, query_string={**query, "table": "breakdown"}))
    assert wb.sheetnames == ["分组统计", "图表", "口径"]
    rows = rows_of(wb["分组统计"])
    assert [(r["排名"], r["代码"]) for r in rows] == [
        (i["rank"] if i["rank"] is not None else "不排名", i["key"] or "none") for i in api_rows]
    assert [r["排名组"] for r in rows] == ["职能部门", "属地街镇", "—"]
    names = {r["代码"]: r["承办部门"] for r in rows}
    assert (names["urban_management"], names["none"]) == ("长垣市城市管理局", "未派单")
    for row, item in zip(rows, api_rows, strict=True):
        assert row["受理量"] == item["intake"]["value"]
        for m in RATES:
            assert (row[m.label], row[f"{m.label}·分子"], row[f"{m.label}·分母"]) == (
                item[m.name]["rate"], item[m.name]["numerator"], item[m.name]["denominator"])
    assert wb["图表"]._charts, "the breakdown has its chart"
    assert about(wb)["分组"] == "承办部门"


def test_the_trend_export_holds_each_point_of_the_trend_api(api, history):
    query = {"from": "2026-11-20", "to": "2026-12-06", "every": "week"}
    points = api.get("leader1", f"{STATS}/trend", query_string=query).get_json()["items"]
    wb = workbook(api.get("leader1", EXPORT, query_string={**query, "table": "trend"}))
    rows = rows_of(wb["趋势"])
    assert [(r["起"].date(), r["止"].date(), r["受理量"]) for r in rows] == [
        (date.fromisoformat(p["from"]), date.fromisoformat(p["to"]), p["intake"]["value"])
        for p in points]
    assert [r["受理量"] for r in rows] == [0, 8, 0]
    assert "当前超期" not in rows[0]
    for row, point in zip(rows, points, strict=True):
        for m in RATES:
            assert row[m.label] == point[m.name]["rate"]
    assert len(wb["图表"]._charts) == 2
    assert about(wb)["时间粒度"].startswith("按周")


def test_the_tickets_export_lists_the_units_behind_a_figure(api, history):
    query = {**MONDAY, "metric": "intake"}
    listed = api.get("leader1", f"{STATS}/tickets",
                     query_string={**query, "per_page": 100}).get_json()
    wb = workbook(api.get("leader1", EXPORT, query_string={**query, "table": "tickets"}))
    rows = rows_of(wb["工单明细"])
    assert [r["工单编号"] for r in rows] == [i["number"] for i in listed["items"]]
    assert len(rows) == listed["total"] == 8
    assert history["void"] not in {r["工单编号"] for r in rows}
    first = next(r for r in rows if r["工单编号"] == history["new"])
    assert (first["渠道"], first["当前状态"], first["计数对象"]) == ("微信", "待派单", "工单")
    assert first["街道/乡镇"] == "蒲东街道"
    assert about(wb)["行数"] == "共 8 条"
    denominators = workbook(api.get("leader1", EXPORT, query_string={
        **MONDAY, "table": "tickets", "metric": "completion_rate", "part": "denominator"}))
    assert {r["工单编号"] for r in rows_of(denominators["工单明细"])} == {
        history["archived"], history["dispatched"]}


def test_exports_that_cannot_be_answered_are_refused_by_name_and_write_nothing(app, api,
                                                                             history,
                                                                             unchanged):
    cases = [
        ("no table", {}, 400, "invalid", "table"),
        ("unknown table", {"table": "everything"}, 400, "invalid", "table"),
        ("breakdown without by", {"table": "breakdown"}, 400, "invalid", "by"),
        ("tickets without metric", {"table": "tickets"}, 400, "invalid", "metric"),
        ("denominator of a count", {"table": "tickets", "metric": "intake",
                                    "part": "denominator"}, 400, "invalid", "part"),
        ("too many points", {"table": "trend", "from": "2020-01-01", "every": "day"},
         400, "invalid", "every"),
        ("backwards", {"table": "summary", "from": "2026-11-23", "to": "2026-11-01"},
         400, "invalid", "to"),
    ]
    before = stat_counts(app)
    with unchanged(history["archived"]):
        assert mismatches(cases, lambda q: api.get("leader1", EXPORT, query_string=q)) == []
    assert stat_counts(app) == before


@pytest.mark.parametrize("user", ["operator1", "handler1", "street1", "worker1"])
def test_other_roles_get_403_from_every_dashboard_route_and_nothing_is_written(app, api, user,
                                                                               history,
                                                                               unchanged):
    before = stat_counts(app)
    with unchanged(history["archived"], history["dispatched"]):
        for url in ROUTES:
            error_of(api.get(user, url), 403, "forbidden")
    assert stat_counts(app) == before


def test_anonymous_callers_get_401(client):
    for url in ROUTES:
        error_of(client.get(url), 401, "unauthorized")


def test_the_dashboard_routes_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("metrics", "hotspots", "heat", "export.xlsx"):
        op = paths[f"{STATS}/{path}"]["get"]
        assert "leader" in op["description"]
    names = {p["name"] for p in paths[EXPORT]["get"]["parameters"]}
    assert {"table", "from", "to", "street", "by", "sort", "every", "metric", "part"} <= names
