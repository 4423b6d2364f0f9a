"""Suggests a demand's request type, top-level category, urgency and police matter from its
text, by weighted phrases an administrator edits (the `classifier_rules` table).

How a phrase is found in a text:

- Phrases of three or more characters (燃气泄漏, 拖欠工资, 有人落水) are matched as plain
  substrings: long Chinese phrases are specific enough, and substring matching does not depend
  on how a segmenter happens to cut an unfamiliar or misspelt sentence.
- Phrases of one or two characters (偷, 刀, 停水, 井盖) are too easily found inside unrelated
  words (刀 in 刀削面, 偷 in 偷偷, 火 in 火车站), so the text is segmented with jieba (precise
  mode, no HMM: dictionary words only, unknown runs stay single characters) and a short phrase
  counts only where it starts and ends on word boundaries; two-character phrases may also
  straddle one boundary (煤气 in 煤|气味), since jieba often glues them to a neighbour.
- A phrase just after a negation in the same clause (没有人受伤, 无人员伤亡) is not counted.

Each field's values are scored by the sum of the weights of the phrases found (each phrase
once). The highest positive score wins; close scores and empty matches are said in the reasons.
Police matter and critical urgency are biased to recall: a strong cue flags them, and any weaker
or negated cue still adds "疑似涉警/紧急，请话务员确认" so that the operator decides.

Why rules and no statistical model: the admins must be able to read and change why a demand was
classified, there is no labelled history to train on yet, and the labelled set in
`tests/data/labelled_demands.json` shows the rules are accurate enough to suggest (the operator
confirms every field at intake).
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints
from sqlalchemy import Boolean, Float, Integer, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from dispatch.core.commands import Strict, parse
from dispatch.core.db import Base, UTCDateTime, utcnow
from dispatch.core.errors import InvalidInput, NotFound
from dispatch.core.memo import memo
from dispatch.core.models import Category, Setting
from dispatch.core.ports import Suggestion
from dispatch.core.vocab import RequestType, Urgency
from dispatch.triage.segmenter import segmenter

RULES_FILE = Path(__file__).resolve().parents[2] / "grid" / "data" / "classifier_rules.json"
FIELDS = ("type", "category", "urgency", "police_matter")
FIELD_NAMES = {"type": "类型", "category": "分类", "urgency": "紧急程度", "police_matter": "涉警"}
MAX_PHRASE = 20
REVISION_KEY = "classifier_rules_revision"

# Thresholds (sums of weights): a police or critical cue of weight 4–5 decides alone; two weak
# cues together also do. Anything below still shows as a doubt for the operator.
POLICE_FLAG = 3.0
CRITICAL_FLAG = 4.0
URGENT_FLAG = 3.0
# Two values whose scores differ by less than this are reported as close.
CLOSE = 1.0
# When no type phrase matched: complaints are the commonest type on a 12345 line.
DEFAULT_TYPE = RequestType.COMPLAINT.value
REASONS_PER_FIELD = 3
DOUBT = "疑似涉警/紧急，请话务员确认"

_NEGATORS = ("没有", "没", "无", "未", "不是", "并非", "别")
_CLAUSE_END = re.compile(r"[，,。.!！?？;；、\s]")


class ClassifierRule(Base):
    """One weighted phrase: finding it in a text adds `weight` to `value` of `field`."""

    __tablename__ = "classifier_rules"
    __table_args__ = (UniqueConstraint("field", "value", "phrase"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    field: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(40))
    phrase: Mapped[str] = mapped_column(String(MAX_PHRASE))
    weight: Mapped[float] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the admin API."""
        return {"id": self.id, "field": self.field, "value": self.value, "phrase": self.phrase,
                "weight": self.weight, "active": self.active, "note": self.note,
                "updated_at": self.updated_at.isoformat() if self.updated_at else None}


@dataclass(frozen=True)
class Rule:
    """A rule as the classifier uses it (plain values, no session)."""

    field: str
    value: str
    phrase: str
    weight: float


# ---------------------------------------------------------------- segmentation



def normalise(text: str) -> str:
    """Full-width to half-width, lower case, no spaces (phrases and texts alike)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def _boundaries(text: str) -> frozenset[int]:
    cuts, pos = {0}, 0
    for word in segmenter().cut(text, HMM=False):
        pos += len(word)
        cuts.add(pos)
    return frozenset(cuts)


def _negated(text: str, start: int) -> bool:
    window = text[max(0, start - 4):start]
    clause = _CLAUSE_END.split(window)[-1]
    return any(n in clause for n in _NEGATORS)


@dataclass(frozen=True)
class _Hit:
    rule: Rule
    negated: bool


# ---------------------------------------------------------------- the classifier


class RuleClassifier:
    """The `Classifier` port from weighted phrases; immutable once built, safe across threads."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        by_phrase: dict[str, list[Rule]] = defaultdict(list)
        for r in rules:
            phrase = normalise(r.phrase)
            if phrase and r.field in FIELDS:
                by_phrase[phrase].append(Rule(r.field, r.value, phrase, float(r.weight)))
        self._rules: dict[str, tuple[Rule, ...]] = {p: tuple(v) for p, v in by_phrase.items()}
        self._short = tuple(p for p in self._rules if len(p) <= 2)
        self._long = tuple(p for p in self._rules if len(p) > 2)

    @property
    def size(self) -> int:
        """How many phrase rules the classifier holds."""
        return sum(len(v) for v in self._rules.values())

    def _hits(self, text: str) -> list[_Hit]:
        hits: list[_Hit] = []

        def found(phrase: str, start: int) -> None:
            negated = _negated(text, start)
            hits.extend(_Hit(r, negated) for r in self._rules[phrase])

        for phrase in self._long:
            start = text.find(phrase)
            if start >= 0:
                found(phrase, start)
        candidates = [p for p in self._short if p in text]
        if candidates:
            cuts = _boundaries(text)
            for phrase in candidates:
                start = text.find(phrase)
                while start >= 0:
                    end = start + len(phrase)
                    aligned = (start in cuts and end in cuts) or (
                        len(phrase) == 2 and (start in cuts or end in cuts))
                    if aligned:
                        found(phrase, start)
                        break
                    start = text.find(phrase, start + 1)
        return hits

    def suggest(self, text: str) -> Suggestion:
        """Type, category, urgency and police matter for a demand text, with the reasons."""
        norm = normalise(text or "")
        hits = self._hits(norm) if norm else []
        scores: dict[str, dict[str, float]] = {f: defaultdict(float) for f in FIELDS}
        evidence: dict[tuple[str, str], list[Rule]] = defaultdict(list)
        negated: list[Rule] = []
        for h in hits:
            # Negation is read for danger cues only: 没有人受伤 lowers the alarm, while
            # 没发工资 is still about wages.
            if h.negated and h.rule.field in ("police_matter", "urgency"):
                negated.append(h.rule)
                continue
            scores[h.rule.field][h.rule.value] += h.rule.weight
            evidence[(h.rule.field, h.rule.value)].append(h.rule)
        reasons: list[str] = []

        def explain(field: str, value: str) -> None:
            for r in sorted(evidence[(field, value)], key=lambda r: -r.weight)[:REASONS_PER_FIELD]:
                reasons.append(f"“{r.phrase}” → {FIELD_NAMES[field]} {value} ({r.weight:+g})")

        type_ = self._pick("type", scores["type"], reasons, explain)
        if type_ is None:
            type_ = DEFAULT_TYPE
            reasons.append(f"类型：未匹配到关键词，默认为 {DEFAULT_TYPE}，请确认")
        category = self._pick("category", scores["category"], reasons, explain)
        if category is None:
            reasons.append("分类：未匹配到关键词，请话务员选择分类")

        police_cues = scores["police_matter"].get("true", 0.0)
        police_net = police_cues - scores["police_matter"].get("false", 0.0)
        police = police_net >= POLICE_FLAG
        critical = scores["urgency"].get("critical", 0.0)
        urgent = scores["urgency"].get("urgent", 0.0)
        if critical >= CRITICAL_FLAG:
            urgency = Urgency.CRITICAL.value
        elif critical + urgent >= URGENT_FLAG:
            urgency = Urgency.URGENT.value
        else:
            urgency = Urgency.NORMAL.value
        if police:
            explain("police_matter", "true")
        if urgency != Urgency.NORMAL.value:
            explain("urgency", urgency)
            if urgency == Urgency.URGENT.value and critical > 0:
                explain("urgency", "critical")
        if police and urgency == Urgency.NORMAL.value:
            urgency = Urgency.URGENT.value
            reasons.append("涉警事项至少为紧急")
        doubtful_negation = [r for r in negated if (r.field, r.value) in
                             (("police_matter", "true"), ("urgency", "critical"))]
        for r in doubtful_negation:
            reasons.append(f"“{r.phrase}” 前有否定词，未计分")
        weak_police = police_cues > 0 and not police
        weak_critical = critical > 0 and urgency != Urgency.CRITICAL.value
        if weak_police:
            explain("police_matter", "true")
            reasons.append(f"涉警线索分值 {police_net:g} 未达 {POLICE_FLAG:g}")
        if weak_critical and urgency == Urgency.NORMAL.value:
            explain("urgency", "critical")
        if police or urgency == Urgency.CRITICAL.value or weak_police or weak_critical \
                or doubtful_negation:
            reasons.append(DOUBT)
        return Suggestion(type=type_, category=category, urgency=urgency, police_matter=police,
                          reasons=tuple(dict.fromkeys(reasons)),
                          emergency=police or urgency == Urgency.CRITICAL.value)

    @staticmethod
    def _pick(field: str, scores: dict[str, float], reasons: list[str],
              explain: Any) -> str | None:
        ranked = sorted(((s, v) for v, s in scores.items() if s > 0), reverse=True)
        if not ranked:
            return None
        top_score, top = ranked[0]
        explain(field, top)
        if len(ranked) > 1 and top_score - ranked[1][0] < CLOSE:
            second_score, second = ranked[1]
            reasons.append(f"{FIELD_NAMES[field]}：{top} ({top_score:g}) 与 {second} "
                           f"({second_score:g}) 得分接近，请确认")
        return top


# ---------------------------------------------------------------- from the database


def rules_from_file(path: Path = RULES_FILE) -> list[Rule]:
    """The shipped rules, as the classifier uses them (no database needed)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    return [Rule(g["field"], g["value"], phrase, float(weight))
            for g in doc["groups"] for phrase, weight in g["phrases"].items()]


def load_classifier_rules(session: Session, path: Path = RULES_FILE) -> int:
    """Insert the shipped rules that are missing (by field, value, phrase); how many were added.

    An admin who wants a shipped phrase gone should deactivate it: a deleted one comes back at
    the next load, as reference data does."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    present = set(session.execute(
        select(ClassifierRule.field, ClassifierRule.value, ClassifierRule.phrase)).tuples())
    now = utcnow()
    rows = []
    for group in doc["groups"]:
        for phrase, weight in group["phrases"].items():
            key = (group["field"], group["value"], phrase)
            if key not in present:
                present.add(key)
                rows.append({"field": key[0], "value": key[1], "phrase": phrase,
                             "weight": float(weight), "active": True,
                             "note": group.get("note"), "updated_at": now})
    if rows:
        session.execute(ClassifierRule.__table__.insert(), rows)
        _bump_revision(session)
    return len(rows)


def _bump_revision(session: Session) -> None:
    # A counter, because timestamps may repeat (a manual clock, two edits in one tick) and
    # SQLite may reuse the id of a deleted last row.
    row = session.get(Setting, REVISION_KEY)
    if row is None:
        session.add(Setting(key=REVISION_KEY, value=1))
    else:
        row.value = int(row.value or 0) + 1
        row.updated_at = utcnow()
    session.flush()


def rules_revision(session: Session) -> str:
    """A key that changes whenever the rules change (cache the classifier under it; read
    once per transaction)."""
    def read() -> str:
        counter = session.scalar(select(Setting.value).where(Setting.key == REVISION_KEY)) or 0
        count, last_id, last_update = session.execute(
            select(func.count(), func.max(ClassifierRule.id), func.max(ClassifierRule.updated_at))
        ).one()
        stamp = last_update.isoformat() if isinstance(last_update, datetime) else last_update
        return f"{counter}:{count}:{last_id}:{stamp}"

    return memo(session, "classifier_revision", (Setting, ClassifierRule), read)


def classifier_from_db(session: Session) -> RuleClassifier:
    """A classifier built from the active rules in the database."""
    rows = session.execute(select(ClassifierRule.field, ClassifierRule.value,
                                  ClassifierRule.phrase, ClassifierRule.weight)
                           .where(ClassifierRule.active.is_(True))).tuples()
    return RuleClassifier(Rule(f, v, p, w) for f, v, p, w in rows)


class ClassifierCache:
    """One classifier per rules revision, shared by the threads of a process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._built: tuple[str, RuleClassifier] | None = None

    def get(self, session: Session) -> RuleClassifier:
        """The classifier for the rules now in the database, built at most once per revision."""
        revision = rules_revision(session)
        with self._lock:
            if self._built is not None and self._built[0] == revision:
                return self._built[1]
        classifier = classifier_from_db(session)  # outside the lock: building reads the db
        with self._lock:
            self._built = (revision, classifier)
        return classifier

    def clear(self) -> None:
        """Forget the built classifier (tests)."""
        with self._lock:
            self._built = None


@dataclass(frozen=True)
class SessionClassifier:
    """The `Classifier` port for one intake: the cached classifier of the session's rules."""

    session: Session
    cache: ClassifierCache

    def suggest(self, text: str) -> Suggestion:
        """Suggestions from the rules in force in this session's database."""
        return self.cache.get(self.session).suggest(text)


# ---------------------------------------------------------------- administration

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
            raise InvalidInput(f"value: '{value}' is not a top-level category code",
                               field="value")
        return
    if value not in allowed:
        raise InvalidInput(f"value: must be one of {', '.join(allowed)} for {field}",
                           field="value")


def _check_unique(session: Session, field: str, value: str, phrase: str,
                  rule_id: int | None = None) -> None:
    query = select(ClassifierRule.id).where(ClassifierRule.field == field,
                                            ClassifierRule.value == value,
                                            ClassifierRule.phrase == phrase)
    if rule_id is not None:
        query = query.where(ClassifierRule.id != rule_id)
    if session.scalar(query) is not None:
        raise InvalidInput(f"phrase: '{phrase}' already has a rule for {field} = {value}",
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


def create_rule(session: Session, data: RuleCreate | dict[str, Any],
                now: datetime | None = None) -> ClassifierRule:
    """Add a rule after checking field, value, phrase and weight; nothing is written on refusal."""
    cmd = data if isinstance(data, RuleCreate) else parse(RuleCreate, data)
    _check_value(session, cmd.field, cmd.value)
    _check_unique(session, cmd.field, cmd.value, cmd.phrase)
    rule = ClassifierRule(field=cmd.field, value=cmd.value, phrase=cmd.phrase,
                          weight=cmd.weight, active=cmd.active, note=cmd.note,
                          updated_at=now or utcnow())
    session.add(rule)
    session.flush()
    _bump_revision(session)
    return rule


def _get(session: Session, rule_id: int) -> ClassifierRule:
    rule = session.get(ClassifierRule, rule_id)
    if rule is None:
        raise NotFound(f"no classifier rule {rule_id}")
    return rule


def update_rule(session: Session, rule_id: int, data: RuleUpdate | dict[str, Any],
                now: datetime | None = None) -> ClassifierRule:
    """Change a rule; the result is checked as a whole before anything is written."""
    cmd = data if isinstance(data, RuleUpdate) else parse(RuleUpdate, data)
    rule = _get(session, rule_id)
    changes = cmd.model_dump(exclude_unset=True)
    for key in ("field", "value", "phrase", "weight", "active"):
        if key in changes and changes[key] is None:
            raise InvalidInput(f"{key}: must not be null", field=key)
    field = changes.get("field", rule.field)
    value = changes.get("value", rule.value)
    phrase = changes.get("phrase", rule.phrase)
    _check_value(session, field, value)
    _check_unique(session, field, value, phrase, rule.id)
    for key, new in changes.items():
        setattr(rule, key, new)
    rule.updated_at = now or utcnow()
    session.flush()
    _bump_revision(session)
    return rule


def delete_rule(session: Session, rule_id: int) -> None:
    """Remove a rule (a shipped phrase returns at the next load: deactivate it instead)."""
    session.delete(_get(session, rule_id))
    session.flush()
    _bump_revision(session)
