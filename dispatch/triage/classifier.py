"""The classifier intake uses: the admin-edited rules and the active learned model side by side.

- Police matter: the rules OR the model (the rules keep the last word: a phrase an admin
  wrote flags whatever the model says). Critical urgency: the same.
- Type and category: the model's when it is fairly confident (or the rules found nothing),
  the rules' otherwise; the category to the second level when the model is sure of it there.
- Every field has a confidence 0–1: the model's calibrated probability of the value given
  (fixed, modest estimates for a value only the rules gave: the rules are not calibrated).
- A police probability in the model's doubt band (below its threshold, above the level where
  out-of-fold recall reached 0.995), a flag the model gives at less than even odds, or a weak
  rule cue adds "疑似涉警，请确认" for the operator; critical likewise.
- `emergency` is police matter or critical; `model` names the active version, or "rules".

The model is loaded once per process per active version (`ModelCache`); every transaction
reads the active version once (a memo), so activation in any process is seen by all. A model
that cannot be loaded leaves the rules alone in charge, logged and reported by `status`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.memo import memo
from dispatch.core.models import Category
from dispatch.core.ports import Suggestion
from dispatch.core.vocab import Urgency
from dispatch.triage.model import ArtefactError, Prediction, TriageModel
from dispatch.triage.rules import DOUBT as RULES_DOUBT
from dispatch.triage.rules import ClassifierCache, RuleClassifier
from dispatch.triage.training import active_version, label, load_artefact

log = logging.getLogger("hotline.triage")

POLICE_DOUBT = "疑似涉警，请确认"
CRITICAL_DOUBT = "疑似危急，请确认"
RULES = "rules"
# The model's type and category stand when their probability reaches this (or the rules
# found nothing); the second level when its probability within the top level reaches SECOND.
MODEL_MIN = 0.35
SECOND = 0.5
# Confidences given to what only the rules said (they are not calibrated probabilities).
RULE_CONFIDENCE = {"matched": 0.6, "default": 0.3, "flag": 0.8, "no_flag": 0.7, "doubt": 0.5}
_NO_TYPE = "类型：未匹配到关键词"


def _quote(words: tuple[str, ...]) -> str:
    return "".join(f"“{w}”" for w in words)


def _why(what: str, probability: float, words: tuple[str, ...]) -> str:
    tail = f"，依据 {_quote(words)}" if words else ""
    return f"模型：{what} {probability:.0%}{tail}"


def rules_only(s: Suggestion, active: Callable[[str], bool] | None = None) -> Suggestion:
    """A rule suggestion with the fields the learned model added (confidence, emergency,
    doubts), estimated from what the rules said; a category not active in the tree dropped."""
    c = RULE_CONFIDENCE
    if s.category and active is not None and not active(s.category):
        s = replace(s, category=None)
    weak_police = RULES_DOUBT in s.reasons and not s.police_matter
    confidence = {
        "type": c["default"] if any(r.startswith(_NO_TYPE) for r in s.reasons) else c["matched"],
        "category": c["matched"] if s.category else 0.0,
        "urgency": c["matched"],
        "police_matter": c["flag"] if s.police_matter else (
            c["doubt"] if weak_police else c["no_flag"]),
    }
    doubts = (POLICE_DOUBT,) if weak_police else ()
    return replace(s, confidence=confidence, model=RULES, doubts=doubts,
                   emergency=s.police_matter or s.urgency == Urgency.CRITICAL.value,
                   reasons=tuple(dict.fromkeys(s.reasons + doubts)))


def combine(rules: Suggestion, p: Prediction | None, version: str,
            active: Callable[[str], bool] | None = None) -> Suggestion:
    """The rules' suggestion and the model's prediction as one suggestion."""
    if p is None:
        return rules_only(rules, active)
    c = RULE_CONFIDENCE
    ok = active or (lambda code: True)
    reasons: list[str] = []
    doubts: list[str] = []

    # Police matter: either flags → flag.
    police_p = p.police.probability
    police = rules.police_matter or p.police.flagged
    if p.police.flagged:
        reasons.append(_why("涉警", police_p, p.police.reasons))
    elif rules.police_matter:
        reasons.append(f"规则判定涉警（模型概率 {police_p:.0%}），以规则为准")
    if police:
        police_conf = police_p if p.police.flagged else max(police_p, c["doubt"])
    else:
        police_conf = 1.0 - police_p
    if (not police and (p.police.doubtful or RULES_DOUBT in rules.reasons)) or (
            police and police_p < 0.5):
        if p.police.doubtful and not police:
            reasons.append(_why("涉警可能", police_p, p.police.reasons))
        doubts.append(POLICE_DOUBT)

    # Urgency: critical when either says so; urgent for every police matter.
    critical = rules.urgency == Urgency.CRITICAL.value or p.critical.flagged
    critical_p = p.critical.probability
    if critical:
        urgency = Urgency.CRITICAL.value
        urgency_conf = critical_p if p.critical.flagged else max(critical_p, c["doubt"])
        if p.critical.flagged:
            reasons.append(_why("危急", critical_p, p.critical.reasons))
        if critical_p < 0.5:
            doubts.append(CRITICAL_DOUBT)
    else:
        urgent = police or rules.urgency == Urgency.URGENT.value or p.urgent.flagged
        urgency = Urgency.URGENT.value if urgent else Urgency.NORMAL.value
        urgent_p = p.urgent.probability
        urgency_conf = max(urgent_p, 0.5) if urgent else 1.0 - urgent_p
        if p.critical.doubtful:
            reasons.append(_why("危急可能", critical_p, p.critical.reasons))
            doubts.append(CRITICAL_DOUBT)

    # Type: the model's when confident or when the rules found no type phrase.
    rules_found_type = not any(r.startswith(_NO_TYPE) for r in rules.reasons)
    type_: str | None
    if p.type.value and (p.type.probability >= MODEL_MIN or not rules_found_type):
        type_, type_conf = p.type.value, p.type.probability
        reasons.append(_why(f"类型 {type_}", type_conf, p.type.reasons))
    else:
        type_, type_conf = rules.type, c["matched"]

    # Category: the model's (second level when sure, if the tree has it active) or the rules'.
    category: str | None = None
    category_conf = 0.0
    if p.top.value and ok(p.top.value) and (p.top.probability >= MODEL_MIN
                                            or not rules.category):
        category, category_conf = p.top.value, p.top.probability
        words = p.top.reasons
        if p.second.value and p.second.probability >= SECOND and ok(p.second.value):
            category = p.second.value
            category_conf = p.top.probability * p.second.probability
            words = tuple(dict.fromkeys(p.second.reasons + words))[:3]
        reasons.append(_why(f"分类 {category}", category_conf, words))
    elif rules.category and ok(rules.category):
        category, category_conf = rules.category, c["matched"]

    emergency = police or urgency == Urgency.CRITICAL.value
    doubts = list(dict.fromkeys(doubts))
    return Suggestion(
        type=type_, category=category, urgency=urgency, police_matter=police,
        reasons=tuple(dict.fromkeys(reasons + list(rules.reasons) + doubts)),
        confidence={"type": round(type_conf, 4), "category": round(category_conf, 4),
                    "urgency": round(urgency_conf, 4), "police_matter": round(police_conf, 4)},
        emergency=emergency, model=version, doubts=tuple(doubts))


class CombinedClassifier:
    """The `Classifier` port from a rule classifier and an optional model (no database)."""

    def __init__(self, rules: RuleClassifier, model: TriageModel | None = None,
                 version: str = RULES, active: Collection[str] | None = None) -> None:
        self.rules, self.model, self.version = rules, model, version
        self._active = active

    def suggest(self, text: str) -> Suggestion:
        """The combined suggestion for a demand text."""
        prediction = self.model.predict(text) if self.model is not None else None
        active = self._active.__contains__ if self._active is not None else None
        return combine(self.rules.suggest(text), prediction,
                       self.version if self.model is not None else RULES, active)


def combiner(rules: RuleClassifier, active: Collection[str] | None = None,
             ) -> Callable[[TriageModel | None, str], Callable[[str], Suggestion]]:
    """For evaluation: the suggest function of these rules beside a given model."""
    def make(model: TriageModel | None, version: str) -> Callable[[str], Suggestion]:
        return CombinedClassifier(rules, model, version, active).suggest

    return make


# ---------------------------------------------------------------- per process


@dataclass(frozen=True)
class Loaded:
    """The active version as this process holds it."""

    version: int | None
    model: TriageModel | None
    error: str | None = None

    @property
    def name(self) -> str:
        """What the suggestions say spoke: "v3", or "rules" (none active, or not loadable)."""
        return label(self.version) if self.version is not None and self.model else RULES


class ModelCache:
    """The active model, loaded once per process per version; safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loading = threading.Lock()
        self._loaded: Loaded | None = None

    def get(self, session: Session) -> Loaded:
        """The active version's model (reloaded when another version became active)."""
        version = active_version(session)
        with self._lock:
            if self._loaded is not None and self._loaded.version == version:
                return self._loaded
        with self._loading:  # one thread loads; the others wait for it
            with self._lock:
                if self._loaded is not None and self._loaded.version == version:
                    return self._loaded
            loaded = self._load(session, version)
            with self._lock:
                self._loaded = loaded
        return loaded

    @staticmethod
    def _load(session: Session, version: int | None) -> Loaded:
        if version is None:
            return Loaded(None, None)
        try:
            model = TriageModel.from_bytes(load_artefact(session, version))
        except ArtefactError as exc:
            error = f"{label(version)} 无法加载，已改用规则分类：{exc}"
            log.error("classifier model %s could not be loaded: %s", label(version), exc)
            return Loaded(version, None, error)
        log.info("classifier model %s loaded (%d features)", label(version),
                 len(model.vocabulary))
        return Loaded(version, model)

    def status(self, session: Session) -> dict[str, Any]:
        """What /healthz says: the classifier in use, and why not the model when it failed."""
        loaded = self.get(session)
        body: dict[str, Any] = {"classifier": loaded.name}
        if loaded.error:
            body["classifier_error"] = loaded.error
        return body

    def clear(self) -> None:
        """Forget the loaded model (tests)."""
        with self._lock:
            self._loaded = None


def active_categories(session: Session) -> frozenset[str]:
    """The codes of the active categories (read once per transaction)."""
    return memo(session, "triage_active_categories", (Category,), lambda: frozenset(
        session.scalars(select(Category.code).where(Category.active.is_(True)))))


@dataclass(frozen=True)
class SessionTriage:
    """The `Classifier` port for one intake: the rules in force and the active model of the
    session's database. Intake never fails because of the model: any fault there leaves the
    rules' suggestion, logged."""

    session: Session
    rules: ClassifierCache
    models: ModelCache

    def suggest(self, text: str) -> Suggestion:
        """The combined suggestion (the rules alone when no model is active or loadable)."""
        rules = self.rules.get(self.session).suggest(text)
        try:
            active = active_categories(self.session).__contains__
            loaded = self.models.get(self.session)
            if loaded.model is None:
                return rules_only(rules, active)
            return combine(rules, loaded.model.predict(text), loaded.name, active)
        except Exception:  # noqa: BLE001 - the classifier must never stop an intake
            log.exception("the learned classifier failed; the rules' suggestion stands")
            return rules_only(rules)
