"""The monthly assessment (考核, DOMAIN.md "Assessment (考核) and appeals (申诉)"): per month and
per department, a score by the admin's scheme, computed from the event log with the metrics'
own definitions (`dispatch.stats.raw`: the same unit sets as the dashboard's on-time sign,
on-time completion, satisfaction, resolution and reopen figures), bureaus and street offices
ranked apart, and every lost point with the tickets behind it. The same report comes from the
rollups' facts (`source="rollups"`: the dashboard's units, one row each), equal to the raw one
for any month (tests/service/test_assessment_sources.py); a publication locks the raw one.

Decisions (DOMAIN.md leaves them open):

- A rate item scores `weight × rate`; its lost points are spread evenly over the units that
  missed (a late clock, a dissatisfied or unresolved answer: `weight ÷ base` each). An item
  with nothing to count in the month (no base) scores its full weight: nothing went wrong.
- Penalties: each reopened ticket (the reopen metric's: first dispatched in the month, reopened
  by a callback, charged to its latest lead) and each unfounded return (a `decide_lead` event
  of the month whose payload names the department in `unfounded`) costs its points, up to the
  cap of the item.
- The volume a department is ranked on is its assignments dispatched in the month (the
  return rate's base); below the scheme's minimum it is listed, not ranked (不参与排名).
- An accepted appeal removes its ticket from that department's figures of that month (every
  unit, numerator and base, and the penalties), nothing else: the raw metrics never change.
- Ranks: highest score first, equal scores share a rank (1, 1, 3).

Appeals and publication are `dispatch.stats.assessment_appeals`; the Excel workbook
`dispatch.stats.assessment_export`. A report is plain JSON-ready data: the API answers it and a
publication stores it as its locked snapshot.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Boolean, String, column, select, table
from sqlalchemy.orm import Session

from dispatch.core.commands import validation_error
from dispatch.core.errors import InvalidInput
from dispatch.core.models import Event, Ticket
from dispatch.core.settings import load_setting, store_setting
from dispatch.stats.assessment_tables import ACCEPTED, Appeal
from dispatch.stats.definitions import DateRange
from dispatch.stats.raw import raw_sets, set_of, within
from dispatch.stats.rollups.read import unit_query

# The departments as the assessment reads them (the table belongs to grid/, which the domain
# does not import).
DEPARTMENTS = table("departments", column("code", String), column("name", String),
                    column("kind", String), column("parent_code", String),
                    column("active", Boolean))

SCHEME_KEY = "assessment_scheme"
MONTH = re.compile(r"^(20\d\d)-(0[1-9]|1[0-2])$")  # 2000-01 … 2099-12
GROUPS = ("functional", "territorial")  # ranked apart: bureaus, then street offices and towns
GROUP_NAMES = {"functional": "职能部门", "territorial": "属地街镇"}
NOT_RANKED = "not ranked"


class AssessmentScheme(BaseModel):
    """The admin's scheme (defaults: DOMAIN.md's): the weights of the four rates, the points
    and caps of the two penalties, and the volume a department needs to be ranked."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    on_time_sign: float = Field(10, ge=0, le=100, allow_inf_nan=False,
                                description="weight of the on-time sign rate (按时签收率)")
    on_time_completion: float = Field(30, ge=0, le=100, allow_inf_nan=False,
                                      description="weight of the on-time completion rate")
    satisfaction: float = Field(30, ge=0, le=100, allow_inf_nan=False,
                                description="weight of the satisfaction rate (满意率)")
    resolution: float = Field(20, ge=0, le=100, allow_inf_nan=False,
                              description="weight of the resolution rate (解决率)")
    unfounded_return_points: float = Field(1, ge=0, le=100, allow_inf_nan=False,
                                           description="points off per unfounded return")
    unfounded_return_cap: float = Field(5, ge=0, le=100, allow_inf_nan=False,
                                        description="at most this many points off for them")
    reopen_points: float = Field(1, ge=0, le=100, allow_inf_nan=False,
                                 description="points off per reopened ticket (重办)")
    reopen_cap: float = Field(5, ge=0, le=100, allow_inf_nan=False,
                              description="at most this many points off for reopens")
    min_assignments: int = Field(5, ge=1, le=10_000,
                                 description="assignments in the month needed to be ranked")


@dataclass(frozen=True)
class RateItem:
    """A scored rate: the parts of a raw unit set it is made of."""

    code: str
    label: str
    numerator: str
    denominator: str
    missed: str  # what a unit that cost points is, in words


RATE_ITEMS = (
    RateItem("on_time_sign", "按时签收率", "sign_on_time", "sign_due", "超时签收"),
    RateItem("on_time_completion", "按时办结率", "complete_on_time", "complete_due",
             "超期办结或超期未办结"),
    RateItem("satisfaction", "满意率", "satisfied", "answered", "不满意"),
    RateItem("resolution", "解决率", "resolved", "answered", "未解决"),
)
# (code, label, the scheme's prefix, the part counted)
PENALTIES = (("unfounded_returns", "无依据退单", "unfounded_return", "unfounded_returns"),
             ("reopens", "重办", "reopen", "reopened"))
SCHEME_LABELS = {
    "on_time_sign": "按时签收率权重（分）", "on_time_completion": "按时办结率权重（分）",
    "satisfaction": "满意率权重（分）", "resolution": "解决率权重（分）",
    "unfounded_return_points": "无依据退单每件扣分", "unfounded_return_cap": "无依据退单最多扣分",
    "reopen_points": "重办每件扣分", "reopen_cap": "重办最多扣分",
    "min_assignments": "参与排名的最少派单数（件）",
}


def get_scheme(session: Session) -> AssessmentScheme:
    """The scheme in force (DOMAIN.md's defaults until an admin edits it)."""
    return load_setting(session, SCHEME_KEY, AssessmentScheme)


def set_scheme(session: Session, data: dict[str, Any], actor_id: int | None) -> AssessmentScheme:
    """Validate and store the scheme (fields left out take the defaults), recorded as the
    admin's change; a bad value is refused in Chinese naming the field, nothing written."""
    try:
        scheme = AssessmentScheme.model_validate({**AssessmentScheme().model_dump(), **data})
    except ValidationError as exc:
        raise validation_error(exc) from exc
    total = sum(float(getattr(scheme, i.code)) for i in RATE_ITEMS)
    if not 0 < total <= 100:
        raise InvalidInput(f"on_time_sign: 四项权重之和须大于 0 且不超过 100 分（现为 {total:g}）",
                           field="on_time_sign")
    scheme = store_setting(session, SCHEME_KEY, AssessmentScheme, data, actor_id,
                           record_as="setting")
    return scheme


# ---------------------------------------------------------------- months


def parse_month(text: str, field_name: str = "month") -> str:
    """A month as `YYYY-MM` (InvalidInput in Chinese otherwise)."""
    if not isinstance(text, str) or not MONTH.fullmatch(text.strip()):
        raise InvalidInput(f"{field_name}: 须为月份（YYYY-MM，2000 至 2099 年），如 2026-11",
                           field=field_name)
    return text.strip()


def month_span(month: str) -> DateRange:
    """The local days of a month."""
    year, mon = int(month[:4]), int(month[5:])
    first = date(year, mon, 1)
    nxt = date(year + mon // 12, mon % 12 + 1, 1)
    return DateRange(first, nxt - timedelta(days=1))


# ---------------------------------------------------------------- computing


@dataclass
class _Units:
    """One department's units of the month, by part: (ticket id, number) of each unit."""

    parts: dict[str, list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))

    def drop(self, ticket_ids: set[int]) -> None:
        for part, units in self.parts.items():
            self.parts[part] = [u for u in units if u[0] not in ticket_ids]


# The parts the scheme reads, by the part whose moment dates them (the raw unit sets' anchors).
WANTED = {"dispatches": ("dispatches",), "sign_due": ("sign_due", "sign_on_time"),
          "complete_due": ("complete_due", "complete_on_time"),
          "answered": ("answered", "satisfied", "resolved"), "reopened": ("reopened",)}


def _raw_unit_rows(session: Session, span: DateRange, now: datetime) -> dict[str, _Units]:
    """Department → its units of the month, for the parts the scheme reads, counted again
    from the raw tables and the event log (`dispatch.stats.raw`'s unit sets)."""
    sets = raw_sets(span, now)
    out: dict[str, _Units] = defaultdict(_Units)
    for anchor, parts in WANTED.items():
        rows = set_of(sets, anchor).rows
        stmt = (select(rows.c.department, rows.c.ticket_id, Ticket.number,
                       *(rows.c[p] for p in parts))
                .join(Ticket, Ticket.id == rows.c.ticket_id)
                .where(rows.c.department != "").order_by(rows.c.ticket_id, rows.c.ref))
        for row in session.execute(stmt):
            units = out[row.department]
            for p in parts:
                if row._mapping[p]:
                    units.parts[p].append((row.ticket_id, row.number))
    _add_unfounded(session, span, out)
    return out


def _rollup_unit_rows(session: Session, span: DateRange, now: datetime) -> dict[str, _Units]:
    """The same from the rollups' facts (stat_assignments, stat_reviews, stat_tickets: one row
    per unit, with the metrics' own conditions of `dispatch.stats.rollups.read`), as current
    as their last refresh."""
    out: dict[str, _Units] = defaultdict(_Units)
    for part in (p for parts in WANTED.values() for p in parts):
        spec = unit_query(part, now)
        assert spec is not None, part
        model, day, condition, ref, _unit = spec
        stmt = (select(model.department, model.ticket_id, Ticket.number)
                .join(Ticket, Ticket.id == model.ticket_id)
                .where(day >= span.start, day <= span.end, condition, model.department != "")
                .order_by(model.ticket_id, ref))
        for row in session.execute(stmt):
            out[row.department].parts[part].append((row.ticket_id, row.number))
    _add_unfounded(session, span, out)
    return out


def _add_unfounded(session: Session, span: DateRange, out: dict[str, _Units]) -> None:
    """The unfounded returns (无依据退单) of the month: read from the office's `decide_lead`
    events by both sources (no dashboard figure counts them, so no rollup holds them; a few
    decisions a month)."""
    decided = session.execute(
        select(Event.ticket_id, Ticket.number, Event.payload)
        .join(Ticket, Ticket.id == Event.ticket_id)
        .where(Event.action == "decide_lead", within(Event.at, span)).order_by(Event.id))
    for ticket_id, number, payload in decided:
        unfounded = (payload or {}).get("unfounded") or []
        for code in dict.fromkeys(c for c in unfounded if isinstance(c, str)):
            out[code].parts["unfounded_returns"].append((ticket_id, number))


UNIT_SOURCES = {"raw": _raw_unit_rows, "rollups": _rollup_unit_rows}


def _numbers(units: list[tuple[int, str]]) -> list[str]:
    return sorted({n for _, n in units})


def _missed(units: _Units, item: RateItem) -> list[tuple[int, str]]:
    """The units of an item's base that are not in its numerator (each occurrence)."""
    done = list(units.parts.get(item.numerator, []))
    out = []
    for unit in units.parts.get(item.denominator, []):
        if unit in done:
            done.remove(unit)
        else:
            out.append(unit)
    return out


def _score(units: _Units, scheme: AssessmentScheme) -> dict[str, Any]:
    items, deductions, total = [], [], 0.0
    for item in RATE_ITEMS:
        weight = float(getattr(scheme, item.code))
        num = len(units.parts.get(item.numerator, []))
        den = len(units.parts.get(item.denominator, []))
        rate = num / den if den else None
        points = weight * rate if rate is not None else weight
        missed = _missed(units, item)
        total += points
        items.append({"item": item.code, "label": item.label, "weight": weight,
                      "numerator": num, "denominator": den,
                      "rate": None if rate is None else round(rate, 6),
                      "points": round(points, 2), "lost": round(weight - points, 2)})
        if missed and weight:
            deductions.append({"item": item.code, "label": f"{item.label}（{item.missed}）",
                               "count": len(missed), "points": round(weight - points, 2),
                               "tickets": _numbers(missed)})
    for code, label, prefix, part in PENALTIES:
        hits = units.parts.get(part, [])
        per = float(getattr(scheme, f"{prefix}_points"))
        cap = float(getattr(scheme, f"{prefix}_cap"))
        off = min(per * len(hits), cap)
        total -= off
        items.append({"item": code, "label": label, "count": len(hits), "per": per, "cap": cap,
                      "points": round(-off, 2), "lost": round(off, 2)})
        if hits and off:
            deductions.append({"item": code, "label": label, "count": len(hits),
                               "points": round(off, 2), "tickets": _numbers(hits)})
    return {"score": round(total, 2), "items": items, "deductions": deductions}


def compute(session: Session, month: str, now: datetime,
            scheme: AssessmentScheme | None = None, *,
            source: Literal["raw", "rollups"] = "raw") -> dict[str, Any]:
    """The assessment of a month as it stands at `now` (not the published snapshot): every
    department's score, rank or "not ranked", items and deductions with their tickets.
    `source`: the raw tables and event log (the reference, what a publication locks), or the
    rollups' facts (the caller refreshes them first); both give the same report."""
    month = parse_month(month)
    scheme = scheme or get_scheme(session)
    span = month_span(month)
    units = UNIT_SOURCES[source](session, span, now)
    appealed: dict[str, dict[int, str]] = defaultdict(dict)
    for code, ticket_id, number in session.execute(
            select(Appeal.department_code, Appeal.ticket_id, Ticket.number)
            .join(Ticket, Ticket.id == Appeal.ticket_id)
            .where(Appeal.month == month, Appeal.state == ACCEPTED)):
        appealed[code][ticket_id] = number
    departments = session.execute(
        select(DEPARTMENTS).order_by(DEPARTMENTS.c.code)).all()
    rows = []
    for d in departments:
        if d.code not in units and (d.parent_code is not None or not d.active):
            continue
        mine = units.get(d.code, _Units())
        mine.drop(set(appealed.get(d.code, {})))
        volume = len(mine.parts.get("dispatches", []))
        rows.append({"department": d.code, "name": d.name, "kind": d.kind,
                     "group": d.kind if d.kind in GROUPS else "other",
                     "assignments": volume, "ranked": volume >= scheme.min_assignments,
                     "excluded": sorted(appealed.get(d.code, {}).values()),
                     **_score(mine, scheme)})
    rank_departments(rows)
    return {"month": month, "from": span.start.isoformat(), "to": span.end.isoformat(),
            "computed_at": now.isoformat(), "scheme": scheme.model_dump(mode="json"),
            "max_score": round(sum(float(getattr(scheme, i.code)) for i in RATE_ITEMS), 2),
            "departments": rows}


def rank_departments(rows: list[dict[str, Any]]) -> None:
    """Number the ranked rows within their group, highest score first (ties share a rank);
    order the rows: groups in GROUPS' order, ranked before not ranked."""
    order = {g: i for i, g in enumerate(GROUPS)}
    rows.sort(key=lambda r: (order.get(r["group"], len(order)), not r["ranked"], -r["score"],
                             r["department"]))
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        if r["ranked"]:
            counts[r["group"]] += 1
    place: dict[str, tuple[int, float | None, int]] = {}
    for r in rows:
        if not r["ranked"]:
            r["rank"] = NOT_RANKED
            r["of"] = counts[r["group"]]
            continue
        seen, last_score, last_rank = place.get(r["group"], (0, None, 0))
        seen += 1
        rank = last_rank if r["score"] == last_score else seen
        place[r["group"]] = (seen, r["score"], rank)
        r["rank"], r["of"] = rank, counts[r["group"]]


def department_row(report: dict[str, Any], code: str) -> dict[str, Any] | None:
    """One department's row of a report (None when it is not in it)."""
    return next((r for r in report["departments"] if r["department"] == code), None)


def deduction_tickets(report: dict[str, Any], code: str) -> set[str]:
    """The numbers of the tickets that cost a department points in a report."""
    row = department_row(report, code)
    return {n for d in (row or {}).get("deductions", []) for n in d["tickets"]}


__all__ = ["AssessmentScheme", "RATE_ITEMS", "PENALTIES", "SCHEME_LABELS", "GROUP_NAMES",
           "NOT_RANKED", "rank_departments", "get_scheme", "set_scheme", "parse_month",
           "month_span", "compute", "department_row", "deduction_tickets"]
