"""Administration of how demands are sorted, routed and timed under /api/v1 (CONTRACT.md,
Administration): the category tree, the dispatch catalogue (派单目录), the time limits and the
working-day calendar."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import Field, StringConstraints
from sqlalchemy import select

from dispatch.core.commands import Strict
from dispatch.core.models import Category
from dispatch.core.vocab import Role
from dispatch.tickets import calendar, clocks
from dispatch.tickets.lifecycle import Actor, recompute_provisional_deadlines
from grid import catalogue as cat
from grid.directory import SqlDirectory
from grid.models import CatalogueRule
from grid.service import GridRouting
from web.api.base import STAFF, ApiBlueprint, commit
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


# ---------------------------------------------------------------- catalogue


def _index() -> Any:
    return GridRouting(db.session, _now(), services().grid_cache).index


@bp.endpoint("/admin/catalogue", "GET", "The dispatch catalogue (派单目录)", roles=GRID_READERS)
def catalogue(actor: Actor) -> dict[str, Any]:
    rules = db.session.scalars(select(CatalogueRule).order_by(
        CatalogueRule.category_code, CatalogueRule.area_code)).all()
    commit()
    return {"items": [cat.rule_view(r) for r in rules]}


@bp.endpoint("/admin/catalogue", "POST", "Add a catalogue rule", body=cat.RuleIn, roles=ADMIN,
          status=201)
def add_rule(actor: Actor, body: cat.RuleIn) -> dict[str, Any]:
    rule = cat.create_rule(db.session, body.model_dump(), _index())
    commit()
    return cat.rule_view(rule)


@bp.endpoint("/admin/catalogue/<int:rule_id>", "PUT", "Replace a catalogue rule", body=cat.RuleIn,
          roles=ADMIN)
def edit_rule(actor: Actor, rule_id: int, body: cat.RuleIn) -> dict[str, Any]:
    rule = cat.update_rule(db.session, rule_id, body.model_dump(), _index())
    commit()
    return cat.rule_view(rule)


@bp.endpoint("/admin/catalogue/<int:rule_id>", "DELETE", "Remove a catalogue rule", roles=ADMIN)
def remove_rule(actor: Actor, rule_id: int) -> dict[str, Any]:
    cat.delete_rule(db.session, rule_id)
    commit()
    return {"deleted": rule_id}


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
          "Enter the official arrangement for a year; open deadlines are recomputed",
          body=CalendarYearIn, roles=(Role.ADMIN,))
def write_calendar(actor: Actor, year: int, body: CalendarYearIn) -> dict[str, Any]:
    calendar.set_official_year(db.session, year, {e.day: e.name for e in body.holidays},
                               {e.day: e.name for e in body.makeup_workdays})
    events = recompute_provisional_deadlines(db.session, _now(), _directory())
    summary = calendar.year_summary(db.session, year)
    commit(events)
    return {**summary, "tickets_recomputed": len({e.ticket_id for e in events})}
