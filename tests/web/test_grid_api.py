"""The grid over HTTP: locate preview, map GeoJSON, versions and imports, catalogue and roster
administration; every refusal names its field and writes nothing."""

from __future__ import annotations

import json

import pytest
import shapely
from sqlalchemy import text

from grid.coords import from_wgs84
from tests.conftest import cell_centre, cell_code, make_test_grid, two_cell_geojson

LOCATE = "/api/v1/grid/locate"
CELLS = "/api/v1/grid/cells.geojson"
PUDONG_CELL = cell_code(0, 0, 0)
GRID_TABLES = ("grid_versions", "grid_areas", "catalogue_rules", "duty_roster", "settings")


@pytest.fixture
def grid(app) -> int:
    from grid import catalogue as cat
    from grid import duties
    from grid.locator import build_index
    from web.extensions import db

    with app.app_context():
        version = make_test_grid(db.session)
        index = build_index(db.session, version)
        cat.create_rule(db.session, {"category": "urban", "lead": "urban_management",
                                     "co_territorial": True, "on_site": True}, index)
        duties.add_roster_entry(db.session, {"cell": PUDONG_CELL, "username": "worker1"}, index)
        db.session.commit()
    return version


def grid_counts(app) -> dict[str, int]:
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in GRID_TABLES}


def test_locate_a_point_gives_cell_areas_routing_worker_and_repeats(api, grid):
    lon, lat = cell_centre(0, 0, 0)
    first = api.create(lon=lon, lat=lat)
    r = api.get("operator1", LOCATE, query_string={"lon": lon, "lat": lat,
                                                   "category": "urban.appearance",
                                                   "phone": "13800138000"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    loc, routing = body["location"], body["routing"]
    assert (loc["cell"], loc["community"], loc["street"]) == (
        PUDONG_CELL, "street_pudong-c001", "street_pudong")
    assert loc["names"]["street"] == "蒲东街道" and loc["grid_version"] == grid
    assert routing["lead"] == "urban_management" and routing["lead_name"] == "长垣市城市管理局"
    assert routing["co_handlers"] == ["street_pudong"]
    assert routing["grid_worker"] == "worker1" and routing["grid_worker_name"] == "网格员一"
    assert routing["reasons"] and loc["reasons"]
    assert [c["number"] for c in body["repeat_candidates"]] == [first["number"]]


def test_locate_converts_wechat_gcj02_points(api, grid):
    lon, lat = cell_centre(1, 0, 1)
    x, y = from_wgs84(lon, lat, "GCJ02")
    body = api.get("operator1", LOCATE, query_string={"lon": x, "lat": y, "crs": "GCJ02"}
                   ).get_json()
    assert body["location"]["cell"] == cell_code(1, 0, 1)
    assert body["location"]["lon"] == pytest.approx(lon, abs=1e-7)


@pytest.mark.parametrize(("query", "field"), [
    ({"lon": "114.67"}, "lat"),
    ({"lat": "35.2"}, "lon"),
    ({"lon": "nan", "lat": "35.2"}, "lon"),
    ({"lon": "inf", "lat": "35.2"}, "lon"),
    ({"lon": "181", "lat": "35.2"}, "lon"),
    ({"lon": "114.6", "lat": "-91"}, "lat"),
    ({"lon": "abc", "lat": "35.2"}, "lon"),
    ({"lon": "114.6", "lat": "35.2", "crs": "EPSG:3857"}, "crs"),
    ({}, "address"),
    ({"address": "   "}, "address"),
    ({"address": "x" * 201}, "address"),
    ({"lon": "114.6", "lat": "35.2", "category": "no.such"}, "category"),
    ({"lon": "114.6", "lat": "35.2", "color": "red"}, "color"),
])
def test_locate_refuses_bad_input_naming_the_field(api, app, grid, query, field):
    before = grid_counts(app)
    r = api.get("operator1", LOCATE, query_string=query)
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["error"]["field"] == field
    assert grid_counts(app) == before


def test_locate_outside_the_county_says_so(api, grid):
    body = api.get("operator1", LOCATE, query_string={"lon": 116.4, "lat": 39.9}).get_json()
    assert body["location"]["cell"] is None
    assert body["location"]["flags"] == ["outside_grid"]
    assert body["routing"]["lead"] is None


def test_locate_is_for_staff_only(client, api, grid):
    assert client.get(LOCATE, query_string={"lon": 114.67, "lat": 35.2}).status_code == 401


def test_cells_geojson_by_bbox_and_zoom(api, grid):
    lon, lat = cell_centre(0, 0, 0)
    bbox = f"{lon - 0.001},{lat - 0.001},{lon + 0.001},{lat + 0.001}"
    r = api.get("dispatcher1", CELLS, query_string={"bbox": bbox, "zoom": 16})
    assert r.status_code == 200 and r.mimetype == "application/geo+json"
    body = r.get_json()
    assert body["type"] == "FeatureCollection" and body["properties"]["level"] == "cell"
    assert [f["properties"]["code"] for f in body["features"]] == [PUDONG_CELL]
    shape = shapely.geometry.shape(body["features"][0]["geometry"])
    assert shape.contains(shapely.Point(lon, lat))
    streets = api.get("dispatcher1", CELLS, query_string={"zoom": 10}).get_json()
    assert {f["properties"]["code"] for f in streets["features"]} == {
        "street_pudong", "town_naoli"}
    communities = api.get("dispatcher1", CELLS, query_string={"zoom": 13}).get_json()
    assert len(communities["features"]) == 4


@pytest.mark.parametrize(("query", "field"), [
    ({"bbox": "1,2,3"}, "bbox"),
    ({"bbox": "a,b,c,d"}, "bbox"),
    ({"bbox": "115,35,114,36"}, "bbox"),
    ({"zoom": "30"}, "zoom"),
    ({"level": "planet"}, "level"),
])
def test_cells_geojson_refuses_bad_input(api, grid, query, field):
    r = api.get("dispatcher1", CELLS, query_string=query)
    assert r.status_code == 400 and r.get_json()["error"]["field"] == field


def test_cells_geojson_without_a_grid_is_not_found(api):
    assert api.get("dispatcher1", CELLS).status_code == 404


def test_grid_versions_list_and_activate_rolls_back(api, app, grid):
    from web.extensions import db

    with app.app_context():
        second = make_test_grid(db.session, source="second")
        db.session.commit()
    items = api.get("admin1", "/api/v1/grid/versions").get_json()["items"]
    assert [(v["id"], v["active"]) for v in items] == [(second, True), (grid, False)]
    assert api.post("handler1", f"/api/v1/admin/grid/versions/{grid}/activate").status_code == 403
    r = api.post("admin1", f"/api/v1/admin/grid/versions/{grid}/activate")
    assert r.status_code == 200 and r.get_json()["active"] is True
    lon, lat = cell_centre(0, 0, 0)
    body = api.get("operator1", LOCATE, query_string={"lon": lon, "lat": lat}).get_json()
    assert body["location"]["grid_version"] == grid
    assert api.post("admin1", "/api/v1/admin/grid/versions/999/activate").status_code == 404


# ---------------------------------------------------------------- catalogue and roster


def test_catalogue_crud_over_http(api, app, grid):
    rule = {"category": "utilities.water", "lead": "water_supply", "area": "town_naoli",
            "on_site": True, "note": "恼里镇供水"}
    r = api.post("admin1", "/api/v1/admin/catalogue", json=rule)
    assert r.status_code == 201, r.get_json()
    made = r.get_json()
    assert made["area"] == "town_naoli" and made["lead"] == "water_supply"
    listed = api.get("dispatcher1", "/api/v1/admin/catalogue").get_json()["items"]
    assert {(i["category"], i["area"]) for i in listed} == {
        ("urban", None), ("utilities.water", "town_naoli")}
    r = api.put("admin1", f"/api/v1/admin/catalogue/{made['id']}",
                json={**rule, "lead": "gas_supply"})
    assert r.status_code == 200 and r.get_json()["lead"] == "gas_supply"
    r = api.client.delete(f"/api/v1/admin/catalogue/{made['id']}", headers=api.headers("admin1"))
    assert r.status_code == 200
    assert api.client.delete(f"/api/v1/admin/catalogue/{made['id']}",
                             headers=api.headers("admin1")).status_code == 404


@pytest.mark.parametrize(("user", "body", "status", "field"), [
    ("admin1", {"category": "utilities", "lead": "no_dept"}, 400, "lead"),
    ("admin1", {"category": "nope", "lead": "water_supply"}, 400, "category"),
    ("admin1", {"category": "utilities", "area": "mars", "lead": "water_supply"}, 400, "area"),
    ("admin1", {"category": "urban.appearance", "area": "street_pudong"}, 400, "lead"),
    ("admin1", {"category": "utilities", "lead": 5}, 400, "lead"),
    ("dispatcher1", {"category": "utilities", "lead": "water_supply"}, 403, None),
])
def test_catalogue_refusals_write_nothing(api, app, grid, user, body, status, field):
    api.headers(user)
    before = grid_counts(app)
    r = api.post(user, "/api/v1/admin/catalogue", json=body)
    assert r.status_code == status, r.get_json()
    assert r.get_json()["error"].get("field") == field
    assert grid_counts(app) == before


def test_roster_add_list_remove_and_refusals(api, app, grid):
    cell = cell_code(1, 1, 1)
    r = api.post("admin1", "/api/v1/admin/roster",
                 json={"cell": cell, "username": "worker1", "weekdays": "67",
                       "starts": "09:00", "ends": "17:00"})
    assert r.status_code == 201, r.get_json()
    entry = r.get_json()
    listed = api.get("dispatcher1", "/api/v1/admin/roster", query_string={"cell": cell})
    assert [e["id"] for e in listed.get_json()["items"]] == [entry["id"]]
    before = grid_counts(app)
    bad = api.post("admin1", "/api/v1/admin/roster", json={"cell": cell, "username": "leader1"})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "username"
    assert grid_counts(app) == before
    r = api.client.delete(f"/api/v1/admin/roster/{entry['id']}", headers=api.headers("admin1"))
    assert r.status_code == 200
    assert api.get("admin1", "/api/v1/admin/roster",
                   query_string={"cell": cell}).get_json()["items"] == []


def test_locator_settings_change_the_boundary_flag(api, grid):
    lon, lat = cell_centre(0, 0, 0)
    near_edge = 114.67 - 0.0002  # ~18 m west of the first cell's east edge
    query = {"lon": near_edge, "lat": lat}
    assert api.get("operator1", LOCATE, query_string=query).get_json()["location"]["flags"] == [
        "near_boundary"]
    r = api.put("admin1", "/api/v1/admin/locator-settings", json={"boundary_m": 10})
    assert r.status_code == 200 and r.get_json()["boundary_m"] == 10
    assert api.get("operator1", LOCATE, query_string=query).get_json()["location"]["flags"] == []
    bad = api.put("admin1", "/api/v1/admin/locator-settings", json={"boundary_m": -1})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "boundary_m"
    r = api.put("admin1", "/api/v1/admin/repeat-rules", json={"radius_m": 100})
    assert r.status_code == 200 and r.get_json()["window_hours"] == 72


def test_the_ticket_shows_its_location_reasons_and_repeat_candidates(api, grid):
    lon, lat = cell_centre(0, 0, 0)
    first = api.create(lon=lon, lat=lat)
    second = api.create(lon=lon, lat=lat)
    full = api.get("dispatcher1", f"/api/v1/tickets/{second['number']}").get_json()
    assert full["location"]["cell"] == PUDONG_CELL and full["location"]["reasons"]
    assert [c["number"] for c in full["repeat_candidates"]] == [first["number"]]
    assert json.dumps(full["routing"], ensure_ascii=False).count("派单目录规则") == 1
    # Names where a person reads them: the cell, community and street; the grid worker and
    # who did what by their names (the codes and usernames stay, for the tooltips).
    assert full["location"]["names"] == {
        "cell": "蒲东街道第1社区第1网格", "community": "蒲东街道第1社区", "street": "蒲东街道"}
    assert (full["routing"]["grid_worker"], full["routing"]["grid_worker_name"]) == (
        "worker1", "网格员一")
    n = second["number"]
    r = api.post("dispatcher1", f"/api/v1/tickets/{n}/actions/dispatch",
                 json={"version": full["version"], "lead": "urban_management",
                       "grid_worker": "worker1"})
    assert r.status_code == 200, r.get_json()
    after = r.get_json()
    assert after["location"]["names"]["cell"] == "蒲东街道第1社区第1网格"
    lead = next(a for a in after["assignments"] if a["role"] == "lead")
    assert (lead["grid_worker"], lead["grid_worker_name"]) == ("worker1", "网格员一")
    assert [(e["actor"], e["actor_name"]) for e in after["events"][-1:]] == [
        ("dispatcher1", "派单员一")]
    # The dispatch's payload names its grid worker too (its username stays).
    payload = after["events"][-1]["payload"]
    assert (payload["grid_worker"], payload["grid_worker_name"]) == ("worker1", "网格员一")
    assert "grid_worker_name" not in after["events"][0]["payload"]  # the intake names nobody


# ---------------------------------------------------------------- imports over HTTP


def upload(api, user: str, data: bytes, filename: str = "cells.geojson",
           content_type: str = "application/octet-stream", **query):
    return api.client.post("/api/v1/admin/grid/imports", data=data,
                           query_string={"filename": filename, **query},
                           headers={**api.headers(user), "Content-Type": content_type})


def test_an_admin_uploads_a_grid_file_and_it_becomes_the_active_version(api, app, tmp_path):
    data = two_cell_geojson(tmp_path / "g.geojson").read_bytes()
    r = upload(api, "admin1", data, filename="长垣网格.geojson")
    assert r.status_code == 201, r.get_json()
    report = r.get_json()
    assert report["counts"]["cell"] == 2 and report["version_id"] == 1
    version = api.get("admin1", "/api/v1/grid/versions/1").get_json()
    assert version["source"] == "长垣网格.geojson" and version["active"] is True
    assert version["report"]["counts"]["street"] == 1
    located = api.get("operator1", LOCATE, query_string={"lon": 114.675, "lat": 35.195})
    assert located.get_json()["location"]["cell"] == "s1-g02"


@pytest.mark.parametrize(("user", "data", "filename", "ctype", "status", "field"), [
    ("admin1", "这不是地理数据".encode(), "x.geojson", "application/octet-stream", 400, "file"),
    ("admin1", b"", "x.geojson", "application/octet-stream", 400, "file"),
    ("admin1", b"PK\x03\x04junk", "x.zip", "application/zip", 400, "file"),
    ("admin1", b"{}", "x.exe", "application/octet-stream", 400, "filename"),
    ("admin1", b"{}", "x.shp", "application/octet-stream", 400, "filename"),
    ("admin1", b"file=x", "x.geojson", "application/x-www-form-urlencoded", 415, None),
    ("admin1", b"x", "x.geojson", "text/plain", 415, None),
    ("dispatcher1", b"{}", "x.geojson", "application/octet-stream", 403, None),
])
def test_bad_uploads_are_refused_and_write_nothing(api, app, user, data, filename, ctype,
                                                    status, field):
    api.headers(user)
    before = grid_counts(app)
    r = upload(api, user, data, filename=filename, content_type=ctype)
    assert r.status_code == status, r.get_json()
    error = r.get_json()["error"]
    assert error.get("field") == field
    assert any("\u3400" <= ch <= "\u9fff" for ch in error["message"]), error
    if field == "file" and data:  # read by the importer (an empty body is refused before)
        assert error["message"].startswith(f"file: 网格文件未导入，共 1 个问题：{filename} "), error
    assert grid_counts(app) == before


def test_a_grid_worker_sees_the_tickets_in_their_rostered_cells_and_no_others(api, grid):
    mine = api.create(lon=cell_centre(0, 0, 0)[0], lat=cell_centre(0, 0, 0)[1])
    other = api.create(lon=cell_centre(1, 1, 1)[0], lat=cell_centre(1, 1, 1)[1])
    assert api.get("worker1", f"/api/v1/tickets/{mine['number']}").status_code == 200
    assert api.get("worker1", f"/api/v1/tickets/{other['number']}").status_code == 404
    listed = api.get("worker1", "/api/v1/tickets").get_json()["items"]
    assert [t["number"] for t in listed] == [mine["number"]]
    # Seeing is not acting: signing for it is still the assignee's.
    r = api.act("worker1", mine["number"], "sign")
    assert r.status_code in (403, 409)


def test_a_dispatcher_relocates_a_ticket_over_http(api, grid):
    t = api.create(lon=cell_centre(0, 0, 0)[0], lat=cell_centre(0, 0, 0)[1])
    lon, lat = cell_centre(1, 1, 1)
    r = api.act("dispatcher1", t["number"], "relocate", version=t["version"], lon=lon, lat=lat,
                reason="地址更正")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["location"]["cell"] == cell_code(1, 1, 1) and body["version"] == t["version"] + 1
    assert body["events"][-1]["action"] == "relocate"
    stale = api.act("dispatcher1", t["number"], "relocate", version=t["version"], lon=lon,
                    lat=lat)
    assert stale.status_code == 409
    assert api.act("handler1", t["number"], "relocate", lon=lon, lat=lat).status_code in (403, 404)


def test_addresses_locate_by_area_name_and_unknown_or_foreign_ones_are_flagged(api, grid):
    body = api.get("operator1", LOCATE, query_string={"address": "恼里镇第2社区"}).get_json()
    loc = body["location"]
    assert (loc["community"], loc["street"], loc["cell"]) == (
        "town_naoli-c002", "town_naoli", None)
    assert loc["precision"] == "community" and loc["flags"] == ["address_approximate"]
    for address, reason in (("123 Main Street", "没有中文"), ("火星基地一号楼", "未匹配")):
        body = api.get("operator1", LOCATE, query_string={"address": address}).get_json()
        assert body["location"]["cell"] is None and body["location"]["lon"] is None
        assert body["location"]["flags"] == ["address_not_found"]
        assert any(reason in r for r in body["location"]["reasons"]), body["location"]
    r = api.get("operator1", LOCATE, query_string={"address": "  "})
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["error"] == {"code": "invalid", "field": "address",
                                     "message": "address: 不能为空"}


def test_the_demo_county_file_uploads_despite_the_64_kib_body_limit(api, app):
    from grid.demo.reference import DATA

    data = (DATA / "demo_grid.geojson").read_bytes()
    assert len(data) > 1_000_000
    r = upload(api, "admin1", data, filename="demo_grid.geojson")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["counts"]["cell"] == 3000
    big_json = api.post("operator1", "/api/v1/tickets", json={"channel": "phone",
                                                              "text": "长" * 40_000})
    assert big_json.status_code == 413  # other endpoints keep the limit


def test_a_cells_grid_workers_are_listed_by_name_on_duty_first(api, grid):
    r = api.get("dispatcher1", f"/api/v1/grid/cells/{PUDONG_CELL}/workers")
    assert r.status_code == 200, r.get_json()
    [worker] = r.get_json()["items"]
    assert (worker["username"], worker["name"]) == ("worker1", "网格员一")
    assert isinstance(worker["on_duty"], bool) and worker["duties"]
    assert api.get("dispatcher1", "/api/v1/grid/cells/no-such-cell/workers").get_json()[
        "items"] == []
    assert api.get("handler1", f"/api/v1/grid/cells/{PUDONG_CELL}/workers").status_code == 403
