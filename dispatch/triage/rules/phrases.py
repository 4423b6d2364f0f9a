"""The rule classifier itself: weighted phrases found in a demand's text, summed per field,
the best value per field with its reasons (no database: `rules_from_file` reads the shipped
rules, `store.classifier_from_db` the administered ones)."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dispatch.core.ports import Suggestion
from dispatch.core.vocab import RequestType, Urgency
from dispatch.triage.segmenter import segmenter

RULES_FILE = Path(__file__).resolve().parents[3] / "grid" / "data" / "classifier_rules.json"
FIELDS = ("type", "category", "urgency", "police_matter")
FIELD_NAMES = {"type": "类型", "category": "分类", "urgency": "紧急程度", "police_matter": "涉警"}

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



def rules_from_file(path: Path = RULES_FILE) -> list[Rule]:
    """The shipped rules, as the classifier uses them (no database needed)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    return [Rule(g["field"], g["value"], phrase, float(weight))
            for g in doc["groups"] for phrase, weight in g["phrases"].items()]
