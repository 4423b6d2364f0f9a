"""巡查上报 on worker1's phone page: a photo, the GPS location, the category and the text, and
"现场已处理" with photos before and after; the report is filed, completed on the spot and shown
waiting for the street office's review."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.browser.test_worker_page import PHONE, duty_point, jpeg_file


def test_worker_files_a_self_handled_patrol_report(demo_county, new_page):
    live = demo_county
    lon, lat = duty_point(live)
    page = new_page(viewport=PHONE, permissions=["geolocation"],
                    geolocation={"longitude": lon, "latitude": lat, "accuracy": 10})
    login(page, "worker1")
    page.get_by_test_id("patrol-open").click()
    form = page.get_by_test_id("patrol-form")
    expect(form).to_be_visible()
    expect(form.get_by_test_id("location-text")).to_contain_text("当前位置")
    inputs = form.get_by_test_id("photo-input")
    inputs.nth(0).set_input_files(jpeg_file("现场.jpg"))
    form.get_by_test_id("patrol-text").fill("人行道井盖松动，已临时加固")
    form.get_by_test_id("patrol-category").select_option("urban")
    form.get_by_test_id("patrol-self-handled").check()
    form.get_by_test_id("patrol-result").fill("已用沙袋围挡并加固井盖")
    inputs.nth(1).set_input_files(jpeg_file("处理前.jpg"))
    inputs.nth(2).set_input_files(jpeg_file("处理后.jpg"))
    expect(form.get_by_test_id("photo-item")).to_have_count(3)
    form.get_by_test_id("patrol-submit").click()

    panel = page.get_by_test_id("ticket-panel")
    expect(panel.get_by_test_id("ticket-number")).to_contain_text("12345-")
    expect(panel).to_contain_text("巡查上报")
    expect(panel.get_by_test_id("delegation")).to_contain_text("已办结待审核")
    expect(panel.get_by_test_id("timeline")).to_contain_text("现场自办自结")
    expect(panel.get_by_test_id("event-photo")).to_have_count(3)
