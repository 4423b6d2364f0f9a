"""Every page, as every demo role, speaks Chinese: each user signs in, opens every page of the
navigation they may open (with a drawer or detail open where the page has one), and no visible
text (`document.body.innerText`) holds an English sentence or word.

What may stay in Latin letters (kept small): text a page marks as code (`<code>`, `<kbd>`,
`<samp>`, a class naming "code": a category's or department's code column, a shell command);
codes and identifiers (anything with a digit, an underscore, a hyphen, a dot or a slash: ticket
numbers, cell codes, usernames such as `handler1`, times); the key names of keyboard help;
acronyms in capitals (GIS, SLA, CSV); the few proper names and file formats below. Every other
word of Latin letters is English reaching a user."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, login

# Key names (keyboard help), file formats, products and units a Chinese UI writes in Latin.
ALLOWED = {
    "Alt", "Ctrl", "Shift", "Enter", "Esc", "Tab", "Space", "Excel", "OpenStreetMap",
    "Leaflet", "ECharts", "WeChat", "GeoJSON", "GeoPackage", "Shapefile", "km", "ms", "px",
}
KEYS = re.compile(r"^(Alt|Ctrl|Shift|Enter|Esc|Tab)+$")  # <kbd>Esc</kbd><kbd>Esc</kbd>
# The visible text of the page, without what it marks as code.
VISIBLE_TEXT = """() => {
  const codes = [...document.querySelectorAll("code, kbd, samp, [class*=code]")]
    .map((n) => n.innerText.trim()).filter(Boolean).sort((a, b) => b.length - a.length);
  let text = document.body.innerText;
  for (const code of codes) text = text.split(code).join(" ");
  return text;
}"""
# A word: a run of Latin letters with the characters of a code around it (a code is allowed).
TOKEN = re.compile(r"[A-Za-z0-9_./:@#+\-]*[A-Za-z][A-Za-z0-9_./:@#+\-]*")
PAGES = {  # the pages each demo user may open, and what to open on each
    "operator1": ["/intake"],
    "dispatcher1": ["/console", "/dashboard"],
    "handler1": ["/department"],
    "worker1": ["/worker"],
    "supervisor1": ["/console", "/dashboard"],
    "leader1": ["/console", "/dashboard"],
    "police1": ["/police"],
    # The console and the dashboard as an admin sees them are the dispatcher's and the
    # leader's (walked above): the admin walks the administration pages.
    "admin1": ["/admin", "/admin/users", "/admin/departments", "/admin/categories",
               "/admin/catalogue", "/admin/time-limits", "/admin/calendar", "/admin/grid",
               "/admin/roster", "/admin/kb", "/admin/classifier-rules", "/admin/repeat-rules",
               "/admin/settings", "/admin/classifier", "/admin/triage", "/admin/audit"],
}
# What to click on a page for its drawer or detail (the first row of its list).
DETAILS = {
    "/console": "#rows tr[data-number]",
    "/department": "[data-testid=inbox-row]",
    "/police": "#rows tr[data-number]",
}


def english_words(text: str) -> list[str]:
    """The words of `text` that are English, not codes, keys, acronyms or allowed names."""
    found = []
    for token in TOKEN.findall(text):
        if re.search(r"[0-9_./:@#+\-]", token) or token in ALLOWED or KEYS.match(token):
            continue
        if token.isupper() and len(token) <= 6:  # an acronym: GIS, SLA, CSV, ID
            continue
        found.append(token)
    return found


def test_the_rules_find_english_and_let_codes_and_names_through():
    assert english_words("当前状态不允许此操作：the completion deadline has passed") == [
        "the", "completion", "deadline", "has", "passed"]
    assert english_words("110 rejected · 非警情") == ["rejected"]
    assert english_words("12345-20261207-000001 street_pudong-c001-g01（handler1）Alt+A GIS") == []


def _tickets(live: LiveServer) -> None:
    """A dispatched ticket (console, department), one 110 rejected (the console's drawer)."""
    def act(user: str, number: str, action: str, **body: Any) -> dict[str, Any]:
        version = live.call("dispatcher1", "GET", f"/api/v1/tickets/{number}")["version"]
        return live.call(user, "POST", f"/api/v1/tickets/{number}/actions/{action}",
                         {"version": version, **body})

    def create(text: str) -> str:
        return live.call("operator1", "POST", "/api/v1/tickets", {
            "channel": "phone", "text": text, "address": "宏力大道与山海大道交叉口",
            "citizen": {"name": "张三", "phone": "13800001111"}})["number"]

    rejected = create("有人在小区门口吵架，声音很大")
    act("operator1", rejected, "transfer_110", reason="涉警")
    act("police1", rejected, "police_reject", reason="非警情")
    dispatched = create("小区门口占道经营，摊贩很多")
    act("dispatcher1", dispatched, "dispatch", lead="urban_management")
    create("路灯不亮，晚上很黑")
    sent = create("有人在路边打架")
    act("operator1", sent, "transfer_110", reason="涉警")


def test_every_page_as_every_role_shows_no_english(new_page, demo_county):
    _tickets(demo_county)
    found: list[str] = []
    for user, paths in PAGES.items():
        page = new_page()
        login(page, user)
        for path in paths:
            page.goto(path)
            expect(page.locator("body")).not_to_contain_text("加载中")
            texts = [page.evaluate(VISIBLE_TEXT)]
            detail = DETAILS.get(path)
            if detail and page.locator(detail).count():
                page.locator(detail).first.click()
                expect(page.locator("body")).not_to_contain_text("加载中")
                texts.append(page.evaluate(VISIBLE_TEXT))
            for text in texts:
                for line in text.splitlines():
                    words = english_words(line)
                    if words:
                        found.append(f"{user} {path}: {line.strip()[:160]}")
    assert not found, "English on the pages:\n" + "\n".join(dict.fromkeys(found))
