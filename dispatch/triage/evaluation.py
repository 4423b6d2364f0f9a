"""The triage figures per field on labelled examples (police matter: recall, precision, false
alarms and the confusion matrix; critical urgency; type, top- and second-level accuracy), the
one score versions are compared by, and the figures as a text table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dispatch.core.ports import Suggestion
from dispatch.core.vocab import Urgency
from dispatch.triage.model import Example, Prediction, TriageModel

# How much each held-out figure counts in a version's score (police recall first: DOMAIN.md).
SCORE_WEIGHTS = {"police_recall": 0.35, "police_specificity": 0.10, "critical_recall": 0.20,
                 "type_accuracy": 0.10, "top_accuracy": 0.15, "second_accuracy": 0.10}


@dataclass(frozen=True)
class Judgement:
    """What a classifier said about one text, in the terms the figures count."""

    police: bool
    critical: bool
    type: str | None
    top: str | None
    second: str | None


def from_prediction(p: Prediction) -> Judgement:
    """The model's judgement."""
    return Judgement(p.police.flagged, p.critical.flagged, p.type.value, p.top.value,
                     p.second.value)


def from_suggestion(s: Suggestion) -> Judgement:
    """A classifier's suggestion (rules alone, or rules and model together)."""
    category = s.category or ""
    parts = category.split(".")
    return Judgement(s.police_matter, s.urgency == Urgency.CRITICAL.value, s.type,
                     parts[0] or None, ".".join(parts[:2]) if len(parts) >= 2 else None)


def figures(examples: Sequence[Example], judgements: Sequence[Judgement]) -> dict[str, Any]:
    """Per-field figures: recall, precision and false-alarm rate of police matter, recall and
    precision of critical urgency, accuracy of type, top-level and second-level category."""
    tp = fp = fn = tn = 0
    c_tp = c_fp = c_fn = 0
    type_ok = top_ok = second_ok = second_n = 0
    for e, j in zip(examples, judgements, strict=True):
        if e.police:
            tp += j.police
            fn += not j.police
        else:
            fp += j.police
            tn += not j.police
        critical = e.urgency == Urgency.CRITICAL.value
        c_tp += critical and j.critical
        c_fp += (not critical) and j.critical
        c_fn += critical and not j.critical
        type_ok += j.type == e.type
        top_ok += j.top == e.top
        if e.second:
            second_n += 1
            second_ok += j.second == e.second
    n = len(examples)
    return {
        "n": n,
        "police": {"recall": _r(tp, tp + fn), "precision": _r(tp, tp + fp),
                   "false_alarm_rate": _r(fp, fp + tn), "positives": tp + fn,
                   "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn}},
        "critical": {"recall": _r(c_tp, c_tp + c_fn), "precision": _r(c_tp, c_tp + c_fp),
                     "positives": c_tp + c_fn},
        "type": {"accuracy": _r(type_ok, n)},
        "top": {"accuracy": _r(top_ok, n)},
        "second": {"accuracy": _r(second_ok, second_n), "n": second_n},
    }


def score(f: dict[str, Any]) -> float:
    """One number to compare versions by (police recall counts most)."""
    parts = {"police_recall": f["police"]["recall"],
             "police_specificity": 1.0 - f["police"]["false_alarm_rate"],
             "critical_recall": f["critical"]["recall"], "type_accuracy": f["type"]["accuracy"],
             "top_accuracy": f["top"]["accuracy"], "second_accuracy": f["second"]["accuracy"]}
    return round(sum(SCORE_WEIGHTS[k] * v for k, v in parts.items()), 4)


def evaluate_model(model: TriageModel, examples: Sequence[Example]) -> dict[str, Any]:
    """The model's figures on labelled examples."""
    return figures(examples, [from_prediction(p)
                              for p in model.predict_many([e.text for e in examples])])


def evaluate_classifier(suggest: Callable[[str], Suggestion],
                        examples: Sequence[Example]) -> dict[str, Any]:
    """A classifier's figures (rules alone, or combined) on labelled examples."""
    return figures(examples, [from_suggestion(suggest(e.text)) for e in examples])


def _r(a: float, b: float) -> float:
    return round(float(a) / float(b), 4) if b else 0.0


ROWS = (("police", "recall", "涉警 召回率"), ("police", "precision", "涉警 精确率"),
        ("police", "false_alarm_rate", "涉警 误报率"), ("critical", "recall", "危急 召回率"),
        ("critical", "precision", "危急 精确率"), ("type", "accuracy", "诉求类型 准确率"),
        ("top", "accuracy", "一级分类 准确率"), ("second", "accuracy", "二级分类 准确率"))


def figures_table(columns: dict[str, dict[str, Any]]) -> list[str]:
    """Figures side by side (one column per classifier), as lines of text."""
    names = list(columns)
    width = max([_width(n) + 2 for n in names] + [9])
    lines = [_pad("指标", 16) + "".join(_rjust(n, width) for n in names)]
    for field, key, title in ROWS:
        cells = []
        for n in names:
            value = columns[n].get(field, {}).get(key)
            cells.append(_rjust("—" if value is None else f"{value:.3f}", width))
        lines.append(_pad(title, 16) + "".join(cells))
    for n in names:
        c = columns[n].get("police", {}).get("confusion")
        if c:
            lines.append(f"涉警混淆矩阵（{n}）：实际涉警 → 判涉警 {c['tp']}、漏判 {c['fn']}；"
                         f"实际非涉警 → 误报 {c['fp']}、判非涉警 {c['tn']}")
    return lines


def _width(text: str) -> int:
    """Display width (a Chinese character is two columns)."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(width - _width(text), 1)


def _rjust(text: str, width: int) -> str:
    return " " * max(width - _width(text), 1) + text
