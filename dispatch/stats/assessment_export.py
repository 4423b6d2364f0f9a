"""The monthly assessment as an Excel file: the two rankings, the score breakdown, every
deduction with its tickets, and the scheme on a sheet of its own (考核方案), written with the one
table writer of `dispatch.stats.export`."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from openpyxl import Workbook

from dispatch.stats.assessment import GROUP_NAMES, NOT_RANKED, RATE_ITEMS, SCHEME_LABELS
from dispatch.stats.export import CREATOR, ExportFile, local_time, write_table

STATES = {"draft": "未发布（当前数据）", "published": "已发布"}


def _rank(row: dict[str, Any]) -> Any:
    return "不参与排名" if row["rank"] == NOT_RANKED else row["rank"]


def assessment_file(report: dict[str, Any]) -> ExportFile:
    """A month's assessment (as `dispatch.stats.assessment_appeals.assessment` gives it) as a
    workbook: 考核排名, 扣分明细, 考核方案, 说明."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "考核排名"
    heads = ["排名组", "排名", "部门", "代码", "派单数", "得分",
             *(f"{i.label}得分" for i in RATE_ITEMS), "无依据退单扣分", "重办扣分",
             "申诉核减工单"]
    rows = []
    for r in report["departments"]:
        items = {i["item"]: i for i in r["items"]}
        rows.append([GROUP_NAMES.get(r["group"], "其他"), _rank(r), r["name"], r["department"],
                     r["assignments"], r["score"],
                     *(items[i.code]["points"] for i in RATE_ITEMS),
                     items["unfounded_returns"]["lost"], items["reopens"]["lost"],
                     "、".join(r["excluded"])])
    write_table(ws, heads, rows, {1: 12, 3: 28, 4: 24, 14: 40})
    detail = []
    for r in report["departments"]:
        for d in r["deductions"]:
            for number in d["tickets"]:
                detail.append([r["name"], r["department"], d["label"], d["count"], d["points"],
                               number])
    write_table(wb.create_sheet("扣分明细"), ["部门", "代码", "扣分项", "件数", "该项扣分",
                                          "工单编号"], detail, {1: 28, 2: 24, 3: 28, 6: 26})
    scheme = report["scheme"]
    write_table(wb.create_sheet("考核方案"), ["项目", "分值", "代码"],
                [[SCHEME_LABELS[k], v, k] for k, v in scheme.items() if k in SCHEME_LABELS],
                {1: 30, 2: 10, 3: 26})
    about = [
        ("月份", f"{report['month']}（{report['from']} 至 {report['to']}，北京时间）"),
        ("状态", STATES.get(report.get("state", "draft"), "")),
        ("满分", report["max_score"]),
        ("计分办法", "各项比率 × 权重；无可计数对象的项按满分计；无依据退单、重办每件扣分，"
                     "不超过上限；职能部门与属地街镇分别排名，同分同名次"),
        ("排名规则", f"当月派单不足 {scheme['min_assignments']} 件的部门只列出、不参与排名"),
        ("申诉", "采纳的申诉只从该部门该月的考核中核减该工单，原始统计指标不变"),
    ]
    publication = report.get("publication")
    if publication:
        at = local_time(datetime.fromisoformat(publication["published_at"]))
        why = f"（{publication['reason']}）" if publication.get("reason") else ""
        about.append(("发布", f"第 {publication['number']} 次发布，{at:%Y-%m-%d %H:%M}{why}"))
    write_table(wb.create_sheet("说明"), ["项目", "内容"], [list(a) for a in about],
                {1: 12, 2: 100})
    wb.properties.title = f"{report['month']} 月度考核"
    wb.properties.creator = CREATOR
    out = io.BytesIO()
    wb.save(out)
    return ExportFile(out.getvalue(), filename=f"月度考核-{report['month']}.xlsx",
                      plain_filename=f"assessment_{report['month']}.xlsx")


__all__ = ["assessment_file"]
