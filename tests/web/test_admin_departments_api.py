"""The admin's departments API (CONTRACT.md, Administration): every department in tree order
with its kind, parent, SMS phones and what still depends on it; adding, changing, moving in the
hierarchy (street office → community/village, no cycles), deactivating (refused while it has
open assignments, active users or active departments under it) and importing a sheet. Each
change is recorded; each refusal is Chinese, names the field and writes nothing."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import text

from tests.web.conftest import dispatched, error_of

DEPTS = "/api/v1/admin/departments"
COMMUNITY = {"code": "pudong_east", "name": "蒲东街道东关社区", "kind": "territorial",
             "parent_code": "street_pudong", "phones": ["138 0013 8000", "+86 13900139000"]}


def written(app) -> dict[str, Any]:
    """The departments as stored and the count of admin changes."""
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT code, name, kind, parent_code, street_code, phones, active FROM departments "
            "ORDER BY code")).all()
        changes = conn.execute(text("SELECT count(*) FROM admin_changes")).scalar_one()
    return {"departments": [tuple(map(str, r)) for r in rows], "changes": changes}


def changes_of(app, key: str) -> list[dict[str, Any]]:
    from dispatch.core.models import AdminChange
    from web.extensions import db

    with app.app_context():
        rows = db.session.query(AdminChange).filter_by(subject="department", key=key).order_by(
            AdminChange.id).all()
        return [{"action": r.action, "before": r.before, "after": r.after} for r in rows]


@pytest.fixture
def admin(api):
    for user in ("admin1", "dispatcher1", "operator1"):
        api.headers(user)
    return api


def listed(api) -> dict[str, dict[str, Any]]:
    r = api.get("admin1", DEPTS)
    assert r.status_code == 200, r.get_json()
    return {d["code"]: d for d in r.get_json()["items"]}


def put(api, which: str, user: str = "admin1", **body):
    return api.put(user, f"{DEPTS}/{which}", json=body)


# ---------------------------------------------------------------- list


def test_the_list_shows_kind_hierarchy_and_what_depends_on_each(admin):
    dispatched(admin, lead="urban_management")
    admin.post("admin1", DEPTS, json=COMMUNITY)
    r = admin.get("admin1", DEPTS).get_json()["items"]
    codes = [d["code"] for d in r]
    assert codes.index("pudong_east") == codes.index("street_pudong") + 1  # under its parent
    items = {d["code"]: d for d in r}
    community = items["pudong_east"]
    assert (community["depth"], community["parent_name"], community["kind_name"]) == (
        1, "蒲东街道办事处", "属地")
    assert community["phones"] == ["13800138000", "13900139000"]
    urban = items["urban_management"]
    assert urban["kind_name"] == "职能部门"
    assert (urban["active_users"], urban["open_assignments"]) == (1, 1)
    assert items["street_pudong"]["active_users"] == 2  # street1 and worker1
    error_of(admin.get("dispatcher1", DEPTS), 403, "forbidden")


def test_the_staff_list_of_departments_keeps_its_fields_and_names_the_parent(admin):
    r = admin.get("operator1", "/api/v1/departments")
    assert r.status_code == 200
    first = r.get_json()["items"][0]
    # the staff list gained each department's parent (下派 offers the levels below)
    assert set(first) == {"code", "name", "kind", "street", "active", "parent"}


# ---------------------------------------------------------------- add


def test_an_admin_adds_a_community_under_a_street_office_and_it_is_recorded(app, admin):
    r = admin.post("admin1", DEPTS, json=COMMUNITY)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["parent_code"] == "street_pudong"
    (change,) = changes_of(app, "pudong_east")
    assert change["action"] == "create" and change["after"]["phones"] == [
        "13800138000", "13900139000"]


@pytest.mark.parametrize(("fields", "field"), [
    ({"code": "Bad Code"}, "code"),
    ({"code": "urban_management"}, "code"),  # taken
    ({"name": "长垣市城市管理局"}, "name"),  # taken
    ({"name": "   "}, "name"),
    ({"kind": "bureau"}, "kind"),
    ({"parent_code": "nowhere"}, "parent_code"),
    ({"parent_code": "urban_management"}, "parent_code"),  # a functional parent
    ({"phones": ["03738888888"]}, "phones"),  # a landline gets no SMS
    ({"phones": ["12345"]}, "phones"),
    ({"street": "街道 一"}, "street"),
])
def test_a_bad_new_department_is_refused_naming_the_field_and_nothing_is_written(
        app, admin, fields, field):
    before = written(app)
    error_of(admin.post("admin1", DEPTS, json={**COMMUNITY, **fields}), 400, "invalid", field)
    assert written(app) == before


def test_a_department_under_an_inactive_one_is_refused(app, admin):
    assert put(admin, "street_puxi", active=False).status_code == 200, "unused: deactivated"
    before = written(app)
    error = error_of(admin.post("admin1", DEPTS, json={**COMMUNITY, "parent_code": "street_puxi"}),
                     400, "invalid", "parent_code")
    assert "已停用" in error["message"]
    assert written(app) == before


def test_only_admins_add_departments(app, admin):
    before = written(app)
    error_of(admin.post("dispatcher1", DEPTS, json=COMMUNITY), 403, "forbidden")
    assert written(app) == before


# ---------------------------------------------------------------- change


def test_an_admin_renames_moves_and_changes_the_phones(app, admin):
    admin.post("admin1", DEPTS, json=COMMUNITY)
    r = put(admin, "pudong_east", name="蒲东街道东风社区", parent_code="street_puxi",
            phones=["13700137000"])
    assert r.status_code == 200, r.get_json()
    moved = r.get_json()
    assert (moved["name"], moved["parent_code"], moved["phones"]) == (
        "蒲东街道东风社区", "street_puxi", ["13700137000"])
    change = changes_of(app, "pudong_east")[-1]
    assert change["action"] == "update"
    assert change["before"]["parent_code"] == "street_pudong"
    assert change["after"]["parent_code"] == "street_puxi"


@pytest.mark.parametrize(("code", "body", "status", "code_", "field"), [
    ("street_pudong", {"parent_code": "pudong_east"}, 400, "invalid", "parent_code"),  # cycle
    ("pudong_east", {"parent_code": "pudong_east"}, 400, "invalid", "parent_code"),
    ("street_pudong", {"kind": "functional"}, 400, "invalid", "kind"),  # has a community
    ("pudong_east", {"phones": ["abc"]}, 400, "invalid", "phones"),
    ("pudong_east", {"name": "长垣市城市管理局"}, 400, "invalid", "name"),
    ("pudong_east", {"active": None}, 400, "invalid", "active"),
    ("pudong_east", {"code": "x"}, 400, "invalid", None),  # the code is not changed
    ("nowhere", {"name": "某部门"}, 404, "not_found", None),
    ("street_pudong", {"active": False}, 409, "conflict", "active"),  # users and a community
])
def test_a_bad_change_is_refused_and_nothing_is_written(app, admin, code, body, status, code_,
                                                         field):
    admin.post("admin1", DEPTS, json=COMMUNITY)
    before = written(app)
    error_of(put(admin, code, **body), status, code_, field)
    assert written(app) == before


def test_deactivating_a_department_in_use_is_refused_with_the_counts(app, admin):
    dispatched(admin, lead="urban_management")
    before = written(app)
    error = error_of(put(admin, "urban_management", active=False), 409, "conflict", "active")
    assert "1 个在办派单" in error["message"] and "1 个启用的用户" in error["message"]
    assert written(app) == before


def test_an_unused_department_is_deactivated_and_reactivated_and_recorded(app, admin):
    r = put(admin, "water_resources", active=False)
    assert r.status_code == 200 and r.get_json()["active"] is False
    assert listed(admin)["water_resources"]["active"] is False
    assert put(admin, "water_resources", active=True).get_json()["active"] is True
    assert [c["action"] for c in changes_of(app, "water_resources")] == ["deactivate",
                                                                          "activate"]


def test_a_community_is_not_reactivated_under_an_inactive_street_office(app, admin):
    admin.post("admin1", DEPTS, json={**COMMUNITY, "parent_code": "street_puxi"})
    assert put(admin, "pudong_east", active=False).status_code == 200
    assert put(admin, "street_puxi", active=False).status_code == 200
    before = written(app)
    error_of(put(admin, "pudong_east", active=True), 400, "invalid", "active")
    assert written(app) == before


# ---------------------------------------------------------------- import


HEADINGS = ["编码", "名称", "类型", "上级", "街道编码", "短信电话"]


def xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(HEADINGS)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(api, data: bytes, dry_run: str | None = None):
    url = f"{DEPTS}/import" + (f"?dry_run={dry_run}" if dry_run else "")
    return api.client.post(url, headers=api.headers("admin1"),
                           data={"file": (io.BytesIO(data), "departments.xlsx")},
                           content_type="multipart/form-data")


GOOD_ROWS = [
    ["town_new", "新设镇", "属地", "", "town_new", "13800138000、13900139000"],
    ["new_village", "新设镇新村", "属地", "新设镇", "", 13700137000],  # parent named, earlier row
    ["pudong_north", "蒲东街道北关社区", "territorial", "street_pudong", "", ""],
    ["tobacco", "长垣市烟草专卖局", "职能部门", "", "", ""],
]


def test_a_good_sheet_is_previewed_without_writing_then_imported(app, admin):
    before = written(app)
    preview = upload(admin, xlsx(GOOD_ROWS))
    assert preview.status_code == 200, preview.get_json()
    assert preview.get_json() == {"rows": 4, "accepted": 4, "rejected": [], "committed": False}
    assert written(app) == before
    done = upload(admin, xlsx(GOOD_ROWS), dry_run="false")
    assert done.status_code == 201, done.get_json()
    items = listed(admin)
    assert items["new_village"]["parent_code"] == "town_new"
    assert items["new_village"]["phones"] == ["13700137000"]
    assert items["town_new"]["phones"] == ["13800138000", "13900139000"]
    assert items["tobacco"]["kind"] == "functional"
    assert [c["action"] for c in changes_of(app, "new_village")] == ["create"]


def test_a_sheet_with_bad_rows_is_refused_whole_with_a_report(app, admin):
    rows = GOOD_ROWS + [
        ["town_new", "又一个镇", "属地", "", "", ""],                # twice in the file
        ["urban_management", "城管", "职能部门", "", "", ""],        # in the database
        ["another", "新设镇", "属地", "", "", ""],                    # a name taken in the file
        ["odd", "某部门", "局", "", "", ""],                          # no such kind
        ["orphan", "孤村", "属地", "没有的街道", "", ""],              # no such parent
        ["loud", "某社区", "属地", "street_pudong", "", "03738888888"],  # not a mobile
    ]
    before = written(app)
    for dry_run in (None, "false"):
        r = upload(admin, xlsx(rows), dry_run=dry_run)
        report = r.get_json() if dry_run is None else r.get_json()["report"]
        assert [(x["row"], x["field"]) for x in report["rejected"]] == [
            (6, "code"), (7, "code"), (8, "name"), (9, "kind"), (10, "parent_code"),
            (11, "phones")]
        assert report["committed"] is False
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "import_rejected"
    assert written(app) == before
