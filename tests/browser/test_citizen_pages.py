"""The citizens' own pages at phone size (360×740, no login): /report with a pin on the county
map, a photo from the camera and a phone → the ticket number and pick-up code on screen; a PDF
renamed .jpg refused in Chinese with nothing stored; /track with the number and code → the
state, then the rating once the result is reviewed."""

from __future__ import annotations

import io

from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import func, select

from tests.browser.conftest import screenshot

PHONE = {"width": 360, "height": 740}
HOSTILE = "<img src=x onerror=alert(1)>"


def jpeg_file(name: str = "现场.jpg") -> dict:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), "teal").save(out, "JPEG")
    return {"name": name, "mimeType": "image/jpeg", "buffer": out.getvalue()}


def stored(live) -> tuple[int, int, int]:
    from dispatch.core.models import Ticket
    from dispatch.intake.web_channel import PickupCode
    from dispatch.tickets.attachments import Attachment
    from web.extensions import db

    with live.app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(m))  # type: ignore
                     for m in (Ticket, Attachment, PickupCode))


def test_a_citizen_reports_with_a_pin_and_a_photo_then_tracks_and_rates_on_a_phone(
        demo_county, new_page):
    live = demo_county
    page = new_page(viewport=PHONE, allow_refusals=True)
    page.goto("/report")
    expect(page.get_by_role("heading", name="我要反映")).to_be_visible()
    assert page.locator("header").count() == 1 and page.locator("footer").count() == 1
    assert page.locator("main").count() == 1
    # Fits the phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    expect(page.locator("#map .leaflet-interactive").first).to_be_attached()  # outlines drawn
    page.get_by_label("反映的问题").fill("小区门口路灯坏了好几天，晚上很黑 " + HOSTILE)
    page.get_by_label("地址").fill("南环路")  # an address typed and found on the map
    page.get_by_role("button", name="查找").click()
    expect(page.locator("#pin-status")).to_contain_text("已标出位置")
    found = page.input_value("#lon")
    assert found and abs(float(found) - 114.68) < 0.1
    page.locator("#map").click()  # the pin, in the middle of the county
    expect(page.locator("#lon")).not_to_have_value(found)
    expect(page.locator("#pin-status")).to_contain_text("已标出位置")
    assert page.input_value("#lon") and page.input_value("#lat")
    page.get_by_label("手机号", exact=True).fill("13912345678")

    # A PDF renamed .jpg: refused in Chinese, nothing stored.
    before = stored(live)
    page.set_input_files("#photos", {"name": "扫描件.jpg", "mimeType": "image/jpeg",
                                     "buffer": b"%PDF-1.4\n%%EOF\n"})
    page.get_by_role("button", name="提交诉求").click()
    expect(page.locator("#report-error")).to_contain_text("照片")
    expect(page.locator("#report-error")).to_contain_text("不能接受")
    assert stored(live) == before

    page.set_input_files("#photos", jpeg_file())
    expect(page.locator("#photo-list li")).to_have_count(1)
    screenshot(page, "citizen-report-form-phone")
    page.get_by_role("button", name="提交诉求").click()
    expect(page.locator("#receipt")).to_be_visible()
    number = page.locator("#receipt-number").inner_text().strip()
    code = page.locator("#receipt-code").inner_text().strip()
    assert number.startswith("12345-") and len(code) == 6
    expect(page.locator("#receipt-notice")).to_contain_text("提取码只在本页显示")
    assert stored(live) == (before[0] + 1, before[1] + 1, before[2] + 1)
    screenshot(page, "citizen-report-phone")

    # Track: the number and the code → where it stands; the text shown as text.
    page.get_by_role("link", name="查询办理进度").click()
    expect(page.get_by_label("工单编号")).to_have_value(number)
    page.get_by_label("提取码（6 位）").fill(code.lower())
    page.get_by_role("button", name="查询").click()
    expect(page.locator("#result-state")).to_have_text("已受理")
    expect(page.locator("#result-text")).to_contain_text(HOSTILE)
    assert page.locator("#result-text img").count() == 0
    expect(page.locator("#own-photos img")).to_have_count(1)

    # The department handles it and the hotline accepts the result: the rating is offered.
    version = live.call("dispatcher1", "GET", f"/api/v1/tickets/{number}")["version"]
    steps = [("dispatcher1", "dispatch", {"lead": "urban_management", "category": "urban"}),
             ("handler1", "sign", {}), ("handler1", "complete", {"result": "路灯已更换"}),
             ("dispatcher1", "review_accept", {})]
    for user, action, payload in steps:
        version = live.call(user, "POST", f"/api/v1/tickets/{number}/actions/{action}",
                            {"version": version, **payload})["version"]
    page.get_by_role("button", name="查询").click()
    expect(page.locator("#result-state")).to_have_text("待评价")
    expect(page.locator("#result-reply")).to_have_text("路灯已更换")
    page.get_by_role("button", name="提交评价").click()  # nothing chosen: refused on the page
    expect(page.locator("#rate-error")).to_contain_text("满意度")
    page.get_by_label("满意", exact=True).check()
    page.get_by_label("已解决").check()
    page.get_by_role("button", name="提交评价").click()
    expect(page.locator("#rated")).to_contain_text("感谢您的评价")
    expect(page.locator("#result-state")).to_have_text("已办结")
    expect(page.locator("#rate-form")).to_be_hidden()
    assert live.call("dispatcher1", "GET", f"/api/v1/tickets/{number}")["status"] == "ARCHIVED"
    screenshot(page, "citizen-track-phone")


def test_a_wrong_code_shows_the_same_chinese_answer_as_an_unknown_number(demo_county, new_page):
    page = new_page(viewport=PHONE, allow_refusals=True)
    page.goto("/track")
    page.get_by_label("工单编号").fill("12345-20991231-999999")
    page.get_by_label("提取码（6 位）").fill("ABCDEF")
    page.get_by_role("button", name="查询").click()
    expect(page.locator("#track-error")).to_contain_text("没有找到这个工单，或提取码不正确")
    expect(page.locator("#result")).to_be_hidden()
