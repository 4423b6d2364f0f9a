"""Spreadsheet imports an admin makes (users, departments, the duty roster): read an .xlsx or .csv
sheet, check every row with the same rules as the one-at-a-time API, and report each rejected row
with its reason; write only when every row is good (all or nothing), and never on a dry run.

A caller gives the column headings it knows (Chinese heading → field name) and a `check` that
turns one row into a ready-to-apply value or raises `DomainError`; `run_import` collects the
report and, when asked to commit and nothing was rejected, applies the values in order."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from dispatch.core.errors import DomainError, InvalidInput

MAX_ROWS = 5000
MAX_BYTES = 5 * 1024 * 1024
T = TypeVar("T")


@dataclass
class RejectedRow:
    """A row that cannot be imported: its number in the sheet (the heading is row 1), the
    column at fault when one is, and why."""

    row: int
    message: str
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message": self.message}


@dataclass
class ImportReport(Generic[T]):
    """What an import found: rows read, the good ones (ready to apply), the rejected ones."""

    rows: int = 0
    accepted: list[T] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    committed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "accepted": len(self.accepted),
                "rejected": [r.as_dict() for r in self.rejected], "committed": self.committed}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a phone or an extension typed into Excel comes back as 8001.0
    return str(value).strip()


def read_sheet(data: bytes, filename: str, *, max_bytes: int = MAX_BYTES) -> list[list[str]]:
    """The rows of the first sheet of an .xlsx (or of a .csv in UTF-8, BOM allowed) as text."""
    if not data:
        raise InvalidInput("文件是空的", field="file")
    if len(data) > max_bytes:
        raise InvalidInput(f"文件超过 {max_bytes // 1024 // 1024} MB", field="file")
    name = filename.lower()
    if name.endswith(".csv"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidInput("CSV 文件不是 UTF-8 编码，请另存为“CSV UTF-8”",
                               field="file") from exc
        return [[_cell(c) for c in row] for row in csv.reader(io.StringIO(text))]
    if not name.endswith(".xlsx"):
        raise InvalidInput("只支持 .xlsx 或 .csv 文件", field="file")
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise InvalidInput("无法读取该 Excel 文件（不是有效的 .xlsx）", field="file") from exc
    try:
        sheet = book.worksheets[0]
        return [[_cell(c) for c in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


def records(rows: Sequence[Sequence[str]], headings: Mapping[str, str], *,
            max_rows: int = MAX_ROWS) -> list[tuple[int, dict[str, str]]]:
    """(row number, field → text) for each non-blank row under the heading row. Headings are
    matched by their Chinese name or by the field name itself; an unknown heading is refused
    (a typo would otherwise drop a column silently)."""
    if not rows:
        raise InvalidInput("表格没有标题行", field="file")
    known = {**{name: name for name in headings.values()}, **headings}
    columns: list[str | None] = []
    for heading in rows[0]:
        if not heading:
            columns.append(None)
            continue
        if heading not in known:
            raise InvalidInput(f"不认识的列“{heading}”，可用的列：{'、'.join(headings)}",
                               field="file")
        columns.append(known[heading])
    out = []
    for number, row in enumerate(rows[1:], start=2):
        values = {col: (row[i] if i < len(row) else "")
                  for i, col in enumerate(columns) if col is not None}
        if any(values.values()):
            out.append((number, values))
    if len(out) > max_rows:
        raise InvalidInput(f"一次最多导入 {max_rows} 行，这个文件有 {len(out)} 行", field="file")
    return out


def run_import(rows: Sequence[tuple[int, dict[str, str]]], check: Callable[[dict[str, str]], T],
               apply: Callable[[T], None], *, commit: bool) -> ImportReport[T]:
    """Check every row; apply all of them (in order) only when committing and none was
    rejected. `check` may see earlier rows' effects only through its own bookkeeping: nothing is
    applied until every row has passed."""
    report: ImportReport[T] = ImportReport(rows=len(rows))
    for number, values in rows:
        try:
            report.accepted.append(check(values))
        except DomainError as exc:
            report.rejected.append(RejectedRow(number, exc.message, exc.field))
    if commit and not report.rejected and report.accepted:
        for value in report.accepted:
            apply(value)
        report.committed = True
    return report
