"""The audit page (/admin/audit): an admin looks up a ticket's events, sees an admin change as
before → after, the reads of personal data, exports the list to Excel; a bad date is refused
in Chinese, naming the field, and nothing is written."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from playwright.sync_api import expect
from sqlalchemy import func, select

from tests.browser.conftest import admin_page, screenshot


def _record_change(live) -> None:
    from dispatch.core.audit import record_change
    from dispatch.core.models import User
    from web.extensions import db

    with live.app.app_context():
        admin = db.session.scalar(select(User.id).where(User.username == "admin1"))
        record_change(db.session, admin, "user", "handler1", "update",
                      {"role": "handler", "extension": None},
                      {"role": "dispatcher", "extension": "8001"}, at=live.clock.now())
        db.session.commit()


def _written(live) -> tuple[int, int, int]:
    from dispatch.core.models import AdminChange, Event, PersonalDataRead
    from web.extensions import db

    with live.app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(m))
                     for m in (AdminChange, PersonalDataRead, Event))


def test_an_admin_filters_the_audit_switches_tabs_and_exports(new_page, demo_county):
    live = demo_county
    ticket = live.call("operator1", "POST", "/api/v1/tickets", {
        "channel": "phone", "text": "小区门口有人占道经营，堵住了出口", "type": "complaint",
        "citizen": {"name": "张三", "phone": "13800138000"}, "category": "urban",
        "urgency": "normal"})
    live.call("dispatcher1", "POST", f"/api/v1/tickets/{ticket['number']}/actions/dispatch",
              {"version": ticket["version"], "lead": "urban_management"})
    live.call("operator1", "GET", f"/api/v1/tickets/{ticket['number']}")
    _record_change(live)

    page = admin_page(new_page, "/admin/audit")
    rows = page.locator("#audit-rows tr")

    # 操作事件: the ticket's dispatch, by name, filtered by its number.
    page.get_by_test_id("filter-ticket").fill(ticket["number"])
    page.get_by_test_id("filter-action-events").select_option("dispatch")
    page.get_by_test_id("filter-submit").click()
    expect(rows).to_have_count(1)
    assert "派单员一" in rows.first.inner_text() and "长垣市城市管理局" in rows.first.inner_text()
    assert "13800138000" not in page.content() and "张三" not in page.content()

    # 管理变更 by admin1 (loading the demo county recorded its own): before → after per field.
    page.get_by_test_id("tab-changes").click()
    expect(page.locator("#audit-rows .audit-changes").first).to_be_visible()
    page.get_by_test_id("filter-user").fill("admin1")
    page.get_by_test_id("filter-submit").click()
    expect(rows).to_have_count(1)
    change = rows.first
    assert "管理员一" in change.inner_text() and "城管局承办人（handler1）" in change.inner_text()
    assert change.locator(".diff-before").first.inner_text() in ("（空）", "承办人")
    assert "角色：承办人 → 派单员" in change.inner_text()
    assert page.get_by_test_id("filter-ticket").is_hidden()  # changes have no ticket

    # 个人信息查阅: who read which ticket's data; then a refused filter.
    page.get_by_test_id("filter-user").fill("")
    page.get_by_test_id("tab-reads").click()
    expect(page.locator("#audit-rows")).to_contain_text(ticket["number"])
    assert "话务员一" in page.locator("#audit-rows").inner_text()
    before = _written(live)
    page.get_by_test_id("filter-from").fill("2026-13-01")
    page.get_by_test_id("filter-submit").click()
    error = page.get_by_test_id("filter-error")
    error.wait_for()
    assert "「开始」" in error.inner_text() and "不是有效的日期" in error.inner_text()
    assert page.get_by_test_id("filter-from").get_attribute("aria-invalid") == "true"
    assert page.refusals and _written(live) == before

    # The same list as an Excel file, once the date is put right.
    page.get_by_test_id("filter-from").fill("")
    page.get_by_test_id("filter-user").fill("operator1")
    page.get_by_test_id("filter-submit").click()
    expect(error).to_be_hidden()
    expect(rows.first).to_contain_text("话务员一")
    with page.expect_download() as download:
        page.get_by_test_id("export").click()
    assert download.value.suggested_filename.startswith("审计-个人信息查阅")
    book = load_workbook(io.BytesIO(download.value.path().read_bytes()))
    cells = [r for r in book["个人信息查阅"].iter_rows(min_row=2, values_only=True)]
    assert cells and {r[1] for r in cells} == {"话务员一"}
    assert ticket["number"] in {r[2] for r in cells}
    assert _written(live) == before  # reading and exporting the audit writes nothing
    screenshot(page, "admin-audit")
