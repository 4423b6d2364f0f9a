"""The pages' error pages in a browser: an unknown address shows a Chinese page in the pages'
style (no raw JSON), with a link back that leads to the user's own page."""

from __future__ import annotations

from tests.browser.conftest import login, screenshot


def test_an_unknown_page_shows_a_chinese_error_page_with_a_way_back(new_page, live_server):
    page = new_page(allow_refusals=True)  # the 404 itself is logged by the browser
    login(page, "dispatcher1")
    answer = page.goto("/no-such-page")
    assert answer is not None and answer.status == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert page.locator("h1").inner_text() == "页面不存在"
    assert "找不到请求的地址" in page.get_by_test_id("error-message").inner_text()
    screenshot(page, "error-404")
    with page.expect_navigation():
        page.get_by_role("link", name="返回首页").click()
    assert page.url.endswith("/console")  # the way back leads to the user's own page
