"""The administration of categories, the dispatch catalogue, time limits and the calendar over
HTTP: each change is checked (a refusal names its field in Chinese and writes nothing), can be
tried first (dry runs), and is recorded in admin_changes."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import cell_centre, make_test_grid
from tests.web.conftest import dispatched, error_of
from tests.web.test_tickets_api import OFFICIAL_2027

CATEGORIES = "/api/v1/admin/categories"
CATALOGUE = "/api/v1/admin/catalogue"
TRY = "/api/v1/admin/catalogue/try"
CALENDAR_2027 = "/api/v1/admin/calendar/2027"
TIME_LIMITS = "/api/v1/admin/time-limits"
TABLES = ("categories", "catalogue_rules", "calendar_days", "settings", "admin_changes",
          "events")


def snapshot(app) -> dict[str, object]:
    """The rows an admin change could touch, read on a fresh connection."""
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        out: dict[str, object] = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}
        out["tree"] = conn.execute(text(
            "SELECT code, name, parent_code, level, active FROM categories ORDER BY code")).all()
        out["rules"] = conn.execute(text(
            "SELECT id, category_code, area_code, lead_code FROM catalogue_rules ORDER BY id")
        ).all()
        out["limits"] = conn.execute(text(
            "SELECT value FROM settings WHERE key = 'time_limits'")).all()
    return out


def changes(app, subject: str) -> list[tuple]:
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT a.key, a.action, a.before, a.after, u.username FROM admin_changes a "
            "LEFT JOIN users u ON u.id = a.actor_id WHERE a.subject = :s ORDER BY a.id"),
            {"s": subject})]


def as_json(value):
    import json

    return json.loads(value) if isinstance(value, str) else value


@pytest.fixture
def grid(app) -> int:
    from grid.locator import build_index
    from web.extensions import db

    with app.app_context():
        version = make_test_grid(db.session)
        build_index(db.session, version)
        db.session.commit()
    return version


def add_rule(api, **fields) -> dict:
    r = api.post("admin1", CATALOGUE, json=fields)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


# ---------------------------------------------------------------- categories


def test_the_tree_lists_every_category_with_level_active_flag_and_what_uses_it(api, grid):
    add_rule(api, category="urban.appearance", lead="urban_management")
    phrase = api.post("admin1", "/api/v1/admin/classifier-rules", json={
        "field": "category", "value": "urban", "phrase": "摆摊", "weight": 2})
    assert phrase.status_code == 201, phrase.get_json()
    api.create(category="urban.appearance")
    api.put("admin1", f"{CATEGORIES}/health.drugs_devices", json={"active": False})

    r = api.get("admin1", CATEGORIES)
    assert r.status_code == 200
    rows = {c["code"]: c for c in r.get_json()["items"]}
    assert rows["urban"]["level"] == 1 and rows["urban"]["parent"] is None
    assert rows["urban"]["uses"]["classifier_rules"] == 1
    appearance = rows["urban.appearance"]
    assert (appearance["level"], appearance["parent"], appearance["name"]) == (
        2, "urban", "市容市貌")
    assert appearance["uses"] == {"catalogue_rules": 1, "classifier_rules": 0,
                                  "open_tickets": 1}
    assert rows["health.drugs_devices"]["active"] is False  # inactive ones are listed too
    error_of(api.get("dispatcher1", CATEGORIES), 403, "forbidden")


def test_an_admin_adds_a_category_which_intake_then_offers_and_the_change_is_recorded(api, app):
    r = api.post("admin1", CATEGORIES, json={
        "code": "urban.appearance.shared_bikes", "name": "共享单车乱停",
        "parent": "urban.appearance"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["level"] == 3 and r.get_json()["active"] is True
    top = api.post("admin1", CATEGORIES, json={"code": "tourism", "name": "文化旅游"})
    assert top.status_code == 201 and top.get_json()["level"] == 1

    tree = api.get("operator1", "/api/v1/categories").get_json()["items"]
    urban = next(c for c in tree if c["code"] == "urban")
    appearance = next(c for c in urban["children"] if c["code"] == "urban.appearance")
    assert "共享单车乱停" in [c["name"] for c in appearance["children"]]
    assert api.create(category="urban.appearance.shared_bikes")["category"] == \
        "urban.appearance.shared_bikes"
    [(key, action, before, after, who), _] = changes(app, "category")
    assert (key, action, as_json(before), who) == ("urban.appearance.shared_bikes", "create",
                                                   None, "admin1")
    assert as_json(after)["name"] == "共享单车乱停" and as_json(after)["level"] == 3


@pytest.mark.parametrize(("body", "field", "says"), [
    ({"code": "urban.appearance", "name": "重复", "parent": "urban"}, "code", "已存在"),
    ({"code": "urban.new_one", "name": "   ", "parent": "urban"}, "name", "不能为空"),
    ({"code": "environment.new_one", "name": "新分类", "parent": "urban"}, "code", "urban."),
    ({"code": "urban.appearance.graffiti.more", "name": "四级",
      "parent": "urban.appearance.graffiti"}, "parent", "第 3 级"),
    ({"code": "nowhere.x", "name": "无上级", "parent": "nowhere"}, "parent", "没有分类"),
    ({"code": "Bad Code", "name": "大写"}, "code", "小写"),
])
def test_a_bad_new_category_is_refused_in_chinese_and_nothing_is_written(api, app, body, field,
                                                                         says):
    before = snapshot(app)
    error = error_of(api.post("admin1", CATEGORIES, json=body), 400, "invalid", field)
    assert says in error["message"]
    assert snapshot(app) == before


def test_a_dry_run_shows_the_effect_of_a_move_and_writes_nothing(api, app, grid):
    rule = add_rule(api, category="urban.appearance.street_vending", lead="urban_management")
    ticket = api.create(category="urban.appearance.graffiti")
    before = snapshot(app)

    r = api.put("admin1", f"{CATEGORIES}/urban.appearance?dry_run=true",
                json={"parent": "environment", "name": "市容环境"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["dry_run"] is True
    assert body["category"] == {"name": "市容环境", "parent": "environment", "level": 2,
                                "sort_order": 0, "active": True}
    effect = body["effect"]
    assert [x["id"] for x in effect["catalogue_rules"]] == [rule["id"]]
    assert effect["open_tickets"] == {"count": 1, "numbers": [ticket["number"]]}
    assert "urban.appearance.graffiti" in effect["categories"]
    [change] = body["changes"]  # the children keep their levels: only the node moves
    assert change["fields"] == {"name": ["市容市貌", "市容环境"],
                                "parent": ["urban", "environment"]}
    assert snapshot(app) == before


def test_a_move_keeps_the_code_changes_the_parent_and_reroutes_by_the_new_ancestors(
        api, app, grid):
    add_rule(api, category="urban", lead="urban_management")
    add_rule(api, category="environment", lead="ecology_environment")
    lon, lat = cell_centre(0, 0, 0)
    locate = {"lon": lon, "lat": lat, "category": "urban.appearance.street_vending"}
    lead = api.get("operator1", "/api/v1/grid/locate", query_string=locate).get_json()
    assert lead["routing"]["lead"] == "urban_management"

    r = api.put("admin1", f"{CATEGORIES}/urban.appearance", json={"parent": "environment"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["dry_run"] is False
    rows = {c["code"]: c for c in api.get("admin1", CATEGORIES).get_json()["items"]}
    assert rows["urban.appearance"]["parent"] == "environment"
    assert rows["urban.appearance.street_vending"]["parent"] == "urban.appearance"
    # The cached catalogue follows the tree: the category now routes as 生态环境.
    lead = api.get("operator1", "/api/v1/grid/locate", query_string=locate).get_json()
    assert lead["routing"]["lead"] == "ecology_environment"
    [(key, action, before, after, who)] = changes(app, "category")
    assert (key, action, who) == ("urban.appearance", "update", "admin1")
    assert as_json(before)["parent"] == "urban" and as_json(after)["parent"] == "environment"


def test_deactivating_hides_a_category_and_its_children_from_intake_but_not_old_tickets(
        api, app):
    old = api.create(category="urban.appearance.street_vending")
    r = api.put("admin1", f"{CATEGORIES}/urban.appearance", json={"active": False})
    assert r.status_code == 200, r.get_json()
    assert len(r.get_json()["changes"]) == 6  # itself and its five children
    tree = api.get("operator1", "/api/v1/categories").get_json()["items"]
    urban = next(c for c in tree if c["code"] == "urban")
    assert "urban.appearance" not in [c["code"] for c in urban["children"]]
    assert all(c["code"] != "urban.appearance.street_vending" for c in tree)

    refused = api.post("operator1", "/api/v1/tickets", json={
        "channel": "phone", "text": "占道经营", "citizen": {"name": "张三"}, "type": "complaint",
        "category": "urban.appearance.street_vending", "urgency": "normal"})
    assert "没有启用中的分类" in error_of(refused, 400, "invalid", "category")["message"]
    kept = api.get("dispatcher1", f"/api/v1/tickets/{old['number']}").get_json()
    assert kept["category"] == "urban.appearance.street_vending"

    # A child cannot come back under an inactive parent; the parent brings its children back.
    child = api.put("admin1", f"{CATEGORIES}/urban.appearance.graffiti", json={"active": True})
    assert "已停用" in error_of(child, 400, "invalid", "active")["message"]
    back = api.put("admin1", f"{CATEGORIES}/urban.appearance", json={"active": True})
    assert back.status_code == 200
    assert len(changes(app, "category")) == 12


@pytest.mark.parametrize(("code", "body", "field", "says"), [
    ("urban", {"parent": "urban.appearance"}, "parent", "下级"),
    ("urban.appearance", {"parent": "urban.appearance.graffiti"}, "parent", "下级"),
    ("urban.appearance", {"parent": "environment.noise"}, "parent", "最多 3 级"),
    ("urban.appearance", {"name": ""}, "name", "不能为空"),
    ("urban.appearance", {"parent": "nowhere"}, "parent", "没有分类"),
    ("urban.appearance", {"code": "urban.looks"}, "code", None),
])
def test_a_bad_change_to_a_category_is_refused_and_nothing_is_written(api, app, code, body,
                                                                      field, says):
    before = snapshot(app)
    for dry_run in ("true", "false"):
        r = api.put("admin1", f"{CATEGORIES}/{code}?dry_run={dry_run}", json=body)
        error = error_of(r, 400, "invalid", field)
        assert says is None or says in error["message"]
    assert snapshot(app) == before


def test_a_top_category_the_classifier_rules_name_cannot_be_moved_down(api, app):
    api.post("admin1", "/api/v1/admin/classifier-rules", json={
        "field": "category", "value": "health", "phrase": "疫苗", "weight": 2})
    before = snapshot(app)
    r = api.put("admin1", f"{CATEGORIES}/health", json={"parent": "labour"})
    assert "分类规则" in error_of(r, 400, "invalid", "parent")["message"]
    error_of(api.put("admin1", f"{CATEGORIES}/no.such", json={"name": "x"}), 404, "not_found")
    error_of(api.put("dispatcher1", f"{CATEGORIES}/health", json={"name": "x"}), 403,
             "forbidden")
    assert snapshot(app) == before


# ---------------------------------------------------------------- catalogue


def test_catalogue_rules_are_listed_with_names_and_each_change_is_recorded(api, app, grid):
    rule = add_rule(api, category="urban.appearance", lead="urban_management",
                    co_handlers=["market_regulation"], on_site=True)
    assert rule["category_name"] == "市容市貌" and rule["lead_name"] == "长垣市城市管理局"
    assert rule["area_name"] == "全域" and rule["co_handler_names"] == ["长垣市市场监督管理局"]
    listed = api.get("admin1", CATALOGUE).get_json()["items"]
    assert [r["lead_name"] for r in listed] == ["长垣市城市管理局"]

    edited = api.put("admin1", f"{CATALOGUE}/{rule['id']}", json={
        "category": "urban.appearance", "area": "street_pudong", "lead": None})
    assert edited.status_code == 200, edited.get_json()
    assert edited.get_json()["area_name"] == "蒲东街道" and edited.get_json()["lead_name"] == \
        "属地街道"
    assert api.client.delete(f"{CATALOGUE}/{rule['id']}",
                             headers=api.headers("admin1")).status_code == 200
    recorded = changes(app, "catalogue_rule")
    assert [(k, a, w) for k, a, _b, _a, w in recorded] == [
        (str(rule["id"]), "create", "admin1"), (str(rule["id"]), "update", "admin1"),
        (str(rule["id"]), "delete", "admin1")]
    assert as_json(recorded[1][2])["lead"] == "urban_management"
    assert as_json(recorded[1][3])["lead"] is None and as_json(recorded[2][3]) is None


def test_a_refused_catalogue_rule_writes_nothing_and_records_nothing(api, app, grid):
    before = snapshot(app)
    r = api.post("admin1", CATALOGUE, json={"category": "urban", "lead": "no_such_dept"})
    error_of(r, 400, "invalid", "lead")
    assert snapshot(app) == before


def test_trying_a_demand_shows_the_routing_with_its_reasons_and_a_draft_rule(api, app, grid):
    lon, lat = cell_centre(0, 0, 0)
    add_rule(api, category="urban", lead="urban_management")
    saved = api.post("admin1", TRY, json={"category": "urban.appearance.street_vending",
                                          "lon": lon, "lat": lat})
    assert saved.status_code == 200, saved.get_json()
    routing = saved.get_json()["routing"]
    assert routing["lead_name"] == "长垣市城市管理局" and routing["draft_rule_used"] is False
    assert any("派单目录规则" in r for r in routing["reasons"])
    assert saved.get_json()["location"]["names"][0] == "蒲东街道" or \
        "蒲东街道" in saved.get_json()["location"]["names"]

    before = snapshot(app)
    draft = api.post("admin1", TRY, json={
        "text": "小区门口有人占道经营", "lon": lon, "lat": lat,
        "category": "urban.appearance.street_vending",
        "rule": {"category": "urban.appearance", "area": "street_pudong",
                 "lead": "market_regulation", "co_territorial": True}})
    assert draft.status_code == 200, draft.get_json()
    routing = draft.get_json()["routing"]
    assert routing["draft_rule_used"] is True and routing["lead"] == "market_regulation"
    assert routing["co_handler_names"] == ["蒲东街道办事处"]
    assert any("草稿" in r for r in routing["reasons"])
    bad = api.post("admin1", TRY, json={"category": "urban", "lon": lon, "lat": lat,
                                        "rule": {"category": "urban", "lead": "nobody"}})
    error_of(bad, 400, "invalid", "lead")
    error_of(api.post("admin1", TRY, json={"category": "urban"}), 400, "invalid", "address")
    assert snapshot(app) == before  # trying writes nothing


# ---------------------------------------------------------------- time limits and calendar


def test_time_limits_are_recorded_before_and_after_and_a_refusal_records_nothing(api, app):
    before = snapshot(app)
    bad = api.put("admin1", TIME_LIMITS, json={"warning_ratio": 1.5})
    error_of(bad, 400, "invalid", "warning_ratio")
    assert snapshot(app) == before
    r = api.put("admin1", TIME_LIMITS, json={"warning_ratio": 0.8})
    assert r.status_code == 200
    [(key, action, old, new, who)] = changes(app, "time_limits")
    assert (key, action, who) == ("time_limits", "update", "admin1")
    assert as_json(old)["warning_ratio"] == 0.75 and as_json(new)["warning_ratio"] == 0.8
    assert as_json(new)["short_types"] == ["consult", "help", "praise"]


def test_a_calendar_dry_run_names_the_tickets_whose_deadlines_would_move(api, app, clock,
                                                                        long_tokens):
    clock.advance(days=37)  # Wednesday 2026-12-30: 7 working days reach into 2027
    ticket = dispatched(api)
    before = snapshot(app)
    r = api.put("admin1", f"{CALENDAR_2027}?dry_run=true", json=OFFICIAL_2027)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["dry_run"] is True and body["sources"] == ["admin"]
    moved = body["deadlines_moved"]
    assert moved["count"] == 1 and moved["tickets"][0]["number"] == ticket["number"]
    assert moved["tickets"][0]["new_deadline"] > moved["tickets"][0]["old_deadline"]
    assert snapshot(app) == before
    assert api.get("admin1", CALENDAR_2027).get_json()["provisional"] is True

    saved = api.put("admin1", CALENDAR_2027, json=OFFICIAL_2027)
    assert saved.status_code == 200
    assert saved.get_json()["tickets_recomputed"] == 1
    [(key, action, old, new, who)] = changes(app, "calendar")
    assert (key, action, who) == ("2027", "update", "admin1")
    assert as_json(old)["sources"] == ["provisional"] and as_json(new)["sources"] == ["admin"]
    assert as_json(new)["makeup_workdays"] == {"2027-02-20": "春节调休上班"}


NOTICE_2026 = "\n".join((
    "国务院办公厅关于2026年部分节假日安排的通知",
    "一、元旦：1月1日（周四）至3日（周六）放假调休，共3天。1月4日（周日）上班。",
    "二、春节：2月15日（农历腊月二十八、周日）至23日（农历正月初七、周一）放假调休，共9天。"
    "2月14日（周六）、2月28日（周六）上班。",
    "三、清明节：4月4日（周六）至6日（周一）放假，共3天。"))


NOTICE_2025 = "\n".join((
    "国务院办公厅关于2025年部分节假日安排的通知",
    "一、元旦：1月1日（周三）放假1天，不调休。",
    "二、春节：1月28日（农历除夕、周二）至2月4日（农历正月初七、周二）放假调休，共8天。"
    "1月26日（周日）、2月8日（周六）上班。",
    "三、清明节：4月4日（周五）至6日（周日）放假，共3天。",
    "四、劳动节：5月1日（周四）至5日（周一）放假调休，共5天。4月27日（周日）上班。",
    "五、端午节：5月31日（周六）至6月2日（周一）放假，共3天。",
    "六、国庆节、中秋节：10月1日（周三）至8日（周三）放假调休，共8天。"
    "9月28日（周日）、10月11日（周六）上班。"))


def test_the_state_councils_notice_is_read_into_entries_to_check_before_saving(api, app):
    before = snapshot(app)
    r = api.post("admin1", "/api/v1/admin/calendar/2026/notice", json={"text": NOTICE_2026})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert {"day": "2026-02-23", "name": "春节"} in body["holidays"]
    assert len(body["holidays"]) == 3 + 9 + 3
    assert body["makeup_workdays"] == [
        {"day": "2026-01-04", "name": "元旦调休上班"},
        {"day": "2026-02-14", "name": "春节调休上班"},
        {"day": "2026-02-28", "name": "春节调休上班"}]
    # The 2025 notice (a one-day 元旦, a range across months, a joint 国庆节、中秋节) read
    # exactly as the chinese-calendar package has that year.
    from chinese_calendar import constants

    r = api.post("admin1", "/api/v1/admin/calendar/2025/notice", json={"text": NOTICE_2025})
    days = {d["day"] for d in r.get_json()["holidays"]}
    assert days == {d.isoformat() for d in constants.holidays if d.year == 2025}
    makeup = {d["day"] for d in r.get_json()["makeup_workdays"]}
    assert makeup == {d.isoformat() for d in constants.workdays if d.year == 2025}
    nothing = api.post("admin1", "/api/v1/admin/calendar/2026/notice", json={"text": "通知"})
    assert "没有读到" in error_of(nothing, 400, "invalid", "text")["message"]
    assert snapshot(app) == before


def test_a_calendar_sheet_is_read_row_by_row_into_entries_and_bad_rows_are_reported(api, app):
    import io

    def upload(body: str):
        return api.post("admin1", "/api/v1/admin/calendar/2027/sheet", json=None, data={
            "file": (io.BytesIO(body.encode("utf-8-sig")), "2027.csv")},
            content_type="multipart/form-data")

    before = snapshot(app)
    good = upload("日期,类型,名称\n2027-02-05,放假,春节\n2027-02-20,上班,春节调休上班\n")
    assert good.status_code == 200, good.get_json()
    assert good.get_json()["holidays"] == [{"day": "2027-02-05", "name": "春节"}]
    assert good.get_json()["makeup_workdays"] == [{"day": "2027-02-20", "name": "春节调休上班"}]
    bad = upload("日期,类型,名称\n2027-02-22,上班,调休\n2026-10-01,放假,国庆\n"
                 "2027-02-05,放假,春节\n")
    report = bad.get_json()["report"]
    assert [(r["row"], r["field"]) for r in report["rejected"]] == [(2, "kind"), (3, "day")]
    assert "不是周末" in report["rejected"][0]["message"] and report["accepted"] == 1
    assert snapshot(app) == before  # reading a sheet writes nothing
