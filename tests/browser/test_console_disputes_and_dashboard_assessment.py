"""The 定责 tab of /console and the assessment panel of /dashboard (the /disputes and /assessment
code mounted there): dispatcher1 opens the tab, finds the ticket two departments returned and
decides its lead; leader1 sees November's assessment with both rankings on the dashboard;
handler1 opens /dashboard and sees its own department's assessment only, no figures."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.sync_api import expect

from tests.browser.conftest import login

URBAN, PUDONG = "urban_management", "street_pudong"


def test_the_console_decides_a_disputed_ticket_and_the_dashboard_shows_the_assessment(
        live_server, new_page):
    live = live_server
    t = live.call("operator1", "POST", "/api/v1/tickets",
                  {"channel": "phone", "text": "小区门口占道经营", "type": "complaint",
                   "category": "urban", "urgency": "normal"})
    n = t["number"]
    for user, action, body in (("dispatcher1", "dispatch", {"lead": URBAN}),
                               ("handler1", "return", {"reason": "属街道职责"}),
                               ("dispatcher1", "dispatch", {"lead": PUDONG}),
                               ("street1", "return", {"reason": "属城管职责"})):
        version = live.call(user, "GET", f"/api/v1/tickets/{n}")["version"]
        live.call(user, "POST", f"/api/v1/tickets/{n}/actions/{action}",
                  {"version": version, **body})
    live.clock.current = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # November is last month

    page = new_page()
    login(page, "dispatcher1")
    # The tab counts the queue before it is opened.
    expect(page.get_by_test_id("disputes-count")).to_have_text("1")
    page.get_by_test_id("tab-disputes").click()
    panel = page.get_by_test_id("disputes-panel")
    expect(panel).to_contain_text(n)
    expect(page.get_by_test_id("board")).to_be_hidden()
    expect(page.get_by_test_id("tab-disputes")).to_contain_text("1")
    panel.get_by_test_id("decide-lead").select_option(URBAN)
    panel.get_by_test_id("decide-reason").fill("占道经营执法属城管")
    panel.get_by_test_id("decide-submit").click()
    expect(panel).to_contain_text("暂无待定责工单")
    expect(page.get_by_test_id("disputes-count")).to_have_text("0")
    page.locator("#tab-all").click()
    expect(page.get_by_test_id("board")).to_be_visible()
    expect(panel).to_be_hidden()

    leader = new_page()
    login(leader, "leader1")  # lands on /dashboard
    box = leader.get_by_test_id("dashboard-assessment")
    expect(box.get_by_test_id("state")).to_contain_text("2026-11 · 未发布")
    expect(box.get_by_test_id("rank-functional")).to_contain_text("长垣市城市管理局")
    expect(box.get_by_test_id("rank-territorial")).to_contain_text("蒲东街道办事处")
    expect(leader.get_by_test_id("tiles")).to_be_visible()

    dept = new_page()
    login(dept, "handler1")
    dept.goto("/dashboard")
    expect(dept.get_by_test_id("state")).to_contain_text("2026-11")
    expect(dept.get_by_test_id("rank-functional")).to_contain_text("长垣市城市管理局")
    expect(dept.get_by_test_id("rank-territorial")).to_contain_text("暂无")
    expect(dept.get_by_test_id("tiles")).to_have_count(0)
