"""The admin's 网格 (/admin/grid) and 值班表 (/admin/roster) pages, driven as an admin would on the
demo county: a bad grid file is refused in Chinese and adds no version, a good one is uploaded
without activating, compared with the active version and activated; a duty for a cell that does
not exist is refused in Chinese and adds nothing, a good one is added and removed, a sheet with
a bad row is previewed with its report and cannot be imported, a good one is."""

from __future__ import annotations

import io
import json

from playwright.sync_api import expect

from tests.browser.conftest import admin_page, screenshot


def two_cells() -> bytes:
    def square(x0: float, y0: float) -> dict:
        return {"type": "Polygon", "coordinates": [[[x0, y0], [x0 + 0.01, y0],
                                                    [x0 + 0.01, y0 + 0.01], [x0, y0 + 0.01],
                                                    [x0, y0]]]}

    features = [
        {"type": "Feature", "properties": {"code": "s1", "name": "试点街道", "level": "street"},
         "geometry": {"type": "Polygon", "coordinates": [[[114.66, 35.19], [114.68, 35.19],
                                                          [114.68, 35.20], [114.66, 35.20],
                                                          [114.66, 35.19]]]}},
        {"type": "Feature", "properties": {"code": "s1-g01", "name": "试点一网格",
                                           "level": "cell"}, "geometry": square(114.66, 35.19)},
        {"type": "Feature", "properties": {"code": "s1-g02", "name": "试点二网格",
                                           "level": "cell"}, "geometry": square(114.67, 35.19)},
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def test_an_admin_uploads_compares_and_activates_a_grid_version(new_page, demo_county):
    page = admin_page(new_page, "/admin/grid")
    page.wait_for_selector("#admin-grid[data-map-level]")  # the preview drew the active grid
    assert page.locator("#versions tbody tr").count() == 1
    assert page.get_by_test_id("active-badge").count() == 1
    assert "重叠" in page.get_by_test_id("report").inner_text()

    # Refused: a file that is not a grid. Nothing is added.
    page.get_by_test_id("upload-file").set_input_files(
        {"name": "坏文件.geojson", "mimeType": "application/geo+json", "buffer": b"{not json"})
    page.get_by_test_id("upload").click()
    error = page.get_by_test_id("upload-error")
    error.wait_for()
    assert "网格文件" in error.inner_text()
    versions = demo_county.call("admin1", "GET", "/api/v1/grid/versions")["items"]
    assert len(versions) == 1

    page.get_by_test_id("upload-file").set_input_files(
        {"name": "试点.geojson", "mimeType": "application/geo+json", "buffer": two_cells()})
    page.get_by_test_id("upload").click()
    page.wait_for_selector("#detail[data-version='2']")
    assert "未启用" in page.get_by_test_id("upload-status").inner_text()
    assert page.locator("#versions tbody tr").count() == 2
    page.get_by_test_id("diff-button").click()
    summary = page.get_by_test_id("diff-summary")
    summary.wait_for()
    assert "新增 2 个网格，删除 3000 个" in summary.inner_text()
    assert "值班安排" in page.get_by_test_id("diff-warnings").inner_text()
    assert "试点一网格" in page.get_by_test_id("diff").inner_text()
    page.get_by_test_id("activate").click()
    page.get_by_test_id("activated").wait_for()
    versions = demo_county.call("admin1", "GET", "/api/v1/grid/versions")["items"]
    assert [(v["id"], v["active"]) for v in versions] == [(2, True), (1, False)]
    screenshot(page, "admin-grid")


def roster_sheet(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.append(["网格", "网格员", "星期", "开始", "结束"])
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def total(live, **query: str) -> int:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return live.call("admin1", "GET", f"/api/v1/admin/roster?per_page=1&{params}")["total"]


def test_an_admin_reads_the_week_adds_removes_and_imports_duties(new_page, demo_county):
    page = admin_page(new_page, "/admin/roster")
    assert "共 3000 个网格" in page.get_by_test_id("pager-status").inner_text()
    page.get_by_test_id("filter-worker").fill("网格员一")
    page.get_by_test_id("filter").click()
    expect(page.get_by_test_id("pager-status").first).to_contain_text("共 2 个网格")
    assert "网格员一 08:00–20:00" in page.get_by_test_id("week").inner_text()
    screenshot(page, "admin-roster-week")
    before = total(demo_county)

    # Refused: a cell that does not exist. Nothing is added.
    page.get_by_test_id("add-cell").fill("没有这个网格")
    page.get_by_test_id("add-username").fill("网格员一")
    page.get_by_test_id("add").click()
    error = page.get_by_test_id("add-error")
    error.wait_for()
    assert "当前网格中没有网格" in error.inner_text()
    assert page.get_by_test_id("add-cell").get_attribute("aria-invalid") == "true"
    assert total(demo_county) == before

    page.get_by_test_id("add-cell").fill("福源社区第3网格")
    page.get_by_test_id("add-weekdays").fill("67")
    page.get_by_test_id("add").click()
    expect(page.get_by_test_id("add-status")).to_contain_text("已添加")
    added = page.get_by_test_id("add-status").inner_text()
    assert "网格员一 在 福源社区第3网格，周六、周日" in added
    assert total(demo_county) == before + 1

    # The list of duties: the new one removed.
    page.get_by_test_id("view-list").click()
    row = page.locator("#duties tbody tr", has_text="福源社区第3网格")
    row.wait_for()
    row.get_by_role("button", name="删除").click()
    row.wait_for(state="detached")
    assert total(demo_county) == before

    # The import: a sheet with a bad row is previewed with its report and cannot be imported.
    page.get_by_test_id("import-file").set_input_files({
        "name": "值班表.xlsx", "buffer": roster_sheet([
            ["福源社区第3网格", "网格员一", "周六、周日", "08:00", "12:00"],
            ["福源社区第3网格", "网格员一", "周八", "08:00", "12:00"]]),
        "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
    page.get_by_test_id("import-preview").click()
    report = page.get_by_test_id("import-report")
    expect(report).to_contain_text("有问题 1 行")
    assert "周八" in report.inner_text()
    assert page.get_by_test_id("import-commit").is_disabled()
    assert total(demo_county) == before

    page.get_by_test_id("import-file").set_input_files({
        "name": "值班表.xlsx", "buffer": roster_sheet([
            ["福源社区第3网格", "网格员一", "周六、周日", "08:00", "12:00"]]),
        "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
    page.get_by_test_id("import-preview").click()
    expect(page.get_by_test_id("import-commit")).to_be_enabled()
    page.get_by_test_id("import-commit").click()
    expect(report).to_contain_text("已导入 1 行")
    assert total(demo_county) == before + 1
    screenshot(page, "admin-roster")
