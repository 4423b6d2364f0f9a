"""Classifier routes under /api/v1: suggestions for a demand text (the intake screen: the rules
and the active learned model together) and the administration of the classifier's weighted
phrases (the model's versions: web/api/classifier_admin.py)."""

from __future__ import annotations

from typing import Any, Literal

from flask import current_app
from pydantic import BaseModel, ConfigDict, Field

from dispatch.core.commands import Strict, Text
from dispatch.core.ports import Suggestion
from dispatch.core.vocab import Role
from dispatch.tickets.lifecycle import Actor
from dispatch.triage.rules import (
    ClassifierCache,
    RuleClassifier,
    RuleCreate,
    RuleUpdate,
    create_rule,
    delete_rule,
    list_rules,
    update_rule,
)
from web.api.base import ApiBlueprint, commit
from web.extensions import db
from web.services import services

bp = ApiBlueprint("classify", __name__)

READERS = (Role.OPERATOR, Role.DISPATCHER, Role.ADMIN, Role.SUPERVISOR, Role.LEADER)
ADMIN = (Role.ADMIN,)


class ClassifyIn(Strict):
    text: Text


class RuleQuery(BaseModel):
    """Query strings arrive as text; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: Literal["type", "category", "urgency", "police_matter"] | None = None
    value: str | None = Field(None, max_length=40)
    phrase: str | None = Field(None, max_length=20, description="rules whose phrase contains it")


def classifier_cache() -> ClassifierCache:
    """The application's classifier cache: `Services.classifier_cache` once the lead wires it,
    else one kept in the app's extensions."""
    cache = getattr(services(), "classifier_cache", None)
    if cache is None:
        cache = current_app.extensions.setdefault("hotline_classifier", ClassifierCache())
    return cache


def current_classifier() -> RuleClassifier:
    """The classifier of the rules in force, built once per rules revision."""
    return classifier_cache().get(db.session)


def suggestion_view(s: Suggestion) -> dict[str, Any]:
    """A suggestion as the API gives it."""
    return {"type": s.type, "category": s.category, "urgency": s.urgency,
            "police_matter": s.police_matter, "reasons": list(s.reasons),
            "confidence": dict(s.confidence), "emergency": s.emergency, "model": s.model,
            "doubts": list(s.doubts)}


@bp.endpoint("/classify", "POST",
          "Suggested type, category (to the second level when the model is sure), urgency and "
          "police matter for a demand text, each with a confidence, whether it is an "
          "emergency, the classifier that spoke (model version or rules) and the words that "
          "weighed most", body=ClassifyIn, roles=READERS)
def classify(actor: Actor, body: ClassifyIn) -> dict[str, Any]:
    suggestion = services().triage(db.session).suggest(body.text)
    commit()  # ends the read transaction of the revision checks
    return suggestion_view(suggestion)


@bp.endpoint("/admin/classifier-rules", "GET", "The classifier's weighted phrases",
          query=RuleQuery, roles=READERS)
def read_classifier_rules(actor: Actor, query: RuleQuery) -> dict[str, Any]:
    rows = list_rules(db.session, field=query.field, value=query.value, phrase=query.phrase)
    return {"items": [r.as_dict() for r in rows], "total": len(rows)}


@bp.endpoint("/admin/classifier-rules", "POST", "Add a classifier phrase", body=RuleCreate,
          roles=ADMIN, status=201)
def add_classifier_rule(actor: Actor, body: RuleCreate) -> dict[str, Any]:
    rule = create_rule(db.session, body, now=services().clock.now(), actor_id=actor.id)
    commit()
    return rule.as_dict()


@bp.endpoint("/admin/classifier-rules/<int:rule_id>", "PUT", "Change a classifier phrase",
          body=RuleUpdate, roles=ADMIN)
def change_classifier_rule(actor: Actor, rule_id: int, body: RuleUpdate) -> dict[str, Any]:
    rule = update_rule(db.session, rule_id, body, now=services().clock.now(),
                       actor_id=actor.id)
    commit()
    return rule.as_dict()


@bp.endpoint("/admin/classifier-rules/<int:rule_id>", "DELETE", "Remove a classifier phrase",
          roles=ADMIN)
def remove_classifier_rule(actor: Actor, rule_id: int) -> dict[str, Any]:
    delete_rule(db.session, rule_id, actor_id=actor.id, now=services().clock.now())
    commit()
    return {"deleted": rule_id}
