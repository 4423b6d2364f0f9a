"""The dispatch catalogue (派单目录); the grid workers' duty roster is in `grid.duties`.

Resolution, per DOMAIN.md: among the rules for the demand's category (or a broader category)
and its area (cell, community, street, or the whole jurisdiction), the most specific area wins,
then the most specific category. A rule names a lead department, or none for "the territorial
office of the street where the demand is". Matters of a functional department are never pushed
down to a street: a rule that would hand to a street office a matter that a functional rule
holds for a broader area is refused when it is written, and skipped if met at routing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field, StringConstraints
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from dispatch.core.audit import record_change
from dispatch.core.commands import Code, Strict, parse
from dispatch.core.db import affected_rows, utcnow
from dispatch.core.errors import InvalidInput, NotFound
from dispatch.core.memo import memo
from dispatch.core.models import Category
from grid.locator import GridIndex
from grid.models import ALL_AREAS, CatalogueRule, Department

FUNCTIONAL, TERRITORIAL = "functional", "territorial"
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
HHMM = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


# ---------------------------------------------------------------- resolution


@dataclass(frozen=True)
class Rule:
    id: int
    category: str
    area: str
    lead: str | None
    co_handlers: tuple[str, ...]
    co_territorial: bool
    on_site: bool


@dataclass(frozen=True)
class Dept:
    code: str
    name: str
    kind: str
    street: str | None
    active: bool


@dataclass(frozen=True)
class Decision:
    """The lead department and co-handlers a rule gives, and why."""

    lead: str | None
    co_handlers: tuple[str, ...]
    on_site: bool
    rule: int | None
    reasons: tuple[str, ...]


class Catalogue:
    """The catalogue's rules with the departments and category tree they refer to."""

    def __init__(self, rules: list[Rule], departments: list[Dept],
                 categories: dict[str, tuple[str, str | None]]) -> None:
        self._rules = {(r.category, r.area): r for r in rules}
        self._depts = {d.code: d for d in departments}
        self._offices = {d.street: d for d in departments
                         if d.kind == TERRITORIAL and d.street and d.active}
        self._categories = categories  # code -> (name, parent)

    def rule_areas(self) -> frozenset[str]:
        """Every area some rule names: a place's other areas never change its routing."""
        return frozenset(area for _, area in self._rules)

    def category_chain(self, code: str) -> list[str]:
        """The category and its ancestors, most specific first."""
        chain: list[str] = []
        current: str | None = code
        while current is not None and current in self._categories and current not in chain:
            chain.append(current)
            current = self._categories[current][1]
        return chain

    def _label(self, code: str) -> str:
        return self._depts[code].name if code in self._depts else code

    def _kind(self, rule: Rule) -> str:
        lead = self._depts.get(rule.lead) if rule.lead else None
        return FUNCTIONAL if lead is not None and lead.kind == FUNCTIONAL else TERRITORIAL

    def candidates(self, category: str, areas: list[str]) -> list[tuple[int, int, Rule]]:
        """Matching active rules ranked (area rank, category rank): most specific first."""
        out = []
        for ai, area in enumerate([*areas, ALL_AREAS]):
            for ci, cat in enumerate(self.category_chain(category)):
                rule = self._rules.get((cat, area))
                if rule is not None:
                    out.append((ai, ci, rule))
        out.sort(key=lambda t: (t[0], t[1]))
        return out

    def resolve(self, category: str | None, areas: list[str], street: str | None,
                area_name: dict[str, str]) -> Decision:
        """Lead, co-handlers and on-site flag for a category at a place (areas: most specific
        first, e.g. [cell, community, street, district])."""
        def where(area: str) -> str:
            return "全域" if area == ALL_AREAS else area_name.get(area, area)

        def cat_name(code: str) -> str:
            return self._categories.get(code, (code, None))[0]

        if category is None:
            return Decision(None, (), False, None, ("未分类：请派单员选择主办部门",))
        ranked = self.candidates(category, areas)
        office = self._offices.get(street) if street else None
        reasons: list[str] = []
        chosen: Rule | None = None
        for ai, _ci, rule in ranked:
            if self._kind(rule) == TERRITORIAL:
                held = [r for aj, _cj, r in ranked if aj > ai and self._kind(r) == FUNCTIONAL]
                if held:
                    reasons.append(f"规则 #{rule.id} 跳过：职能事项不下沉街道（规则 #{held[0].id}"
                                   f" 由{self._label(held[0].lead or '')}主办）")
                    continue
            chosen = rule
            break
        if chosen is None:
            missing = f"派单目录无“{cat_name(category)}”的规则"
            if office is None:
                return Decision(None, (), False, None, (
                    *reasons, f"{missing}且位置不明：请派单员选择主办部门"))
            return Decision(office.code, (), False, None, (
                *reasons, f"{missing}：按属地派至{office.name}"))
        reasons.append(f"派单目录规则 #{chosen.id}：{cat_name(chosen.category)} @ "
                       f"{where(chosen.area)}")
        lead: str | None = chosen.lead
        if lead is None:
            if office is None:
                reasons.append("规则由属地主办，但位置不在任何街道：请派单员选择主办部门")
            else:
                lead = office.code
                reasons.append(f"属地主办：{office.name}")
        elif not self._depts.get(lead, Dept(lead, lead, "", None, False)).active:
            reasons.append(f"主办部门 {self._label(lead)} 已停用：请派单员选择主办部门"
                           "（职能事项不转给街道）")
            lead = None
        else:
            reasons.append(f"主办：{self._label(lead)}")
        co = [c for c in chosen.co_handlers if self._depts.get(c) and self._depts[c].active]
        if chosen.co_territorial:
            if office is not None:
                co.append(office.code)
            else:
                reasons.append("规则要求属地协办，但位置不在任何街道")
        co = [c for c in dict.fromkeys(co) if c != lead]
        if co:
            reasons.append("协办：" + "、".join(self._label(c) for c in co))
        return Decision(lead, tuple(co), chosen.on_site, chosen.id, tuple(reasons))


def load_catalogue(session: Session) -> Catalogue:
    """The active rules, departments and category tree from the database."""
    rules = [Rule(r.id, r.category_code, r.area_code, r.lead_code, tuple(r.co_handler_codes or ()),
                  r.co_territorial, r.on_site)
             for r in session.scalars(select(CatalogueRule).where(CatalogueRule.active.is_(True)))]
    depts = [Dept(d.code, d.name, d.kind, d.street_code, d.active)
             for d in session.scalars(select(Department))]
    cats = {c.code: (c.name, c.parent_code)
            for c in session.execute(select(Category.code, Category.name, Category.parent_code))}
    return Catalogue(rules, depts, cats)


def catalogue_revision(session: Session) -> tuple[int, str, int]:
    """Changes whenever a rule is added, edited or removed, or the category tree changes (a
    cache key; read once per transaction)."""
    from grid.categories import category_revision

    def read() -> tuple[int, str]:
        count, latest = session.execute(
            select(func.count(CatalogueRule.id), func.max(CatalogueRule.updated_at))).one()
        return int(count), str(latest)

    # The catalogue holds the category tree too: a category moved or renamed changes it.
    return (*memo(session, "catalogue_revision", (CatalogueRule,), read),
            category_revision(session))


# ---------------------------------------------------------------- catalogue admin


class RuleIn(Strict):
    category: Code = Field(description="category code; the rule covers its sub-categories")
    area: Code | None = Field(None, description="street, community or cell code; null = all")
    lead: Code | None = Field(None, description="department code; null = the street office")
    co_handlers: list[Code] = Field(default_factory=list, max_length=10)
    co_territorial: bool = False
    on_site: bool = False
    note: Note | None = None
    active: bool = True


def rule_view(rule: CatalogueRule, names: dict[str, str] | None = None) -> dict[str, Any]:
    """A rule as the API shows it (with `names`, code → name of categories, areas and
    departments, the names a person reads beside each code)."""
    view: dict[str, Any] = {
        "id": rule.id, "category": rule.category_code,
        "area": None if rule.area_code == ALL_AREAS else rule.area_code,
        "lead": rule.lead_code, "co_handlers": list(rule.co_handler_codes or []),
        "co_territorial": rule.co_territorial, "on_site": rule.on_site, "note": rule.note,
        "active": rule.active, "updated_at": rule.updated_at.isoformat()}
    if names is not None:
        view |= {"category_name": names.get(f"category:{rule.category_code}"),
                 "area_name": "全域" if rule.area_code == ALL_AREAS
                 else names.get(f"area:{rule.area_code}"),
                 "lead_name": names.get(f"department:{rule.lead_code}") if rule.lead_code
                 else "属地街道",
                 "co_handler_names": [names.get(f"department:{c}", c)
                                      for c in rule.co_handler_codes or []]}
    return view


def rule_names(session: Session, index: GridIndex | None) -> dict[str, str]:
    """The names rule_view shows: "category:<code>", "area:<code>", "department:<code>"."""
    names = {f"category:{c}": n for c, n in session.execute(select(Category.code, Category.name))}
    names |= {f"department:{c}": n for c, n in session.execute(
        select(Department.code, Department.name))}
    if index is not None:
        names |= {f"area:{c}": a.name for c, a in index.areas.items()}
    return names


def _audit(rule: CatalogueRule) -> dict[str, Any]:
    return {k: v for k, v in rule_view(rule).items() if k not in ("id", "updated_at")}


def _check_rule(session: Session, data: RuleIn, index: GridIndex | None,
                rule_id: int | None) -> None:
    category = session.get(Category, data.category)
    if category is None or not category.active:
        raise InvalidInput(f"category: 没有启用中的分类“{data.category}”", field="category")
    area = data.area or ALL_AREAS
    if area != ALL_AREAS and (index is None or area not in index.areas):
        raise InvalidInput(f"area: 当前网格中没有区域“{area}”", field="area")
    depts = {d.code: d for d in session.scalars(select(Department))}
    for field_name, codes in (("lead", [data.lead] if data.lead else []),
                              ("co_handlers", data.co_handlers)):
        for code in codes:
            if code not in depts or not depts[code].active:
                raise InvalidInput(f"{field_name}: 没有启用中的部门“{code}”",
                                   field=field_name)
    if data.lead in data.co_handlers or len(set(data.co_handlers)) != len(data.co_handlers):
        raise InvalidInput("co_handlers: 每个协办单位只能出现一次，且不能与主办单位重复",
                           field="co_handlers")
    clash = session.scalar(select(CatalogueRule.id).where(
        CatalogueRule.category_code == data.category, CatalogueRule.area_code == area,
        CatalogueRule.id != (rule_id or -1)))
    if clash is not None:
        raise InvalidInput(f"area: 规则 #{clash} 已覆盖此分类和区域",
                           field="area")
    lead = depts.get(data.lead) if data.lead else None
    if data.active and (lead is None or lead.kind != FUNCTIONAL):
        catalogue = load_catalogue(session)
        broader = _ancestors(index, area)
        for cat in catalogue.category_chain(data.category):
            for a in broader:
                other = session.scalar(select(CatalogueRule).where(
                    CatalogueRule.category_code == cat, CatalogueRule.area_code == a,
                    CatalogueRule.active.is_(True),
                    CatalogueRule.id != (rule_id or -1)))  # not the rule being replaced
                if other is not None and other.lead_code and depts.get(other.lead_code) \
                        and depts[other.lead_code].kind == FUNCTIONAL:
                    raise InvalidInput(
                        f"lead: 职能部门的事项不下沉到街道（规则 #{other.id} 已把“{cat}”"
                        f"派给 {other.lead_code}）",
                        field="lead")


def _ancestors(index: GridIndex | None, area: str) -> list[str]:
    """The areas strictly above an area, up to the whole jurisdiction."""
    if area == ALL_AREAS:
        return []
    out = []
    parent = index.areas[area].parent if index else None
    while parent is not None and index is not None and parent in index.areas:
        out.append(parent)
        parent = index.areas[parent].parent
    return [*out, ALL_AREAS]


def create_rule(session: Session, data: dict[str, Any], index: GridIndex | None,
                actor_id: int | None = None) -> CatalogueRule:
    """Validate and add a catalogue rule (recorded as the actor's change)."""
    cmd = parse(RuleIn, data)
    _check_rule(session, cmd, index, None)
    rule = CatalogueRule(category_code=cmd.category, area_code=cmd.area or ALL_AREAS,
                         lead_code=cmd.lead, co_handler_codes=list(cmd.co_handlers),
                         co_territorial=cmd.co_territorial, on_site=cmd.on_site, note=cmd.note,
                         active=cmd.active, updated_at=utcnow())
    session.add(rule)
    session.flush()
    record_change(session, actor_id, "catalogue_rule", rule.id, "create", None, _audit(rule))
    return rule


def update_rule(session: Session, rule_id: int, data: dict[str, Any],
                index: GridIndex | None, actor_id: int | None = None) -> CatalogueRule:
    """Validate and replace a catalogue rule (recorded as the actor's change)."""
    rule = session.get(CatalogueRule, rule_id)
    if rule is None:
        raise NotFound(f"没有派单目录规则 #{rule_id}")
    cmd = parse(RuleIn, data)
    _check_rule(session, cmd, index, rule_id)
    before = _audit(rule)
    rule.category_code, rule.area_code = cmd.category, cmd.area or ALL_AREAS
    rule.lead_code, rule.co_handler_codes = cmd.lead, list(cmd.co_handlers)
    rule.co_territorial, rule.on_site = cmd.co_territorial, cmd.on_site
    rule.note, rule.active, rule.updated_at = cmd.note, cmd.active, utcnow()
    session.flush()
    record_change(session, actor_id, "catalogue_rule", rule.id, "update", before, _audit(rule))
    return rule


def delete_rule(session: Session, rule_id: int, actor_id: int | None = None) -> None:
    """Remove a catalogue rule (tickets keep the reasons they were routed with; recorded as
    the actor's change)."""
    rule = session.get(CatalogueRule, rule_id)
    before = _audit(rule) if rule is not None else None
    if before is None or affected_rows(session.execute(
            delete(CatalogueRule).where(CatalogueRule.id == rule_id))) == 0:
        raise NotFound(f"没有派单目录规则 #{rule_id}")
    record_change(session, actor_id, "catalogue_rule", rule_id, "delete", before, None)


DRAFT_RULE = 0  # the id a rule being tried out (not saved) routes under


def catalogue_with_draft(session: Session, data: dict[str, Any] | None, rule_id: int | None,
                         index: GridIndex | None) -> Catalogue:
    """The catalogue as it would be with a rule saved (a new one, or rule `rule_id` replaced),
    the rule checked as saving would check it; nothing is written. Without `data`, the saved
    catalogue."""
    catalogue = load_catalogue(session)
    if data is None:
        return catalogue
    if rule_id is not None and session.get(CatalogueRule, rule_id) is None:
        raise NotFound(f"没有派单目录规则 #{rule_id}")
    cmd = parse(RuleIn, data)
    _check_rule(session, cmd, index, rule_id)
    rules = [r for r in catalogue._rules.values() if r.id != rule_id]
    if cmd.active:
        rules.append(Rule(DRAFT_RULE, cmd.category, cmd.area or ALL_AREAS, cmd.lead,
                          tuple(cmd.co_handlers), cmd.co_territorial, cmd.on_site))
    return Catalogue(rules, list(catalogue._depts.values()), catalogue._categories)


def try_routing(catalogue: Catalogue, category: str | None, areas: list[str],
                street: str | None, area_name: dict[str, str]) -> Decision:
    """What the catalogue decides for a category at a place, the draft rule named as such."""
    decision = catalogue.resolve(category, areas, street, area_name)
    reasons = tuple(r.replace(f"规则 #{DRAFT_RULE}", "规则（未保存的草稿）")
                    for r in decision.reasons)
    return Decision(decision.lead, decision.co_handlers, decision.on_site, decision.rule,
                    reasons)
