"""The 110 desk's page as police1 uses it: lands on /police (not the password page), sees the
transfers both ways, hears of a new transfer and of a change without reloading (the console's
Socket.IO feed: row, title badge, line, tone), refuses a 退回 without its cause in Chinese (nothing
written), 退回s with a cause and reads it in the 首接 history."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import login, screenshot


def test_the_110_desk_rejects_a_transfer_with_its_cause(live_server, new_page):
    live = live_server
    new = {"channel": "phone", "text": "有人在小区门口持刀威胁路人 " + "很长的描述" * 780,
           "type": "report", "category": "urban", "urgency": "urgent",
           "citizen": {"name": "王五", "phone": "13700001111"}}
    t = live.call("operator1", "POST", "/api/v1/tickets", new)
    out = live.call("dispatcher1", "POST", f"/api/v1/tickets/{t['number']}/actions/transfer_110",
                    {"version": t["version"], "reason": "涉警事项"})
    inbound = live.call("operator1", "POST", "/api/v1/tickets",
                        {**new, "channel": "police110", "text": "110 转来：车辆堵住出口"})

    page = new_page()
    login(page, "police1")
    assert page.url.endswith("/police")
    row = page.get_by_test_id("transfers").locator(f'tr[data-number="{out["number"]}"]')
    expect(row.get_by_test_id("police-state")).to_have_text("待110接收")
    expect(page.locator(f'tr[data-number="{inbound["number"]}"]')).to_have_count(0)

    # Live: a transfer made meanwhile appears by itself, with a badge in the title and a line;
    # a change of its state (accepted at another desk) shows too, and the badge goes.
    expect(page.get_by_test_id("live")).to_have_text("● 实时")
    base_title = page.title()
    more = live.call("operator1", "POST", "/api/v1/tickets", {**new, "text": "疑似盗窃电动车"})
    live.call("dispatcher1", "POST", f"/api/v1/tickets/{more['number']}/actions/transfer_110",
              {"version": more["version"], "reason": "涉嫌盗窃"})
    pushed = page.get_by_test_id("transfers").locator(f'tr[data-number="{more["number"]}"]')
    expect(pushed.get_by_test_id("police-state")).to_have_text("待110接收")
    expect(page.get_by_test_id("arrival")).to_have_text(f"新转办：{more['number']}")
    # ... and the console's tone for a transfer (lib/sound.js), counted on the page: once.
    expect(page.get_by_test_id("police-page")).to_have_attribute("data-alerts", "1")
    expect(page).to_have_title(f"(1) {base_title}")
    expect(page.locator('[data-count="to_110"]')).to_have_text("2")
    version = live.call("police1", "GET", f"/api/v1/tickets/{more['number']}")["version"]
    live.call("police1", "POST", f"/api/v1/tickets/{more['number']}/actions/police_accept",
              {"version": version, "incident_no": "JQ-0001"})
    expect(pushed.get_by_test_id("police-state")).to_have_text("110 已接收")
    expect(page).to_have_title(base_title)
    expect(page.get_by_test_id("arrival")).to_be_hidden()
    assert not re.match(r"^\(\d+\)", page.title())
    row.click()
    panel = page.get_by_test_id("police-panel")
    demand = panel.get_by_test_id("demand")
    expect(demand).to_contain_text("持刀威胁")
    # A 4,000-character demand scrolls inside its box: the actions stay on screen.
    assert demand.evaluate("d => d.clientHeight < 250 && d.scrollHeight > d.clientHeight")
    expect(panel.get_by_test_id("police_reject")).to_be_in_viewport()

    panel.get_by_test_id("police_reject").click()  # no cause: refused on the page
    expect(panel.locator('form[data-action="police_reject"] [data-testid="action-error"]')
           ).to_have_text("请填写退回原因")
    assert live.call("police1", "GET", f"/api/v1/tickets/{out['number']}")["police"][
        "state"] == "pending"

    panel.locator('form[data-action="police_reject"] input').fill("非警情，属民事纠纷")
    panel.get_by_test_id("police_reject").click()
    expect(row.get_by_test_id("police-state")).to_have_text("110 已退回")
    history = panel.get_by_test_id("police-history")
    expect(history).to_contain_text("110 退回（110 报警服务台） · 原因：非警情，属民事纠纷")
    expect(history).to_contain_text("转110（派单员）")
    assert live.call("police1", "GET", f"/api/v1/tickets/{out['number']}")["status"] == "NEW"

    page.get_by_test_id("tab-from-110").click()
    expect(page.locator(f'tr[data-number="{inbound["number"]}"]')).to_contain_text("待派单")
    screenshot(page, "police-page")
