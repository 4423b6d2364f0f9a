"""Benchmark: importing an old system's history (`hotline tickets import`) into PostgreSQL.

A scratch database, HOTLINE_BENCH_HISTORY_DB (default `bench_history_import`), gets the schema,
the demo reference data and the demo county's grid and catalogue (`load_demo`,
`load_demo_grid`). A CSV of HOTLINE_BENCH_HISTORY_ROWS rows (default 100,000) in the old
system's own headings and words is generated, as a county's export over two years would look:
5 % still waiting for dispatch, 3 % void, 12 % answered directly, 5 % dispatched, 10 % signed,
3 % completed, 2 % reviewed, 55 % archived after a callback (5 % of them unreachable), 5 %
reopened; old category and department names translated by the mapping file (a fifth of the
handled rows without a department: the catalogue routes them); 95 % with a point in the county
(a third of them GCJ-02), 5 % with a gazetteer address only.

Timed, as `hotline tickets import FILE --mapping M.json` does it, in one process:
1. the import itself: reading the CSV, checking every row, locating (in bulk) and routing,
   numbering, writing tickets, assignments and events (COPY in binary format), the commit;
2. the rollups rebuilt after (`rollups.rebuild`);
3. a second run of the same file (it must write nothing).
Printed: rows, seconds and tickets/s of each step, and the CPU seconds of the import in this
process and in its PostgreSQL backend (when the server runs on this machine). Asserted: every
row imported once, the second run imports none and leaves the row counts as they were, the
rollups count every ticket.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

import grid.models  # noqa: F401
from dispatch.core.models import Assignment, Category, Event, Ticket
from dispatch.intake.history_import import import_history, parse_mapping, read_rows
from dispatch.stats import rollups
from dispatch.tickets.calendar import LOCAL_TZ
from grid.coords import from_wgs84
from grid.demo.reference import DATA
from grid.history import HistoryGridRouting
from grid.locator import GridCache
from grid.models import Department
from tests.bench.conftest import county_database, county_points

DB_NAME = os.environ.get("HOTLINE_BENCH_HISTORY_DB", "bench_history_import")
ROWS = int(os.environ.get("HOTLINE_BENCH_HISTORY_ROWS", "100000"))
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
HEADINGS = ["工单号", "来电时间", "来源", "类型", "类别", "内容", "姓名", "电话", "地址", "经度",
            "纬度", "坐标系", "处理部门", "工单状态", "派单时间", "签收时间", "完成时间",
            "处理结果", "回访时间", "评价", "解决"]
COLUMNS = {"工单号": "原工单编号", "来电时间": "受理时间", "来源": "渠道", "类型": "诉求类型",
           "类别": "事项分类", "内容": "诉求内容", "姓名": "诉求人", "电话": "联系电话",
           "处理部门": "承办单位", "工单状态": "状态", "完成时间": "办结时间",
           "处理结果": "办结情况", "评价": "满意度", "解决": "是否解决"}
STATES = [("待派单", 5), ("作废", 3), ("直接答复", 12), ("已派单", 5), ("办理中", 10),
          ("已办结", 3), ("已审核", 2), ("结案", 55), ("重办", 5)]
CHANNELS = ["热线"] * 70 + ["微信"] * 15 + ["110"] * 5 + ["网站"] * 10
TYPES = ["咨询", "求助", "投诉", "举报", "建议", "表扬"]


def _local(moment: datetime) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _generate(session: Session, n: int) -> tuple[bytes, dict[str, object]]:
    """The old system's CSV and its mapping file."""
    rng = random.Random(19)
    leaves = [c for c, in session.execute(select(Category.code).where(Category.level == 3))]
    departments = [d for d, in session.execute(select(Department.code))]
    old_category = {f"旧类{i:03d}": code for i, code in enumerate(leaves)}
    old_department = {f"旧部门{i:02d}": code for i, code in enumerate(departments)}
    cat_names, dept_names = list(old_category), list(old_department)
    points = county_points(session, n, seed=7)
    places = json.loads((DATA / "demo_gazetteer.json").read_text(encoding="utf-8"))
    addresses = [p["name"] for p in places if p["kind"] in ("landmark", "road")]
    states = [s for s, w in STATES for _ in range(w)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADINGS)
    start = NOW - timedelta(days=730)
    for i in range(n):
        created = start + timedelta(seconds=rng.uniform(0, 700 * 86400))
        state = rng.choice(states)
        lon, lat = points[i]
        crs = "WGS84"
        address = ""
        roll = rng.random()
        if roll < 0.05:
            lon_s = lat_s = ""
            address = rng.choice(addresses)
        else:
            if roll < 0.35:
                lon, lat = from_wgs84(lon, lat, "GCJ02")
                crs = "GCJ02"
            lon_s, lat_s = f"{lon:.6f}", f"{lat:.6f}"
        dispatched = created + timedelta(minutes=rng.uniform(5, 120))
        signed = dispatched + timedelta(hours=rng.uniform(0.2, 30))
        completed = signed + timedelta(days=rng.uniform(0.2, 9))
        callback = completed + timedelta(hours=rng.uniform(2, 40))
        handled = state not in ("待派单", "作废", "直接答复")
        row = [f"OLD{i:08d}", _local(created),
               rng.choice(CHANNELS), rng.choice(TYPES), rng.choice(cat_names),
               f"历史诉求第{i}号：小区附近问题反映，请尽快处理", f"市民{i % 997}",
               f"13{rng.randrange(100000000, 999999999)}", address, lon_s, lat_s, crs,
               rng.choice(dept_names) if handled and rng.random() < 0.8 else "", state,
               "", "", "", "", "", "", ""]
        if handled:
            row[14] = _local(dispatched)
        if state not in ("待派单", "作废", "直接答复", "已派单"):
            row[15] = _local(signed)
        if state in ("已办结", "已审核", "结案", "重办"):
            row[16], row[17] = _local(completed), "已处理完毕"
        if state == "结案":
            row[18] = _local(callback)
            row[19], row[20] = (("联系不上", "") if rng.random() < 0.05 else
                                (rng.choice(["满意", "满意", "基本满意"]), "是"))
        elif state == "重办":
            row[18], row[19], row[20] = _local(callback), "不满意", "否"
        elif state == "直接答复":
            row[17] = "已告知办理流程"
        writer.writerow(row)
    mapping = {"columns": COLUMNS, "categories": old_category, "departments": old_department,
               "states": {"结案": "ARCHIVED"}}
    return out.getvalue().encode("utf-8"), mapping


def _counts(session: Session) -> tuple[int, int, int]:
    return tuple(session.scalar(select(func.count()).select_from(m)) or 0
                 for m in (Ticket, Assignment, Event))  # type: ignore[return-value]


def _backend_cpu(session: Session):
    """A function giving the CPU seconds used so far by the session's PostgreSQL backend (read
    from /proc when the server runs here; -1 otherwise)."""
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
    tick = os.sysconf("SC_CLK_TCK")

    def used() -> float:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return -1.0
        return (int(fields[11]) + int(fields[12])) / tick

    return used


@pytest.fixture(scope="module")
def engine():
    with county_database(DB_NAME, NOW) as (_, _, eng, _):
        yield eng


def _import(session: Session, data: bytes, mapping_json: bytes):
    mapping = parse_mapping(mapping_json)
    rows = read_rows(data, "history.csv", mapping)
    report = import_history(session, rows, mapping=mapping,
                            grid=HistoryGridRouting(session, NOW, GridCache()), now=NOW,
                            source="history.csv")
    session.commit()
    return report


@pytest.mark.timeout(1800)
def test_bench_history_import(engine):
    with Session(engine) as s:
        made = time.perf_counter()
        data, mapping = _generate(s, ROWS)
        generated = time.perf_counter() - made
    mapping_json = json.dumps(mapping, ensure_ascii=False).encode("utf-8")
    print(f"\nhistory import: {ROWS:,} rows, {len(data) / 1e6:.1f} MB CSV "
          f"(generated in {generated:.1f} s), PostgreSQL")

    print(f"  load average before: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    with Session(engine) as s:
        backend = _backend_cpu(s)
        cpu0, backend0 = time.process_time(), backend()
        t0 = time.perf_counter()
        report = _import(s, data, mapping_json)
        took = time.perf_counter() - t0
        cpu, backend_cpu = time.process_time() - cpu0, backend() - backend0
        assert not report.rejected, report.rejected[:5]
        assert report.imported == ROWS
        t1 = time.perf_counter()
        rebuilt = rollups.rebuild(s)
        rebuild = time.perf_counter() - t1
        counts = _counts(s)
    print(f"  import (read, check, locate, route, write, commit): {took:6.1f} s  "
          f"{ROWS / took:8,.0f} tickets/s   ({counts[1]:,} assignments, {counts[2]:,} events)")
    phases = report.phases
    print(f"    of which: check {phases['check']:.1f} s, locate and route "
          f"{phases['locate_route']:.1f} s, write {phases['write']:.1f} s (COPY "
          f"{phases['write_database']:.1f} s), read and commit {took - report.seconds:.1f} s")
    print(f"    CPU (less sensitive to a loaded machine than the wall time): this process "
          f"{cpu:.1f} s, its PostgreSQL backend "
          + (f"{backend_cpu:.1f} s" if backend_cpu >= 0 else "not readable (not local)"))
    print(f"  rollups rebuilt after:                               {rebuild:6.1f} s")
    print(f"  import + rebuild:                                    {took + rebuild:6.1f} s  "
          f"{ROWS / (took + rebuild):8,.0f} tickets/s")
    print(f"  by state: {json.dumps(report.by_state, ensure_ascii=False)}")
    assert rebuilt == ROWS

    with Session(engine) as s:
        t2 = time.perf_counter()
        again = _import(s, data, mapping_json)
        second = time.perf_counter() - t2
        assert (again.imported, again.skipped) == (0, ROWS)
        assert _counts(s) == counts
    print(f"  second run of the same file (writes nothing):        {second:6.1f} s  "
          f"{ROWS / second:8,.0f} rows/s checked")
