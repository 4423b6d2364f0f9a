"""The department workbench: the inbox by tab with countdowns; sign for, request an extension,
ask for a suspension (the countdown shows 已挂起 once approved) and resume, complete with a
photo; the co-handler reads the lead's notes; another department's ticket cannot be opened by
typing its number."""

from __future__ import annotations

import io
import re

from PIL import Image
from playwright.sync_api import expect

from tests.browser.conftest import login, screenshot


def png_file(name: str = "整改前后.png") -> dict:
    out = io.BytesIO()
    Image.new("RGBA", (160, 120), (200, 30, 30, 255)).save(out, "PNG")
    return {"name": name, "mimeType": "image/png", "buffer": out.getvalue()}


def dispatched(live, text: str, lead: str, co: list[str] | None = None,
               worker: str | None = None, **fields) -> dict:
    body = {"channel": "phone", "text": text, "type": "complaint", "category": "urban",
            "urgency": "normal", "citizen": {"name": "王五", "phone": "13700001111"}, **fields}
    t = live.call("operator1", "POST", "/api/v1/tickets", body)
    return live.call("dispatcher1", "POST", f"/api/v1/tickets/{t['number']}/actions/dispatch",
                     {"version": t["version"], "lead": lead, "co_handlers": co or [],
                      **({"grid_worker": worker} if worker else {})})


def tab(page, name: str):
    return page.get_by_test_id(f"tab-{name}")


def rows(page):
    return page.get_by_test_id("inbox").get_by_test_id("inbox-row")


def test_handler_signs_requests_an_extension_and_completes_with_a_photo(live_server, new_page):
    t = dispatched(live_server, "<script>alert(1)</script> 夜间施工噪音扰民", "urban_management")
    number = t["number"]
    dispatched(live_server, "蒲东街道的工单", "street_pudong")  # not handler1's
    page = new_page()
    login(page, "handler1")
    assert page.url.endswith("/department")

    expect(tab(page, "sign")).to_have_attribute("aria-selected", "true")
    expect(tab(page, "sign").locator(".count")).to_have_text("1")
    row = rows(page).filter(has_text=number)
    expect(row).to_contain_text("<script>alert(1)</script> 夜间施工噪音扰民")
    expect(row.locator(".clock")).to_contain_text(re.compile(r"签收时限 剩 23小时\d\d分"))
    expect(rows(page)).to_have_count(1)
    expect(row.get_by_test_id("assignment-status")).to_have_text("待签收")
    # At 1440 px every column keeps its text on one line (no column one character wide).
    heights = row.locator("td").evaluate_all("cells => cells.map(c => c.clientHeight)")
    assert max(heights) < 48, heights

    # A new dispatch arrives by the console feed (no reload, no 60 s poll): the row, a title
    # badge, a line naming it and the shared tone (counted on the page).
    expect(page.get_by_test_id("live")).to_have_text("● 实时")
    pushed = dispatched(live_server, "小区门口垃圾堆放多日", "urban_management",
                        worker="worker1")["number"]
    expect(rows(page).filter(has_text=pushed)).to_have_count(1)
    expect(page).to_have_title(re.compile(r"^\(1\) 部门工作台"))
    expect(page.get_by_test_id("arrival")).to_have_text(f"新派单：{pushed}")
    expect(page.get_by_test_id("department-page")).to_have_attribute("data-alerts", "1")
    rows(page).filter(has_text=pushed).click()
    expect(page).to_have_title(re.compile(r"^部门工作台"))
    expect(page.get_by_test_id("arrival")).to_be_hidden()

    row.click()
    panel = page.get_by_test_id("ticket-panel")
    expect(panel.get_by_test_id("ticket-number")).to_have_text(number)
    expect(panel.get_by_test_id("citizen-phone")).to_have_text("137****1111")
    assert page.url.endswith("#" + number)
    panel.get_by_test_id("action-sign").click()
    expect(panel.get_by_test_id("ticket-status")).to_have_text("已签收")
    expect(tab(page, "handling").locator(".count")).to_have_text("1")
    expect(tab(page, "sign").locator(".count")).to_have_text("1")  # the pushed one

    # Extension: days and a reason; it shows on the ticket and under 延期申请.
    panel.get_by_test_id("action-request_extension").click()
    form = panel.get_by_test_id("form-request_extension")
    form.locator("input[name=days]").fill("3")
    form.locator("textarea").fill("需协调住建部门联合执法")
    form.get_by_test_id("submit-request_extension").click()
    expect(panel.get_by_test_id("extension")).to_contain_text("待审批")
    expect(panel.get_by_test_id("extension")).to_contain_text("需协调住建部门联合执法")
    tab(page, "extension").click()
    expect(rows(page).filter(has_text=number)).to_contain_text("待审批 3天")

    # Keyboard: the tabs move with the arrow keys.
    tab(page, "extension").press("ArrowLeft")
    expect(tab(page, "handling")).to_have_attribute("aria-selected", "true")
    expect(tab(page, "handling")).to_be_focused()

    # Suspension (挂起): an end date and a reason; a dispatcher approves; the countdown stands
    # (已挂起) until handler1 resumes it.
    panel.get_by_test_id("action-request_suspend").click()
    form = panel.get_by_test_id("form-request_suspend")
    form.get_by_test_id("suspend-until").fill("2026-11-30")
    form.locator("textarea").fill("等待市民补交产权证明")
    form.get_by_test_id("submit-request_suspend").click()
    expect(panel.get_by_test_id("suspension")).to_contain_text("待审批")
    expect(panel.get_by_test_id("action-request_suspend")).to_have_count(0)
    view = live_server.call("dispatcher1", "GET", f"/api/v1/tickets/{number}")
    live_server.call("dispatcher1", "POST", f"/api/v1/tickets/{number}/actions/approve_suspend",
                     {"version": view["version"]})
    page.reload()
    expect(panel.get_by_test_id("ticket-number")).to_have_text(number)
    mine = panel.locator(".ticket-mine .clock")
    expect(mine).to_have_text("办结时限 已挂起")
    expect(mine).to_have_class(re.compile(r"\bsuspended\b"))
    expect(panel.get_by_test_id("suspension")).to_contain_text("挂起中")
    panel.get_by_test_id("action-resume").click()
    expect(panel.get_by_test_id("suspension")).to_contain_text("已恢复")
    expect(panel.locator(".ticket-mine .clock")).to_contain_text("办结时限 剩")

    # Complete with a photo.
    panel.get_by_test_id("action-complete").click()
    form = panel.get_by_test_id("form-complete")
    assert form.get_by_test_id("photo-input").get_attribute("capture") is None
    form.locator("textarea").fill("已责令施工单位夜间停工，并处罚款")
    form.get_by_test_id("photo-input").set_input_files(png_file())
    expect(form.get_by_test_id("photo-item")).to_contain_text("已上传")
    form.get_by_test_id("submit-complete").click()
    expect(panel.get_by_test_id("ticket-status")).to_have_text("已办结待审核")
    photo = panel.locator(".timeline .ev-complete").first.get_by_test_id("event-photo")
    page.wait_for_function("img => img.complete && img.naturalWidth === 160",
                           arg=photo.element_handle())
    expect(tab(page, "done").locator(".count")).to_have_text("1")

    # Past its completion deadline, the pushed ticket offers no 申请延期 (it would be refused).
    live_server.clock.advance(days=90)
    page.goto(f"/department#{pushed}")
    page.reload()  # the page reads the server's clock when it loads
    other = page.get_by_test_id("ticket-panel")
    expect(other.get_by_test_id("ticket-number")).to_have_text(pushed)
    # People by name, usernames only in the tooltips: the grid worker of the assignment and
    # of the dispatch, and who dispatched.
    worker = other.get_by_test_id("assignment-worker")
    expect(worker).to_have_text("网格员一")
    expect(worker).to_have_attribute("title", "worker1")
    dispatch = other.locator(".timeline .ev-dispatch")
    expect(dispatch).to_contain_text("网格员：网格员一")
    expect(dispatch.get_by_test_id("event-actor")).to_have_attribute("title", "dispatcher1")
    assert not re.search(r"worker1|dispatcher1", other.inner_text())
    other.get_by_test_id("action-sign").click()
    expect(other.get_by_test_id("ticket-status")).to_have_text("已签收")
    expect(other.get_by_test_id("action-complete")).to_be_visible()
    expect(other.get_by_test_id("action-request_extension")).to_have_count(0)
    tab(page, "done").click()
    expect(rows(page).filter(has_text=number)).to_have_count(1)
    screenshot(page, "department")

    view = live_server.call("dispatcher1", "GET", f"/api/v1/tickets/{number}")
    assert view["status"] == "COMPLETED"
    assert [x["status"] for x in view["extensions"]] == ["pending"]
    assert view["extensions"][0]["days"] == 3
    (complete,) = [e for e in view["events"] if e["action"] == "complete"]
    assert len(complete["payload"]["attachments"]) == 1 and "location" not in complete["payload"]


def test_the_co_handler_reads_the_lead_departments_notes_and_adds_its_own(live_server,
                                                                          new_page):
    t = dispatched(live_server, "主次干道占道经营严重", "urban_management", co=["street_pudong"])
    lead = new_page()
    login(lead, "handler1")
    rows(lead).filter(has_text=t["number"]).click()
    panel = lead.get_by_test_id("ticket-panel")
    panel.get_by_test_id("action-note").click()
    form = panel.get_by_test_id("form-note")
    form.locator("textarea").fill("请街道于周三前配合清理沿街摊点")
    form.get_by_test_id("submit-note").click()
    expect(panel.locator(".timeline .ev-note")).to_contain_text("请街道于周三前配合清理沿街摊点")

    co = new_page()
    login(co, "street1")
    row = rows(co).filter(has_text=t["number"])
    expect(row).to_contain_text("协办")
    # The lead signed; this co-handler's own assignment is still to be signed for.
    live_server.call("handler1", "POST", f"/api/v1/tickets/{t['number']}/actions/sign",
                     {"version": live_server.call("handler1", "GET",
                                                  f"/api/v1/tickets/{t['number']}")["version"]})
    co.get_by_test_id("refresh").click()
    expect(row.get_by_test_id("assignment-status")).to_have_text("待签收")
    expect(row.get_by_test_id("assignment-status")).to_have_attribute(
        "title", "工单状态：已签收")
    row.click()
    panel = co.get_by_test_id("ticket-panel")
    expect(panel.locator(".timeline .ev-note")).to_contain_text("请街道于周三前配合清理沿街摊点")
    panel.get_by_test_id("action-note").click()
    form = panel.get_by_test_id("form-note")
    form.locator("textarea").fill("收到，已安排网格员周二清理")
    form.get_by_test_id("submit-note").click()
    expect(panel.locator(".timeline .ev-note").first).to_contain_text("收到，已安排网格员周二清理")
    view = live_server.call("dispatcher1", "GET", f"/api/v1/tickets/{t['number']}")
    assert [e["payload"]["text"] for e in view["events"] if e["action"] == "note"] == [
        "请街道于周三前配合清理沿街摊点", "收到，已安排网格员周二清理"]


def test_a_handler_cannot_open_another_departments_ticket_by_typing_its_number(live_server,
                                                                              new_page):
    theirs = dispatched(live_server, "街道内部事项：不应被城管看到", "street_pudong")
    page = new_page()
    login(page, "handler1")
    page.goto(f"/department#{theirs['number']}")
    expect(page.get_by_test_id("not-found")).to_contain_text(theirs["number"])
    page.evaluate("n => { location.hash = n; }", theirs["number"] + "x")
    expect(page.get_by_test_id("not-found")).to_contain_text(theirs["number"] + "x")
    assert "不应被城管看到" not in page.content()
    expect(rows(page)).to_have_count(0)
