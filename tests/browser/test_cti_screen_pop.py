"""The screen pop, as operator1 (extension 8001) lives it on /intake: the demo call centre
rings 8001 over real HTTP; the page pops the number with the caller's open ticket and the
missed call they made earlier (settled from the pop) and fills the phone; the call is
answered, the demand logged on it carries the call id; the call ends and its duration and
recording (played through the server) appear; a page opened while a call rings pops it too."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from integrations.cti.fake import FakeCallCentre
from tests.browser.conftest import login

KEYS = {"cc-1": "browser-secret"}


def test_a_ringing_call_pops_on_the_operators_page(demo_county: Any, new_page: Any) -> None:
    live = demo_county
    earlier = live.call("operator1", "POST", "/api/v1/tickets", {
        "channel": "phone", "text": "小区路灯不亮", "citizen": {"phone": "13700137000"},
        "type": "complaint", "category": "urban"})
    with FakeCallCentre(KEYS, clock=lambda: live.clock.now().timestamp()) as centre:
        live.app.config.update(CTI_KEYS=KEYS, CTI_URL=centre.url)
        page = new_page()
        login(page, "operator1", then="/intake")
        page.wait_for_selector("body[data-call-pop=up]")
        centre.ring(live.url, "M-0", "13700137000", None)  # an earlier call given up in the queue
        centre.abandon(live.url, "M-0", "13700137000", wait_s=45)
        assert centre.ring(live.url, "B-1", "13700137000", "8001").status == 202
        pop = page.get_by_test_id("call-pop")
        expect(pop.get_by_test_id("pop-caller")).to_have_text("13700137000")
        expect(pop.get_by_test_id("pop-open")).to_contain_text(earlier["number"])
        expect(pop.get_by_test_id("pop-missed")).to_contain_text("1 个漏接来电")
        pop.get_by_test_id("pop-missed-settle").click()
        expect(pop.get_by_test_id("pop-missed")).to_have_count(0)
        assert live.call("operator1", "GET", "/api/v1/calls?state=missed")["total"] == 0
        expect(page.get_by_test_id("phone")).to_have_value("13700137000")
        centre.answer(live.url, "B-1", wait_s=3)
        expect(pop.get_by_test_id("pop-state")).to_have_text("通话中")
        page.get_by_test_id("text").fill("路灯还是不亮，再次反映")
        page.get_by_test_id("do-dispatch").click()
        expect(page.get_by_test_id("result-number")).to_have_text(re.compile(r"^12345-"))
        centre.hangup(live.url, "B-1", duration_s=75)
        centre.record(live.url, "B-1")
        expect(pop.get_by_test_id("pop-duration")).to_contain_text("1 分 15 秒")
        expect(pop.get_by_test_id("pop-recording")).to_have_attribute(
            "src", "/api/v1/calls/B-1/recording")
        call = live.call("operator1", "GET", "/api/v1/calls/B-1")
        assert call["ticket"] == page.get_by_test_id("result-number").inner_text()
        # A page opened while a call rings pops it too.
        page.goto("/calls")
        centre.ring(live.url, "B-2", "13700137000", "8001")
        page.goto("/intake")
        expect(page.get_by_test_id("call-pop").get_by_test_id("pop-caller")).to_have_text(
            "13700137000")
