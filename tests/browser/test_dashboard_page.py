"""The leaders' dashboard (/dashboard) over a simulated week of the demo county (the `small`
preset of `dispatch.simulation.engine`, run in-process): the headline figures equal the statistics
API's, a figure opens the tickets behind it and a ticket opens read-only, the charts and the
map render, the emerging hotspot made of five nearby demands is listed, the exports point at
the figures shown, and hostile demand text shows as text."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import make_url

from dispatch import subscribers
from dispatch.core.ports import ManualClock, RecordingPublisher
from dispatch.stats import rollups
from tests.browser.conftest import (
    LiveServer,
    browser_app,
    copy_database,
    login,
    screenshot,
    stop_app,
)
from tests.conftest import FAST_HASHER, START

HOSTILE = "<img src=x onerror=alert(1)>"
STREET = "street_pudong"
MONTH = {"from": "2026-11-01", "to": "2026-11-23"}


@pytest.fixture(autouse=True)
def installed():
    was = subscribers.running("statistics")
    subscribers.resume("statistics")
    try:
        yield
    finally:
        if not was:
            subscribers.pause("statistics")


def simulate_week(live: Any) -> None:
    """A week of the county's history up to the live clock's now (a light `small` run)."""
    from dispatch.simulation.parameters import SMALL
    from web.cli.simulate import run_simulation
    from web.extensions import db

    with live.app.app_context():
        run_simulation(db.session, SMALL, start=START - timedelta(days=7), seed=11, scale=0.4,
                       days=7, password_hash=FAST_HASHER.hash("demo12345"))
        rollups.refresh(db.session)
        db.session.remove()


def create(live: Any, point: tuple[float, float], *, east_m: float = 0.0,
           text: str = "路口有人占道经营，堵住了人行道", **fields: Any) -> dict[str, Any]:
    lon, lat = point
    body = {"channel": "phone", "text": text, "lon": lon + east_m / 91_000, "lat": lat,
            "category": "urban.appearance.street_vending", "type": "complaint",
            "urgency": "normal", "citizen": {"name": "张三", "phone": "13800138000"}}
    body.update(fields)
    return live.call("operator1", "POST", "/api/v1/tickets", body)


def add_week_and_hotspot(live: Any) -> None:
    """A simulated week, and five 占道经营 demands at 蒲东街道's centre in the last 40
    minutes (an emerging hotspot); the clock ends at the last of them."""
    simulate_week(live)
    areas = live.call("leader1", "GET", "/api/v1/grid/areas")["items"]
    street = next(a for a in areas if a["code"] == STREET)
    point = (street["lon"], street["lat"])
    live.clock.advance(minutes=-40)
    cluster = []
    for i in range(5):
        live.clock.advance(minutes=10)
        cluster.append(create(live, point, east_m=i * 60)["number"])
    live.cluster = cluster
    live.point = point


@pytest.fixture(scope="session")
def week_template(county_template: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The demo county with its week and hotspot (`add_week_and_hotspot`), made once per test
    process (this file's tests are one xdist group): simulating the week took seconds per
    test, copying the database takes a fraction of one."""
    folder = tmp_path_factory.mktemp("week")
    url = copy_database(county_template, folder, "dashboard_tmpl")
    clock, publisher = ManualClock(START), RecordingPublisher()
    app = browser_app(url, folder, clock, publisher)
    built = LiveServer(app, "", clock, publisher)
    was = subscribers.running("statistics")
    subscribers.resume("statistics")
    try:
        add_week_and_hotspot(built)
    finally:
        if not was:
            subscribers.pause("statistics")
        stop_app(app)
    built.template = make_url(url).database
    return built


@pytest.fixture
def browser_db_url(request: pytest.FixtureRequest, county_template: str,
                   tmp_path: Path) -> str:
    """A copy of the county, with its week and hotspot for the tests of `county`."""
    if "county" in request.fixturenames:
        return copy_database(request.getfixturevalue("week_template").template, tmp_path)
    return copy_database(county_template, tmp_path)


@pytest.fixture
def county(demo_county: Any, week_template: Any) -> Any:
    """The demo county with a simulated week, and five 占道经营 demands at 蒲东街道's centre
    in the last 40 minutes (an emerging hotspot): a copy of `week_template`, the live clock
    where the template's ended."""
    demo_county.clock.current = week_template.clock.now()
    demo_county.cluster = week_template.cluster
    demo_county.point = week_template.point
    return demo_county


def open_dashboard(new_page: Any, user: str = "leader1", query: str = "") -> Any:
    page = new_page()
    login(page, user, then="/dashboard" + query)
    page.wait_for_selector("#dashboard[data-ready=true]")
    return page


def tile(page: Any, metric: str) -> Any:
    return page.locator(f".tile[data-metric={metric}]")


def pct(rate: float | None) -> str:
    """As the page shows a rate: JavaScript's toFixed(2), which rounds a tie up (Python's
    format would round 90.625 to even)."""
    if rate is None:
        return "—"
    return f"{Decimal(rate * 100).quantize(Decimal('0.01'), ROUND_HALF_UP)}%"


def test_the_dashboard_shows_the_figures_of_the_api_and_opens_the_tickets_behind_them(
        new_page, county):
    summary = county.call("leader1", "GET", "/api/v1/stats/summary?from=2026-11-01&to=2026-11-23")
    assert summary["intake"]["value"] > 20  # the simulated week is there
    page = open_dashboard(new_page)
    expect(page.locator("#period-note")).to_contain_text("2026-11-01 至 2026-11-23")

    # Every tile: the rate as a percentage, the counts "n / d" under it.
    expect(tile(page, "intake").locator(".tile-value")).to_have_text(
        f"{summary['intake']['value']:,}")
    # Intake by channel under it, each count a link to its tickets.
    by_channel = county.call("leader1", "GET", "/api/v1/stats/breakdown?from=2026-11-01"
                             "&to=2026-11-23&by=channel")["items"]
    channels = tile(page, "intake").locator(".tile-channels .channel")
    expect(channels).to_have_count(len([i for i in by_channel if i["intake"]["value"]]))
    phone = next(i for i in by_channel if i["key"] == "phone")
    expect(channels.filter(has_text="电话").locator("button")).to_have_text(
        f"{phone['intake']['value']:,}")
    expect(tile(page, "overdue_now").locator(".tile-value")).to_have_text(
        f"{summary['overdue_now']['value']:,}")
    for metric in ("completion_rate", "callback_rate", "satisfaction_rate",
                   "on_time_completion_rate", "return_rate"):
        fig = summary[metric]
        expect(tile(page, metric).locator(".tile-value")).to_have_text(pct(fig["rate"]))
        expect(tile(page, metric).locator(".tile-counts")).to_have_text(
            f"{fig['numerator']:,} / {fig['denominator']:,}")
    # The three of DOMAIN.md's "More metrics" the triage adds, with their counts.
    for metric in ("auto_dispatch_rate", "auto_dispatch_accuracy", "alarm_ack_rate"):
        fig = summary[metric]
        expect(tile(page, metric).locator(".tile-counts")).to_have_text(
            f"{fig['numerator']:,} / {fig['denominator']:,}")

    # A figure opens the list of the tickets behind it, paged.
    completed = summary["completion_rate"]
    assert completed["numerator"] > 0
    tile(page, "completion_rate").locator(".tile-main").click()
    drill = page.locator("#drill")
    expect(drill).to_be_visible()
    expect(page.locator("#drill-title")).to_have_text(re.compile(r"^办结率 · 分子："))
    expect(page.locator("#drill-count")).to_contain_text(f"共 {completed['numerator']:,} 条")
    listed = county.call("leader1", "GET", "/api/v1/stats/tickets?from=2026-11-01&to=2026-11-23"
                         "&metric=completion_rate&part=numerator&per_page=20")
    rows = page.locator("#drill-rows tr[data-number]")
    expect(rows).to_have_count(len(listed["items"]))
    expect(rows.first).to_have_attribute("data-number", listed["items"][0]["number"])
    export = urlsplit(page.locator("#export-drill").get_attribute("href"))
    assert parse_qs(export.query) == {"from": ["2026-11-01"], "to": ["2026-11-23"],
                                      "metric": ["completion_rate"], "part": ["numerator"],
                                      "table": ["tickets"]}

    # The denominator too; and a ticket opens read-only.
    tile(page, "completion_rate").locator("button.d").click()
    expect(page.locator("#drill-count")).to_contain_text(f"共 {completed['denominator']:,} 条")
    first = listed["items"][0]["number"]
    page.locator("#drill-close").click()
    expect(drill).to_be_hidden()
    tile(page, "completion_rate").locator(".tile-main").click()
    page.locator(f"#drill-rows tr[data-number='{first}'] button").click()
    view = page.locator("#ticket")
    expect(view).to_be_visible()
    expect(page.locator("#ticket-title")).to_have_text(first)
    expect(view.locator(".timeline li").first).to_contain_text("受理")
    # Who did it by name, the username in the tooltip.
    intake = county.call("leader1", "GET", f"/api/v1/tickets/{first}?masked=1")["events"][0]
    actor = view.locator(".timeline li").first.get_by_test_id("event-actor")
    expect(actor).to_have_text(intake["actor_name"])
    if intake["actor"] != "system":
        expect(actor).to_have_attribute("title", intake["actor"])
    expect(view.locator("button:not(.close)")).to_have_count(0)  # read-only: no actions
    # The citizen is masked by the server (a masked read: nothing unmasked was sent).
    expect(view).to_contain_text(re.compile(r"1\d{2}\*{4}\d{4}"))
    expect(view).not_to_contain_text(re.compile(r"1\d{10}"))
    page.keyboard.press("Escape")  # the keyboard closes the drawers, the focus goes back
    expect(view).to_be_hidden()
    expect(page.locator(f"#drill-rows tr[data-number='{first}'] button")).to_be_focused()
    page.keyboard.press("Escape")
    expect(drill).to_be_hidden()
    expect(tile(page, "completion_rate").locator(".tile-main")).to_be_focused()


def test_charts_map_ranking_and_the_emerging_hotspot_are_shown(new_page, county):
    page = open_dashboard(new_page)
    # Charts: ECharts drew into a canvas inside each chart element.
    expect(page.locator("#trend-chart canvas")).not_to_have_count(0)
    expect(page.locator("#breakdown-chart canvas")).not_to_have_count(0)
    trend = county.call("leader1", "GET",
                        "/api/v1/stats/trend?from=2026-11-01&to=2026-11-23&every=day")
    assert page.locator("#dashboard").get_attribute("data-trend-points") == str(
        len(trend["items"]))
    page.locator("#trend-every button[data-every=week]").click()
    # 1 Nov is a Sunday: its week, then 2–8, 9–15, 16–22 and 23 November.
    expect(page.locator("#dashboard")).to_have_attribute("data-trend-points", "5")
    assert "every=week" in page.locator("#export-trend").get_attribute("href")

    # The ranking table: the API's rows in its order; a header sorts by that column.
    ranked = county.call("leader1", "GET", "/api/v1/stats/breakdown?from=2026-11-01"
                         "&to=2026-11-23&by=department&sort=completion_rate")["items"]
    keys = page.locator("#rank-rows tr[data-key]").evaluate_all(
        "rows => rows.map(r => r.dataset.key)")
    assert keys == [i["key"] or "none" for i in ranked]
    # Bureaus and streets ranked apart, under their headings; 未派单 not ranked.
    headings = page.locator("#rank-rows tr.rank-group").all_inner_texts()
    assert headings[:2] == ["职能部门", "属地街镇"], headings
    expect(page.locator('#rank-rows tr[data-key="none"] .rank-no')).to_have_text("—")
    page.locator("#rank-head button[data-sort=intake]").click()
    expect(page.locator("#rank-head th[aria-sort=descending] button")).to_have_attribute(
        "data-sort", "intake")
    by_intake = county.call("leader1", "GET", "/api/v1/stats/breakdown?from=2026-11-01"
                            "&to=2026-11-23&by=department&sort=intake")["items"]
    expect(page.locator("#rank-rows tr[data-key]").first).to_have_attribute(
        "data-key", by_intake[0]["key"] or "none")
    assert "sort=intake" in page.locator("#export-rank").get_attribute("href")

    # The map: the county's areas coloured by demand, the hotspot drawn on it.
    expect(page.locator("#heat-map")).to_have_attribute("data-level", re.compile(r"\w+"))
    expect(page.locator("#heat-map path.leaflet-interactive")).not_to_have_count(0)
    expect(page.locator("#heat-legend")).to_contain_text("受理量")
    # …and a heat layer of the demand points over it.
    expect(page.locator("#heat-map")).to_have_attribute("data-points", re.compile(r"^[1-9]"))
    expect(page.get_by_test_id("heat-points-note")).to_contain_text("件有位置的诉求")

    # The emerging hotspot: five 占道经营 demands within 250 m in the last 40 minutes.
    spot = page.locator("#hotspots li.hotspot").filter(has_text="市容市貌")
    expect(spot).to_have_count(1)
    expect(spot.locator(".spot-count")).to_have_text("5 件")
    expect(spot.locator(".spot-place")).to_contain_text("蒲东街道")
    spot.locator("summary").click()
    listed = spot.locator(".spot-tickets li button").all_inner_texts()
    assert sorted(listed) == sorted(county.cluster)
    screenshot(page, "dashboard")


def test_filters_narrow_every_figure_and_are_kept_in_the_address(new_page, county):
    page = open_dashboard(new_page)
    page.select_option("#f-street", STREET)
    expect(page).to_have_url(re.compile(r"street=street_pudong"))
    page.wait_for_selector("#dashboard[data-loading=false]")
    narrowed = county.call("leader1", "GET", "/api/v1/stats/summary?from=2026-11-01"
                           f"&to=2026-11-23&street={STREET}")
    expect(tile(page, "intake").locator(".tile-value")).to_have_text(
        f"{narrowed['intake']['value']:,}")
    href = page.locator("#export-summary").get_attribute("href")
    assert parse_qs(urlsplit(href).query) == {"from": ["2026-11-01"], "to": ["2026-11-23"],
                                              "street": [STREET], "table": ["summary"]}

    # Today only, from the address: the period picker follows.
    page.goto("/dashboard?period=today&channel=phone")
    page.wait_for_selector("#dashboard[data-ready=true]")
    expect(page.locator("#f-period")).to_have_value("today")
    today = county.call("leader1", "GET",
                        "/api/v1/stats/summary?from=2026-11-23&to=2026-11-23&channel=phone")
    expect(tile(page, "intake").locator(".tile-value")).to_have_text(
        f"{today['intake']['value']:,}")
    expect(page.locator("#period-note")).to_contain_text("渠道：电话")

    # A custom range.
    page.select_option("#f-period", "custom")
    page.fill("#f-from", "2026-11-17")
    page.fill("#f-to", "2026-11-19")
    page.click("#apply")
    expect(page.locator("#period-note")).to_contain_text("2026-11-17 至 2026-11-19")
    custom = county.call("leader1", "GET",
                         "/api/v1/stats/summary?from=2026-11-17&to=2026-11-19&channel=phone")
    expect(tile(page, "intake").locator(".tile-value")).to_have_text(
        f"{custom['intake']['value']:,}")


def test_hostile_demand_text_shows_as_text_in_the_ticket_view(new_page, demo_county):
    areas = demo_county.call("leader1", "GET", "/api/v1/grid/areas")["items"]
    street = next(a for a in areas if a["code"] == STREET)
    number = create(demo_county, (street["lon"], street["lat"]), text=HOSTILE)["number"]
    page = open_dashboard(new_page, "dispatcher1")
    expect(page.locator("#reports-panel")).to_be_hidden()  # the lists are for leaders
    tile(page, "intake").locator(".tile-main").click()
    page.locator(f"#drill-rows tr[data-number='{number}'] button").click()
    expect(page.locator("#ticket .ticket-text")).to_have_text(HOSTILE)
    expect(page.locator("#ticket img")).to_have_count(0)
    expect(page.get_by_test_id("completion-evidence")).to_have_count(0)

    # Completed with a photo from 2 km east: the ticket view shows the photo, the place
    # against the ticket's and the time taken, as the review drawer does.
    live = demo_county
    t = live.call("dispatcher1", "POST", f"/api/v1/tickets/{number}/actions/dispatch", {
        "version": live.call("dispatcher1", "GET", f"/api/v1/tickets/{number}")["version"],
        "lead": "urban_management"})
    t = live.call("handler1", "POST", f"/api/v1/tickets/{number}/actions/sign",
                  {"version": t["version"]})
    out = io.BytesIO()
    Image.new("RGB", (160, 120), (30, 120, 200)).save(out, "JPEG")
    up = live.app.test_client().post(
        f"/api/v1/tickets/{number}/attachments", data={"file": (io.BytesIO(out.getvalue()),
                                                                "现场.jpg", "image/jpeg")},
        headers={"Authorization": f"Bearer {live.api_token('handler1')}"},
        content_type="multipart/form-data")
    assert up.status_code == 201, up.get_json()
    live.clock.advance(hours=2, minutes=5)
    live.call("handler1", "POST", f"/api/v1/tickets/{number}/actions/complete", {
        "version": t["version"], "result": "已处理", "attachments": [up.get_json()["id"]],
        "lon": street["lon"] + 0.022, "lat": street["lat"]})
    page.locator("#ticket-close").click()
    page.locator(f"#drill-rows tr[data-number='{number}'] button").click()
    shown = page.get_by_test_id("completion")
    expect(shown).to_contain_text("长垣市城市管理局")
    expect(shown).to_contain_text("用时 2小时5分")
    expect(page.get_by_test_id("completion-place")).to_have_text(
        re.compile(r"^距诉求位置 2\.\d 公里（偏离较远，请核实）$"))
    photo = page.get_by_test_id("completion-photo")
    page.wait_for_function("img => img.complete && img.naturalWidth === 160",
                           arg=photo.element_handle())
    # With no history the figures read as empty, not as errors.
    expect(tile(page, "completion_rate").locator(".tile-value")).to_have_text("—")
    expect(page.locator("#hotspots")).to_contain_text("当前没有新发热点")


def test_a_leader_sees_the_generated_periodic_reports(new_page, demo_county):
    demo_county.call("admin1", "POST", "/api/v1/admin/reports", {"kind": "week"})
    page = open_dashboard(new_page)
    link = page.locator("#reports a")
    expect(link).to_have_count(1)
    expect(link).to_contain_text("周巡检")
    assert link.get_attribute("href").endswith(".xlsx")
