"""Administering the category tree (事项分类, DOMAIN.md › Categories): add, rename, move,
deactivate and reactivate, each checked as a whole before anything is written, with the effect
shown first (the catalogue rules, classifier rules and open tickets under the category).

Codes are dotted paths (`urban.appearance`) and stay what they are for good: tickets, the
catalogue, the classifier rules, the triage thresholds and the reports refer to categories by
code, so a move changes only the parent and the level (of the category and everything under
it), never a code. A deactivated category (and everything under it) stays on old tickets but
is no longer offered at intake, nor accepted there or at dispatch.

Every change is recorded (`dispatch.core.audit.record_change`, subject "category")."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import Field, StringConstraints
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.core.audit import record_change
from dispatch.core.commands import Code, Strict, parse
from dispatch.core.errors import InvalidInput, NotFound
from dispatch.core.memo import memo
from dispatch.core.models import Category, Setting, Ticket
from dispatch.core.settings import bump_counter
from dispatch.core.vocab import OPEN_STATES
from grid.models import ALL_AREAS, CatalogueRule

MAX_LEVEL = 3  # as the shipped tree: 城市管理 > 市容市貌 > 占道经营
SEGMENT = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
REVISION_KEY = "category_revision"
SAMPLE = 10  # ticket numbers and rules shown in an effect

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
SortOrder = Annotated[int, Field(ge=0, le=100_000)]


class CategoryCreate(Strict):
    """A new category: its code (a dotted path under its parent's), name and parent."""

    code: Code = Field(description="the parent's code, a dot, then a new segment "
                                   "(a–z, 0–9, _); a top-level category has no dot")
    name: Name
    parent: Code | None = Field(None, description="the parent's code; null = a top level")
    sort_order: SortOrder | None = None


class CategoryUpdate(Strict):
    """Changes to a category; fields left out stay as they are (`parent: null` moves it to the
    top level)."""

    name: Name | None = None
    parent: Code | None = Field(None, description="move under this category (null: top level)")
    active: bool | None = Field(None, description="false deactivates it and everything under "
                                                  "it; true reactivates them")
    sort_order: SortOrder | None = None


def _state(c: Category) -> dict[str, Any]:
    return {"name": c.name, "parent": c.parent_code, "level": c.level,
            "sort_order": c.sort_order, "active": c.active}


def _all(session: Session) -> dict[str, Category]:
    return {c.code: c for c in session.scalars(select(Category))}


def _children(cats: Iterable[Category]) -> dict[str | None, list[str]]:
    out: dict[str | None, list[str]] = {}
    for c in cats:
        out.setdefault(c.parent_code, []).append(c.code)
    return out


def subtree(cats: dict[str, Category], code: str) -> list[str]:
    """A category and everything under it (the category first)."""
    kids = _children(cats.values())
    out, stack = [], [code]
    while stack:
        current = stack.pop()
        if current in out:
            continue
        out.append(current)
        stack.extend(sorted(kids.get(current, []), reverse=True))
    return out


# ---------------------------------------------------------------- what uses a category


def _counts(session: Session) -> dict[str, dict[str, int]]:
    from dispatch.triage.rules.store import ClassifierRule

    out: dict[str, dict[str, int]] = {}

    def add(kind: str, rows: Iterable[Any]) -> None:
        for code, n in rows:
            if code is not None:
                out.setdefault(code, {})[kind] = int(n)

    add("catalogue_rules", session.execute(
        select(CatalogueRule.category_code, func.count()).group_by(CatalogueRule.category_code)))
    add("classifier_rules", session.execute(
        select(ClassifierRule.value, func.count()).where(ClassifierRule.field == "category")
        .group_by(ClassifierRule.value)))
    add("open_tickets", session.execute(
        select(Ticket.category_code, func.count()).where(Ticket.status.in_(OPEN_STATES))
        .group_by(Ticket.category_code)))
    return out


def category_rows(session: Session) -> list[dict[str, Any]]:
    """The whole tree, inactive categories included, parents before children, each with what
    uses it (catalogue rules, classifier rules, open tickets; its own, not its descendants')."""
    cats = _all(session)
    counts = _counts(session)
    kids = _children(cats.values())
    order: list[str] = []

    def walk(parent: str | None) -> None:
        for code in sorted(kids.get(parent, []), key=lambda c: (cats[c].sort_order, c)):
            order.append(code)
            walk(code)

    walk(None)
    out = []
    for code in order:
        c = cats[code]
        used = counts.get(code, {})
        out.append({"code": code, "name": c.name, "parent": c.parent_code, "level": c.level,
                    "sort_order": c.sort_order, "active": c.active,
                    "children": len(kids.get(code, [])),
                    "uses": {k: used.get(k, 0) for k in
                             ("catalogue_rules", "classifier_rules", "open_tickets")}})
    return out


def effect_of(session: Session, codes: list[str]) -> dict[str, Any]:
    """What refers to these categories: catalogue rules, classifier rules, triage thresholds
    and open tickets (counts and the first few)."""
    from dispatch.core.settings import get_triage_settings
    from dispatch.triage.rules.store import ClassifierRule

    rules = session.scalars(select(CatalogueRule).where(CatalogueRule.category_code.in_(codes))
                            .order_by(CatalogueRule.id)).all()
    phrases = session.scalars(select(ClassifierRule).where(
        ClassifierRule.field == "category", ClassifierRule.value.in_(codes))
        .order_by(ClassifierRule.id)).all()
    open_filter = (Ticket.category_code.in_(codes), Ticket.status.in_(OPEN_STATES))
    tickets = session.scalar(select(func.count()).select_from(Ticket).where(*open_filter)) or 0
    numbers = session.scalars(select(Ticket.number).where(*open_filter)
                              .order_by(Ticket.id.desc()).limit(SAMPLE)).all()
    thresholds = sorted(c for c in get_triage_settings(session).auto_dispatch if c in codes)
    return {
        "categories": codes,
        "catalogue_rules": [{"id": r.id, "category": r.category_code,
                             "area": None if r.area_code == ALL_AREAS else r.area_code,
                             "lead": r.lead_code, "active": r.active} for r in rules],
        "classifier_rules": [{"id": r.id, "value": r.value, "phrase": r.phrase,
                              "active": r.active} for r in phrases],
        "auto_dispatch_thresholds": thresholds,
        "open_tickets": {"count": int(tickets), "numbers": list(numbers)},
    }


# ---------------------------------------------------------------- the revision caches use


def category_revision(session: Session) -> int:
    """A counter that changes whenever the tree changes (the routing catalogue, cached per
    process, is keyed by it); read once per transaction."""
    return memo(session, "category_revision", (Setting,), lambda: int(
        session.scalar(select(Setting.value).where(Setting.key == REVISION_KEY)) or 0))


# ---------------------------------------------------------------- create


def category_view(c: Category) -> dict[str, Any]:
    """A category as the admin API shows it."""
    return {"code": c.code, "name": c.name, "parent": c.parent_code, "level": c.level,
            "sort_order": c.sort_order, "active": c.active}


def create_category(session: Session, data: dict[str, Any] | CategoryCreate,
                    actor_id: int | None) -> Category:
    """Add a category under a parent (or at the top level); refused, with nothing written, for
    a duplicate or malformed code, an empty name, or a parent that is missing, inactive or
    already at the deepest level."""
    cmd = data if isinstance(data, CategoryCreate) else parse(CategoryCreate, data)
    if session.get(Category, cmd.code) is not None:
        raise InvalidInput(f"code: 分类编码“{cmd.code}”已存在", field="code")
    level = 1
    if cmd.parent is not None:
        parent = session.get(Category, cmd.parent)
        if parent is None:
            raise InvalidInput(f"parent: 没有分类“{cmd.parent}”", field="parent")
        if not parent.active:
            raise InvalidInput(f"parent: 上级分类“{parent.name}”已停用", field="parent")
        if parent.level >= MAX_LEVEL:
            raise InvalidInput(f"parent: “{parent.name}”已是第 {MAX_LEVEL} 级，不能再有下级",
                               field="parent")
        level = parent.level + 1
        prefix = f"{cmd.parent}."
        if not cmd.code.startswith(prefix) or not SEGMENT.match(cmd.code[len(prefix):]):
            raise InvalidInput(f"code: 编码须为“{prefix}”加小写字母、数字或下划线（如 "
                               f"{prefix}other）", field="code")
    elif not SEGMENT.match(cmd.code):
        raise InvalidInput("code: 一级分类编码须为小写字母开头的字母、数字或下划线（如 urban）",
                           field="code")
    siblings = session.scalar(select(func.max(Category.sort_order)).where(
        Category.parent_code.is_(None) if cmd.parent is None
        else Category.parent_code == cmd.parent))
    category = Category(code=cmd.code, name=cmd.name, parent_code=cmd.parent, level=level,
                        sort_order=cmd.sort_order if cmd.sort_order is not None
                        else int(siblings or 0) + 1, active=True)
    session.add(category)
    session.flush()
    bump_counter(session, REVISION_KEY)
    record_change(session, actor_id, "category", cmd.code, "create", None, _state(category))
    return category


# ---------------------------------------------------------------- update (and its dry run)


@dataclass
class CategoryPlan:
    """What an update would do: each category's state before and after, and what uses them."""

    code: str
    before: dict[str, dict[str, Any]] = field(default_factory=dict)
    after: dict[str, dict[str, Any]] = field(default_factory=dict)
    effect: dict[str, Any] = field(default_factory=dict)

    def changes(self) -> list[dict[str, Any]]:
        """The categories whose state changes, field by field (before → after)."""
        out = []
        for code, old in self.before.items():
            new = self.after[code]
            fields = {k: [old[k], new[k]] for k in old if old[k] != new[k]}
            if fields:
                out.append({"code": code, "name": new["name"], "fields": fields})
        return out

    def as_dict(self, dry_run: bool) -> dict[str, Any]:
        return {"code": self.code, "dry_run": dry_run, "category": self.after[self.code],
                "changes": self.changes(), "effect": self.effect}


def plan_update(session: Session, code: str,
                data: dict[str, Any] | CategoryUpdate) -> CategoryPlan:
    """Check a change to a category and work out what it would do, writing nothing."""
    cmd = data if isinstance(data, CategoryUpdate) else parse(CategoryUpdate, data)
    cats = _all(session)
    node = cats.get(code)
    if node is None:
        raise NotFound(f"没有分类“{code}”")
    tree = subtree(cats, code)
    plan = CategoryPlan(code, before={c: _state(cats[c]) for c in tree})
    after = {c: dict(s) for c, s in plan.before.items()}
    given = cmd.model_fields_set
    if cmd.name is not None:
        after[code]["name"] = cmd.name
    if cmd.sort_order is not None:
        after[code]["sort_order"] = cmd.sort_order
    parent_code = node.parent_code
    if "parent" in given and cmd.parent != node.parent_code:
        parent_code = cmd.parent
        level = 1
        if parent_code is not None:
            parent = cats.get(parent_code)
            if parent is None:
                raise InvalidInput(f"parent: 没有分类“{parent_code}”", field="parent")
            if parent_code in tree:
                raise InvalidInput(f"parent: 不能把“{node.name}”移到它自己或它的下级分类"
                                   f"“{parent.name}”之下", field="parent")
            level = parent.level + 1
        if node.level == 1 and level != 1:
            from dispatch.triage.rules.store import ClassifierRule

            used = session.scalar(select(func.count()).select_from(ClassifierRule).where(
                ClassifierRule.field == "category", ClassifierRule.value == code)) or 0
            if used:
                raise InvalidInput(f"parent: 有 {used} 条分类规则指向一级分类“{node.name}”，"
                                   "移到其他分类之下后这些规则将失效；请先修改分类规则",
                                   field="parent")
        shift = level - node.level
        deepest = max(cats[c].level for c in tree) + shift
        if deepest > MAX_LEVEL:
            raise InvalidInput(f"parent: 移动后“{node.name}”及其下级将有 {deepest} 级，"
                               f"分类树最多 {MAX_LEVEL} 级", field="parent")
        after[code]["parent"] = parent_code
        for c in tree:
            after[c]["level"] = cats[c].level + shift
    active = cmd.active if cmd.active is not None else node.active
    parent_node = cats.get(parent_code) if parent_code is not None else None
    if active and parent_node is not None and not parent_node.active:
        field_name = "active" if cmd.active else "parent"
        raise InvalidInput(f"{field_name}: 上级分类“{parent_node.name}”已停用，请先启用上级分类",
                           field=field_name)
    if cmd.active is not None and cmd.active != node.active:
        for c in tree:  # a deactivated category takes everything under it along, and back
            after[c]["active"] = cmd.active
    plan.after = after
    plan.effect = effect_of(session, tree)
    return plan


def update_category(session: Session, code: str, data: dict[str, Any] | CategoryUpdate,
                    actor_id: int | None, *, dry_run: bool = False) -> CategoryPlan:
    """Rename, move, deactivate or reactivate a category (a dry run only says what would
    change); each category whose state changes is recorded."""
    plan = plan_update(session, code, data)
    if dry_run:
        return plan
    changes = plan.changes()
    if not changes:
        return plan
    for change in changes:
        row = session.get(Category, change["code"])
        assert row is not None
        new = plan.after[change["code"]]
        row.name, row.parent_code, row.level = new["name"], new["parent"], new["level"]
        row.sort_order, row.active = new["sort_order"], new["active"]
        record_change(session, actor_id, "category", change["code"], "update",
                      plan.before[change["code"]], new)
    session.flush()
    bump_counter(session, REVISION_KEY)
    return plan
