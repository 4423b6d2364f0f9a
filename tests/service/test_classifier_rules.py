"""Classifier rules in the database: loading the shipped ones, the admin functions and their
refusals (which write nothing), the revision key and the cached classifier."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.core.errors import InvalidInput, NotFound
from dispatch.triage.rules import (
    ClassifierCache,
    ClassifierRule,
    SessionClassifier,
    classifier_from_db,
    create_rule,
    delete_rule,
    list_rules,
    load_classifier_rules,
    rules_from_file,
    rules_revision,
    update_rule,
)


def chinese(message: str) -> bool:
    """Whether a message has Chinese in it (what a person reads is zh-CN)."""
    return any("\u3400" <= ch <= "\u9fff" for ch in message)


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ClassifierRule)) or 0


def rule(**fields) -> dict:
    return {"field": "category", "value": "urban", "phrase": "共享充电宝", "weight": 2.5,
            **fields}


def test_shipped_rules_are_loaded_where_missing(session: Session) -> None:
    shipped = len(rules_from_file())
    assert load_classifier_rules(session) == shipped
    assert count(session) == shipped
    assert load_classifier_rules(session) == 0
    gone = session.scalar(select(ClassifierRule).where(ClassifierRule.phrase == "噪音"))
    session.delete(gone)
    session.flush()
    assert load_classifier_rules(session) == 1
    session.commit()


def test_the_classifier_from_the_database_uses_active_rules_only(session: Session) -> None:
    load_classifier_rules(session)
    assert classifier_from_db(session).suggest("楼上噪音太大").category == "environment"
    for r in list_rules(session, phrase="噪音"):
        update_rule(session, r.id, {"active": False})
    assert classifier_from_db(session).suggest("楼上噪音太大").category != "environment"


def test_an_admin_adds_changes_and_removes_a_rule(session: Session) -> None:
    created = create_rule(session, rule(note="新业态"))
    assert created.id and created.active and created.note == "新业态"
    assert [r.phrase for r in list_rules(session, field="category", value="urban")] == [
        "共享充电宝"]
    changed = update_rule(session, created.id, {"weight": -1, "value": "market"})
    assert (changed.weight, changed.value) == (-1.0, "market")
    delete_rule(session, created.id)
    assert count(session) == 0
    session.commit()


@pytest.mark.parametrize(("fields", "field"), [
    ({"field": "colour"}, "field"),
    ({"field": "type", "value": "rant"}, "value"),
    ({"field": "urgency", "value": "normalish"}, "value"),
    ({"field": "police_matter", "value": "yes"}, "value"),
    ({"value": "urban.appearance"}, "value"),  # a category, but not a top-level one
    ({"value": "nowhere"}, "value"),
    ({"phrase": ""}, "phrase"),
    ({"phrase": "   "}, "phrase"),
    ({"phrase": "长" * 21}, "phrase"),
    ({"weight": 10.5}, "weight"),
    ({"weight": -11}, "weight"),
    ({"weight": "3"}, "weight"),
    ({"extra": 1}, "extra"),
])
def test_invalid_rules_are_refused_naming_the_field_and_nothing_is_written(
        session: Session, fields: dict, field: str) -> None:
    revision = rules_revision(session)
    with pytest.raises(InvalidInput) as err:
        create_rule(session, rule(**fields))
    assert err.value.field == field
    assert err.value.message.startswith(f"{field}: ") and chinese(err.value.message)
    session.commit()
    assert count(session) == 0 and rules_revision(session) == revision


def test_a_duplicate_phrase_is_refused(session: Session) -> None:
    create_rule(session, rule())
    session.commit()
    with pytest.raises(InvalidInput) as err:
        create_rule(session, rule(weight=1))
    assert err.value.field == "phrase"
    assert err.value.message == "phrase: 短语“共享充电宝”已有 category = urban 的规则"
    other = create_rule(session, rule(phrase="充电桩"))
    with pytest.raises(InvalidInput):
        update_rule(session, other.id, {"phrase": "共享充电宝"})
    session.commit()
    assert sorted(r.phrase for r in list_rules(session)) == ["充电桩", "共享充电宝"]


def test_a_refused_update_changes_nothing(session: Session) -> None:
    created = create_rule(session, rule())
    session.commit()
    revision = rules_revision(session)
    for bad in ({"field": "type"}, {"weight": 99}, {"weight": None}, {"value": "urban.x"}):
        with pytest.raises(InvalidInput) as err:
            update_rule(session, created.id, bad)
        assert chinese(err.value.message), bad
    with pytest.raises(InvalidInput) as err:
        update_rule(session, created.id, {"weight": None})
    assert err.value.message == "weight: 不能为空（null）"
    with pytest.raises(InvalidInput) as err:
        update_rule(session, created.id, {"field": "urgency"})
    assert err.value.message == ("value: urgency 的取值须为以下之一："
                                 "normal、urgent、critical")
    session.commit()
    session.refresh(created)
    assert (created.field, created.value, created.weight) == ("category", "urban", 2.5)
    assert rules_revision(session) == revision


def test_a_missing_rule_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound) as err:
        update_rule(session, 999, {"weight": 1})
    assert err.value.message == "分类规则 999 不存在"
    with pytest.raises(NotFound):
        delete_rule(session, 999)


def test_the_revision_changes_with_every_write(session: Session) -> None:
    seen = {rules_revision(session)}
    created = create_rule(session, rule())
    seen.add(rules_revision(session))
    update_rule(session, created.id, {"weight": 3})
    seen.add(rules_revision(session))
    delete_rule(session, created.id)
    seen.add(rules_revision(session))
    create_rule(session, rule())  # same content as the first: still a new revision
    seen.add(rules_revision(session))
    assert len(seen) == 5


def test_the_cache_builds_once_per_revision(session: Session) -> None:
    load_classifier_rules(session)
    cache = ClassifierCache()
    first = cache.get(session)
    assert cache.get(session) is first
    create_rule(session, rule(phrase="充电宝", value="market", weight=9))
    second = cache.get(session)
    assert second is not first
    port = SessionClassifier(session, cache)
    assert port.suggest("共享充电宝押金不退").category == "market"
