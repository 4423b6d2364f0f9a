"""The admin pages 用户 (/admin/users) and 部门 (/admin/departments), driven as an admin would:
search, add, edit, a refused change shown in Chinese with nothing written, a password reset
whose temporary password is shown once and forces a change at the next login, an Excel import
previewed then imported; a department added under its street office, edited, and a
deactivation refused while the department is in use."""

from __future__ import annotations

import io

from openpyxl import Workbook

from tests.browser.conftest import admin_page, login, screenshot


def _sheet() -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["用户名", "姓名", "角色", "部门", "手机", "分机号", "初始密码"])
    sheet.append(["import.one", "导入用户一", "承办人", "长垣市城市管理局", "", 8101,
                  "initial-pass1"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_admin_manages_users_on_the_users_page(new_page, demo_county):
    page = admin_page(new_page, "/admin/users")

    # add a user
    page.get_by_test_id("new-username").fill("clerk.zhao")
    page.get_by_test_id("new-display-name").fill("赵文员")
    page.get_by_test_id("new-role").select_option("operator")
    page.get_by_test_id("new-extension").fill("8066")
    page.get_by_test_id("new-password").fill("clerk-pass-1")
    page.get_by_test_id("create-submit").click()
    page.get_by_test_id("create-status").filter(has_text="已新增").wait_for()

    # a handler without a department is refused, in Chinese, naming the field; nothing written
    page.get_by_test_id("new-username").fill("clerk.qian")
    page.get_by_test_id("new-role").select_option("handler")
    page.get_by_test_id("new-password").fill("clerk-pass-2")
    page.get_by_test_id("create-submit").click()
    error = page.get_by_test_id("create-error")
    error.wait_for()
    assert "须属于一个部门" in error.inner_text()
    assert page.get_by_test_id("new-department").get_attribute("aria-invalid") == "true"
    found = demo_county.call("admin1", "GET", "/api/v1/admin/users?q=clerk")
    assert [u["username"] for u in found["items"]] == ["clerk.zhao"]

    # search, then edit: role, department and extension
    page.get_by_test_id("filter-q").fill("clerk")
    page.get_by_test_id("filter-submit").click()
    page.get_by_test_id("pager-status").filter(has_text="共 1 条").wait_for()
    page.get_by_test_id("edit-clerk.zhao").click()
    page.get_by_test_id("edit-role").select_option("handler")
    page.get_by_test_id("edit-department").select_option("urban_management")
    page.get_by_test_id("edit-extension").fill("8067")
    page.get_by_test_id("edit-save").click()
    page.get_by_test_id("list-status").filter(has_text="已保存").wait_for()
    row = page.locator("#users tr[data-username='clerk.zhao']")
    assert "承办人" in row.inner_text() and "长垣市城市管理局" in row.inner_text()
    assert "8067" in row.inner_text()

    # the admin may not disable themselves: refused in Chinese, nothing written
    page.get_by_test_id("filter-q").fill("admin1")
    page.get_by_test_id("filter-submit").click()
    page.get_by_test_id("toggle-admin1").wait_for()
    page.get_by_test_id("toggle-admin1").click()
    refused = page.get_by_test_id("list-error")
    refused.wait_for()
    assert "不能停用自己" in refused.inner_text()
    me = demo_county.call("admin1", "GET", "/api/v1/admin/users?q=admin1")["items"][0]
    assert me["active"] is True

    # reset a password: shown once; the user must change it at the next login
    page.get_by_test_id("filter-q").fill("clerk")
    page.get_by_test_id("filter-submit").click()
    page.get_by_test_id("reset-clerk.zhao").wait_for()
    page.get_by_test_id("reset-clerk.zhao").click()
    page.get_by_test_id("reset-confirm").click()
    secret = page.get_by_test_id("temporary-password")
    secret.wait_for()
    temporary = secret.inner_text()
    assert len(temporary) >= 10
    # the table reloads after the password is shown: wait for the row to say so
    page.locator("#users tr[data-username='clerk.zhao']", has_text="待修改密码").wait_for()
    screenshot(page, "admin-users")

    clerk = new_page()
    login(clerk, "clerk.zhao", temporary)
    assert clerk.url.endswith("/password")
    clerk.get_by_test_id("password-forced").wait_for()

    # import from Excel: preview, then import
    page.get_by_test_id("import-file").set_input_files(
        {"name": "users.xlsx", "buffer": _sheet(),
         "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
    page.get_by_test_id("import-preview").click()
    page.get_by_test_id("import-report").filter(has_text="可导入 1 行").wait_for()
    assert demo_county.call("admin1", "GET", "/api/v1/admin/users?q=import.one")["total"] == 0
    page.get_by_test_id("import-commit").click()
    page.get_by_test_id("import-report").filter(has_text="已导入 1 行").wait_for()
    imported = demo_county.call("admin1", "GET", "/api/v1/admin/users?q=import.one")["items"]
    assert [(u["department"], u["extension"], u["must_change_password"]) for u in imported] == [
        ("urban_management", "8101", True)]


def test_an_admin_manages_departments_on_the_departments_page(new_page, demo_county):
    page = admin_page(new_page, "/admin/departments")

    # add a community under its street office
    page.get_by_test_id("new-code").fill("pudong_east")
    page.get_by_test_id("new-name").fill("蒲东街道东关社区")
    page.get_by_test_id("new-kind").select_option("territorial")
    page.get_by_test_id("new-parent").select_option("street_pudong")
    page.get_by_test_id("new-phones").fill("13800138000\n139 0013 9000")
    page.get_by_test_id("create-submit").click()
    page.get_by_test_id("create-status").filter(has_text="已新增").wait_for()
    codes = page.locator("#departments tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.code)")
    assert codes.index("pudong_east") == codes.index("street_pudong") + 1
    row = page.locator("#departments tr[data-code='pudong_east']")
    assert "蒲东街道办事处" in row.inner_text() and "13900139000" in row.inner_text()

    # edit: a landline is refused for SMS, naming the field; then a good number is saved
    page.get_by_test_id("edit-pudong_east").click()
    page.get_by_test_id("edit-name-input").fill("蒲东街道东风社区")
    page.get_by_test_id("edit-phones").fill("0373-8888888")
    page.get_by_test_id("edit-save").click()
    error = page.get_by_test_id("edit-error")
    error.wait_for()
    assert "手机" in error.inner_text()
    stored = {d["code"]: d for d in demo_county.call("admin1", "GET",
                                                      "/api/v1/admin/departments")["items"]}
    assert stored["pudong_east"]["name"] == "蒲东街道东关社区"  # nothing written
    page.get_by_test_id("edit-phones").fill("13700137000")
    page.get_by_test_id("edit-save").click()
    page.get_by_test_id("list-status").filter(has_text="已保存").wait_for()
    edited = page.locator("#departments tr[data-code='pudong_east']")
    assert "蒲东街道东风社区" in edited.inner_text()

    # deactivating a department whose users are active is refused with the count
    page.get_by_test_id("toggle-urban_management").click()
    refused = page.get_by_test_id("list-error")
    refused.wait_for()
    assert "启用的用户" in refused.inner_text() and "不能停用" in refused.inner_text()
    stored = {d["code"]: d for d in demo_county.call("admin1", "GET",
                                                      "/api/v1/admin/departments")["items"]}
    assert stored["urban_management"]["active"] is True
    screenshot(page, "admin-departments")

    # an unused one is deactivated
    page.get_by_test_id("toggle-pudong_east").click()
    page.get_by_test_id("list-status").filter(has_text="已停用").wait_for()
    assert "已停用" in page.locator("#departments tr[data-code='pudong_east']").inner_text()
