"""The softphone's ring: a real call from baresip through Kamailio to the intake page in
Chromium (the browser test's setup, tests/browser/test_softphone.py), repeated; prints the
median and the worst of INVITE → ring shown in the page (and from baresip's dial command).

    make bench PYTEST_ARGS=...   or
    .venv/bin/python -m pytest tests/bench/test_bench_softphone.py -q -s -p no:cacheprovider \\
        -o addopts="--import-mode=importlib" --timeout=0
"""

from __future__ import annotations

import statistics
from typing import Any

from playwright.sync_api import expect

from tests.browser import conftest as browser
from tests.browser import test_softphone as softphone
from tests.browser.conftest import LiveServer

# The browser test's fixtures (a benchmark folder has no conftest of browsers).
county_template = browser.county_template
browser_db_url = browser.browser_db_url
live_server = browser.live_server
chromium = browser.chromium
sip = softphone.sip

CALLS = 30


def test_bench_softphone_invite_to_ring(live_server: LiveServer, chromium: Any,
                                        sip: dict[str, Any]) -> None:
    dials, invites = [], []
    with softphone.softphone_page(live_server, chromium, sip) as page:
        for _ in range(CALLS):
            from_dial, from_invite = softphone.ring(page, sip)
            dials.append(from_dial)
            invites.append(from_invite)
            page.get_by_test_id("softphone-hangup").click()  # declined while ringing
            expect(page.get_by_test_id("softphone-phase")).to_have_text("未接来电")
            sip["phone"].wait_event("CALL_CLOSED")
    q = statistics.quantiles(invites, n=10)
    print(f"\nsoftphone, {CALLS} calls: INVITE → ring shown median "
          f"{statistics.median(invites):.0f} ms, p90 {q[-1]:.0f} ms, max {max(invites):.0f} ms; "
          f"from baresip's dial command median "
          f"{statistics.median(dials):.0f} ms")
    assert statistics.median(invites) < 1000
