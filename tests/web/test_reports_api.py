"""Periodic lists over HTTP: generate, list, download the xlsx; roles; refusals write nothing."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

import web.api.reports  # noqa: F401  (its routes join the API blueprint before an app is built)
from dispatch.tickets.calendar import LOCAL_TZ
from tests.web.conftest import dispatched, error_of

REPORTS = "/api/v1/admin/reports"
SHEETS = ["部门汇总", "超期工单", "重办工单", "督办工单", "来电", "说明"]


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


def reports_dir(app) -> Path:
    return Path(app.config["INSTANCE_PATH"]) / "reports"


def files(app) -> list[str]:
    folder = reports_dir(app)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def late_sign(api, clock, long_tokens) -> str:
    """A ticket dispatched Monday 23 November 10:00 to 城管 and signed for 3 hours late."""
    t = dispatched(api)
    clock.current = local(2026, 11, 24, 13, 0)
    r = api.act("handler1", t["number"], "sign", version=t["version"])
    assert r.status_code == 200, r.get_json()
    clock.current = local(2026, 11, 30, 8, 0)
    return t["number"]


def test_an_admin_generates_the_weekly_list_and_readers_list_and_download_it(
        app, api, clock, late_sign):
    r = api.post("admin1", REPORTS, json={"kind": "week", "day": "2026-11-30"})
    assert r.status_code == 201, r.get_json()
    item = r.get_json()
    assert (item["kind"], item["start"], item["end"], item["file"]) == (
        "week", "2026-11-23", "2026-11-29", "week-2026-11-23.xlsx")
    assert datetime.fromisoformat(item["generated_at"]) == clock.now()
    assert item["size"] > 0 and item["url"] == f"{REPORTS}/week/2026-11-23.xlsx"
    assert files(app) == ["week-2026-11-23.xlsx"]

    for user in ("admin1", "leader1", "supervisor1"):
        r = api.get(user, REPORTS)
        assert r.status_code == 200, (user, r.get_json())
        assert r.get_json()["items"] == [item]

    r = api.get("leader1", item["url"])
    assert r.status_code == 200
    assert r.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in r.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == SHEETS
    overdue = list(wb["超期工单"].iter_rows(values_only=True))
    assert overdue[0][:5] == ("工单编号", "事项分类", "部门", "主办/协办", "超期类型")
    assert len(overdue) == 2
    row = overdue[1]
    assert (row[0], row[2], row[3], row[4], row[7], row[8], row[9]) == (
        late_sign, "长垣市城市管理局", "主办", "签收超期", "逾期完成", 3.0, 0)
    assert row[5] == datetime(2026, 11, 24, 10, 0)  # local wall-clock time
    summary = list(wb["部门汇总"].iter_rows(values_only=True))
    assert summary[1][:4] == (1, "长垣市城市管理局", "urban_management", 1)
    assert summary[-1][0] == "合计"
    (chart,) = wb["部门汇总"]._charts  # overdue per department, as a bar chart
    assert chart.title.tx.rich.p[0].r[0].t == "各部门超期件数"
    about = dict(row[:2] for row in wb["说明"].iter_rows(min_row=2, values_only=True))
    assert about["报表"] == "周巡检" and "2026-11-23" in about["统计期间"]
    assert {"超期工单", "重办工单", "督办工单"} <= set(about)
    assert wb["超期工单"].column_dimensions["A"].width == 26


def test_regenerating_a_period_overwrites_its_file_and_leaves_no_temp_file(
        app, api, clock, late_sign):
    first = api.post("admin1", REPORTS, json={"kind": "week", "day": "2026-11-30"})
    assert first.status_code == 201
    clock.current = local(2026, 11, 30, 9, 30)
    again = api.post("admin1", REPORTS, json={"kind": "week", "day": "2026-12-02"})
    assert again.status_code == 201
    assert again.get_json()["start"] == first.get_json()["start"]
    assert datetime.fromisoformat(again.get_json()["generated_at"]) == clock.now()
    assert files(app) == ["week-2026-11-23.xlsx"]
    month = api.post("admin1", REPORTS, json={"kind": "month", "day": "2026-12-01"})
    quarter = api.post("admin1", REPORTS, json={"kind": "quarter", "day": "2027-01-01"})
    assert (month.status_code, quarter.status_code) == (201, 201)
    assert files(app) == ["month-2026-11-01.xlsx", "quarter-2026-10-01.xlsx",
                          "week-2026-11-23.xlsx"]
    listed = [(i["kind"], i["start"]) for i in api.get("admin1", REPORTS).get_json()["items"]]
    assert listed == [("week", "2026-11-23"), ("month", "2026-11-01"),
                      ("quarter", "2026-10-01")]


def test_without_a_day_the_list_covers_the_period_before_today(app, api, clock):
    clock.current = local(2026, 12, 1, 0, 30)
    r = api.post("admin1", REPORTS, json={"kind": "month"})
    assert r.status_code == 201
    assert (r.get_json()["start"], r.get_json()["end"]) == ("2026-11-01", "2026-11-30")


def test_other_roles_are_refused_and_nothing_is_written(app, api, unchanged):
    with unchanged():
        for user in ("operator1", "dispatcher1", "handler1", "leader1", "supervisor1"):
            error_of(api.post(user, REPORTS, json={"kind": "week", "day": "2026-11-30"}),
                     403, "forbidden")
        error_of(api.get("operator1", REPORTS), 403, "forbidden")
        error_of(api.get("operator1", f"{REPORTS}/week/2026-11-23.xlsx"), 403, "forbidden")
        error_of(api.client.get(REPORTS), 401, "unauthorized")
    assert files(app) == []


def test_a_list_not_generated_is_not_found(app, api):
    error_of(api.get("admin1", f"{REPORTS}/month/2026-10-01.xlsx"), 404, "not_found")


@pytest.mark.parametrize("path", [
    "year/2026-01-01.xlsx",  # no such kind
    "week/2026-11-24.xlsx",  # not a Monday
    "quarter/2026-11-01.xlsx",  # no quarter starts in November
    "week/2026-13-01.xlsx",
    "week/..%2F..%2Fsecret_key.xlsx",
    "week/..%2Fweek-2026-11-23.xlsx",
    "..%2F..%2Fsecret_key/2026-11-23.xlsx",
    "week/...xlsx",
    "week/2026-11-23.xlsx.tmp",
    "week/%2E%2E.xlsx",
])
def test_bad_kinds_dates_and_traversal_are_refused(app, api, path):
    api.post("admin1", REPORTS, json={"kind": "week", "day": "2026-11-30"})
    r = api.get("admin1", f"{REPORTS}/{path}")
    assert r.status_code == 404, r.get_data(as_text=True)[:200]


def test_bad_generate_requests_are_refused_and_write_nothing(app, api, unchanged):
    cases = [
        {"kind": "year", "day": "2026-11-30"},
        {"kind": "../week", "day": "2026-11-30"},
        {"kind": "week", "day": "../../etc"},
        {"kind": "week", "day": "2026-02-30"},
        {"kind": "week", "day": "2026-11-30", "path": "/tmp/x.xlsx"},
        {"day": "2026-11-30"},
    ]
    with unchanged():
        for body in cases:
            error_of(api.post("admin1", REPORTS, json=body), 400, "invalid")
    assert files(app) == []


def test_the_listing_ignores_files_that_are_not_lists(app, api):
    folder = reports_dir(app)
    folder.mkdir(parents=True)
    for name in (".abc.tmp", "week-2026-11-24.xlsx", "notes.txt", "year-2026-01-01.xlsx"):
        (folder / name).write_bytes(b"x")
    assert api.get("admin1", REPORTS).get_json() == {"items": []}


def test_the_scheduler_generates_what_is_due_on_the_local_day(app, late_sign):
    from workers.reports import due_reports, generate, run_due

    monday = local(2026, 11, 30, 0, 30)
    assert due_reports(monday) == ["week"]
    assert [p.name for p in run_due(app, monday)] == ["week-2026-11-23.xlsx"]
    new_year = local(2027, 1, 1, 0, 30)  # still 31 December in UTC
    assert [p.name for p in run_due(app, new_year)] == ["month-2026-12-01.xlsx",
                                                        "quarter-2026-10-01.xlsx"]
    path = generate(app, "week", datetime(2026, 11, 30).date(), monday)
    assert path == reports_dir(app) / "week-2026-11-23.xlsx"
    assert files(app) == ["month-2026-12-01.xlsx", "quarter-2026-10-01.xlsx",
                          "week-2026-11-23.xlsx"]
