"""What the admin pages 知识库, 分类规则, 重复规则 and 系统设置 stand on, over HTTP: the knowledge
base's review step (a department editor's draft is invisible to the intake search until the
hotline office publishes it), the list with its filters, the expiry warnings, the diff of two
versions, each change recorded in admin_changes (before → after), and every refusal writing
nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

import dispatch.triage.knowledge  # noqa: F401 - the kb tables on the metadata before the schema is made
import web.api.kb  # noqa: F401 - the routes, before the `app` fixture builds the application
from tests.web.conftest import error_of
from tests.web.test_page_security import sign_in

KB = "/api/v1/kb"
RULES = "/api/v1/admin/classifier-rules"


def article(**fields: Any) -> dict[str, Any]:
    body = {"title": "共享单车乱停放怎么处理", "category": "urban",
            "department": "urban_management",
            "body": "共享单车乱停放影响通行的，城管部门通知运营企业在2小时内清理。"}
    body.update(fields)
    return body


def rows(app, sql: str, **params: Any) -> list[Any]:
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def written(app) -> tuple[int, ...]:
    """Row counts of what these pages write (articles, versions, rules, settings, the log)."""
    return tuple(rows(app, f"SELECT count(*) FROM {t}")[0][0] for t in (
        "kb_articles", "kb_article_versions", "classifier_rules", "settings", "admin_changes"))


def changes(app, subject: str) -> list[tuple[Any, ...]]:
    return [(r.action, r.key, r.username) for r in rows(
        app, "SELECT c.action, c.key, u.username FROM admin_changes c "
        "LEFT JOIN users u ON u.id = c.actor_id WHERE c.subject = :s ORDER BY c.id", s=subject)]


def search_titles(api, q: str) -> list[str]:
    r = api.get("operator1", f"{KB}/search", query_string={"q": q})
    assert r.status_code == 200, r.get_json()
    return [h["title"] for h in r.get_json()["items"]]


# ---------------------------------------------------------------- knowledge base: review


def test_a_departments_draft_is_searched_only_once_the_hotline_office_publishes_it(
        api, app) -> None:
    r = api.post("handler1", f"{KB}/articles", json=article())
    assert r.status_code == 201, r.get_json()
    draft = r.get_json()
    assert (draft["status"], draft["current_version"], draft["drafts"]) == ("draft", 0, [1])
    assert search_titles(api, "共享单车乱停放") == []

    listed = api.get("admin1", f"{KB}/articles", query_string={"status": "pending"}).get_json()
    assert [(i["id"], i["drafts"], i["status_name"]) for i in listed["items"]] == \
        [(draft["id"], [1], "待审核")]
    r = api.post("admin1", f"{KB}/articles/{draft['id']}/versions/1/publish")
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["status"], r.get_json()["current_version"]) == ("published", 1)
    assert search_titles(api, "共享单车乱停放") == ["共享单车乱停放怎么处理"]

    # The department's next version waits for review; search keeps giving the published one.
    r = api.put("handler1", f"{KB}/articles/{draft['id']}",
                json=article(title="共享单车乱停放的处理办法"))
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["version"], r.get_json()["status"], r.get_json()["current_version"]) \
        == (2, "draft", 1)
    assert search_titles(api, "共享单车乱停放") == ["共享单车乱停放怎么处理"]
    assert api.get("operator1", f"{KB}/articles/{draft['id']}").get_json()["version"] == 1
    api.post("admin1", f"{KB}/articles/{draft['id']}/versions/2/publish")
    assert search_titles(api, "共享单车乱停放") == ["共享单车乱停放的处理办法"]

    # An admin's own version is published at once.
    r = api.put("admin1", f"{KB}/articles/{draft['id']}", json=article(title="共享单车停放"))
    assert (r.get_json()["status"], r.get_json()["current_version"]) == ("published", 3)
    assert changes(app, "kb_article") == [
        ("draft", str(draft["id"]), "handler1"), ("publish", str(draft["id"]), "admin1"),
        ("draft", str(draft["id"]), "handler1"), ("publish", str(draft["id"]), "admin1"),
        ("revise", str(draft["id"]), "admin1")]
    publish = rows(app, "SELECT before, after FROM admin_changes WHERE action = 'publish' "
                   "ORDER BY id")[1]
    before, after = (v if isinstance(v, dict) else json.loads(v) for v in publish)
    assert (before["version"], after["version"]) == (1, 2)
    assert (before["title"], after["title"]) == \
        ("共享单车乱停放怎么处理", "共享单车乱停放的处理办法")


def test_an_operator_cannot_answer_with_a_draft(api, app, unchanged) -> None:
    draft = api.post("handler1", f"{KB}/articles", json=article()).get_json()
    ticket = api.create(text="共享单车乱停放怎么处理", type="consult", category="urban")
    with unchanged(ticket["number"]):
        r = api.act("operator1", ticket["number"], "answer", version=ticket["version"],
                    answer="已告知",
                    article_id=draft["id"], article_version=1)
        error = error_of(r, 400, "invalid", "article_version")
        assert "未发布" in error["message"]


def test_a_draft_sent_back_carries_the_reason_and_can_no_longer_be_published(api, app) -> None:
    draft = api.post("handler1", f"{KB}/articles", json=article()).get_json()
    r = api.post("admin1", f"{KB}/articles/{draft['id']}/versions/1/reject",
                 json={"note": "请写明清理时限的依据"})
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["status"], r.get_json()["review_note"]) == \
        ("rejected", "请写明清理时限的依据")
    error = error_of(api.post("admin1", f"{KB}/articles/{draft['id']}/versions/1/publish"),
                     400, "invalid", "version")
    assert "已退回" in error["message"]
    assert search_titles(api, "共享单车乱停放") == []
    assert changes(app, "kb_article")[-1] == ("reject", str(draft["id"]), "admin1")


def test_review_refusals_name_the_field_and_write_nothing(api, app, tokens) -> None:
    published = api.post("admin1", f"{KB}/articles", json=article()).get_json()
    draft = api.put("handler1", f"{KB}/articles/{published['id']}",
                    json=article(body="城管部门通知运营企业清理。")).get_json()
    assert draft["version"] == 2
    base = f"{KB}/articles/{published['id']}/versions"
    before = written(app)
    cases = [
        (api.post("handler1", f"{base}/2/publish"), 403, "forbidden", None),
        (api.post("handler1", f"{base}/2/reject", json={"note": "x"}), 403, "forbidden", None),
        (api.post("admin1", f"{base}/1/publish"), 400, "invalid", "version"),
        (api.post("admin1", f"{base}/9/publish"), 404, "not_found", "version"),
        (api.post("admin1", f"{KB}/articles/999/versions/1/publish"), 404, "not_found", None),
        (api.post("admin1", f"{base}/2/reject", json={"note": "  "}), 400, "invalid", "note"),
        (api.post("admin1", f"{base}/2/reject", json={"note": "x", "colour": 1}),
         400, "invalid", "colour"),
        (api.put("handler1", f"{KB}/articles/{published['id']}",
                 json=article(category="urban.appearance")), 400, "invalid", "category"),
        (api.get("operator1", f"{KB}/articles"), 403, "forbidden", None),
        (api.get("admin1", f"{KB}/articles?status=lost"), 400, "invalid", "status"),
        (api.get("admin1", f"{KB}/articles?page=0"), 400, "invalid", "page"),
        (api.get("admin1", f"{KB}/articles/{published['id']}/diff?old=7"),
         404, "not_found", "version"),
        (api.get("worker1", f"{KB}/expiring"), 403, "forbidden", None),
    ]
    for response, status, code, field in cases:
        error_of(response, status, code, field)
    assert written(app) == before


# ---------------------------------------------------------------- knowledge base: list, diff


def test_the_list_filters_by_department_category_status_and_text_and_a_handler_sees_their_own(
        api, app) -> None:
    ours = api.post("admin1", f"{KB}/articles", json=article()).get_json()
    api.post("admin1", f"{KB}/articles", json=article(
        title="居住证办理条件", category="public_security", department="public_security",
        body="在本市居住半年以上可以申领居住证。"))
    retired = api.post("admin1", f"{KB}/articles", json=article(title="旧的占道经营规定"))
    api.post("admin1", f"{KB}/articles/{retired.get_json()['id']}/retire")

    def titles(user: str = "admin1", **query: str) -> list[str]:
        r = api.get(user, f"{KB}/articles", query_string=query)
        assert r.status_code == 200, r.get_json()
        return sorted(i["title"] for i in r.get_json()["items"])

    assert titles(department="public_security") == ["居住证办理条件"]
    assert titles(category="urban") == ["共享单车乱停放怎么处理", "旧的占道经营规定"]
    assert titles(q="居住半年") == ["居住证办理条件"]
    assert titles(status="retired") == ["旧的占道经营规定"]
    assert titles(status="published") == ["共享单车乱停放怎么处理", "居住证办理条件"]
    assert titles("handler1", department="public_security") == \
        ["共享单车乱停放怎么处理", "旧的占道经营规定"]  # their own department whatever they ask
    page = api.get("admin1", f"{KB}/articles", query_string={"per_page": "2"}).get_json()
    assert (page["total"], len(page["items"]), page["per_page"]) == (3, 2, 2)
    second = api.get("admin1", f"{KB}/articles",
                     query_string={"per_page": "2", "page": "2"}).get_json()
    assert len(second["items"]) == 1
    item = next(i for i in page["items"] + second["items"] if i["id"] == ours["id"])
    assert item["department_name"] and item["department_name"] != "urban_management"
    assert item["category_name"] and item["category_name"] != "urban"


def test_expiry_warnings_list_what_ends_within_30_days_or_has_ended_soonest_first(
        api, app) -> None:
    # The test clock's local day is 2026-11-23.
    for title, valid_to in (("已过期的条目", "2026-11-20"), ("下月到期的条目", "2026-12-20"),
                            ("明年到期的条目", "2027-06-30"), ("不限期的条目", None)):
        r = api.post("admin1", f"{KB}/articles", json=article(title=title, valid_to=valid_to))
        assert r.status_code == 201, r.get_json()
    data = api.get("admin1", f"{KB}/expiring").get_json()
    assert [(i["title"], i["days_left"], i["expired"]) for i in data["items"]] == [
        ("已过期的条目", -3, True), ("下月到期的条目", 27, False)]
    assert data["items"][0]["text"] == "已于 2026-11-20 过期"
    listed = api.get("admin1", f"{KB}/articles", query_string={"status": "expiring"}).get_json()
    assert sorted(i["title"] for i in listed["items"]) == ["下月到期的条目", "已过期的条目"]


def test_two_versions_side_by_side_with_the_words_changed(api, app) -> None:
    v1 = api.post("admin1", f"{KB}/articles", json=article()).get_json()
    api.put("admin1", f"{KB}/articles/{v1['id']}", json=article(
        body="共享单车乱停放影响通行的，城管部门通知运营企业在1小时内清理。",
        valid_to="2027-01-31"))
    r = api.get("dispatcher1", f"{KB}/articles/{v1['id']}/diff", query_string={"old": "1",
                                                                             "new": "2"})
    assert r.status_code == 200, r.get_json()
    diff = r.get_json()
    assert (diff["before"]["version"], diff["after"]["version"], diff["changed"]) == (1, 2, True)
    assert [run["op"] for run in diff["title"]] == ["equal"]
    ops = [(run["op"], run["text"]) for run in diff["body"]]
    assert ("delete", "2") in ops and ("insert", "1") in ops
    assert "".join(t for op, t in ops if op != "insert") == article()["body"]
    assert "".join(t for op, t in ops if op != "delete").endswith("在1小时内清理。")
    assert diff["fields"]["valid_to"] == {"before": None, "after": "2027-01-31", "changed": True}
    # Without versions: the current one against the newest.
    default = api.get("admin1", f"{KB}/articles/{v1['id']}/diff").get_json()
    assert (default["before"]["version"], default["after"]["version"]) == (1, 2)


# ---------------------------------------------------------------- classifier rules


def test_classifier_rule_changes_are_recorded_and_a_refused_one_writes_nothing(
        api, app, tokens) -> None:
    r = api.post("admin1", RULES, json={"field": "category", "value": "urban",
                                        "phrase": "共享单车", "weight": 2})
    assert r.status_code == 201, r.get_json()
    rule = r.get_json()
    assert api.put("admin1", f"{RULES}/{rule['id']}", json={"weight": 3}).status_code == 200
    r = api.client.delete(f"{RULES}/{rule['id']}", headers=api.headers("admin1"))
    assert r.status_code == 200, r.get_json()
    assert changes(app, "classifier_rule") == [("create", str(rule["id"]), "admin1"),
                                               ("update", str(rule["id"]), "admin1"),
                                               ("delete", str(rule["id"]), "admin1")]
    update = rows(app, "SELECT before, after FROM admin_changes WHERE subject = "
                  "'classifier_rule' AND action = 'update'")[0]
    before, after = (v if isinstance(v, dict) else json.loads(v) for v in update)
    assert (before["weight"], after["weight"], after["phrase"]) == (2, 3, "共享单车")

    before_counts = written(app)
    for body, field in (({"field": "category", "value": "urban", "phrase": "单车",
                          "weight": 20}, "weight"),
                        ({"field": "category", "value": "nowhere", "phrase": "单车",
                          "weight": 1}, "value"),
                        ({"field": "category", "value": "urban", "phrase": "",
                          "weight": 1}, "phrase")):
        error_of(api.post("admin1", RULES, json=body), 400, "invalid", field)
    error_of(api.post("dispatcher1", RULES, json={"field": "category", "value": "urban",
                                                  "phrase": "单车", "weight": 1}),
             403, "forbidden")
    assert written(app) == before_counts


# ---------------------------------------------------------------- repeat rules, settings


@pytest.mark.parametrize(("path", "subject", "change", "bad", "field"), [
    ("/api/v1/admin/repeat-rules", "repeat_rules", {"radius_m": 300}, {"radius_m": 0},
     "radius_m"),
    ("/api/v1/admin/locator-settings", "setting", {"boundary_m": 80}, {"nearest_max_m": -1},
     "nearest_max_m"),
])
def test_a_setting_change_is_recorded_before_to_after_and_a_refused_one_writes_nothing(
        api, app, tokens, path, subject, change, bad, field) -> None:
    defaults = api.get("admin1", path).get_json()
    before_counts = written(app)
    error = error_of(api.put("admin1", path, json={**defaults, **bad}), 400, "invalid", field)
    assert field in error["message"]
    error_of(api.put("dispatcher1", path, json={**defaults, **change}), 403, "forbidden")
    assert written(app) == before_counts
    r = api.put("admin1", path, json={**defaults, **change})
    assert r.status_code == 200, r.get_json()
    api.put("admin1", path, json={**defaults, **change})  # the same again: nothing to record
    recorded = rows(app, "SELECT c.key, c.action, c.before, c.after, u.username "
                    "FROM admin_changes c JOIN users u ON u.id = c.actor_id "
                    "WHERE c.subject = :s", s=subject)
    assert len(recorded) == 1
    key, action, old, new, who = recorded[0]
    old, new = (v if isinstance(v, dict) else json.loads(v) for v in (old, new))
    assert (action, who, old, new) == ("update", "admin1", defaults, {**defaults, **change})


# ---------------------------------------------------------------- pages


@pytest.mark.parametrize("path", ["/admin/kb", "/admin/classifier-rules", "/admin/repeat-rules",
                                  "/admin/settings"])
def test_the_pages_are_the_admins(app, client, path) -> None:
    sign_in(client, "admin1")
    html = client.get(path).get_data(as_text=True)
    assert 'data-testid="admin-menu"' in html and 'type="module"' in html
    other = app.test_client()
    sign_in(other, "dispatcher1")
    assert other.get(path).status_code == 403


def test_the_settings_page_links_the_settings_that_have_their_own_page(app, client) -> None:
    sign_in(client, "admin1")
    html = client.get("/admin/settings").get_data(as_text=True)
    assert 'href="/admin/triage"' in html and 'href="/admin/repeat-rules"' in html
    assert 'data-testid="boundary_m"' in html
