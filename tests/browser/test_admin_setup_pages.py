"""The admin pages 事项分类, 派单目录, 时限 and 工作日历, driven as an admin would: each page's
change goes through, and one refused change per page shows its Chinese message with nothing
written."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import admin_page, page_json, screenshot


def test_an_admin_adds_and_deactivates_a_category_after_seeing_the_effect(new_page,
                                                                         demo_county):
    page = admin_page(new_page, "/admin/categories")
    before = page_json(page, "/api/v1/admin/categories")

    # The tree opens folded to its top level; 城市管理 unfolds.
    assert page.get_by_test_id("edit-urban.appearance").count() == 0
    page.get_by_test_id("toggle-urban").click()

    # Refused: an empty name, shown in Chinese, nothing written.
    page.get_by_test_id("edit-urban.appearance").click()
    page.get_by_test_id("edit-name").fill("")
    page.get_by_test_id("preview").click()
    error = page.get_by_test_id("edit-error")
    error.wait_for()
    assert "不能为空" in error.inner_text()
    assert page.get_by_test_id("save").is_disabled()
    assert page_json(page, "/api/v1/admin/categories") == before

    # The effect of deactivating 市容市貌: the demo catalogue's rule for it, then cancel.
    page.get_by_test_id("edit-name").fill("市容市貌")
    page.select_option("[data-testid=edit-active]", "false")
    page.get_by_test_id("preview").click()
    summary = page.get_by_test_id("effect-summary")
    summary.wait_for()
    assert "将修改 6 个分类" in summary.inner_text()
    assert "派单目录规则 1 条" in summary.inner_text()
    page.get_by_test_id("cancel").click()

    page.select_option("[data-testid=add-parent]", "urban.appearance")
    page.get_by_test_id("add-code").fill("urban.appearance.shared_bikes")
    page.get_by_test_id("add-name").fill("共享单车乱停")
    page.get_by_test_id("add").click()
    row = page.locator("tr[data-code='urban.appearance.shared_bikes']")
    row.wait_for()
    assert "共享单车乱停" in row.inner_text()

    page.get_by_test_id("edit-urban.appearance.shared_bikes").click()
    page.select_option("[data-testid=edit-active]", "false")
    page.get_by_test_id("preview").click()
    page.get_by_test_id("effect-summary").wait_for()
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("status")).to_contain_text("已保存")
    expect(row).to_contain_text("已停用")
    intake = page_json(page, "/api/v1/categories")
    urban = next(c for c in intake["items"] if c["code"] == "urban")
    appearance = next(c for c in urban["children"] if c["code"] == "urban.appearance")
    assert "urban.appearance.shared_bikes" not in [c["code"] for c in appearance["children"]]
    screenshot(page, "admin-categories")


def test_an_admin_tries_the_catalogue_and_a_duplicate_rule_is_refused(new_page, demo_county):
    page = admin_page(new_page, "/admin/catalogue")
    rules = page_json(page, "/api/v1/admin/catalogue")["items"]
    first = page.locator("[data-testid=rules] tbody tr").first
    assert "长垣市城市管理局" in page.locator("[data-testid=rules]").inner_text()
    assert first.count() == 1
    page.get_by_test_id("filter").fill("自来水")
    shown = page.locator("[data-testid=rules] tbody tr")
    expect(shown.first).to_contain_text("自来水")
    assert 0 < shown.count() < len(rules)
    page.get_by_test_id("filter").fill("")

    # 试一试: a demand on 南环路, the category found by the classifier.
    page.get_by_test_id("try-text").fill("南环路边有人占道经营摆摊，堵住了人行道")
    page.get_by_test_id("try-address").fill("南环路")
    page.get_by_test_id("try").click()
    lead = page.get_by_test_id("try-lead")
    lead.wait_for()
    assert "主办：长垣市城市管理局" in lead.inner_text()
    assert "派单目录规则" in page.get_by_test_id("try-reasons").inner_text()

    # 占道经营 with a draft rule for the whole county sending it to 市场监管 instead.
    page.select_option("[data-testid=rule-category]", "urban.appearance.street_vending")
    page.select_option("[data-testid=rule-lead]", "market_regulation")
    page.select_option("[data-testid=try-category]", "urban.appearance.street_vending")
    page.get_by_test_id("try-draft").check()
    page.get_by_test_id("try").click()
    expect(page.get_by_test_id("try-lead")).to_contain_text("市场监督管理局")
    assert "草稿" in page.get_by_test_id("try-reasons").inner_text()
    assert page_json(page, "/api/v1/admin/catalogue")["items"] == rules  # trying wrote nothing

    # Refused: a second rule for 城市管理 over the whole county.
    page.select_option("[data-testid=rule-category]", "urban")
    page.get_by_test_id("rule-save").click()
    error = page.get_by_test_id("rule-error")
    error.wait_for()
    assert "已覆盖此分类和区域" in error.inner_text()
    assert page_json(page, "/api/v1/admin/catalogue")["items"] == rules
    screenshot(page, "admin-catalogue")


def test_an_admin_edits_a_time_limit_and_a_zero_is_refused_at_the_field(new_page,
                                                                       demo_county):
    page = admin_page(new_page, "/admin/time-limits")
    before = page_json(page, "/api/v1/admin/time-limits")

    page.get_by_test_id("sign.normal.value").fill("0")
    page.get_by_test_id("save").click()
    note = page.get_by_test_id("field-error")
    note.wait_for()
    assert "sign.normal.value" in note.inner_text()
    assert page.get_by_test_id("sign.normal.value").get_attribute("aria-invalid") == "true"
    assert page_json(page, "/api/v1/admin/time-limits") == before

    page.get_by_test_id("sign.normal.value").fill("12")
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("saved")).to_have_text("已保存")
    after = page_json(page, "/api/v1/admin/time-limits")
    assert after["sign"]["normal"] == {"unit": "hours", "value": 12}
    screenshot(page, "admin-time-limits")


NOTICE_2027 = ("国务院办公厅关于2027年部分节假日安排的通知\n"
               "一、元旦：1月1日（周五）至3日（周日）放假，共3天。\n"
               "二、春节：2月5日（周五）至11日（周四）放假调休，共7天。2月20日（周六）上班。")


def test_an_admin_enters_next_years_arrangement_after_seeing_the_deadlines_it_moves(
        new_page, demo_county):
    page = admin_page(new_page, "/admin/calendar")
    assert page.get_by_test_id("year").input_value() == "2027"
    assert page.get_by_test_id("badge").inner_text() == "暂定"
    before = page_json(page, "/api/v1/admin/calendar/2027")

    # Refused: a make-up working day on a Monday.
    page.get_by_test_id("add-makeup").click()
    page.locator("[data-testid=makeup_workdays-0] input[type=date]").fill("2027-02-22")
    page.locator("[data-testid=makeup_workdays-0] input:not([type=date])").fill("调休")
    page.get_by_test_id("preview").click()
    error = page.get_by_test_id("year-error")
    error.wait_for()
    assert "不是周末" in error.inner_text()
    assert page_json(page, "/api/v1/admin/calendar/2027") == before

    page.get_by_test_id("notice").fill(NOTICE_2027)
    page.get_by_test_id("read-notice").click()
    page.locator("[data-testid=makeup_workdays-0] input[type=date][value='2027-02-20']"
                 ).wait_for()
    page.get_by_test_id("preview").click()
    summary = page.get_by_test_id("effect-summary")
    summary.wait_for()
    assert "在办工单的期限" in summary.inner_text()
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("badge")).to_have_text("正式")
    after = page_json(page, "/api/v1/admin/calendar/2027")
    assert after["sources"] == ["admin"]
    assert {"day": "2027-02-20", "name": "春节调休上班"} in after["makeup_workdays"]
    screenshot(page, "admin-calendar")
