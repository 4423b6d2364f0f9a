"""The console's emergency alarm, as a dispatcher lives it: a citizen writes "有人拿刀砍人" on
WeChat and is told to call 110; the console raises the alarm on top of the board with sound,
it escalates to the supervisors after 60 s (the sweep), and the dispatcher acknowledges it."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from integrations.wechat.fake import FakeWeChatServer, message_xml
from tests.browser.conftest import login, screenshot

TOKEN = "browser-wechat-token"
SERVER = FakeWeChatServer(TOKEN)  # one MsgId counter: each push is a new message


def push_wechat(live: Any, text: str) -> str:
    """A citizen's message through the WeChat hook; our passive reply."""
    server = SERVER
    stamp = int(live.clock.now().timestamp())
    xml = message_xml("oBROWSER_citizen_000000000001", "text", create_time=stamp, Content=text,
                      MsgId=server.next_msg_id())
    args, body = server.push(xml, timestamp=str(stamp))
    r = live.app.test_client().post("/hooks/wechat", query_string=args, data=body,
                                    content_type="text/xml")
    assert r.status_code == 200, r.get_data(as_text=True)
    return server.open_reply(r.data)["Content"]


def test_a_wechat_emergency_alarms_the_console_until_a_dispatcher_acknowledges_it(
        demo_county: Any, new_page: Any) -> None:
    from workers.rounds import alarm_round

    live = demo_county
    live.app.config["WECHAT_TOKEN"] = TOKEN
    page = new_page()
    login(page, "dispatcher1", then="/console")
    page.wait_for_selector("#console[data-ready=true]")
    page.wait_for_selector("#console[data-connected=true]")
    banner = page.get_by_test_id("alarms")
    expect(banner).to_be_hidden()
    ordinary = re.search(r"12345-\d{8}-\d{6}", push_wechat(live, "小区门口路灯不亮")).group(0)
    expect(page.locator(f"#rows tr[data-number='{ordinary}']")).to_have_count(1)

    reply = push_wechat(live, "有人拿刀砍人")
    number = re.search(r"12345-\d{8}-\d{6}", reply).group(0)
    assert "立即拨打110" in reply
    expect(banner).to_be_visible(timeout=5000)
    alarm = page.get_by_test_id(f"alarm-{number}")
    expect(alarm).to_contain_text("紧急警报")
    # On top of the board, marked, in its own queue, and it sounds.
    expect(page.locator("#rows tr").first).to_have_attribute("data-number", number)
    expect(page.locator(f"#rows tr[data-number='{number}'] .badge.alarm")).to_have_count(1)
    expect(page.locator("#tabs [data-queue=alarm] .count")).to_have_text("1")
    expect(banner).to_have_attribute("data-sounded", re.compile(r"[1-9]"))
    alerts = int(page.locator("#console").get_attribute("data-alerts") or 0)
    assert alerts >= 1

    # Nobody acknowledged it for 61 s: the sweep escalates it and the console shows it.
    live.clock.advance(seconds=61)
    assert alarm_round(live.app).escalated == (number,)
    expect(alarm).to_contain_text("已升级督办员")
    screenshot(page, "console-alarm")

    alarm.get_by_role("button", name="确认警报").click()
    expect(banner).to_be_hidden()
    expect(page.locator(f"#rows tr[data-number='{number}'] .badge.alarm")).to_have_count(0)
    ticket = live.call("dispatcher1", "GET", f"/api/v1/tickets/{number}")
    acknowledged = [e for e in ticket["events"] if e["action"] == "acknowledge_alarm"]
    assert len(acknowledged) == 1 and acknowledged[0]["payload"]["escalated"] is True
