"""Accuracy of the shipped classifier rules on the hand-labelled demands (tests/data), per
field, on the tuning part and on the held-out part. Run with -s to see the table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from dispatch.triage.rules import DOUBT, classifier_from_db, load_classifier_rules

LABELLED = Path(__file__).parents[1] / "data" / "labelled_demands.json"
FIELDS = ("type", "category", "urgency", "police_matter")

# Floors a little under what the shipped rules measure (tune / holdout, see the report).
FLOORS = {
    "tune": {"type": 0.85, "category": 0.92, "urgency": 0.93, "police_matter": 0.97},
    "holdout": {"type": 0.83, "category": 0.85, "urgency": 0.93, "police_matter": 0.97},
}
POLICE_RECALL_FLOOR = 0.95


def items() -> list[dict]:
    return json.loads(LABELLED.read_text(encoding="utf-8"))["items"]


def test_the_labelled_set_is_big_and_varied_enough() -> None:
    data = items()
    assert len(data) >= 300
    by_category: dict[str, int] = {}
    for it in data:
        by_category[it["category"]] = by_category.get(it["category"], 0) + 1
    assert len(by_category) == 14 and min(by_category.values()) >= 12
    assert sum(it["police_matter"] or it["urgency"] == "critical" for it in data) >= 40
    holdout = sum(it["split"] == "holdout" for it in data)
    assert 0.28 <= holdout / len(data) <= 0.4
    assert len({it["text"] for it in data}) == len(data)


@pytest.fixture
def measured(session: Session) -> dict[str, dict[str, float]]:
    load_classifier_rules(session)
    session.flush()
    classifier = classifier_from_db(session)
    tally: dict[str, dict[str, float]] = {}
    missed_quietly = []
    for it in items():
        s = classifier.suggest(it["text"])
        predicted = {"type": s.type, "category": s.category, "urgency": s.urgency,
                     "police_matter": s.police_matter}
        for split in (it["split"], "all"):
            t = tally.setdefault(split, {"n": 0, "police": 0, "police_hit": 0, "false_alarm": 0,
                                         **{f: 0 for f in FIELDS}})
            t["n"] += 1
            for f in FIELDS:
                t[f] += predicted[f] == it[f]
            if it["police_matter"]:
                t["police"] += 1
                t["police_hit"] += s.police_matter
            elif s.police_matter:
                t["false_alarm"] += 1
        if (it["police_matter"] or it["urgency"] == "critical") and not (
                s.police_matter or s.urgency == "critical" or DOUBT in s.reasons):
            missed_quietly.append(it["text"])
    result = {split: {**{f: t[f] / t["n"] for f in FIELDS}, "n": t["n"],
                      "police_recall": t["police_hit"] / t["police"],
                      "false_alarm": t["false_alarm"]}
              for split, t in tally.items()}
    print("\nsplit      n   type  category urgency police  police-recall false-alarms")
    for split in ("tune", "holdout", "all"):
        r = result[split]
        print(f"{split:8} {r['n']:4}  {r['type']:.3f}  {r['category']:.3f}    {r['urgency']:.3f}"
              f"   {r['police_matter']:.3f}  {r['police_recall']:.3f}         "
              f"{r['false_alarm']}")
    result["missed_quietly"] = missed_quietly  # type: ignore[assignment]
    return result


def test_accuracy_holds_its_floors_on_tune_and_holdout(measured) -> None:
    for split, floors in FLOORS.items():
        for field, floor in floors.items():
            assert measured[split][field] >= floor, (split, field, measured[split][field])


def test_police_matters_are_recalled(measured) -> None:
    assert measured["all"]["police_recall"] >= POLICE_RECALL_FLOOR
    assert measured["holdout"]["police_recall"] >= POLICE_RECALL_FLOOR


def test_no_police_matter_or_emergency_is_missed_quietly(measured) -> None:
    assert measured["missed_quietly"] == []
