"""/assessment as a department and the office use it: handler1 opens November's published
assessment, its own row with the late sign-for that cost points, opens the deduction's ticket and
appeals it with a reason; supervisor1 accepts the appeal and sees the month re-published."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.sync_api import expect

from tests.browser.conftest import login

URBAN = "urban_management"


def test_a_department_appeals_a_deduction_and_the_office_accepts_it(live_server, new_page):
    live = live_server
    t = live.call("operator1", "POST", "/api/v1/tickets",
                  {"channel": "phone", "text": "小区门口占道经营", "type": "complaint",
                   "category": "urban", "urgency": "urgent"})
    live.call("dispatcher1", "POST", f"/api/v1/tickets/{t['number']}/actions/dispatch",
              {"version": t["version"], "lead": URBAN})
    live.clock.advance(hours=3)
    version = live.call("handler1", "GET", f"/api/v1/tickets/{t['number']}")["version"]
    live.call("handler1", "POST", f"/api/v1/tickets/{t['number']}/actions/sign",
              {"version": version})
    live.clock.current = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    live.call("supervisor1", "POST", "/api/v1/stats/assessment/2026-11/publish", {})

    page = new_page()
    login(page, "handler1", then="/assessment?month=2026-11")
    expect(page.get_by_test_id("state")).to_contain_text("已发布（第 1 次")
    expect(page.get_by_test_id("rank-functional")).to_contain_text("不参与排名")
    page.get_by_test_id("deduction").first.click()
    page.get_by_test_id("appeal-open").click()
    expect(page.get_by_test_id("appeal-ticket")).to_have_value(t["number"])
    page.get_by_test_id("appeal-reason").fill("派单时系统故障，无法签收")
    page.get_by_test_id("appeal-submit").click()
    expect(page.get_by_test_id("appeals")).to_contain_text("待处理")

    office = new_page()
    login(office, "supervisor1", then="/assessment?month=2026-11")
    office.get_by_test_id("decide-reason").fill("经核实属实")
    office.get_by_test_id("accept").click()
    expect(office.get_by_test_id("appeals")).to_contain_text("已采纳")
    expect(office.get_by_test_id("state")).to_contain_text("第 2 次")
    expect(office.get_by_test_id("history")).to_contain_text("采纳申诉")
