"""Administering the rules: list, create, update and delete, each checked as a whole before
anything is written (field, value, phrase, weight; one rule per field, value and phrase), and
each recorded in the log of admin changes (subject "classifier_rule", before → after)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.audit import record_change
from dispatch.core.commands import Strict, parse
from dispatch.core.db import utcnow
from dispatch.core.errors import InvalidInput, NotFound
from dispatch.core.models import Category
from dispatch.core.vocab import RequestType, Urgency
from dispatch.triage.rules.store import MAX_PHRASE, ClassifierRule, bump_revision

Phrase = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                          max_length=MAX_PHRASE)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Weight = Annotated[float, Field(ge=-10, le=10, allow_inf_nan=False)]
RuleField = Literal["type", "category", "urgency", "police_matter"]


class RuleCreate(Strict):
    """A new rule: a phrase that adds `weight` to `value` of `field`."""

    field: RuleField
    value: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    phrase: Phrase
    weight: Weight
    active: bool = True
    note: Note | None = None


class RuleUpdate(Strict):
    """Changes to a rule; fields left out stay as they are."""

    field: RuleField | None = None
    value: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=40)] | None = None
    phrase: Phrase | None = None
    weight: Weight | None = None
    active: bool | None = None
    note: Note | None = None


def _check_value(session: Session, field: str, value: str) -> None:
    if field == "type":
        allowed = [t.value for t in RequestType]
    elif field == "urgency":
        allowed = [u.value for u in Urgency]
    elif field == "police_matter":
        allowed = ["true", "false"]
    else:
        category = session.get(Category, value)
        if category is None or category.parent_code is not None:
            raise InvalidInput(f"value: “{value}”不是一级分类编码", field="value")
        return
    if value not in allowed:
        raise InvalidInput(f"value: {field} 的取值须为以下之一：{'、'.join(allowed)}",
                           field="value")


def _check_unique(session: Session, field: str, value: str, phrase: str,
                  rule_id: int | None = None) -> None:
    query = select(ClassifierRule.id).where(ClassifierRule.field == field,
                                            ClassifierRule.value == value,
                                            ClassifierRule.phrase == phrase)
    if rule_id is not None:
        query = query.where(ClassifierRule.id != rule_id)
    if session.scalar(query) is not None:
        raise InvalidInput(f"phrase: 短语“{phrase}”已有 {field} = {value} 的规则",
                           field="phrase")


def list_rules(session: Session, *, field: str | None = None, value: str | None = None,
               phrase: str | None = None) -> Sequence[ClassifierRule]:
    """The rules, by field, value and phrase; optionally filtered (phrase: contains)."""
    query = select(ClassifierRule)
    if field:
        query = query.where(ClassifierRule.field == field)
    if value:
        query = query.where(ClassifierRule.value == value)
    if phrase:
        query = query.where(ClassifierRule.phrase.contains(phrase, autoescape=True))
    order = (ClassifierRule.field, ClassifierRule.value, ClassifierRule.phrase)
    return session.scalars(query.order_by(*order)).all()


def _recorded(rule: ClassifierRule) -> dict[str, Any]:
    return {"field": rule.field, "value": rule.value, "phrase": rule.phrase,
            "weight": rule.weight, "active": rule.active, "note": rule.note}


def create_rule(session: Session, data: RuleCreate | dict[str, Any],
                now: datetime | None = None, actor_id: int | None = None) -> ClassifierRule:
    """Add a rule after checking field, value, phrase and weight; nothing is written on refusal."""
    cmd = data if isinstance(data, RuleCreate) else parse(RuleCreate, data)
    _check_value(session, cmd.field, cmd.value)
    _check_unique(session, cmd.field, cmd.value, cmd.phrase)
    rule = ClassifierRule(field=cmd.field, value=cmd.value, phrase=cmd.phrase,
                          weight=cmd.weight, active=cmd.active, note=cmd.note,
                          updated_at=now or utcnow())
    session.add(rule)
    session.flush()
    bump_revision(session)
    record_change(session, actor_id, "classifier_rule", rule.id, "create", None, _recorded(rule),
                  at=now)
    return rule


def _get(session: Session, rule_id: int) -> ClassifierRule:
    rule = session.get(ClassifierRule, rule_id)
    if rule is None:
        raise NotFound(f"分类规则 {rule_id} 不存在")
    return rule


def update_rule(session: Session, rule_id: int, data: RuleUpdate | dict[str, Any],
                now: datetime | None = None, actor_id: int | None = None) -> ClassifierRule:
    """Change a rule; the result is checked as a whole before anything is written."""
    cmd = data if isinstance(data, RuleUpdate) else parse(RuleUpdate, data)
    rule = _get(session, rule_id)
    changes = cmd.model_dump(exclude_unset=True)
    for key in ("field", "value", "phrase", "weight", "active"):
        if key in changes and changes[key] is None:
            raise InvalidInput(f"{key}: 不能为空（null）", field=key)
    field = changes.get("field", rule.field)
    value = changes.get("value", rule.value)
    phrase = changes.get("phrase", rule.phrase)
    _check_value(session, field, value)
    _check_unique(session, field, value, phrase, rule.id)
    before = _recorded(rule)
    for key, new in changes.items():
        setattr(rule, key, new)
    rule.updated_at = now or utcnow()
    session.flush()
    bump_revision(session)
    record_change(session, actor_id, "classifier_rule", rule.id, "update", before,
                  _recorded(rule), at=now)
    return rule


def delete_rule(session: Session, rule_id: int, actor_id: int | None = None,
                now: datetime | None = None) -> None:
    """Remove a rule (a shipped phrase returns at the next load: deactivate it instead)."""
    rule = _get(session, rule_id)
    before = _recorded(rule)
    session.delete(rule)
    session.flush()
    bump_revision(session)
    record_change(session, actor_id, "classifier_rule", rule_id, "delete", before, None, at=now)
