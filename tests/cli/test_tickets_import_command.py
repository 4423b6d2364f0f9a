"""`hotline tickets import` as an administrator runs it, on SQLite and PostgreSQL: an .xlsx with
a mapping file, the report of rejected rows (nothing written), a second run that adds nothing,
the statistics rebuilt after."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from dispatch.core.models import Ticket
from dispatch.stats.rollups import StatTicket
from grid import catalogue as cat
from grid.demo.reference import load_demo
from grid.locator import build_index
from tests.conftest import FAST_HASHER, cell_centre, make_test_grid
from web.cli.main import main

OLD_HEADINGS = ["工单号", "来电时间", "来源", "内容", "类别", "处理部门", "工单状态", "派单时间",
                "办结时间", "评价", "解决", "回访时间", "经度", "纬度"]
MAPPING = {
    "columns": {"工单号": "原工单编号", "来电时间": "受理时间", "来源": "渠道", "内容": "诉求内容",
                "类别": "事项分类", "处理部门": "承办单位", "工单状态": "状态", "评价": "满意度",
                "解决": "是否解决"},
    "categories": {"占道": "urban.appearance.street_vending"},
    "departments": {"城管局": "urban_management"},
    "states": {"结案": "ARCHIVED", "在办": "SIGNED"},
}


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> dict[str, str]:
    engine = create_engine(db_url)
    with Session(engine) as s:
        load_demo(s, FAST_HASHER)
        version = make_test_grid(s)
        cat.create_rule(s, {"category": "urban", "lead": "urban_management"},
                        build_index(s, version))
        s.commit()
    engine.dispose()
    return {"HOTLINE_INSTANCE_PATH": str(tmp_path / "instance"),
            "HOTLINE_DATABASE_URL": db_url, "HOTLINE_SECRET_KEY": "cli-test"}


def run(env: dict[str, str], *args: str):
    return CliRunner().invoke(main, ["tickets", "import", *args], env=env,
                              catch_exceptions=False)


def count(env: dict[str, str], model) -> int:
    engine = create_engine(env["HOTLINE_DATABASE_URL"])
    with Session(engine) as s:
        n = s.scalar(select(func.count()).select_from(model)) or 0
    engine.dispose()
    return n


def xlsx(path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(OLD_HEADINGS)
    for r in rows:
        sheet.append(r)
    book.save(path)
    return path


def old_rows(n: int) -> list[list[object]]:
    lon, lat = cell_centre(0, 0, 1)
    out: list[list[object]] = []
    for i in range(n):
        done = i % 2 == 0
        # Excel's own dates on odd rows, text on even ones.
        created: object = (datetime(2025, 6, 1 + i % 28, 9, 0) if i % 2
                           else f"2025-06-{1 + i % 28:02d} 09:00:00")
        out.append([f"OLD-{i:04d}", created, "热线", "门口占道经营",
                    "占道", "城管局" if i % 3 else "", "结案" if done else "在办",
                    f"2025-06-{1 + i % 28:02d} 10:00", f"2025-06-{1 + i % 28:02d} 17:00"
                    if done else "", "满意" if done else "", "是" if done else "",
                    f"2025-06-{2 + i % 27:02d} 09:00" if done else "", lon, lat])
    return out


def test_an_xlsx_with_a_mapping_is_imported_once_with_statistics(env, tmp_path):
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(MAPPING, ensure_ascii=False), encoding="utf-8")
    data = xlsx(tmp_path / "old.xlsx", old_rows(12))
    dry = run(env, str(data), "--mapping", str(mapping), "--dry-run")
    assert dry.exit_code == 0 and "可导入 12 张" in dry.output
    assert count(env, Ticket) == 0
    result = run(env, str(data), "--mapping", str(mapping))
    assert result.exit_code == 0, result.output
    assert "导入 12 张" in result.output and "统计已重建：12 张工单" in result.output
    assert "已归档 6" in result.output and "已签收 6" in result.output
    assert count(env, Ticket) == 12 and count(env, StatTicket) == 12
    engine = create_engine(env["HOTLINE_DATABASE_URL"])
    with Session(engine) as s:
        odd = s.scalar(select(Ticket).where(Ticket.import_ref == "OLD-0001"))
        assert odd.number.startswith("12345-20250602-") and odd.status == "SIGNED"
        assert odd.cell_code is not None
    engine.dispose()
    again = run(env, str(data), "--mapping", str(mapping))
    assert again.exit_code == 0, again.output
    assert "导入 0 张，已导入过（跳过）12 张" in again.output
    assert count(env, Ticket) == 12


def test_rejected_rows_are_listed_by_row_and_column_and_nothing_is_written(env, tmp_path):
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(MAPPING, ensure_ascii=False), encoding="utf-8")
    rows = old_rows(3)
    rows[1][1] = "2025-13-45"  # row 3 of the sheet: no such date
    rows[2][4] = "旧分类"  # row 4: a category the mapping does not know
    result = run(env, str(xlsx(tmp_path / "bad.xlsx", rows)), "--mapping", str(mapping))
    assert result.exit_code == 1
    assert "2 行有误，未导入任何工单" in result.output
    assert "第 3 行 「受理时间」" in result.output and "第 4 行 「事项分类」" in result.output
    assert "旧分类" in result.output
    assert count(env, Ticket) == 0


def test_a_bad_file_or_mapping_is_refused_in_chinese(env, tmp_path):
    bad = tmp_path / "old.txt"
    bad.write_text("x")
    result = run(env, str(bad))
    assert result.exit_code == 1 and "只支持 .xlsx 或 .csv 文件" in result.output
    mapping = tmp_path / "m.json"
    mapping.write_text('{"colour": {}}')
    csv = tmp_path / "old.csv"
    csv.write_text("原工单编号,受理时间\n", encoding="utf-8")
    result = run(env, str(csv), "--mapping", str(mapping))
    assert result.exit_code == 1 and "映射文件有不认识的键：colour" in result.output
