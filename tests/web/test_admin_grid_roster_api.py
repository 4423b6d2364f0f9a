"""The admin's grid versions and duty roster over HTTP: the diff before activating a version
(cells added, removed, renamed, reshaped; open tickets, duties and rules left behind), the
activation and the import recorded; the roster paged and filtered with names, its week view,
adding and removing a duty (recorded), and the spreadsheet import (dry run writes nothing, a bad
row refuses the whole file with a row-by-row report)."""

from __future__ import annotations

import io
import json
from datetime import time

import pytest
import shapely
from sqlalchemy import text

from tests.conftest import CELL_DLAT, CELL_DLON, cell_centre, cell_code, make_test_grid
from tests.web.conftest import error_of

ROSTER = "/api/v1/admin/roster"
WEEK = "/api/v1/admin/roster/week"
IMPORT = "/api/v1/admin/roster/import"
GONE, RENAMED, RESHAPED, REORDERED = (cell_code(0, 0, 0), cell_code(0, 0, 1), cell_code(0, 0, 2),
                                      cell_code(0, 0, 3))
NEW_CELL = "street_pudong-c001-g09"


def scalar(app, sql: str, **params):
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def changes(app, subject: str) -> list[tuple]:
    """The admin changes recorded about `subject` by a person (key, action, before, after,
    username), in order."""
    from web.extensions import db

    def value(raw):
        return json.loads(raw) if isinstance(raw, str) else raw  # SQLite gives JSON as text

    with app.app_context(), db.engine.connect() as conn:
        return [(key, action, value(before), value(after), who) for key, action, before, after,
                who in conn.execute(text(
                    "SELECT c.key, c.action, c.before, c.after, u.username FROM admin_changes c "
                    "JOIN users u ON u.id = c.actor_id WHERE c.subject = :s ORDER BY c.id"),
                    {"s": subject})]


def roster_count(app) -> int:
    return scalar(app, "SELECT count(*) FROM duty_roster")


@pytest.fixture
def grid(app) -> int:
    """The test grid, active, with worker1 on duty in the first cell."""
    from grid import duties
    from grid.locator import build_index
    from web.extensions import db

    with app.app_context():
        version = make_test_grid(db.session)
        duties.add_roster_entry(db.session, {"cell": GONE, "username": "worker1"},
                             build_index(db.session, version))
        db.session.commit()
    return version


@pytest.fixture
def workers(app, grid) -> None:
    """More grid workers: two share the name 张伟; one has left (inactive)."""
    from dispatch.core.models import User
    from web.extensions import db

    with app.app_context():
        for username, name, active in (("gw_a", "张伟", True), ("gw_b", "张伟", True),
                                       ("gw_c", "李娜", True), ("gw_gone", "王离", False)):
            db.session.add(User(username=username, display_name=name, role="grid_worker",
                                department_code="street_pudong", password_hash="x",
                                active=active))
        db.session.commit()


def second_version(app) -> int:
    """A copy of the test grid with one cell removed, one renamed, one reshaped, one whose
    outline is only written the other way round, and one new cell."""
    from grid.models import Area
    from web.extensions import db

    with app.app_context():
        version = make_test_grid(db.session, active=False, source="second.geojson")
        rows = db.session.query(Area).filter(Area.grid_version == version)
        by_code = {a.code: a for a in rows}
        db.session.delete(by_code[GONE])
        by_code[RENAMED].name = "蒲东新网格"
        lon, lat = cell_centre(0, 0, 2)
        by_code[RESHAPED].geometry = shapely.to_wkb(shapely.box(
            lon - CELL_DLON / 2, lat - CELL_DLAT / 2, lon + CELL_DLON, lat + CELL_DLAT / 2))
        same = shapely.from_wkb(by_code[REORDERED].geometry)
        by_code[REORDERED].geometry = shapely.to_wkb(shapely.Polygon(
            list(same.exterior.coords)[::-1]))
        extra = by_code[cell_code(0, 0, 3)]
        db.session.add(Area(grid_version=version, code=NEW_CELL, name="蒲东第九网格",
                            level="cell", parent_code=extra.parent_code, geometry=extra.geometry,
                            point_lon=extra.point_lon, point_lat=extra.point_lat,
                            area_m2=extra.area_m2))
        db.session.commit()
    return version


# ---------------------------------------------------------------- grid versions


def test_the_diff_names_what_activating_a_version_would_change(api, app, grid):
    lon, lat = cell_centre(0, 0, 0)
    ticket = api.create(lon=lon, lat=lat)
    assert scalar(app, "SELECT cell_code FROM tickets WHERE number = :n",
                  n=ticket["number"]) == GONE
    rule = api.post("admin1", "/api/v1/admin/catalogue",
                    json={"category": "urban", "area": GONE, "lead": "urban_management"})
    assert rule.status_code == 201, rule.get_json()
    second = second_version(app)
    r = api.get("admin1", f"/api/v1/admin/grid/versions/{second}/diff")
    assert r.status_code == 200, r.get_json()
    diff = r.get_json()
    assert diff["against"] == grid and diff["version"] == second
    assert diff["counts"] == {"added": 1, "removed": 1, "renamed": 1, "moved": 0,
                              "reshaped": 1, "unchanged": 13, "tickets": 1, "duties": 1,
                              "rules": 1}
    assert diff["added"] == [{"code": NEW_CELL, "name": "蒲东第九网格",
                              "community_name": "蒲东街道第1社区"}]
    assert [(c["code"], c["name"]) for c in diff["removed"]] == [(GONE, "蒲东街道第1社区第1网格")]
    assert diff["renamed"] == [{"code": RENAMED, "old_name": "蒲东街道第1社区第2网格",
                                "name": "蒲东新网格"}]
    assert [c["code"] for c in diff["reshaped"]] == [RESHAPED]  # not REORDERED
    assert diff["reshaped"][0]["area_m2"] == diff["reshaped"][0]["old_area_m2"]  # stored value
    assert [(t["number"], t["cell_name"]) for t in diff["tickets"]] == [
        (ticket["number"], "蒲东街道第1社区第1网格")]
    assert [(d["cell_name"], d["display_name"]) for d in diff["duties"]] == [
        ("蒲东街道第1社区第1网格", "网格员一")]
    assert [(x["id"], x["category_name"], x["area_name"]) for x in diff["rules"]] == [
        (rule.get_json()["id"], "城市管理", "蒲东街道第1社区第1网格")]
    # Nothing was written by looking.
    assert scalar(app, "SELECT id FROM grid_versions WHERE active") == grid
    assert changes(app, "grid_version") == []


def test_a_diff_against_itself_or_without_an_active_version(api, app, grid):
    same = api.get("admin1", f"/api/v1/admin/grid/versions/{grid}/diff").get_json()
    assert same["counts"]["unchanged"] == 16
    assert sum(v for k, v in same["counts"].items() if k != "unchanged") == 0
    second = second_version(app)
    back = api.get("admin1", f"/api/v1/admin/grid/versions/{grid}/diff",
                   query_string={"against": second}).get_json()
    assert [c["code"] for c in back["added"]] == [GONE]
    assert [c["code"] for c in back["removed"]] == [NEW_CELL]


def test_the_diff_refuses_unknown_versions_and_other_roles(api, app, grid):
    error_of(api.get("admin1", "/api/v1/admin/grid/versions/999/diff"), 404, "not_found")
    error_of(api.get("admin1", f"/api/v1/admin/grid/versions/{grid}/diff",
                     query_string={"against": 999}), 404, "not_found")
    error_of(api.get("admin1", f"/api/v1/admin/grid/versions/{grid}/diff",
                     query_string={"against": "x"}), 400, "invalid", "against")
    error_of(api.get("dispatcher1", f"/api/v1/admin/grid/versions/{grid}/diff"), 403,
             "forbidden")


def test_activation_is_recorded_once_and_the_version_detail_names_its_report(api, app, grid):
    second = second_version(app)
    r = api.post("admin1", f"/api/v1/admin/grid/versions/{second}/activate")
    assert r.status_code == 200 and r.get_json()["active"] is True
    assert scalar(app, "SELECT count(*) FROM grid_versions WHERE active") == 1
    assert changes(app, "grid_version") == [
        (str(second), "activate", {"active_version": grid}, {"active_version": second},
         "admin1")]
    api.post("admin1", f"/api/v1/admin/grid/versions/{second}/activate")
    assert len(changes(app, "grid_version")) == 1  # already active: nothing changed
    items = api.get("admin1", "/api/v1/grid/versions").get_json()["items"]
    assert [(v["id"], v["active"]) for v in items] == [(second, True), (grid, False)]


def test_an_upload_without_activation_is_recorded_and_its_report_names_areas(api, app, grid,
                                                                              tmp_path):
    def square(x0: float, y0: float, size: float) -> dict:
        return {"type": "Polygon", "coordinates": [[[x0, y0], [x0 + size, y0],
                                                    [x0 + size, y0 + size], [x0, y0 + size],
                                                    [x0, y0]]]}

    features = [
        {"type": "Feature", "properties": {"code": "s1", "name": "蒲东街道", "level": "street"},
         "geometry": square(114.66, 35.19, 0.02)},
        {"type": "Feature", "properties": {"code": "s1-g01", "name": "一网格", "level": "cell"},
         "geometry": square(114.66, 35.19, 0.011)},
        {"type": "Feature", "properties": {"code": "s1-g02", "name": "二网格", "level": "cell"},
         "geometry": square(114.67, 35.19, 0.01)},
    ]
    body = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    r = api.client.post("/api/v1/admin/grid/imports", data=body,
                        query_string={"filename": "新网格.geojson", "activate": "false"},
                        headers={**api.headers("admin1"),
                                 "Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.get_json()
    version = r.get_json()["version_id"]
    assert scalar(app, "SELECT id FROM grid_versions WHERE active") == grid
    [(key, action, before, after, who)] = changes(app, "grid_version")
    assert (key, action, before, who) == (str(version), "import", None, "admin1")
    assert after["source"] == "新网格.geojson" and after["active"] is False
    detail = api.get("admin1", f"/api/v1/grid/versions/{version}").get_json()
    assert detail["imported_by"] == "管理员一" and detail["active"] is False
    assert detail["report"]["overlap_count"] == 1
    overlap = detail["report"]["overlaps"][0]
    assert {overlap["a_name"], overlap["b_name"]} == {"一网格", "二网格"}


# ---------------------------------------------------------------- roster: reading


def many_duties(app, count: int) -> None:
    from grid import duties
    from grid.locator import build_index
    from grid.models import GridVersion
    from web.extensions import db

    with app.app_context():
        version = db.session.query(GridVersion.id).filter(GridVersion.active).scalar()
        index = build_index(db.session, version)
        cells = sorted(index.cell_codes)
        duties.add_roster_entries(db.session, [
            {"cell": cells[i % len(cells)], "username": "worker1" if i % 2 else "gw_c",
             "weekdays": "12345" if i % 3 else "67", "starts": f"{i % 24:02d}:00",
             "ends": f"{(i + 8) % 24:02d}:00"} for i in range(count)], index)
        db.session.commit()


def test_the_roster_is_paged_by_the_server_with_names_and_filters(api, app, grid, workers):
    many_duties(app, 60)
    first = api.get("dispatcher1", ROSTER, query_string={"per_page": 25}).get_json()
    assert first["total"] == 61 and len(first["items"]) == 25
    third = api.get("dispatcher1", ROSTER, query_string={"per_page": 25, "page": 3}).get_json()
    assert len(third["items"]) == 11
    ids = {e["id"] for e in first["items"]} | {e["id"] for e in third["items"]}
    assert len(ids) == 36  # pages do not overlap
    item = first["items"][0]
    assert item["cell_name"].startswith("蒲东街道第1社区") and item["street_name"] == "蒲东街道"
    assert item["display_name"] in ("网格员一", "李娜") and item["weekdays_text"]

    street = api.get("admin1", ROSTER, query_string={"area": "town_naoli",
                                                     "per_page": 500}).get_json()
    assert street["total"] and all(e["street_name"] == "恼里镇" for e in street["items"])
    named = api.get("admin1", ROSTER, query_string={"worker": "李", "per_page": 500}).get_json()
    assert named["total"] == 30 and {e["username"] for e in named["items"]} == {"gw_c"}
    by_username = api.get("admin1", ROSTER, query_string={"username": "worker1",
                                                          "cell": GONE}).get_json()
    assert [e["weekdays_text"] for e in by_username["items"]][0] == "每天"

    for query, field in (({"area": "nowhere"}, "area"), ({"per_page": 501}, "per_page"),
                         ({"page": 0}, "page"), ({"colour": "red"}, "colour")):
        error_of(api.get("admin1", ROSTER, query_string=query), 400, "invalid", field)


def test_the_week_view_shows_each_day_per_cell_and_per_worker(api, app, grid, workers):
    r = api.post("admin1", ROSTER, json={"cell": RENAMED, "username": "gw_c", "weekdays": "67",
                                         "starts": "20:00", "ends": "08:00"})
    assert r.status_code == 201, r.get_json()
    week = api.get("admin1", WEEK, query_string={"area": "street_pudong-c001",
                                                 "week": "2026-12-09"}).get_json()
    assert [d["date"] for d in week["days"]][0] == "2026-12-07"  # the Monday
    assert [d["name"] for d in week["days"]] == ["周一", "周二", "周三", "周四", "周五", "周六",
                                                 "周日"]
    assert week["total"] == 4 and [row["key"] for row in week["items"]] == [
        GONE, RENAMED, RESHAPED, REORDERED]
    first, second, third = week["items"][:3]
    assert all(len(day) == 1 and day[0]["display_name"] == "网格员一" for day in first["days"])
    assert second["uncovered"] == ["周一", "周二", "周三", "周四", "周五"]
    assert second["days"][6][0]["display_name"] == "李娜" and second["days"][6][0]["overnight"]
    assert third["uncovered"] == [d["name"] for d in week["days"]]  # unrostered cells show too

    people = api.get("admin1", WEEK, query_string={"by": "worker", "worker": "李娜"}).get_json()
    assert [(p["key"], p["name"]) for p in people["items"]] == [("gw_c", "李娜")]
    assert people["items"][0]["days"][5][0]["cell_name"] == "蒲东街道第1社区第2网格"
    error_of(api.get("admin1", WEEK, query_string={"by": "day"}), 400, "invalid", "by")
    error_of(api.get("admin1", WEEK, query_string={"week": "7"}), 400, "invalid", "week")


# ---------------------------------------------------------------- roster: changes


def test_a_duty_added_by_names_and_removed_is_recorded(api, app, grid, workers):
    r = api.post("admin1", ROSTER, json={"cell": "蒲东街道第1社区第3网格", "username": "李娜",
                                         "weekdays": "周一、周三、周五", "starts": "09:00",
                                         "ends": "17:00", "note": "早班"})
    assert r.status_code == 201, r.get_json()
    duty = r.get_json()
    assert (duty["cell"], duty["username"], duty["display_name"]) == (RESHAPED, "gw_c", "李娜")
    assert duty["weekdays_text"] == "周一、周三、周五"
    before = roster_count(app)
    again = api.post("admin1", ROSTER, json={"cell": RESHAPED, "username": "gw_c",
                                             "weekdays": "135", "starts": "09:00",
                                             "ends": "17:00"})
    error_of(again, 400, "invalid", "username")
    ambiguous = api.post("admin1", ROSTER, json={"cell": RESHAPED, "username": "张伟"})
    assert "请写用户名" in error_of(ambiguous, 400, "invalid", "username")["message"]
    left = api.post("admin1", ROSTER, json={"cell": RESHAPED, "username": "gw_gone"})
    error_of(left, 400, "invalid", "username")
    error_of(api.post("admin1", ROSTER, json={"cell": "没有这个网格", "username": "gw_c"}), 400,
             "invalid", "cell")
    for weekdays in ("周八", "1189", "x" * 31):
        error_of(api.post("admin1", ROSTER, json={"cell": RESHAPED, "username": "gw_c",
                                                  "weekdays": weekdays}), 400, "invalid",
                 "weekdays")
    error_of(api.post("dispatcher1", ROSTER, json={"cell": RESHAPED, "username": "gw_c"}), 403,
             "forbidden")
    assert roster_count(app) == before
    assert api.client.delete(f"{ROSTER}/{duty['id']}",
                             headers=api.headers("admin1")).status_code == 200
    error_of(api.client.delete(f"{ROSTER}/{duty['id']}", headers=api.headers("admin1")), 404,
             "not_found")
    recorded = changes(app, "roster")
    assert [(k, a, w) for k, a, _b, _a, w in recorded] == [
        (str(duty["id"]), "create", "admin1"), (str(duty["id"]), "delete", "admin1")]
    assert recorded[0][3] == recorded[1][2] == {
        "cell": RESHAPED, "username": "gw_c", "weekdays": "135", "starts": "09:00",
        "ends": "17:00", "note": "早班"}


# ---------------------------------------------------------------- roster: import


def sheet(rows: list[list[object]], headings: list[str] | None = None) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.append(headings or ["网格", "网格员", "星期", "开始", "结束", "备注"])
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(api, data: bytes, dry_run: str | None, filename: str = "值班表.xlsx"):
    query = {} if dry_run is None else {"dry_run": dry_run}
    return api.client.post(IMPORT, query_string=query, headers=api.headers("admin1"),
                           data={"file": (io.BytesIO(data), filename)},
                           content_type="multipart/form-data")


GOOD_ROWS = [
    ["蒲东街道第1社区第2网格", "李娜", "周一至周五", time(8, 0), time(17, 30), "白班"],
    [cell_code(1, 0, 0), "gw_a", "周六、周日", "20:00", "8:00", None],
    ["恼里镇第1社区第2网格", "网格员一", "", "", "", ""],
]


def test_a_good_sheet_is_previewed_without_writing_then_imported_and_recorded(
        api, app, grid, workers):
    before = roster_count(app)
    preview = upload(api, sheet(GOOD_ROWS), None)  # a dry run unless told otherwise
    assert preview.status_code == 200, preview.get_json()
    assert preview.get_json() == {"rows": 3, "accepted": 3, "rejected": [], "committed": False}
    assert roster_count(app) == before and changes(app, "roster") == []

    done = upload(api, sheet(GOOD_ROWS), "false")
    assert done.status_code == 201, done.get_json()
    assert done.get_json()["committed"] is True
    assert roster_count(app) == before + 3
    listed = api.get("admin1", ROSTER, query_string={"username": "gw_c"}).get_json()["items"]
    assert [(e["cell"], e["weekdays"], e["starts"], e["ends"], e["note"]) for e in listed] == [
        (RENAMED, "12345", "08:00", "17:30", "白班")]
    night = api.get("admin1", ROSTER, query_string={"username": "gw_a"}).get_json()["items"]
    assert [(e["weekdays"], e["starts"], e["ends"]) for e in night] == [("67", "20:00", "08:00")]
    [(key, action, before_value, after, who)] = changes(app, "roster")
    assert (key, action, before_value, who) == ("值班表.xlsx", "import", None, "admin1")
    assert after["added"] == 3 and len(after["duties"]) == 3


def test_bad_rows_refuse_the_whole_sheet_with_a_row_report_and_write_nothing(
        api, app, grid, workers):
    rows = [
        *GOOD_ROWS,
        ["没有这个网格", "李娜", "", "", "", ""],                   # row 5
        [RESHAPED, "张伟", "", "", "", ""],                          # 6: two 张伟
        [RESHAPED, "gw_c", "周八", "", "", ""],                      # 7
        [RESHAPED, "gw_c", "", "08:00", "08:00", ""],                # 8
        [GONE, "worker1", "每天", "08:00", "20:00", ""],             # 9: already on the roster
        ["蒲东街道第1社区第2网格", "李娜", "1-5", "8:00", "17:30", ""],  # 10: as row 2
        [RESHAPED, "gw_gone", "", "", "", ""],                       # 11: has left
        [RESHAPED, "gw_c", "", "25:00", "", ""],                     # 12
        ["", "gw_c", "", "", "", ""],                                # 13
    ]
    before, recorded = roster_count(app), changes(app, "roster")
    for dry_run in ("false", "true"):
        r = upload(api, sheet(rows), dry_run)
        report = r.get_json() if dry_run == "true" else r.get_json()["report"]
        if dry_run == "false":
            error = r.get_json()["error"]
            assert r.status_code == 422 and error["code"] == "import_rejected"
            assert "整个文件都没有导入" in error["message"]
        else:
            assert r.status_code == 200
        assert report["rows"] == 12 and report["accepted"] == 3 and not report["committed"]
        assert [(x["row"], x["field"]) for x in report["rejected"]] == [
            (5, "cell"), (6, "username"), (7, "weekdays"), (8, "ends"), (9, "username"),
            (10, "username"), (11, "username"), (12, "starts"), (13, "cell")]
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in x["message"])
                   for x in report["rejected"])
        assert "第 2 行" in report["rejected"][5]["message"]
    assert roster_count(app) == before and changes(app, "roster") == recorded


@pytest.mark.parametrize(("data", "filename", "field"), [
    (b"not a workbook", "值班表.xlsx", "file"),
    (b"", "值班表.xlsx", "file"),
    ("网格,网格员\n".encode(), "值班表.txt", "file"),
    (None, "值班表.xlsx", "file"),  # an unknown heading
])
def test_a_bad_file_is_refused_naming_it_and_nothing_is_written(api, app, grid, data,
                                                                 filename, field):
    if data is None:
        data = sheet([[GONE, "worker1"]], headings=["网格", "值班员"])
    before, recorded = roster_count(app), changes(app, "roster")
    error_of(upload(api, data, "false", filename), 400, "invalid", field)
    assert roster_count(app) == before and changes(app, "roster") == recorded


def test_only_admins_import_and_a_csv_works_too(api, app, grid, workers):
    data = "网格,网格员,星期,开始,结束\n蒲东街道第1社区第3网格,李娜,工作日,07:30,12:00\n".encode()
    r = api.client.post(IMPORT, query_string={"dry_run": "false"},
                        headers=api.headers("dispatcher1"),
                        data={"file": (io.BytesIO(data), "r.csv")},
                        content_type="multipart/form-data")
    error_of(r, 403, "forbidden")
    r = upload(api, data, "false", "r.csv")
    assert r.status_code == 201, r.get_json()
    [duty] = api.get("admin1", ROSTER, query_string={"cell": RESHAPED}).get_json()["items"]
    assert (duty["username"], duty["weekdays"], duty["starts"], duty["ends"]) == (
        "gw_c", "12345", "07:30", "12:00")
