"""Administration of how demands are sorted, routed and timed under /api/v1 (CONTRACT.md,
Administration): the category tree, the dispatch catalogue (派单目录), the time limits and the
working-day calendar."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import Field, StringConstraints
from sqlalchemy import select

from dispatch.core.commands import Code, Id, Strict
from dispatch.core.errors import InvalidInput
from dispatch.core.imports import read_sheet, records, run_import
from dispatch.core.models import Category
from dispatch.core.vocab import Role
from dispatch.tickets import calendar, clocks
from dispatch.tickets.lifecycle import Actor, recompute_provisional_deadlines
from grid import catalogue as cat
from grid import categories as tree
from grid.directory import SqlDirectory
from grid.duties import on_duty
from grid.models import CatalogueRule
from grid.service import GridRouting
from web.api.base import STAFF, ApiBlueprint, commit, uploaded_sheet
from web.extensions import db
from web.services import services

bp = ApiBlueprint("admin_setup", __name__)

ADMIN = (Role.ADMIN,)
GRID_READERS = (Role.ADMIN, Role.DISPATCHER, Role.LEADER, Role.SUPERVISOR, Role.OPERATOR)


def _now():  # noqa: ANN202
    return services().clock.now()


def _directory() -> SqlDirectory:
    return SqlDirectory(db.session)


# ---------------------------------------------------------------- reference data


@bp.endpoint("/categories", "GET", "The category tree", roles=STAFF)
def categories(actor: Actor) -> dict[str, Any]:
    rows = db.session.scalars(select(Category).where(Category.active.is_(True))
                              .order_by(Category.level, Category.sort_order)).all()
    nodes = {c.code: {"code": c.code, "name": c.name, "children": []} for c in rows}
    roots = []
    for c in rows:
        (nodes[c.parent_code]["children"] if c.parent_code in nodes else roots).append(
            nodes[c.code])
    return {"items": roots}


# ---------------------------------------------------------------- category tree


class DryRunQuery(Strict):
    dry_run: bool = Field(False, description="true: answer what would change, write nothing")


@bp.endpoint("/admin/categories", "GET",
             "The whole category tree, inactive categories included, each with its level and "
             "what uses it (catalogue rules, classifier rules, open tickets)", roles=ADMIN)
def admin_categories(actor: Actor) -> dict[str, Any]:
    items = tree.category_rows(db.session)
    commit()
    return {"items": items, "total": len(items)}


@bp.endpoint("/admin/categories", "POST", "Add a category under a parent (or at the top)",
             body=tree.CategoryCreate, roles=ADMIN, status=201)
def add_category(actor: Actor, body: tree.CategoryCreate) -> dict[str, Any]:
    category = tree.create_category(db.session, body, actor.id)
    commit()
    return tree.category_view(category)


@bp.endpoint("/admin/categories/<code>", "PUT",
             "Rename, move, deactivate or reactivate a category (with everything under it); "
             "?dry_run=true answers what would change and what uses it, writing nothing",
             body=tree.CategoryUpdate, query=DryRunQuery, roles=ADMIN)
def edit_category(actor: Actor, code: str, body: tree.CategoryUpdate,
                  query: DryRunQuery) -> dict[str, Any]:
    plan = tree.update_category(db.session, code, body, actor.id, dry_run=query.dry_run)
    commit()
    return plan.as_dict(query.dry_run)


# ---------------------------------------------------------------- catalogue


def _index() -> Any:
    return GridRouting(db.session, _now(), services().grid_cache).index


@bp.endpoint("/admin/catalogue", "GET", "The dispatch catalogue (派单目录)", roles=GRID_READERS)
def catalogue(actor: Actor) -> dict[str, Any]:
    rules = db.session.scalars(select(CatalogueRule).order_by(
        CatalogueRule.category_code, CatalogueRule.area_code)).all()
    names = cat.rule_names(db.session, _index())
    commit()
    return {"items": [cat.rule_view(r, names) for r in rules]}


@bp.endpoint("/admin/catalogue", "POST", "Add a catalogue rule", body=cat.RuleIn, roles=ADMIN,
          status=201)
def add_rule(actor: Actor, body: cat.RuleIn) -> dict[str, Any]:
    index = _index()
    rule = cat.create_rule(db.session, body.model_dump(), index, actor.id)
    view = cat.rule_view(rule, cat.rule_names(db.session, index))
    commit()
    return view


@bp.endpoint("/admin/catalogue/<int:rule_id>", "PUT", "Replace a catalogue rule", body=cat.RuleIn,
          roles=ADMIN)
def edit_rule(actor: Actor, rule_id: int, body: cat.RuleIn) -> dict[str, Any]:
    index = _index()
    rule = cat.update_rule(db.session, rule_id, body.model_dump(), index, actor.id)
    view = cat.rule_view(rule, cat.rule_names(db.session, index))
    commit()
    return view


@bp.endpoint("/admin/catalogue/<int:rule_id>", "DELETE", "Remove a catalogue rule", roles=ADMIN)
def remove_rule(actor: Actor, rule_id: int) -> dict[str, Any]:
    cat.delete_rule(db.session, rule_id, actor.id)
    commit()
    return {"deleted": rule_id}


Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


class TryIn(Strict):
    text: Text | None = Field(None, description="the demand: classified when no category is "
                                                "given")
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    lon: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    category: Code | None = None
    rule: cat.RuleIn | None = Field(None, description="a rule not yet saved, routed as if it "
                                                      "were")
    rule_id: Id | None = Field(None, description="the rule `rule` would replace")


@bp.endpoint("/admin/catalogue/try", "POST",
             "试一试: the routing of a demand text and an address with its reasons (the "
             "category suggested from the text unless given), as the saved catalogue decides "
             "it or as it would with `rule` saved; nothing is written", body=TryIn, roles=ADMIN)
def try_catalogue(actor: Actor, body: TryIn) -> dict[str, Any]:
    suggestion = None
    category = body.category
    if category is None:
        if not body.text:
            raise InvalidInput("text: 请填写诉求内容，或选择一个分类", field="text")
        suggestion = services().triage(db.session).suggest(body.text)
        category = suggestion.category
    else:
        from dispatch.intake.pipeline import check_category

        check_category(db.session, category)
    if (body.lon is None) != (body.lat is None):
        missing = "lat" if body.lat is None else "lon"
        raise InvalidInput(f"{missing}: lon 和 lat 须同时提供或都不提供", field=missing)
    if body.lon is None and not body.address:
        raise InvalidInput("address: 请填写地址", field="address")
    grid = GridRouting(db.session, _now(), services().grid_cache)
    location = grid.locate(body.lon, body.lat, "WGS84", body.address or None)
    index = grid.index
    catalogue = cat.catalogue_with_draft(
        db.session, body.rule.model_dump() if body.rule else None, body.rule_id, index)
    decision = cat.try_routing(catalogue, category, location.areas(), location.street,
                               index.area_names if index else {})
    reasons = list(decision.reasons)
    worker = None
    if decision.on_site and location.cell is not None:
        duty = on_duty(db.session, location.cell, _now())
        worker = duty.display_name
        reasons.append(duty.reason)
    names = cat.rule_names(db.session, index)
    commit()
    return {
        "category": category,
        "category_name": names.get(f"category:{category}") if category else None,
        "suggested": suggestion is not None,
        "classifier_reasons": list(suggestion.reasons) if suggestion else [],
        "location": {"cell": location.cell, "community": location.community,
                     "street": location.street, "flags": list(location.flags),
                     "reasons": list(location.reasons),
                     "names": [names[f"area:{a}"] for a in reversed(location.areas())
                               if f"area:{a}" in names]},
        "routing": {"lead": decision.lead,
                    "lead_name": names.get(f"department:{decision.lead}") if decision.lead
                    else None,
                    "co_handlers": list(decision.co_handlers),
                    "co_handler_names": [names.get(f"department:{c}", c)
                                         for c in decision.co_handlers],
                    "on_site": decision.on_site, "grid_worker_name": worker,
                    "rule": decision.rule, "draft_rule_used": decision.rule == cat.DRAFT_RULE,
                    "reasons": reasons},
    }


# ---------------------------------------------------------------- time limits and calendar


@bp.endpoint("/admin/time-limits", "GET", "The time limits in force",
          roles=(Role.ADMIN, Role.DISPATCHER, Role.LEADER, Role.SUPERVISOR))
def read_time_limits(actor: Actor) -> dict[str, Any]:
    return clocks.get_time_limits(db.session).model_dump(mode="json")


@bp.endpoint("/admin/time-limits", "PUT",
          "Replace the time limits (fields left out take the shipped defaults)",
          body=clocks.TimeLimits, roles=(Role.ADMIN,))
def write_time_limits(actor: Actor, body: clocks.TimeLimits) -> dict[str, Any]:
    limits = clocks.set_time_limits(db.session, body.model_dump(mode="json"), actor.id)
    commit()
    return limits.model_dump(mode="json")


class CalendarEntry(Strict):
    day: date
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                           max_length=60)]


class CalendarYearIn(Strict):
    holidays: list[CalendarEntry] = Field(max_length=60)
    makeup_workdays: list[CalendarEntry] = Field(default_factory=list, max_length=30)


@bp.endpoint("/admin/calendar/<int:year>", "GET", "A calendar year: holidays, make-up days, source",
          roles=(Role.ADMIN, Role.DISPATCHER, Role.LEADER))
def read_calendar(actor: Actor, year: int) -> dict[str, Any]:
    summary = calendar.year_summary(db.session, year)
    commit()
    return summary


@bp.endpoint("/admin/calendar/<int:year>", "PUT",
             "Enter the official arrangement for a year; open deadlines are recomputed "
             "(?dry_run=true: the year as it would be and the open tickets whose deadlines "
             "would move, nothing written)",
             body=CalendarYearIn, query=DryRunQuery, roles=(Role.ADMIN,))
def write_calendar(actor: Actor, year: int, body: CalendarYearIn,
                   query: DryRunQuery) -> dict[str, Any]:
    holidays = {e.day: e.name for e in body.holidays}
    makeup = {e.day: e.name for e in body.makeup_workdays}
    if query.dry_run:
        preview = calendar.preview_official_year(
            db.session, year, holidays, makeup,
            lambda: recompute_provisional_deadlines(db.session, _now(), _directory()))
        commit()
        return preview
    calendar.set_official_year(db.session, year, holidays, makeup, actor.id)
    events = recompute_provisional_deadlines(db.session, _now(), _directory())
    summary = calendar.year_summary(db.session, year)
    commit(events)
    return {**summary, "tickets_recomputed": len({e.ticket_id for e in events})}


class NoticeIn(Strict):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                           max_length=20_000)]


@bp.endpoint("/admin/calendar/<int:year>/notice", "POST",
             "Read the State Council's notice (国务院办公厅关于…部分节假日安排的通知) pasted as "
             "text into holidays and make-up days, to check and save with PUT; writes nothing",
             body=NoticeIn, roles=(Role.ADMIN,))
def read_notice(actor: Actor, year: int, body: NoticeIn) -> dict[str, Any]:
    holidays, makeup = calendar.parse_notice(year, body.text)
    return {"year": year,
            "holidays": [{"day": d.isoformat(), "name": n} for d, n in sorted(holidays.items())],
            "makeup_workdays": [{"day": d.isoformat(), "name": n}
                                for d, n in sorted(makeup.items())]}


@bp.endpoint("/admin/calendar/<int:year>/sheet", "POST",
             "Read a sheet (.xlsx or .csv; columns 日期, 类型 放假/上班, 名称) into holidays and "
             "make-up days, each row checked (a report of the rejected ones), to check and save "
             "with PUT; writes nothing", roles=(Role.ADMIN,))
def read_calendar_sheet(actor: Actor, year: int) -> dict[str, Any]:
    data, filename, _dry_run = uploaded_sheet()
    rows = records(read_sheet(data, filename), calendar.SHEET_HEADINGS)
    report = run_import(rows, lambda values: calendar.check_sheet_row(year, values),
                        lambda _row: None, commit=False)
    entries: dict[str, list[dict[str, str]]] = {"holiday": [], "makeup": []}
    for kind, day, name in sorted(report.accepted, key=lambda r: r[1]):
        entries[kind].append({"day": day.isoformat(), "name": name})
    return {"year": year, "holidays": entries["holiday"], "makeup_workdays": entries["makeup"],
            "report": report.as_dict()}
