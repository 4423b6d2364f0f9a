"""The triage settings page (/admin/triage): an admin turns 智能派单 on for a category and
auto_transfer_110 on; a threshold outside 0–1 is refused in Chinese, naming the field, and
nothing is saved."""

from __future__ import annotations

from tests.browser.conftest import login, screenshot


def test_an_admin_sets_the_thresholds_and_a_bad_one_is_refused_with_nothing_saved(
        new_page, demo_county):
    page = new_page(allow_refusals=True)
    login(page, "admin1", then="/admin/triage")
    page.wait_for_selector("#triage-admin[data-ready=true]")

    before = page.evaluate("fetch('/api/v1/admin/triage-settings').then(r => r.json())")
    page.select_option("[data-testid=new-category]", "urban.appearance")
    page.get_by_test_id("add").click()
    page.get_by_test_id("threshold-urban.appearance").fill("1.5")
    page.get_by_test_id("save").click()
    error = page.get_by_test_id("form-error")
    error.wait_for()
    assert "auto_dispatch.urban.appearance" in error.inner_text()
    after = page.evaluate("fetch('/api/v1/admin/triage-settings').then(r => r.json())")
    assert after == before  # refused: nothing written
    assert page.refusals  # the 400 the page handled

    page.get_by_test_id("threshold-urban.appearance").fill("0.9")
    page.get_by_test_id("auto-transfer").check()
    page.get_by_test_id("save").click()
    page.get_by_test_id("saved").wait_for()
    saved = page.evaluate("fetch('/api/v1/admin/triage-settings').then(r => r.json())")
    assert saved["auto_dispatch"]["urban.appearance"] == 0.9
    assert saved["auto_transfer_110"] is True

    page.reload()
    page.wait_for_selector("#triage-admin[data-ready=true]")
    assert page.get_by_test_id("threshold-urban.appearance").input_value() == "0.9"
    assert page.get_by_test_id("auto-transfer").is_checked()
    screenshot(page, "triage-admin")


def test_the_triage_page_is_for_admins_only(new_page, live_server):
    page = new_page(allow_refusals=True)
    login(page, "dispatcher1")
    response = page.goto("/admin/triage")
    assert response.status == 403
    assert page.get_by_test_id("thresholds").count() == 0  # the forbidden page, not the form
