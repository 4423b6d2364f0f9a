"""The admin's users API (CONTRACT.md, Administration): the list paged by the server with search
and filters, adding, changing, disabling, resetting a password (the user must then change it
before anything else), unlocking and importing a sheet. Every change is recorded (never a
password hash); every refusal says why in Chinese, names the field and writes nothing."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import text

from tests.conftest import FAST_HASHER
from tests.web.conftest import error_of
from tests.web.test_page_security import csrf_of

USERS = "/api/v1/admin/users"
GOOD = {"username": "handler2", "password": "password-123", "role": "handler",
        "department": "urban_management", "display_name": "城管承办人二",
        "phone": "13900139000", "extension": "8012"}


def written(app) -> dict[str, Any]:
    """Every user as stored (password hash and session epoch included), the tokens and the
    log of admin changes: what a refused request must leave alone."""
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        users = conn.execute(text(
            "SELECT username, display_name, role, department_code, phone, extension, active, "
            "must_change_password, password_hash, session_epoch FROM users ORDER BY id")).all()
        changes = conn.execute(text("SELECT count(*) FROM admin_changes")).scalar_one()
        tokens = conn.execute(text(
            "SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL")).scalar_one()
    return {"users": [tuple(u) for u in users], "changes": changes, "tokens": tokens}


def changes_of(app, key: str) -> list[dict[str, Any]]:
    from dispatch.core.models import AdminChange
    from web.extensions import db

    with app.app_context():
        rows = db.session.query(AdminChange).filter_by(subject="user", key=key).order_by(
            AdminChange.id).all()
        return [{"action": r.action, "before": r.before, "after": r.after,
                 "actor": r.actor_id} for r in rows]


def user_row(app, username: str) -> Any:
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(text("SELECT * FROM users WHERE username = :u"),
                            {"u": username}).one()


@pytest.fixture
def admin(api):
    """API calls as admin1 (token issued before a test takes its 'before' picture)."""
    api.headers("admin1")
    return api


def patch(api, user: str, username: str, **body):
    return api.client.patch(f"{USERS}/{username}", headers=api.headers(user), json=body)


# ---------------------------------------------------------------- list


def test_the_list_is_paged_by_the_server_with_chinese_names(admin):
    r = admin.get("admin1", USERS, query_string={"per_page": 4, "page": 1})
    assert r.status_code == 200
    body = r.get_json()
    assert body["total"] == 9 and body["per_page"] == 4 and len(body["items"]) == 4
    assert [u["username"] for u in body["items"]] == ["admin1", "dispatcher1", "handler1",
                                                      "leader1"]
    third = admin.get("admin1", USERS, query_string={"per_page": 4, "page": 3}).get_json()
    assert [u["username"] for u in third["items"]] == ["worker1"]
    handler = body["items"][2]
    assert handler["role_name"] == "承办人"
    assert handler["department"] == "urban_management"
    assert handler["department_name"] == "长垣市城市管理局"
    assert set(handler) == {"username", "display_name", "role", "role_name", "department",
                            "department_name", "phone", "extension", "active", "locked",
                            "must_change_password", "created_at"}
    assert handler["active"] is True and handler["locked"] is False


def test_search_and_filters(admin):
    admin.post("admin1", USERS, json=GOOD)

    def names(**query) -> list[str]:
        r = admin.get("admin1", USERS, query_string=query)
        assert r.status_code == 200, r.get_json()
        return [u["username"] for u in r.get_json()["items"]]

    assert names(q="HANDLER") == ["handler1", "handler2"]
    assert names(q="城管承办人二") == ["handler2"]
    assert names(q="1390013") == ["handler2"]
    assert names(q="%") == []  # a wildcard is a character like any other
    assert names(role="handler") == ["handler1", "handler2", "street1"]
    assert names(department="street_pudong") == ["street1", "worker1"]
    assert names(role="handler", department="urban_management") == ["handler1", "handler2"]
    patch(admin, "admin1", "handler2", active=False)
    assert names(active="false") == ["handler2"]
    assert "handler2" not in names(active="true")


def test_the_locked_filter_reads_the_login_throttle_and_unlock_clears_it(app, admin):
    for _ in range(5):
        app.test_client().post("/api/v1/auth/login",
                               json={"username": "operator1", "password": "wrong-one"})
    r = admin.get("admin1", USERS, query_string={"locked": "true"})
    assert [(u["username"], u["locked"]) for u in r.get_json()["items"]] == [("operator1", True)]
    assert r.get_json()["total"] == 1
    unlocked = admin.post("admin1", f"{USERS}/operator1/unlock")
    assert unlocked.get_json()["was_locked"] is True
    assert admin.get("admin1", USERS, query_string={"locked": "true"}).get_json()["total"] == 0
    assert changes_of(app, "operator1")[-1]["action"] == "unlock"


def test_bad_filters_and_other_roles_are_refused(admin):
    error_of(admin.get("admin1", USERS, query_string={"role": "boss"}), 400, "invalid")
    error_of(admin.get("admin1", USERS, query_string={"per_page": 1000}), 400, "invalid")
    error_of(admin.get("dispatcher1", USERS), 403, "forbidden")


# ---------------------------------------------------------------- add


def test_an_admin_adds_a_user_with_an_extension_and_it_is_recorded_without_the_hash(app, admin):
    r = admin.post("admin1", USERS, json=GOOD)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["extension"] == "8012"
    assert r.get_json()["department_name"] == "长垣市城市管理局"
    (change,) = changes_of(app, "handler2")
    assert change["action"] == "create" and change["before"] is None
    assert change["after"]["extension"] == "8012"
    assert "password_hash" not in change["after"]
    assert "password-123" not in str(change) and "argon2" not in str(change)


@pytest.mark.parametrize(("fields", "status", "field"), [
    ({"extension": "80-12"}, 400, "extension"),
    ({"department": None}, 400, "department"),
    ({"department": "no_such_dept"}, 400, "department"),
    ({"username": "handler1"}, 400, "username"),
    ({"username": "X"}, 400, "username"),
    ({"password": "short"}, 400, "password"),
    ({"phone": "12345"}, 400, "phone"),
    ({"role": "system"}, 400, "role"),
])
def test_a_bad_new_user_is_refused_naming_the_field_and_nothing_is_written(
        app, admin, fields, status, field):
    before = written(app)
    error_of(admin.post("admin1", USERS, json={**GOOD, **fields}), status, "invalid", field)
    assert written(app) == before


def test_a_user_of_an_inactive_department_is_refused(app, admin):
    admin.client.put("/api/v1/admin/departments/ecology_environment",
                     headers=admin.headers("admin1"), json={"active": False})
    before = written(app)
    error_of(admin.post("admin1", USERS, json={**GOOD, "department": "ecology_environment"}),
             400, "invalid", "department")
    assert written(app) == before


# ---------------------------------------------------------------- change


def test_an_admin_changes_role_department_extension_phone_and_name(app, admin):
    r = patch(admin, "admin1", "operator1", role="handler", department="street_pudong",
              extension="8001", phone="13700137000", display_name="话务员改承办")
    assert r.status_code == 200, r.get_json()
    user = r.get_json()
    assert (user["role"], user["role_name"], user["department_name"], user["extension"],
            user["phone"], user["display_name"]) == (
        "handler", "承办人", "蒲东街道办事处", "8001", "13700137000", "话务员改承办")
    (change,) = changes_of(app, "operator1")
    assert change["before"]["role"] == "operator" and change["after"]["role"] == "handler"
    assert change["after"]["department"] == "street_pudong"
    # null clears what may be cleared; what is left out stays
    r = patch(admin, "admin1", "operator1", extension=None)
    assert r.get_json()["extension"] is None and r.get_json()["phone"] == "13700137000"


def test_disabling_ends_the_users_sessions_and_enabling_lets_them_sign_in_again(app, admin):
    token_headers = admin.headers("dispatcher1")
    assert admin.client.get("/api/v1/auth/me", headers=token_headers).status_code == 200
    r = patch(admin, "admin1", "dispatcher1", active=False)
    assert r.get_json()["active"] is False
    assert admin.client.get("/api/v1/auth/me", headers=token_headers).status_code == 401
    login = {"username": "dispatcher1", "password": "demo12345"}
    assert admin.client.post("/api/v1/auth/token", json=login).status_code == 401
    assert [c["action"] for c in changes_of(app, "dispatcher1")] == ["disable"]
    patch(admin, "admin1", "dispatcher1", active=True)
    assert admin.client.post("/api/v1/auth/token", json=login).status_code == 200
    assert [c["action"] for c in changes_of(app, "dispatcher1")] == ["disable", "enable"]


@pytest.mark.parametrize(("username", "body", "status", "code", "field"), [
    ("admin1", {"active": False}, 400, "invalid", "active"),  # not oneself
    ("admin1", {"role": "leader"}, 400, "invalid", "role"),
    ("operator1", {"role": "handler"}, 400, "invalid", "department"),  # a handler needs one
    ("handler1", {"department": None}, 400, "invalid", "department"),
    ("handler1", {"department": "nowhere"}, 400, "invalid", "department"),
    ("handler1", {"extension": "分机"}, 400, "invalid", "extension"),
    ("handler1", {"phone": "110"}, 400, "invalid", "phone"),
    ("handler1", {"active": None}, 400, "invalid", "active"),
    ("handler1", {"role": None}, 400, "invalid", "role"),
    ("handler1", {"password_hash": "x"}, 400, "invalid", None),  # not a field of the body
    ("nobody", {"active": False}, 404, "not_found", None),
])
def test_a_bad_change_is_refused_and_nothing_is_written(app, admin, username, body, status,
                                                         code, field):
    before = written(app)
    error_of(patch(admin, "admin1", username, **body), status, code, field)
    assert written(app) == before


def test_the_last_active_admin_cannot_be_disabled_or_demoted(session):
    from datetime import UTC, datetime

    from dispatch.core import accounts
    from dispatch.core.errors import Conflict
    from dispatch.core.models import User
    from dispatch.core.vocab import Role
    from dispatch.tickets.lifecycle import Actor
    from grid.directory import SqlDirectory

    admin = session.query(User).filter_by(username="admin1").one()
    system = Actor(None, Role.SYSTEM)  # e.g. the CLI: not the admin themselves
    now = datetime(2026, 12, 7, tzinfo=UTC)
    for changes in ({"active": False}, {"role": "leader"}):
        with pytest.raises(Conflict) as refused:
            accounts.update_user(session, SqlDirectory(session), admin, changes, system, now)
        assert "最后一个启用的管理员" in refused.value.message
        session.rollback()
    # with a second active admin, the first may be demoted
    accounts.create_user(session, FAST_HASHER, SqlDirectory(session), username="admin2",
                         password="password-123", role="admin")
    accounts.update_user(session, SqlDirectory(session), admin, {"role": "leader"}, system, now)
    assert admin.role == "leader"


# ---------------------------------------------------------------- reset and forced change


def test_a_reset_gives_a_temporary_password_once_and_forces_a_change(app, admin):
    old_token = admin.headers("leader1")
    r = admin.post("admin1", f"{USERS}/leader1/reset_password", json={})
    assert r.status_code == 200, r.get_json()
    temporary = r.get_json()["temporary_password"]
    assert len(temporary) >= 10 and r.get_json()["must_change_password"] is True
    assert admin.client.get("/api/v1/auth/me", headers=old_token).status_code == 401
    (change,) = changes_of(app, "leader1")
    assert change["action"] == "reset_password" and temporary not in str(change)
    # the list says so, and never shows the password again
    listed = admin.get("admin1", USERS, query_string={"q": "leader1"}).get_json()["items"][0]
    assert listed["must_change_password"] is True and "temporary_password" not in listed

    client = app.test_client()
    login = client.post("/api/v1/auth/login", json={"username": "leader1",
                                                    "password": temporary})
    assert login.status_code == 200
    csrf = {"X-CSRFToken": login.get_json()["csrf_token"]}
    error = error_of(client.get("/api/v1/departments"), 403, "password_change_required")
    assert "修改" in error["message"]
    error_of(client.get("/api/v1/tickets"), 403, "password_change_required")
    assert client.get("/api/v1/auth/me").get_json()["must_change_password"] is True
    same = client.post("/api/v1/auth/password", headers=csrf,
                       json={"old_password": temporary, "new_password": temporary})
    error_of(same, 400, "invalid", "new_password")
    assert user_row(app, "leader1").must_change_password
    changed = client.post("/api/v1/auth/password", headers=csrf,
                          json={"old_password": temporary, "new_password": "leader-new-1"})
    assert changed.status_code == 200, changed.get_json()
    assert not user_row(app, "leader1").must_change_password
    assert client.get("/api/v1/tickets").status_code == 200


def test_the_pages_send_a_user_who_must_change_the_password_to_the_password_page(app, admin):
    r = admin.post("admin1", f"{USERS}/dispatcher1/reset_password",
                   json={"password": "temporary-1"})
    assert r.get_json()["temporary_password"] == "temporary-1"
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    r = client.post("/login?next=/console", data={"username": "dispatcher1",
                                                  "password": "temporary-1", "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"].endswith("/password")
    for path in ("/console", "/dashboard", "/"):
        moved = client.get(path)
        assert moved.status_code == 302 and moved.headers["Location"].endswith("/password")
    page = client.get("/password").get_data(as_text=True)
    assert 'data-testid="password-forced"' in page
    r = client.post("/password", data={
        "old_password": "temporary-1", "new_password": "dispatcher-2",
        "confirm_password": "dispatcher-2", "csrf_token": csrf_of(page)})
    assert "密码已修改" in r.get_data(as_text=True)
    assert client.get("/console").status_code == 200


def test_a_bad_reset_is_refused_and_nothing_is_written(app, admin):
    admin.headers("dispatcher1")
    before = written(app)
    error_of(admin.post("admin1", f"{USERS}/leader1/reset_password", json={"password": "short"}),
             400, "invalid", "password")
    error_of(admin.post("admin1", f"{USERS}/nobody/reset_password", json={}), 404, "not_found")
    error_of(admin.post("dispatcher1", f"{USERS}/leader1/reset_password", json={}), 403,
             "forbidden")
    assert written(app) == before


# ---------------------------------------------------------------- import


HEADINGS = ["用户名", "姓名", "角色", "部门", "手机", "分机号", "初始密码"]


def xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(HEADINGS)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(api, data: bytes, name: str = "users.xlsx", dry_run: str | None = None):
    url = f"{USERS}/import" + (f"?dry_run={dry_run}" if dry_run else "")
    return api.client.post(url, headers=api.headers("admin1"),
                           data={"file": (io.BytesIO(data), name)},
                           content_type="multipart/form-data")


GOOD_ROWS = [
    ["zhang.san", "张三", "承办人", "长垣市城市管理局", "13800001111", 8001, "initial-pass1"],
    ["li.si", "李四", "dispatcher", "", "", "", "initial-pass2"],
    ["wang.wu", "王五", "网格员", "street_pudong", "", "8003", "initial-pass3"],
]


def test_a_good_sheet_is_previewed_without_writing_then_imported(app, admin):
    before = written(app)
    preview = upload(admin, xlsx(GOOD_ROWS))
    assert preview.status_code == 200, preview.get_json()
    assert preview.get_json() == {"rows": 3, "accepted": 3, "rejected": [], "committed": False}
    assert written(app) == before  # a dry run writes nothing

    done = upload(admin, xlsx(GOOD_ROWS), dry_run="false")
    assert done.status_code == 201, done.get_json()
    assert done.get_json()["committed"] is True
    zhang = user_row(app, "zhang.san")
    assert (zhang.role, zhang.department_code, zhang.extension, zhang.must_change_password) == (
        "handler", "urban_management", "8001", True)
    assert user_row(app, "wang.wu").role == "grid_worker"
    assert [c["action"] for c in changes_of(app, "li.si")] == ["create"]
    login = admin.client.post("/api/v1/auth/login", json={"username": "zhang.san",
                                                          "password": "initial-pass1"})
    assert login.status_code == 200


def test_a_sheet_with_bad_rows_is_refused_whole_with_a_report(app, admin):
    rows = GOOD_ROWS + [
        ["zhang.san", "张三又", "话务员", "", "", "", "initial-pass4"],    # twice in the file
        ["handler1", "重名", "话务员", "", "", "", "initial-pass5"],       # in the database
        ["zhao.liu", "赵六", "老板", "", "", "", "initial-pass6"],         # no such role
        ["qian.qi", "钱七", "承办人", "不存在的局", "", "", "initial-pass7"],  # no such department
        ["sun.ba", "孙八", "承办人", "", "", "", "initial-pass8"],          # a handler needs one
        ["zhou.jiu", "周九", "话务员", "", "", "", "short"],               # password too short
    ]
    before = written(app)
    for dry_run in (None, "false"):
        r = upload(admin, xlsx(rows), dry_run=dry_run)
        report = r.get_json() if dry_run is None else r.get_json()["report"]
        assert [(x["row"], x["field"]) for x in report["rejected"]] == [
            (5, "username"), (6, "username"), (7, "role"), (8, "department"),
            (9, "department"), (10, "password")]
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in x["message"])
                   for x in report["rejected"])
        assert report["accepted"] == 3 and report["committed"] is False
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "import_rejected"
    assert written(app) == before


def test_a_csv_sheet_imports_and_a_bad_file_is_refused(app, admin):
    text_file = io.StringIO()
    writer = csv.writer(text_file)
    writer.writerow(HEADINGS)
    writer.writerow(["chen.shi", "陈十", "督办员", "", "", "", "initial-pass9"])
    r = upload(admin, text_file.getvalue().encode("utf-8-sig"), "users.csv", dry_run="false")
    assert r.status_code == 201, r.get_json()
    before = written(app)
    error_of(upload(admin, b"not a workbook", "users.xlsx"), 400, "invalid", "file")
    bad_heading = "用户名,职位\nx,y\n".encode()
    error_of(upload(admin, bad_heading, "users.csv"), 400, "invalid", "file")
    assert written(app) == before
