"""Login, landing pages by role, logout, password change, and the pages' security headers."""

from __future__ import annotations

from tests.browser.conftest import login, screenshot


def test_each_role_lands_on_its_page_and_logout_ends_the_session(new_page, live_server):
    # A logout ends the session at once: requests the page still had in flight are refused (401).
    page = new_page(allow_refusals=True)
    for user, path in (("operator1", "/intake"), ("dispatcher1", "/console"),
                       ("handler1", "/department"), ("worker1", "/worker")):
        login(page, user)
        assert page.url.endswith(path)
        assert page.get_by_test_id("who").is_visible()
        page.get_by_role("button", name="退出").click()
        page.wait_for_url("**/login")
        page.goto(path)
        assert "/login" in page.url  # signed out: the page sends back to the login form


def test_wrong_password_is_refused_with_a_message(new_page, live_server):
    page = new_page()
    page.goto("/login")
    page.fill("input[name=username]", "dispatcher1")
    page.fill("input[name=password]", "wrong-password")
    page.press("input[name=password]", "Enter")
    page.wait_for_selector("[role=alert]")
    assert "用户名或密码错误" in page.inner_text("[role=alert]")
    assert "/login" in page.url
    screenshot(page, "login-refused")
