"""The operator's screen `/intake`: a call logged with the keyboard alone, direct answers from the
knowledge base, police matters sent to 110, caller history and repeats, refusals, and the
callback queue — each checked against what the API then holds."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, login, screenshot

NUMBER = re.compile(r"^12345-\d{8}-\d{6}$")
CROSSING = "宏力大道与山海大道交叉口"
CROSSING_CELL = "street_puxi-c035-g05"
MARKUP = "<img src=x onerror=alert(1)>"


@pytest.fixture
def county(demo_county: LiveServer) -> LiveServer:
    """The demo county, with the shipped classifier phrases."""
    return demo_county


def _dialogs(page: Any) -> list[str]:
    """Record every JavaScript dialog (alert, confirm) the page opens; dismiss it."""
    opened: list[str] = []

    def record(dialog: Any) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    return opened


def _ticket_total(live: LiveServer) -> int:
    return live.call("dispatcher1", "GET", "/api/v1/tickets?per_page=1")["total"]


def _log_call(
    live: LiveServer,
    text: str,
    phone: str = "13800001111",
    address: str = CROSSING,
    name: str | None = "张三",
) -> dict[str, Any]:
    return live.call(
        "operator1",
        "POST",
        "/api/v1/tickets",
        {
            "channel": "phone",
            "text": text,
            "address": address,
            "citizen": {"name": name, "phone": phone},
        },
    )


def _reviewed(live: LiveServer, text: str, phone: str) -> dict[str, Any]:
    """A ticket taken through dispatch, handling and review: it awaits its callback."""
    t = _log_call(live, text, phone=phone)
    n = t["number"]
    t = live.call(
        "dispatcher1", "POST", f"/api/v1/tickets/{n}/actions/dispatch", {"version": t["version"]}
    )
    t = live.call(
        "handler1", "POST", f"/api/v1/tickets/{n}/actions/sign", {"version": t["version"]}
    )
    t = live.call(
        "handler1",
        "POST",
        f"/api/v1/tickets/{n}/actions/complete",
        {"version": t["version"], "result": "摊点已清理，已告知经营者到指定区域经营"},
    )
    t = live.call(
        "dispatcher1",
        "POST",
        f"/api/v1/tickets/{n}/actions/review_accept",
        {"version": t["version"]},
    )
    assert t["status"] == "REVIEWED"
    return t


# ---------------------------------------------------------------- logging a call


def test_a_normal_call_is_logged_with_the_keyboard_alone_with_the_suggested_category_and_cell(
    new_page, county
):
    page = new_page()
    login(page, "operator1")
    assert page.url.endswith("/intake")
    phone = page.get_by_test_id("phone")
    expect(phone).to_be_focused()

    page.keyboard.type("13800001111")
    page.keyboard.press("Enter")  # on to the demand
    expect(page.get_by_test_id("text")).to_be_focused()
    page.keyboard.type("小区门口占道经营，摊贩很多，堵住了出口")
    page.keyboard.press("Alt+A")  # at once, the suggestion still on its way: it waits for it
    expect(page.get_by_test_id("suggest-category")).to_contain_text("城市管理")
    expect(page.get_by_test_id("category")).to_have_value("urban")
    expect(page.get_by_test_id("type")).to_have_value("complaint")
    expect(page.get_by_test_id("urgency")).to_have_value("normal")
    expect(page.get_by_test_id("police-warning")).to_be_hidden()

    page.keyboard.press("Alt+L")  # to the address
    expect(page.get_by_test_id("address")).to_be_focused()
    page.keyboard.type(CROSSING)
    page.keyboard.press("Enter")  # locate
    cell = page.get_by_test_id("located-cell")
    expect(cell).to_have_attribute("data-code", CROSSING_CELL)
    expect(cell).to_have_text("时代社区第5网格")
    expect(page.get_by_test_id("routing-lead")).to_have_text("长垣市城市管理局")
    expect(page.get_by_test_id("routing-worker")).to_contain_text("值班")
    expect(page.get_by_test_id("precision")).to_have_text("道路交叉口")
    # The located cell is highlighted on the grid map.
    expect(page.locator("#map path[fill='#ef5350']")).to_have_count(1)
    screenshot(page, "intake")

    page.keyboard.press("Control+Enter")  # 派单: into the dispatchers' queue
    number_box = page.get_by_test_id("result-number")
    expect(number_box).to_have_text(NUMBER)
    number = number_box.inner_text()
    expect(page.get_by_test_id("result-status")).to_have_text("待派单")

    ticket = county.call("dispatcher1", "GET", f"/api/v1/tickets/{number}")
    assert ticket["status"] == "NEW"
    assert ticket["channel"] == "phone"
    assert ticket["category"] == "urban"
    assert ticket["type"] == "complaint"
    assert ticket["location"]["cell"] == CROSSING_CELL
    assert ticket["routing"]["lead"] == "urban_management"
    assert ticket["citizen"]["phone"] == "13800001111"
    assert ticket["text"] == "小区门口占道经营，摊贩很多，堵住了出口"
    # The form is ready for the next call.
    expect(phone).to_have_value("")
    expect(phone).to_be_focused()
    expect(page.get_by_test_id("text")).to_have_value("")
    expect(page.get_by_test_id("category")).to_have_value("")
    expect(page.get_by_test_id("recent")).to_contain_text(number)
    # The result says which cell by its name (the code in its tooltip)...
    expect(page.get_by_test_id("result-note")).to_contain_text("时代社区第5网格")
    expect(page.get_by_test_id("result-note")).not_to_contain_text(CROSSING_CELL)
    # ...and goes when the next call starts.
    page.keyboard.type("1")
    expect(page.get_by_test_id("result")).to_be_hidden()
    # The map's shapes are out of the tab order; the map and the knowledge base have keys.
    assert page.locator("#map [tabindex]:not([tabindex='-1'])").count() == 0
    assert page.locator("#map").get_attribute("tabindex") == "-1"
    page.keyboard.press("Alt+K")
    expect(page.get_by_test_id("kb-q")).to_be_focused()
    page.keyboard.press("Alt+M")
    expect(page.locator("#map")).to_be_focused()


def test_a_pin_dropped_on_the_map_locates_the_call_at_that_point(new_page, county):
    page = new_page()
    login(page, "operator1")
    page.get_by_test_id("text").fill("路边有占道经营的摊点")
    page.get_by_test_id("address").fill(CROSSING)
    page.get_by_test_id("address").press("Enter")
    expect(page.get_by_test_id("located-cell")).to_have_attribute("data-code", CROSSING_CELL)

    coords = page.locator("#location .coords")
    by_address = coords.inner_text()
    page.get_by_test_id("map").click(position={"x": 60, "y": 60})
    expect(coords).to_contain_text("地图点选")
    expect(coords).not_to_have_text(by_address)  # the pin's point, wherever the map was
    page.wait_for_load_state("networkidle")  # the locate answer for the pin is shown
    cell = page.get_by_test_id("located-cell")
    shown_cell = cell.get_attribute("data-code")
    assert shown_cell
    lon, lat = (float(v) for v in coords.inner_text().split("（")[0].split(","))

    page.keyboard.press("Control+Enter")
    expect(page.get_by_test_id("result-number")).to_have_text(NUMBER)
    number = page.get_by_test_id("result-number").inner_text()
    ticket = county.call("dispatcher1", "GET", f"/api/v1/tickets/{number}")
    assert ticket["location"]["cell"] == shown_cell
    assert ticket["location"]["lon"] == pytest.approx(lon, abs=1e-6)
    assert ticket["location"]["lat"] == pytest.approx(lat, abs=1e-6)
    assert ticket["address"] == CROSSING  # the caller's words are kept with the point


def test_a_direct_answer_from_the_knowledge_base_archives_the_ticket_with_the_article(
    new_page, county
):
    page = new_page()
    login(page, "operator1")
    page.keyboard.type("13700002222")
    page.keyboard.press("Enter")
    page.keyboard.type("请问公积金怎么提取")
    first = page.get_by_test_id("kb-item").first
    expect(first).to_contain_text("住房公积金提取条件和办理方式")
    article_id = int(first.get_attribute("data-article"))

    page.keyboard.press("Alt+1")
    expect(page.get_by_test_id("answer")).to_have_value(re.compile("提取住房公积金"))
    expect(page.get_by_test_id("answer-source")).to_contain_text("住房公积金提取条件和办理方式")
    page.keyboard.press("Alt+R")

    expect(page.get_by_test_id("result-status")).to_have_text("已归档")
    number = page.get_by_test_id("result-number").inner_text()
    ticket = county.call("dispatcher1", "GET", f"/api/v1/tickets/{number}")
    assert ticket["status"] == "ARCHIVED"
    assert ticket["outcome"] == "direct_answer"
    answer = ticket["events"][-1]
    assert answer["action"] == "answer"
    assert answer["payload"]["article_id"] == article_id
    assert answer["payload"]["article_version"] == 1
    assert answer["payload"]["article_title"] == "住房公积金提取条件和办理方式"
    assert "提取住房公积金" in answer["payload"]["answer"]


def test_a_police_matter_shows_the_warning_and_is_transferred_to_110(new_page, county):
    page = new_page()
    login(page, "operator1")
    page.keyboard.type("13600003333")
    page.keyboard.press("Enter")
    page.keyboard.type("楼下有人在打架，还持刀")
    warning = page.get_by_test_id("police-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("涉警")
    expect(page.get_by_test_id("suggest-police")).to_contain_text("是")

    warning.get_by_role("button", name="转110").click()
    reason = page.get_by_test_id("transfer-reason")
    expect(reason).to_be_focused()
    page.keyboard.type("持刀斗殴，危及人身安全")
    page.keyboard.press("Enter")

    expect(page.get_by_test_id("result-status")).to_have_text("已转110")
    number = page.get_by_test_id("result-number").inner_text()
    ticket = county.call("dispatcher1", "GET", f"/api/v1/tickets/{number}")
    assert ticket["status"] == "TRANSFERRED_110"
    assert ticket["police_matter"] is True
    assert ticket["category"] == "public_security"
    transfer = ticket["events"][-1]
    assert transfer["action"] == "transfer_110"
    assert transfer["reason"] == "持刀斗殴，危及人身安全"
    expect(warning).to_be_hidden()  # the form was reset for the next call


# ---------------------------------------------------------------- history, repeats, markup


def test_the_callers_history_and_repeat_candidates_appear_and_markup_stays_text(new_page, county):
    earlier = _log_call(county, "小区门口占道经营，摊贩很多", phone="13900002222")
    odd = _log_call(county, MARKUP, phone="13900002222", address="博爱路")
    page = new_page()
    dialogs = _dialogs(page)
    login(page, "operator1")

    page.keyboard.type("13900002222")
    history = page.get_by_test_id("history")
    expect(history.get_by_test_id("history-item")).to_have_count(2)
    expect(page.get_by_test_id("history-total")).to_have_text("共 2 件")
    expect(history).to_contain_text(earlier["number"])
    expect(history).to_contain_text(MARKUP)  # the literal text, not an image
    assert history.locator("img").count() == 0
    expect(page.get_by_test_id("name")).to_have_attribute("placeholder", "上次登记：张三")

    # The same caller about the same matter at the same place: a repeat candidate.
    page.keyboard.press("Enter")
    page.keyboard.type("门口又有人占道经营")
    page.get_by_test_id("address").fill(CROSSING)
    page.get_by_test_id("address").press("Enter")
    repeat = page.get_by_test_id("repeat-item")
    expect(repeat).to_have_count(1)
    expect(repeat).to_contain_text(earlier["number"])
    expect(repeat).to_contain_text("附近同类诉求")

    # A number opens the ticket; its text is shown as text there too.
    history.locator(f"[data-number='{odd['number']}'] button.number").click()
    dialog = page.get_by_test_id("ticket-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_test_id("detail-text")).to_have_text(MARKUP)
    assert dialog.locator("img").count() == 0
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert dialogs == []


def test_a_suggestion_that_lands_while_the_address_is_located_still_brings_the_repeats(
        new_page, county):
    earlier = _log_call(county, "小区门口占道经营，摊贩很多", phone="13900003333")
    page = new_page()
    held: list[Any] = []  # the first locate: answered only after the suggestion came
    suggestions: list[Any] = []  # the suggestions asked before that locate: held until it is

    def slow_locate(route: Any) -> None:
        if held or "category=" in route.request.url:
            route.continue_()
        else:
            held.append(route)

    def late_suggestion(route: Any) -> None:
        if held:
            route.continue_()
        else:
            suggestions.append(route)

    page.route("**/api/v1/grid/locate*", slow_locate)
    page.route("**/api/v1/classify", late_suggestion)
    login(page, "operator1")
    page.keyboard.type("13900003333")
    page.keyboard.press("Enter")
    page.keyboard.type("门口又有人占道经营")
    page.get_by_test_id("address").fill(CROSSING)
    page.get_by_test_id("address").press("Enter")  # asked at once, without a category
    for _ in range(200):  # (the routes are served while the page waits)
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1, "the address was asked for before the suggestion came"
    for route in suggestions:  # now the suggestion lands while the address is located
        route.continue_()
    chip = page.get_by_test_id("suggest-category")  # the suggestion came, with a category
    expect(chip).to_be_visible()
    expect(chip).not_to_contain_text("未识别")
    held[0].continue_()
    repeat = page.get_by_test_id("repeat-item")
    expect(repeat).to_have_count(1)  # asked again with the suggested category
    expect(repeat).to_contain_text(earlier["number"])


def test_a_demand_text_with_markup_is_logged_and_shown_as_literal_text(new_page, county):
    page = new_page()
    dialogs = _dialogs(page)
    login(page, "operator1")
    page.keyboard.type("13500004444")
    page.keyboard.press("Enter")
    page.keyboard.type(MARKUP)
    page.keyboard.press("Control+Enter")

    expect(page.get_by_test_id("result-text")).to_have_text(MARKUP)
    expect(page.get_by_test_id("recent")).to_contain_text(MARKUP)
    assert page.locator("#intake img").count() == 0
    number = page.get_by_test_id("result-number").inner_text()
    assert county.call("dispatcher1", "GET", f"/api/v1/tickets/{number}")["text"] == MARKUP

    page.keyboard.type("13500004444")  # the next call from the same phone: in the history
    expect(page.get_by_test_id("history")).to_contain_text(MARKUP)
    assert page.locator("#intake img").count() == 0
    assert dialogs == []


# ---------------------------------------------------------------- refusals


def test_a_refused_submission_shows_the_house_error_and_creates_nothing(new_page, county):
    page = new_page(allow_refusals=True)
    login(page, "operator1")
    before = _ticket_total(county)

    page.keyboard.type("13800001111")
    page.keyboard.press("Control+Enter")  # no demand text: stopped before anything is sent
    error = page.get_by_test_id("form-error")
    expect(error).to_have_text("请先填写诉求内容")
    expect(page.get_by_test_id("text")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("text")).to_be_focused()
    expect(page.get_by_test_id("result")).to_be_hidden()
    assert page.refusals == []
    assert _ticket_total(county) == before

    # Past the page's own limit (set by a script): the server refuses, named in Chinese.
    page.evaluate("document.getElementById('text').value = '长'.repeat(4001)")
    page.keyboard.press("Control+Enter")
    expect(error).to_contain_text("「诉求内容」不能超过 4000 个字符")
    expect(error).not_to_contain_text("text")
    expect(page.get_by_test_id("text")).to_be_focused()
    assert len(page.refusals) == 1 and "status of 400" in page.refusals[0]
    assert _ticket_total(county) == before

    # A direct answer with nothing to answer is stopped before anything is sent.
    page.get_by_test_id("text").fill("我想咨询一下")
    page.keyboard.press("Alt+R")
    expect(error).to_contain_text("请先选用知识库答复")
    expect(page.get_by_test_id("answer")).to_be_focused()
    assert len(page.refusals) == 1
    assert _ticket_total(county) == before
    expect(page.get_by_test_id("phone")).to_have_value("13800001111")  # nothing was lost


# ---------------------------------------------------------------- the callback queue


def test_the_callback_queue_records_a_satisfied_callback_and_archives_the_ticket(new_page, county):
    reviewed = _reviewed(county, "小区门口占道经营，摊贩很多", phone="13800005555")
    page = new_page()
    login(page, "operator1")
    expect(page.get_by_test_id("callback-count")).to_have_text("1")

    page.keyboard.press("Alt+Q")
    row = page.get_by_test_id("callback-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(reviewed["number"])
    expect(row).to_contain_text("长垣市城市管理局")
    expect(row.get_by_test_id("callback-attempts")).to_have_text("0")
    expect(row).to_be_focused()
    page.keyboard.press("Enter")
    detail = page.get_by_test_id("callback-detail")
    expect(detail.get_by_test_id("callback-phone")).to_have_text("13800005555")
    expect(detail).to_contain_text("摊点已清理")  # the department's result, to read out
    page.keyboard.press("1")  # satisfied
    page.keyboard.press("4")  # resolved
    expect(detail.locator("input[name=cb-sat][value=satisfied]")).to_be_checked()
    expect(detail.locator("input[name=cb-res][value=true]")).to_be_checked()
    screenshot(page, "intake-callbacks")
    page.keyboard.press("Control+Enter")

    expect(page.get_by_test_id("callback-done")).to_contain_text("已归档")
    expect(page.get_by_test_id("callback-row")).to_have_count(0)
    expect(page.get_by_test_id("callback-count")).to_have_text("0")
    ticket = county.call("dispatcher1", "GET", f"/api/v1/tickets/{reviewed['number']}")
    assert ticket["status"] == "ARCHIVED"
    assert ticket["outcome"] == "callback"
    assert ticket["callback"]["satisfaction"] == "satisfied"
    assert ticket["callback"]["resolved"] is True
    assert ticket["events"][-1]["payload"]["via"] == "phone"


def test_a_callback_without_an_answer_is_refused_on_the_page_and_records_nothing(new_page, county):
    reviewed = _reviewed(county, "小区门口占道经营，摊贩很多", phone="13800006666")
    page = new_page()
    login(page, "operator1")
    page.keyboard.press("Alt+Q")
    expect(page.get_by_test_id("callback-row")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("input[name=cb-sat]").first).to_be_focused()
    page.keyboard.press("Control+Enter")  # reached, but no satisfaction given
    expect(page.locator("#cb-error")).to_contain_text("请选择满意度")
    ticket = county.call("dispatcher1", "GET", f"/api/v1/tickets/{reviewed['number']}")
    assert ticket["status"] == "REVIEWED"
    assert ticket["version"] == reviewed["version"]


def test_unanswered_callbacks_are_counted_and_the_third_archives_the_ticket_as_unreachable(
    new_page, county
):
    reviewed = _reviewed(county, "小区门口占道经营，摊贩很多", phone="13800007777")
    page = new_page()
    login(page, "operator1")
    page.get_by_test_id("tab-callbacks").click()
    page.get_by_test_id("callback-row").click()
    attempts = page.get_by_test_id("callback-attempts-detail")
    expect(attempts).to_have_text("已拨打 0 次")
    for tries in (1, 2):
        page.get_by_test_id("callback-unreached").click()
        expect(attempts).to_have_text(f"已拨打 {tries} 次")
        expect(
            page.get_by_test_id("callback-row").get_by_test_id("callback-attempts")
        ).to_have_text(str(tries))
    page.keyboard.press("Alt+U")
    expect(page.get_by_test_id("callback-done")).to_contain_text("无法联系")
    expect(page.get_by_test_id("callback-row")).to_have_count(0)
    ticket = county.call("dispatcher1", "GET", f"/api/v1/tickets/{reviewed['number']}")
    assert ticket["status"] == "ARCHIVED"
    assert ticket["outcome"] == "unreachable"
    assert ticket["callback"]["attempts"] == 3


def test_escape_pressed_twice_clears_the_call_and_once_keeps_it(new_page, county):
    page = new_page()
    login(page, "operator1")
    page.keyboard.type("13800001111")
    page.keyboard.press("Enter")
    page.keyboard.type("请问停水什么时候恢复")
    text = page.get_by_test_id("text")
    page.keyboard.press("Escape")
    expect(page.locator(".toast").last).to_contain_text("再按一次 Esc")
    expect(text).to_have_value("请问停水什么时候恢复")
    page.keyboard.press("Escape")
    expect(text).to_have_value("")
    expect(page.get_by_test_id("phone")).to_have_value("")
    expect(page.get_by_test_id("phone")).to_be_focused()
    expect(page.get_by_test_id("kb-item")).to_have_count(0)
    assert _ticket_total(county) == 0

    # A common phrase (常用语) by key: Alt+T, pick, Enter puts it in the demand at the caret.
    page.keyboard.press("Alt+M")  # (not from the phone field: anywhere on the call)
    page.keyboard.press("Alt+T")
    phrase = page.get_by_test_id("phrase")
    expect(phrase).to_be_focused()
    phrase.select_option("来电人要求尽快处理并回复处理结果。")
    page.keyboard.press("Enter")
    expect(text).to_have_value("来电人要求尽快处理并回复处理结果。")
    expect(text).to_be_focused()
    assert _ticket_total(county) == 0
