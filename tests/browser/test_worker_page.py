"""The grid worker's phone page: assignments with countdowns, sign for, progress with a photo,
complete with a photo and the current location; photo checks shown before any upload; nothing
of another area reachable by typing a number."""

from __future__ import annotations

import io
import re

from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.conftest import login, screenshot

PHONE = {"width": 390, "height": 844}


def jpeg_file(name: str = "现场.jpg", size: tuple[int, int] = (320, 240)) -> dict:
    out = io.BytesIO()
    Image.new("RGB", size, "teal").save(out, "JPEG")
    return {"name": name, "mimeType": "image/jpeg", "buffer": out.getvalue()}


def duty_point(live) -> tuple[float, float]:
    """A point inside one of worker1's duty cells (demo county)."""
    from dispatch.core.models import User
    from grid.models import Area, GridVersion, RosterEntry
    from web.extensions import db

    with live.app.app_context():
        uid = db.session.scalar(select(User.id).where(User.username == "worker1"))
        cell = db.session.scalar(select(RosterEntry.cell_code).where(RosterEntry.user_id == uid)
                                 .order_by(RosterEntry.id))
        version = db.session.scalar(select(GridVersion.id).where(GridVersion.active.is_(True)))
        area = db.session.scalar(select(Area).where(Area.code == cell,
                                                    Area.grid_version == version))
        return area.point_lon, area.point_lat


def ticket_for_worker1(live, text: str, worker: str | None = "worker1", **fields) -> dict:
    """A demand logged by operator1 and dispatched to 蒲东街道 with `worker` on site."""
    body = {"channel": "phone", "text": text, "type": "complaint", "category": "urban",
            "urgency": "urgent", "citizen": {"name": "李四", "phone": "13912345678"}, **fields}
    t = live.call("operator1", "POST", "/api/v1/tickets", body)
    return live.call("dispatcher1", "POST", f"/api/v1/tickets/{t['number']}/actions/dispatch",
                     {"version": t["version"], "lead": "street_pudong", "grid_worker": worker})


def test_worker_signs_reports_progress_with_a_photo_and_completes_with_photo_and_location(
        demo_county, new_page):
    live = demo_county
    lon, lat = duty_point(live)
    in_my_cell = ticket_for_worker1(live, "井盖缺失，有安全隐患", worker=None, lon=lon, lat=lat)
    other = ticket_for_worker1(live, "路灯不亮，晚上很黑", address="蒲东街道某小区")
    t = ticket_for_worker1(live, "<img src=x onerror=alert(1)> 小区门口占道经营", lon=lon, lat=lat)
    number = t["number"]
    page = new_page(viewport=PHONE, geolocation={"longitude": lon + 0.0003,
                                                 "latitude": lat - 0.0002, "accuracy": 12},
                    permissions=["geolocation"])
    login(page, "worker1")
    assert page.url.endswith("/worker")

    # The list: my two assignments first, each with its sign-for countdown, then the ticket
    # of my duty cell that is nobody's; the demand text is text.
    cards = page.get_by_test_id("open-list").get_by_test_id("ticket-card")
    expect(cards).to_have_count(3)
    expect(cards.nth(2)).to_contain_text(in_my_cell["number"])
    expect(cards.nth(2)).to_contain_text("网格内")
    expect(cards.nth(0)).to_contain_text("指派给我")
    expect(cards.nth(1)).to_contain_text("指派给我")
    first = cards.filter(has_text=number)
    expect(first).to_contain_text("<img src=x onerror=alert(1)>")
    expect(first.locator(".clock")).to_contain_text(re.compile(r"签收时限 剩 1小时\d\d分"))
    expect(first).to_contain_text("指派给我")
    assert page.locator("img[src=x]").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "worker-list")

    # The ticket view: demand, masked citizen, coordinates and a map, the actions offered.
    first.click()
    panel = page.get_by_test_id("ticket-panel")
    expect(panel.get_by_test_id("ticket-number")).to_have_text(number)
    expect(panel.get_by_test_id("citizen-phone")).to_have_text("139****5678")
    expect(panel).to_contain_text(f"{lon:.6f}, {lat:.6f}")
    expect(panel.get_by_test_id("ticket-map").locator("path.cell-area.own")).to_have_count(1)
    expect(panel.get_by_test_id("ticket-cell")).to_contain_text("网格")  # its name, not a code
    expect(panel.get_by_test_id("action-complete")).to_have_count(0)

    panel.get_by_test_id("action-sign").click()
    expect(panel.get_by_test_id("ticket-status")).to_have_text("已签收")
    expect(panel.locator(".ticket-mine .clock")).to_contain_text("办结时限")

    # Progress with a photo: the photo uploads (progress, then 已上传) before the note is sent.
    panel.get_by_test_id("action-note").click()
    form = panel.get_by_test_id("form-note")
    form.locator("textarea").fill("已到现场，正在劝离摊贩")
    form.get_by_test_id("photo-input").set_input_files(jpeg_file())
    expect(form.get_by_test_id("photo-item")).to_contain_text("已上传")
    form.get_by_test_id("submit-note").click()
    note = panel.locator(".timeline .ev-note").first
    expect(note).to_contain_text("已到现场，正在劝离摊贩")
    photo = note.get_by_test_id("event-photo")
    expect(photo).to_have_count(1)
    page.wait_for_function("img => img.complete && img.naturalWidth === 320",
                           arg=photo.element_handle())

    # Wrong type and too big are refused on the phone, before any upload.
    panel.get_by_test_id("action-complete").click()
    form = panel.get_by_test_id("form-complete")
    picker = form.get_by_test_id("photo-input")
    assert picker.get_attribute("capture") == "environment"
    assert picker.get_attribute("accept") == "image/*"
    picker.set_input_files({"name": "说明.txt", "mimeType": "text/plain", "buffer": b"hello"})
    expect(form.get_by_test_id("photo-item").last).to_contain_text("格式不支持")
    form.get_by_role("button", name=re.compile("移除照片")).click()
    picker.set_input_files({"name": "big.jpg", "mimeType": "image/jpeg",
                            "buffer": b"\xff\xd8" + b"0" * (10 * 1024 * 1024 + 1)})
    expect(form.get_by_test_id("photo-item").last).to_contain_text("照片过大")
    form.get_by_role("button", name=re.compile("移除照片")).click()

    # Complete with a photo and the current location.
    form.locator("textarea").fill("摊贩已劝离，路面已清理")
    picker.set_input_files(jpeg_file("办结.jpg", (200, 150)))
    expect(form.get_by_test_id("photo-item")).to_contain_text("已上传")
    expect(form.get_by_test_id("location-text")).to_contain_text(f"{lon + 0.0003:.6f}"[:9])
    screenshot(page, "worker")
    form.get_by_test_id("submit-complete").click()
    expect(panel.get_by_test_id("ticket-status")).to_have_text("已办结待审核")
    expect(panel.get_by_test_id("action-note")).to_have_count(1)  # notes stay open
    done = panel.locator(".timeline .ev-complete").first
    expect(done.get_by_test_id("event-location")).to_be_visible()

    view = live.call("dispatcher1", "GET", f"/api/v1/tickets/{number}")
    assert view["status"] == "COMPLETED"
    (complete,) = [e for e in view["events"] if e["action"] == "complete"]
    assert complete["actor"] == "worker1"
    assert complete["payload"]["result"] == "摊贩已劝离，路面已清理"
    assert len(complete["payload"]["attachments"]) == 1
    loc = complete["payload"]["location"]
    assert abs(loc["lon"] - (lon + 0.0003)) < 1e-6 and abs(loc["lat"] - (lat - 0.0002)) < 1e-6
    (note_event,) = [e for e in view["events"] if e["action"] == "note"]
    assert len(note_event["payload"]["attachments"]) == 1
    assert "location" not in note_event["payload"]

    # Back to the list: the other assignment is still there, this one is under 最近办结.
    page.get_by_test_id("back").click()
    expect(page.get_by_test_id("done-list")).to_contain_text(number)
    expect(page.get_by_test_id("open-list")).to_contain_text(other["number"])


def test_worker_returns_a_ticket_with_a_reason(live_server, new_page):
    t = ticket_for_worker1(live_server, "小区垃圾清运不及时")
    page = new_page(viewport=PHONE)
    login(page, "worker1")
    page.get_by_test_id("ticket-card").filter(has_text=t["number"]).click()
    panel = page.get_by_test_id("ticket-panel")
    panel.get_by_test_id("action-return").click()
    form = panel.get_by_test_id("form-return")
    form.get_by_test_id("submit-return").click()  # the reason is required: nothing is sent
    assert form.locator("textarea:invalid").count() == 1
    form.locator("textarea").fill("不属于本网格，应由恼里镇处理")
    form.get_by_test_id("submit-return").click()
    expect(panel.get_by_test_id("ticket-status")).to_have_text("已退单")
    expect(panel.locator(".timeline .ev-return").first).to_contain_text("不属于本网格")
    view = live_server.call("dispatcher1", "GET", f"/api/v1/tickets/{t['number']}")
    assert view["status"] == "RETURNED"
    assert view["assignments"][0]["return_reason"] == "不属于本网格，应由恼里镇处理"


def test_worker_cannot_open_a_ticket_of_someone_else_by_typing_its_number(live_server,
                                                                          new_page):
    body = {"channel": "phone", "text": "别人的工单：机密内容", "type": "complaint",
            "category": "urban", "urgency": "normal"}
    theirs = live_server.call("operator1", "POST", "/api/v1/tickets", body)
    live_server.call("dispatcher1", "POST", f"/api/v1/tickets/{theirs['number']}/actions/dispatch",
                     {"version": theirs["version"], "lead": "urban_management"})
    page = new_page(viewport=PHONE)
    login(page, "worker1")
    page.goto(f"/worker#{theirs['number']}")
    expect(page.get_by_test_id("not-found")).to_contain_text(theirs["number"])
    assert "机密内容" not in page.content()
