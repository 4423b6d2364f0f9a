"""The dispatcher's live console (/console): the board in its queues with counts, live tickets
from the Socket.IO feed (and what a reconnect missed), the drawer's actions, countdown colours,
the map, literal display of hostile text, and the read-only console of a leader."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login, screenshot

SHANGHAI = ZoneInfo("Asia/Shanghai")

HOSTILE = "<img src=x onerror=alert(1)>"
STREET = "street_pudong"  # 蒲东街道: urban matters go to the city management bureau (handler1)


@pytest.fixture
def county(demo_county: Any) -> Any:
    """The demo county, with the centre of 蒲东街道 to put tickets at."""
    areas = demo_county.call("dispatcher1", "GET", "/api/v1/grid/areas")["items"]
    street = next(a for a in areas if a["code"] == STREET)
    demo_county.point = (street["lon"], street["lat"])
    return demo_county


def create(live: Any, text: str = "小区门口有人占道经营，堵住了出口", *, shift: float = 0.0,
           **fields: Any) -> dict[str, Any]:
    """Log a demand at 蒲东街道 as operator1 (urban, normal, complaint unless told)."""
    lon, lat = live.point
    body = {"channel": "phone", "text": text, "lon": lon + shift, "lat": lat,
            "category": "urban", "type": "complaint", "urgency": "normal",
            "citizen": {"name": "张三", "phone": "13800138000"}}
    body.update(fields)
    return live.call("operator1", "POST", "/api/v1/tickets", body)


def act(live: Any, user: str, number: str, action: str, **payload: Any) -> dict[str, Any]:
    """Take an action through the API with the ticket's current version."""
    version = live.call("dispatcher1", "GET", f"/api/v1/tickets/{number}")["version"]
    return live.call(user, "POST", f"/api/v1/tickets/{number}/actions/{action}",
                     {"version": version, **payload})


def ticket(live: Any, number: str) -> dict[str, Any]:
    return live.call("dispatcher1", "GET", f"/api/v1/tickets/{number}")


def open_console(new_page: Any, user: str = "dispatcher1") -> Any:
    """A signed-in console with its board read and its live connection up."""
    page = new_page()
    login(page, user)
    assert page.url.endswith("/dashboard" if user == "leader1" else "/console")
    if not page.url.endswith("/console"):  # (a dispatcher's console is loaded already)
        page.goto("/console")
    page.wait_for_selector("#console[data-ready=true]")
    page.wait_for_selector("#console[data-connected=true]")
    return page


def row(page: Any, number: str) -> Any:
    return page.locator(f"#rows tr[data-number='{number}']")


def shows_only(page: Any, *numbers: str) -> None:
    """The board shows exactly these tickets (waiting for the render)."""
    if numbers:
        listed = ", ".join(f"[data-number='{n}']" for n in numbers)
        expect(page.locator(f"#rows tr:not({listed})")).to_have_count(0)
    else:
        expect(page.locator("#rows tr")).to_have_count(0)
    for number in numbers:
        expect(row(page, number)).to_have_count(1)


def tab_count(page: Any, queue: str) -> int:
    return int(page.locator(f"#tabs [data-queue={queue}] .count").inner_text())


def open_drawer(page: Any, number: str) -> Any:
    row(page, number).click()
    drawer = page.get_by_test_id("drawer")
    expect(drawer).to_have_attribute("data-shown", number)
    return drawer


def dispatched(live: Any, text: str, **fields: Any) -> str:
    """A ticket dispatched to the city management bureau (handler1's department)."""
    number = create(live, text, **fields)["number"]
    act(live, "dispatcher1", number, "dispatch", lead="urban_management")
    return number


def test_board_lists_open_tickets_in_their_queues_with_counts(new_page, county):
    waiting = create(county, "井盖缺失，晚上很危险", shift=-0.002)["number"]
    from_110 = create(county, "110 转来：车辆堵住小区出口", channel="police110",
                      urgency="urgent", shift=0.002)["number"]
    returned = dispatched(county, "垃圾清运不及时，已经三天")
    act(county, "handler1", returned, "return", reason="不属于本部门职责")
    act(county, "supervisor1", returned, "supervise", reason="群众反映强烈")
    completed = dispatched(county, "路边违章广告牌")
    act(county, "handler1", completed, "sign")
    act(county, "handler1", completed, "complete", result="已拆除广告牌")
    extension = dispatched(county, "渣土车沿路撒漏")
    act(county, "handler1", extension, "sign")
    act(county, "handler1", extension, "request_extension", days=3, reason="需协调交通部门")
    voided = create(county, "测试电话")["number"]
    act(county, "dispatcher1", voided, "void", reason="测试来电")

    page = open_console(new_page)
    board = {n: row(page, n) for n in (waiting, from_110, returned, completed, extension)}
    for number, locator in board.items():
        assert locator.count() == 1, number
    assert row(page, voided).count() == 0  # closed tickets are not on the board
    counts = {q: tab_count(page, q) for q in ("all", "to_dispatch", "returned", "extension",
                                               "review", "overdue", "supervised", "transfer")}
    assert counts == {"all": 5, "to_dispatch": 2, "returned": 1, "extension": 1, "review": 1,
                      "overdue": 0, "supervised": 1, "transfer": 1}
    assert "井盖缺失" in board[waiting].inner_text()
    assert "已退单" in board[returned].inner_text() and "督办" in board[returned].inner_text()

    page.get_by_role("tab", name="退单待改派").click()
    shows_only(page, returned)
    assert page.get_by_role("tab", name="退单待改派").get_attribute("aria-selected") == "true"
    page.get_by_role("tab", name="办结待审核").click()
    shows_only(page, completed)
    page.get_by_role("tab", name="全部").click()
    page.get_by_test_id("filter-urgency").select_option("urgent")
    shows_only(page, from_110)
    assert tab_count(page, "all") == 1 and tab_count(page, "transfer") == 1
    page.get_by_test_id("filter-urgency").select_option("")
    page.get_by_test_id("filter-text").fill("渣土")
    shows_only(page, extension)
    page.get_by_test_id("filter-text").fill("")
    page.get_by_test_id("filter-street").select_option(STREET)
    shows_only(page, waiting, from_110, returned, completed, extension)
    page.get_by_test_id("filter-street").select_option("town_naoli")
    shows_only(page)
    assert "暂无工单" in page.locator("#board-note").inner_text()
    page.get_by_test_id("filter-street").select_option("")

    drawer = open_drawer(page, returned)
    assert "不属于本部门职责" in drawer.inner_text()  # the return reason, on the timeline
    assert drawer.get_by_role("button", name="改派").is_visible()
    # The grid is the base map (drawn from the project's GeoJSON) and the tickets are on it.
    expect(page.get_by_test_id("map")).to_have_attribute("data-grid-features", re.compile("^[1-9]"))
    assert page.get_by_test_id("map").get_attribute("data-markers") == "5"
    assert page.locator("#map .leaflet-tile").count() == 0  # no tile layer unless configured
    screenshot(page, "console")


def test_a_ticket_created_through_the_api_appears_live_with_highlight_and_sound(new_page,
                                                                                county):
    page = open_console(new_page)
    assert page.get_by_test_id("connection").inner_text() == "已连接"
    shows_only(page)
    started = time.monotonic()
    urgent = create(county, "燃气管道泄漏，闻到很大气味", urgency="critical")["number"]
    expect(row(page, urgent)).to_have_count(1, timeout=5000)
    latency = time.monotonic() - started
    assert latency < 5.0, latency
    assert "flash-urgent" in row(page, urgent).get_attribute("class")
    assert tab_count(page, "to_dispatch") == 1
    # The beep is made by the Web Audio API; the page counts the alerts it raised.
    expect(page.locator("#console")).to_have_attribute("data-alerts", "1")
    assert page.get_by_test_id("feed").locator("li").first.inner_text().count(urgent) == 1

    normal = create(county, "路灯不亮")["number"]
    expect(row(page, normal)).to_have_count(1, timeout=5000)
    assert "flash" in row(page, normal).get_attribute("class").split()
    assert "flash-urgent" not in row(page, normal).get_attribute("class")
    assert page.locator("#console").get_attribute("data-alerts") == "1"  # no sound for it

    # A transfer to 110 sounds too.
    police = create(county, "有人持刀威胁", urgency="normal")["number"]
    expect(row(page, police)).to_have_count(1)
    act(county, "dispatcher1", police, "transfer_110", reason="涉警事项")
    expect(row(page, police)).to_have_attribute("data-status", "TRANSFERRED_110")
    expect(page.locator("#console")).to_have_attribute("data-alerts", "2")
    expect(page.get_by_test_id("feed").locator("li").first).to_contain_text("110")

    # A change made elsewhere moves the row; a closing event removes it.
    act(county, "dispatcher1", normal, "dispatch", lead="urban_management")
    expect(row(page, normal)).to_have_attribute("data-status", "DISPATCHED")
    act(county, "dispatcher1", urgent, "void", reason="重复来电")
    expect(row(page, urgent)).to_have_count(0)
    assert tab_count(page, "to_dispatch") == 0 and tab_count(page, "all") == 2


def wait_until_relayed(live: Any, timeout: float = 20.0) -> None:
    """Wait until the live server's console relay has numbered and sent every console event
    written so far (it sends from a background thread after each commit)."""
    from sqlalchemy import func, select

    from dispatch.console.feed import ConsoleEvent
    from web.extensions import db

    relay = live.app.extensions["hotline"].console
    deadline = time.monotonic() + timeout
    while True:
        with live.app.app_context():
            written = db.session.scalar(select(func.count()).select_from(ConsoleEvent))
            db.session.remove()
        if relay.sent >= written:
            return
        assert time.monotonic() < deadline, f"relay sent {relay.sent} of {written} events"
        time.sleep(0.05)


def test_a_console_that_lost_its_connection_resumes_and_gets_what_it_missed(new_page, county):
    page = new_page()
    blocked = {"on": False}
    sockets: list[Any] = []

    def relay(ws: Any) -> None:
        if blocked["on"]:
            ws.close()
            return
        ws.connect_to_server()
        sockets.append(ws)

    page.route_web_socket(re.compile(r".*/socket\.io/.*"), relay)
    login(page, "dispatcher1")
    page.wait_for_selector("#console[data-connected=true]")
    before = create(county, "断线前的工单")["number"]
    expect(row(page, before)).to_have_count(1)

    blocked["on"] = True
    sockets[-1].close()
    expect(page.get_by_test_id("connection")).to_have_text("连接已断开，正在重连…")
    missed = create(county, "断线期间的工单")["number"]
    act(county, "dispatcher1", before, "dispatch", lead="urban_management")
    # Both events went out (to nobody) while the page was cut off: whatever it shows of them
    # after it reconnects came from its resume.
    wait_until_relayed(county)
    assert row(page, missed).count() == 0
    blocked["on"] = False
    # The client's reconnection back-off grows to 5 s while blocked; a loaded machine adds to it.
    expect(page.get_by_test_id("connection")).to_have_text("已连接", timeout=30000)
    expect(row(page, missed)).to_have_count(1)
    expect(row(page, before)).to_have_attribute("data-status", "DISPATCHED")
    # Each event once in the feed, though replay and live delivery may overlap.
    seqs = page.get_by_test_id("feed").locator("li").evaluate_all(
        "items => items.map(i => i.dataset.seq)")
    assert len(seqs) == len(set(seqs)) == 3


def test_a_dispatcher_dispatches_from_the_drawer_and_the_ticket_changes_queue(new_page,
                                                                              county):
    number = create(county, "商场预付卡退费难，商家关门", category="urban")["number"]
    page = open_console(new_page)
    assert row(page, number).get_attribute("data-queues") == "to_dispatch"
    drawer = open_drawer(page, number)
    assert "派单目录规则" in drawer.inner_text()  # the routing reasons
    drawer.get_by_role("button", name="派单", exact=True).click()
    form = drawer.locator("form[data-form=dispatch]")
    lead = form.get_by_label("主办部门")
    expect(lead).to_have_value("urban_management")  # the routing's lead is proposed
    lead.select_option(label="长垣市市场监督管理局")
    # The grid worker is picked by name from the cell's roster, those on duty first; the
    # username is only the value sent.
    cell = ticket(county, number)["location"]["cell"]
    roster = county.call("dispatcher1", "GET", f"/api/v1/grid/cells/{cell}/workers")["items"]
    assert roster, "the demo county has grid workers on this cell"
    picker = form.get_by_label("网格员")
    expect(picker.locator("option")).to_have_count(len(roster) + 1)
    labels = picker.locator("option").all_inner_texts()
    duty = [w for w in roster if w["on_duty"]] + [w for w in roster if not w["on_duty"]]
    assert labels == ["（不指定网格员）"] + [
        f"{w['name']}（{'值班中' if w['on_duty'] else '不在班'}）" for w in duty]
    assert not any(w["username"] in " ".join(labels) for w in roster)
    chosen = duty[-1]
    picker.select_option(label=labels[-1])
    form.get_by_label("派单说明").fill("预付卡纠纷属市场监管")
    form.get_by_role("button", name="确认派单").click()

    expect(row(page, number)).to_have_attribute("data-status", "DISPATCHED")
    expect(drawer.get_by_test_id("drawer-status")).to_have_text("已派单")
    assert tab_count(page, "to_dispatch") == 0
    assert "长垣市市场监督管理局" in row(page, number).inner_text()
    assert row(page, number).locator(".clock").get_attribute("class") == "clock ok"
    body = ticket(county, number)
    lead_assignment = next(a for a in body["assignments"] if a["role"] == "lead")
    assert body["status"] == "DISPATCHED" and lead_assignment["department"] == "market_regulation"
    assert lead_assignment["grid_worker"] == chosen["username"]
    expect(drawer.locator("table tbody tr").first.locator("td").nth(3)).to_have_text(
        chosen["name"])
    # The board's row names the grid worker too (the live event's grid_worker_name), the
    # username only in its tooltip; so does the drawer's timeline: who dispatched, to whom.
    worker = row(page, number).get_by_test_id("row-worker")
    expect(worker).to_have_text(f"网格员 {chosen['name']}")
    expect(worker).to_have_attribute("title", chosen["username"])
    dispatched = drawer.get_by_test_id("timeline").locator("li").last
    expect(dispatched).to_contain_text(f"网格员：{chosen['name']}")
    expect(dispatched.get_by_test_id("event-actor")).to_have_attribute("title", "dispatcher1")
    assert chosen["username"] not in row(page, number).inner_text()
    assert "dispatcher1" not in dispatched.inner_text()
    assert body["events"][-1]["actor"] == "dispatcher1"
    assert body["events"][-1]["reason"] == "预付卡纠纷属市场监管"
    # Dispatched: the button is gone (the ticket's actions decide what is offered).
    expect(drawer.get_by_role("button", name="派单", exact=True)).to_have_count(0)


def test_an_action_form_on_a_ticket_changed_meanwhile_is_held_and_writes_nothing(new_page,
                                                                                  county):
    number = create(county, "小区噪音扰民")["number"]
    page = open_console(new_page)
    drawer = open_drawer(page, number)
    drawer.get_by_role("button", name="作废").click()
    form = drawer.locator("form[data-form=void]")
    submit = form.get_by_role("button", name="确认作废")
    submit.click()  # a reason is required: refused in the page, nothing sent
    expect(form.get_by_label("作废理由")).to_be_focused()
    assert ticket(county, number)["version"] == 1
    form.get_by_label("作废理由").fill("骚扰电话")
    act(county, "dispatcher1", number, "dispatch", lead="urban_management")  # someone else
    expect(drawer.locator(".stale")).to_be_visible()
    expect(submit).to_be_disabled()  # it would only meet the version conflict
    after = ticket(county, number)
    assert after["status"] == "DISPATCHED"
    assert [e["action"] for e in after["events"]] == ["intake", "dispatch"]
    drawer.locator(".stale").get_by_role("button", name="刷新").click()
    expect(drawer.get_by_test_id("drawer-status")).to_have_text("已派单")
    expect(drawer.get_by_role("button", name="作废")).to_have_count(0)  # not from DISPATCHED


def test_a_dispatcher_approves_an_extension_and_a_suspension_from_the_drawer(new_page, county):
    number = dispatched(county, "老旧小区路面塌陷")
    act(county, "handler1", number, "sign")
    act(county, "handler1", number, "request_extension", days=3, reason="需协调施工单位")
    deadline = next(a for a in ticket(county, number)["assignments"]
                    if a["role"] == "lead")["complete_deadline"]
    page = open_console(new_page)
    assert tab_count(page, "extension") == 1
    page.get_by_role("tab", name="延期申请").click()
    shows_only(page, number)
    drawer = open_drawer(page, number)
    assert "需协调施工单位" in drawer.inner_text()
    drawer.get_by_role("button", name="批准延期").click()
    form = drawer.locator("form[data-form^=approve_extension]")
    expect(form.get_by_label("批准天数（工作日）")).to_have_value("3")
    form.get_by_label("批准天数（工作日）").fill("2")
    form.get_by_role("button", name="确认批准").click()

    shows_only(page)  # the extension queue is empty now
    assert tab_count(page, "extension") == 0
    expect(drawer.locator(".extension.approved")).to_contain_text("已批准")
    body = ticket(county, number)
    assert [(x["status"], x["days"]) for x in body["extensions"]] == [("approved", 2)]
    assert body["events"][-1]["action"] == "approve_extension"
    assert body["events"][-1]["payload"]["days"] == 2
    assert next(a for a in body["assignments"]
                if a["role"] == "lead")["complete_deadline"] > deadline

    # A suspension (挂起) asked for is approved from the drawer likewise; the board's countdown
    # then shows 已挂起.
    waiting = dispatched(county, "违建拆除等待法院裁定")
    act(county, "handler1", waiting, "sign")
    created = datetime.fromisoformat(ticket(county, waiting)["created_at"])
    until = (created.astimezone(SHANGHAI).date() + timedelta(days=10)).isoformat()
    act(county, "handler1", waiting, "request_suspend", reason="等待法院裁定", until=until)
    page.locator("#tabs [data-queue=all]").click()
    drawer = open_drawer(page, waiting)
    expect(drawer.get_by_test_id("drawer-suspension")).to_contain_text("等待法院裁定")
    drawer.get_by_role("button", name="批准挂起").click()
    form = drawer.locator("form[data-form^=approve_suspend]")
    form.get_by_role("button", name="确认批准").click()
    expect(drawer.locator(".suspension.active")).to_contain_text("挂起中")
    expect(row(page, waiting).locator(".clock")).to_have_text("已挂起")
    body = ticket(county, waiting)
    assert [x["status"] for x in body["suspensions"]] == ["active"]
    assert body["events"][-1]["action"] == "approve_suspend"


def upload_photo(live: Any, user: str, number: str) -> int:
    """A small PNG uploaded to a ticket as `user`; its attachment id."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (160, 120), (30, 120, 200)).save(out, "PNG")
    out.seek(0)
    r = live.app.test_client().post(
        f"/api/v1/tickets/{number}/attachments", data={"file": (out, "现场.png")},
        headers={"Authorization": f"Bearer {live.api_token(user)}"},
        content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_a_dispatcher_accepts_a_completion_from_the_drawer(new_page, county):
    number = dispatched(county, "小区门口垃圾桶满溢")
    returned = dispatched(county, "路面坑洼积水")  # returned by its lead: 改派 elsewhere
    act(county, "handler1", returned, "return", reason="不属于城管职责")
    act(county, "handler1", number, "sign")
    photos = [upload_photo(county, "handler1", number) for _ in range(2)]
    lon, lat = county.point
    act(county, "handler1", number, "complete", result="已清运并消毒", attachments=photos,
        lon=lon + 0.003, lat=lat)
    page = open_console(new_page)
    # The live feed starts with the last events, not empty.
    expect(page.get_by_test_id("feed").locator(f"li:has-text('{number}')")).to_have_count(4)
    assert tab_count(page, "review") == 1
    drawer = open_drawer(page, number)
    # The reviewer sees the photos, where they were reported from and the time taken.
    shots = drawer.get_by_test_id("completion-photos").locator("img")
    expect(shots).to_have_count(2)
    expect(shots.first).to_have_js_property("complete", True)
    assert shots.first.evaluate("img => img.naturalWidth") == 160
    expect(drawer.get_by_test_id("completion-distance")).to_have_text(
        re.compile(r"^距工单位置 2\d\d 米$"))
    expect(drawer).to_contain_text("派单后 0分")
    screenshot(page, "console-review-drawer")
    drawer.get_by_role("button", name="审核通过").click()
    form = drawer.locator("form[data-form=review_accept]")
    expect(form).to_contain_text("已清运并消毒")  # the result being accepted
    form.get_by_role("button", name="确认审核通过").click()

    expect(row(page, number)).to_have_attribute("data-status", "REVIEWED")
    assert tab_count(page, "review") == 0
    assert row(page, number).get_attribute("data-queues") == ""
    assert ticket(county, number)["status"] == "REVIEWED"
    # Reviewed: waiting for the callback, whose clock now runs.
    expect(row(page, number).locator("td.deadline .small")).to_have_text("回访时限")

    # 改派 of a returned ticket does not propose the department that returned it, and says why.
    drawer = open_drawer(page, returned)
    drawer.get_by_role("button", name="改派", exact=True).click()
    hint = drawer.get_by_test_id("reassign-hint")
    expect(hint).to_contain_text("长垣市城市管理局 已退单（不属于城管职责）。建议改派")
    lead = drawer.locator("form[data-form=dispatch]").get_by_label("主办部门")
    expect(lead).not_to_have_value("urban_management")
    expect(lead).not_to_have_value("")
    screenshot(page, "console-reassign")


def test_countdowns_turn_amber_at_the_warning_and_red_when_overdue(new_page, county):
    warned = dispatched(county, "人行道砖松动")  # normal: sign within 24 h, amber from 18 h
    late = dispatched(county, "窨井盖破损", urgency="urgent")  # urgent: sign within 2 h
    county.clock.advance(hours=19)
    fresh = dispatched(county, "共享单车乱停放")
    page = open_console(new_page)
    clock = {n: row(page, n).locator(".clock") for n in (warned, late, fresh)}
    expect(clock[warned]).to_have_class("clock warning")
    expect(clock[late]).to_have_class("clock overdue")
    expect(clock[fresh]).to_have_class("clock ok")
    assert clock[late].inner_text().startswith("超时")
    assert clock[warned].inner_text().startswith("剩 4小时")
    assert clock[fresh].inner_text().startswith("剩 23小时")
    assert tab_count(page, "overdue") == 1
    page.get_by_role("tab", name="超期").click()
    shows_only(page, late)
    drawer = open_drawer(page, late)
    clocks = drawer.locator("table .clock")  # sign (overdue), then complete (running)
    expect(clocks).to_have_count(2)
    expect(clocks.first).to_have_class("clock overdue")
    expect(clocks.last).to_have_class("clock ok")


def test_hostile_text_shows_as_text_on_the_board_in_the_drawer_and_on_the_map(new_page,
                                                                              county):
    number = create(county, HOSTILE + " 门口占道")["number"]
    page = open_console(new_page)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    expect(row(page, number).locator(".snippet")).to_have_text(HOSTILE + " 门口占道")
    drawer = open_drawer(page, number)
    expect(drawer.get_by_test_id("drawer-text")).to_have_text(HOSTILE + " 门口占道")
    drawer.get_by_role("button", name="关闭").click()
    expect(drawer).to_be_hidden()
    # The map settled on the county first (fitting it later re-clusters the markers, which
    # closes an open popup: under load the click could come first).
    expect(page.get_by_test_id("map")).to_have_attribute("data-grid-features", re.compile("^[1-9]"))
    marker = page.locator(f"#map .tmarker[title='{number}']")
    marker.click()
    expect(page.locator(".leaflet-popup-content .popup-text")).to_have_text(
        HOSTILE + " 门口占道")
    expect(drawer).to_have_attribute("data-shown", number)  # the marker opens the ticket
    drawer.get_by_role("button", name="关闭").click()
    live = create(county, HOSTILE + " 实时")["number"]
    expect(row(page, live).locator(".snippet")).to_have_text(HOSTILE + " 实时")
    expect(page.get_by_test_id("feed").locator("li").first).to_contain_text(HOSTILE)
    assert page.locator("img[src=x]").count() == 0
    assert dialogs == []


def test_a_leader_sees_the_board_without_action_buttons(new_page, county):
    number = create(county, "反映工作人员态度差", type="complaint")["number"]
    page = open_console(new_page, "leader1")
    expect(row(page, number)).to_have_count(1)
    assert tab_count(page, "to_dispatch") == 1
    # Keyboard: Enter opens the ticket with the focus in the drawer, Escape goes back.
    row(page, number).focus()
    page.keyboard.press("Enter")
    drawer = page.get_by_test_id("drawer")
    expect(drawer).to_have_attribute("data-shown", number)
    expect(drawer.get_by_role("button", name="关闭")).to_be_focused()
    page.keyboard.press("Escape")
    expect(drawer).to_be_hidden()
    expect(row(page, number)).to_be_focused()
    drawer = open_drawer(page, number)
    assert "反映工作人员态度差" in drawer.inner_text()
    assert drawer.locator("[data-testid=timeline] li").count() == 1
    expect(drawer.locator(".action-bar button")).to_have_count(0)
    expect(drawer.locator("form")).to_have_count(0)


def test_a_supervisor_is_offered_urge_and_supervise_only(new_page, county):
    number = dispatched(county, "小区路灯长期不亮")
    page = open_console(new_page, "supervisor1")
    drawer = open_drawer(page, number)
    names = drawer.locator(".action-bar button").all_inner_texts()
    assert names == ["催办", "督办", "备注/进展"]
    drawer.get_by_role("button", name="督办").click()
    form = drawer.locator("form[data-form=supervise]")
    form.get_by_label("督办理由").fill("群众多次反映")
    form.get_by_role("button", name="确认督办").click()
    expect(row(page, number)).to_have_attribute("data-queues", re.compile("supervised"))
    assert tab_count(page, "supervised") == 1
    body = ticket(county, number)
    assert body["supervised"] and body["events"][-1]["actor"] == "supervisor1"


def test_the_map_adds_the_configured_tile_layer_under_the_grid(new_page, county):
    # A tile server on the intranet; here this site itself stands in for one.
    county.app.config["MAP_TILE_URL"] = "/static/favicon.svg?z={z}&x={x}&y={y}"
    number = create(county)["number"]
    page = open_console(new_page)
    tiles = page.locator("#map img.leaflet-tile")
    expect(tiles.first).to_be_attached()
    assert "/static/favicon.svg?z=" in tiles.first.get_attribute("src")
    expect(page.locator(f"#map .tmarker[title='{number}']")).to_be_visible()
    expect(page.get_by_test_id("map")).to_have_attribute("data-grid-features", re.compile("^[1-9]"))


def test_a_dispatcher_merges_a_repeat_into_its_open_ticket(new_page, county):
    first = create(county, "夜市摊贩占道经营")["number"]
    repeat = create(county, "夜市又有摊贩占道", shift=0.0005)["number"]
    page = open_console(new_page)
    drawer = open_drawer(page, repeat)
    candidates = drawer.locator(".repeats li")
    expect(candidates).to_have_count(1)
    assert first in candidates.inner_text()
    candidates.get_by_role("button", name="并入此单").click()
    form = drawer.locator("form[data-form=merge]")
    expect(form.get_by_label("主单编号")).to_have_value(first)
    form.get_by_role("button", name="确认并单").click()

    expect(row(page, repeat)).to_have_count(0)  # merged: closed, off the board
    expect(drawer.get_by_test_id("drawer-status")).to_have_text("已并单")
    assert row(page, first).count() == 1 and tab_count(page, "to_dispatch") == 1
    body = ticket(county, repeat)
    assert body["status"] == "MERGED" and body["parent"] == first
    assert ticket(county, first)["children"] == [repeat]


def test_a_dispatcher_refuses_an_extension_and_sends_a_completion_back(new_page, county):
    asked = dispatched(county, "楼道堆放杂物")
    act(county, "handler1", asked, "sign")
    act(county, "handler1", asked, "request_extension", days=5, reason="业主不配合")
    done = dispatched(county, "广告牌松动")
    act(county, "handler1", done, "sign")
    act(county, "handler1", done, "complete", result="已处理")
    page = open_console(new_page)

    drawer = open_drawer(page, asked)
    drawer.get_by_role("button", name="驳回延期").click()
    form = drawer.locator("form[data-form^=refuse_extension]")
    form.get_by_label("驳回理由").fill("时限内可以完成")
    form.get_by_role("button", name="确认驳回").click()
    expect(drawer.locator(".extension.refused")).to_contain_text("时限内可以完成")
    expect(row(page, asked)).not_to_have_attribute("data-queues", re.compile("extension"))

    drawer = open_drawer(page, done)
    drawer.get_by_role("button", name="审核退回").click()
    form = drawer.locator("form[data-form=review_reject]")
    form.get_by_label("审核退回理由").fill("未附现场照片")
    form.get_by_role("button", name="确认审核退回").click()
    expect(row(page, done)).to_have_attribute("data-status", "SIGNED")
    assert tab_count(page, "review") == 0 and tab_count(page, "extension") == 0
    assert [x["status"] for x in ticket(county, asked)["extensions"]] == ["refused"]
    body = ticket(county, done)
    assert body["status"] == "SIGNED" and body["events"][-1]["reason"] == "未附现场照片"
