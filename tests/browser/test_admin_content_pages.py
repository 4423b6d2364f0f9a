"""The admin pages 知识库, 分类规则, 重复规则 and 系统设置 driven as an admin would: a department's
draft published and revised with the diff shown, an article expiring soon warned about; a phrase
rule added; the repeat rule's radius and the locator's distance changed; on each page one refused
change shows its Chinese message at the field, and nothing is written."""

from __future__ import annotations

from datetime import timedelta

from dispatch.triage.knowledge import local_date
from tests.browser.conftest import admin_page, page_json, screenshot

KB = "/api/v1/kb"



def test_an_admin_publishes_a_departments_draft_revises_it_and_sees_the_diff(
        new_page, demo_county):
    today = local_date(demo_county.clock.now())
    draft = demo_county.call("handler1", "POST", f"{KB}/articles", json={
        "title": "共享单车乱停放处理办法", "category": "urban",
        "body": "共享单车乱停放影响通行的，城管部门通知运营企业在2小时内清理。"})
    expiring = demo_county.call("admin1", "POST", f"{KB}/articles", json={
        "title": "冬季供暖报修须知", "department": "urban_management", "body": "供暖期间报修。",
        "valid_to": (today + timedelta(days=10)).isoformat()})
    page = admin_page(new_page, "/admin/kb")
    warnings = page.get_by_test_id("expiring")
    assert "冬季供暖报修须知" in warnings.inner_text() and "10 天后到期" in warnings.inner_text()

    page.select_option("[data-testid=filter-status]", "pending")
    page.get_by_test_id("filter-apply").click()
    page.get_by_test_id("pager-status").filter(has_text="共 1 条").wait_for()
    assert page.locator("#articles tbody tr").count() == 1
    assert page.locator(f"#articles tr[data-id='{draft['id']}']").count() == 1
    assert "待审核 第 1 版" in page.locator("#articles tbody tr").inner_text()
    search = "/api/v1/kb/search?q=共享单车乱停放"
    assert "共享单车乱停放处理办法" not in [h["title"] for h in page_json(page, search)["items"]]
    page.get_by_test_id(f"open-{draft['id']}").click()
    page.get_by_test_id("publish-1").click()
    page.get_by_test_id("review-done").filter(has_text="已发布").wait_for()
    assert page_json(page, search)["items"][0]["title"] == "共享单车乱停放处理办法"

    # A refused version: the validity ends before it starts; nothing is written.
    page.get_by_test_id("revise").click()
    page.get_by_test_id("edit-valid-from").fill((today + timedelta(days=5)).isoformat())
    page.get_by_test_id("edit-valid-to").fill(today.isoformat())
    page.get_by_test_id("edit-save").click()
    error = page.get_by_test_id("editor-error")
    error.wait_for()
    assert "不能早于生效日期" in error.inner_text()
    assert page.get_by_test_id("edit-valid-to").get_attribute("aria-invalid") == "true"
    assert page_json(page, f"{KB}/articles/{draft['id']}")["versions"] == [1]
    assert page.refusals

    page.get_by_test_id("edit-valid-from").fill("")
    page.get_by_test_id("edit-valid-to").fill("")
    page.get_by_test_id("edit-body").fill(
        "共享单车乱停放影响通行的，城管部门通知运营企业在1小时内清理。")
    page.get_by_test_id("edit-save").click()
    page.get_by_test_id("review-done").filter(has_text="第 2 版").wait_for()
    page.get_by_test_id("diff").wait_for()
    assert page.locator("[data-testid=diff-before] del.diff-before").inner_text() == "2"
    assert page.locator("[data-testid=diff-after] ins.diff-after").inner_text() == "1"
    assert page_json(page, f"{KB}/articles/{draft['id']}")["current_version"] == 2
    assert expiring["id"] != draft["id"]
    screenshot(page, "admin-kb")


def test_an_admin_adds_a_phrase_rule_after_a_refused_weight(new_page, demo_county):
    page = admin_page(new_page, "/admin/classifier-rules")
    assert "是否涉警以规则为准" in page.inner_text("#admin-classifier-rules header")
    rules_url = "/api/v1/admin/classifier-rules?phrase=共享单车停放"

    page.select_option("[data-testid=rule-field]", "category")
    page.select_option("[data-testid=rule-value]", "urban")
    page.get_by_test_id("rule-phrase").fill("共享单车停放")
    page.get_by_test_id("rule-weight").fill("20")
    page.get_by_test_id("rule-save").click()
    error = page.get_by_test_id("rule-error")
    error.wait_for()
    assert "weight" in error.inner_text()
    assert page.get_by_test_id("rule-weight").get_attribute("aria-invalid") == "true"
    assert page_json(page, rules_url)["items"] == []  # refused: nothing written

    page.get_by_test_id("rule-weight").fill("2")
    page.get_by_test_id("rule-save").click()
    page.get_by_test_id("rule-saved").filter(has_text="已保存").wait_for()
    rules = page_json(page, rules_url)["items"]
    assert [(r["value"], r["weight"]) for r in rules] == [("urban", 2)]
    page.get_by_test_id("filter-phrase").fill("共享单车停放")
    page.get_by_test_id("filter-apply").click()
    page.get_by_test_id("pager-status").filter(has_text="共 1 条").wait_for()
    assert page.locator("#rules tr[data-phrase='共享单车停放']").count() == 1
    screenshot(page, "admin-classifier-rules")


def test_an_admin_changes_the_repeat_radius_and_the_locator_distance(new_page, demo_county):
    page = admin_page(new_page, "/admin/repeat-rules")
    before = page_json(page, "/api/v1/admin/repeat-rules")
    page.get_by_test_id("radius_m").fill("0")
    page.get_by_test_id("save").click()
    error = page.get_by_test_id("form-error")
    error.wait_for()
    assert "「范围（米）」" in error.inner_text()
    assert page_json(page, "/api/v1/admin/repeat-rules") == before
    page.get_by_test_id("radius_m").fill("300")
    page.get_by_test_id("save").click()
    page.get_by_test_id("saved").filter(has_text="已保存").wait_for()
    assert page_json(page, "/api/v1/admin/repeat-rules")["radius_m"] == 300

    page.goto("/admin/settings")
    page.wait_for_selector("#admin-settings[data-ready=true]")
    assert page.locator("[data-testid=other-settings] a[href='/admin/triage']").count() == 1
    before = page_json(page, "/api/v1/admin/locator-settings")
    page.get_by_test_id("boundary_m").fill("5000")
    page.get_by_test_id("locator-save").click()
    error = page.get_by_test_id("locator-error")
    error.wait_for()
    assert "boundary_m" in error.inner_text()
    assert page_json(page, "/api/v1/admin/locator-settings") == before
    page.get_by_test_id("boundary_m").fill("80")
    page.get_by_test_id("locator-save").click()
    page.get_by_test_id("locator-saved").filter(has_text="已保存").wait_for()
    assert page_json(page, "/api/v1/admin/locator-settings")["boundary_m"] == 80
    screenshot(page, "admin-settings")
