"""The knowledge base on a real database: versions, validity, department scoping, refusals that
write nothing, and direct answers that record the article version given."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import dispatch.triage.knowledge as kb
from dispatch.core.errors import DomainError, Forbidden, InvalidInput, NotFound
from dispatch.core.models import Event, Ticket
from dispatch.core.ports import ManualClock
from dispatch.tickets.lifecycle import Actor

TODAY = date(2026, 11, 23)  # the test clock's local day


def article(**fields: Any) -> dict[str, Any]:
    body = {"title": "占道经营投诉处理流程", "category": "urban.appearance.street_vending",
            "department": "urban_management",
            "body": "城管执法人员一般在2小时内到场核查，对占道经营行为先劝导、责令改正。"}
    body.update(fields)
    return body


def kb_counts(session: Session) -> tuple[int, int]:
    return (session.scalar(select(func.count()).select_from(kb.Article)) or 0,
            session.scalar(select(func.count()).select_from(kb.ArticleVersion)) or 0)


def refused(session: Session, error: type[DomainError], call: Any) -> DomainError:
    """Assert the call is refused with `error` and that no article or version was written."""
    session.commit()
    before = kb_counts(session)
    with pytest.raises(error) as caught:
        call()
    session.rollback()
    assert kb_counts(session) == before
    return caught.value


@pytest.fixture
def admin(actors: dict[str, Actor]) -> Actor:
    return actors["admin1"]


def test_a_revision_adds_a_version_and_every_old_version_stays_readable(
        session: Session, admin: Actor, clock: ManualClock) -> None:
    v1 = kb.create_article(session, article(), admin, clock.now())
    session.commit()
    clock.advance(days=1)
    v2 = kb.revise_article(session, v1.id, article(title="占道经营投诉处理流程（修订）"),
                           admin, clock.now())
    session.commit()
    assert (v1.version, v2.version, v2.current_version, v2.versions) == (1, 2, 2, (1, 2))
    assert kb.get_article(session, v1.id).title == "占道经营投诉处理流程（修订）"
    old = kb.get_article(session, v1.id, 1)
    assert (old.version, old.title, old.current_version) == (1, "占道经营投诉处理流程", 2)
    assert kb.get_article(session, v1.id).updated_at == clock.now()
    with pytest.raises(NotFound):
        kb.get_article(session, v1.id, 3)
    with pytest.raises(NotFound):
        kb.get_article(session, v1.id + 100)


def test_a_revision_keeps_category_and_department_unless_given(
        session: Session, admin: Actor, clock: ManualClock) -> None:
    a = kb.create_article(session, article(), admin, clock.now())
    b = kb.revise_article(session, a.id, {"title": "新标题", "body": "新正文"}, admin, clock.now())
    assert (b.category, b.department) == ("urban.appearance.street_vending", "urban_management")
    c = kb.revise_article(session, a.id, {"title": "新标题", "body": "新正文",
                                          "category": "urban", "department": None},
                          admin, clock.now())
    assert (c.category, c.department, c.version) == ("urban", None, 3)


@pytest.mark.parametrize(("fields", "field"), [
    ({"title": ""}, "title"),
    ({"title": "长" * 101}, "title"),
    ({"body": "  "}, "body"),
    ({"body": "字" * 4001}, "body"),
    ({"valid_from": "2026-12-01", "valid_to": "2026-11-30"}, "valid_to"),
    ({"valid_from": "2026-13-01"}, "valid_from"),
    ({"category": "no.such.category"}, "category"),
    ({"department": "no_such_department"}, "department"),
    ({"colour": "red"}, "colour"),
])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(
        session: Session, admin: Actor, clock: ManualClock, fields: dict[str, Any],
        field: str) -> None:
    error = refused(session, InvalidInput,
                    lambda: kb.create_article(session, article(**fields), admin, clock.now()))
    assert error.field == field


def test_a_handler_writes_only_their_own_departments_articles(
        session: Session, actors: dict[str, Actor], admin: Actor, clock: ManualClock) -> None:
    handler = actors["handler1"]  # 城管局
    own = kb.create_article(session, article(department=None), handler, clock.now())
    assert own.department == "urban_management"
    kb.revise_article(session, own.id, article(body="城管执法人员到场核查。"), handler, clock.now())
    other = kb.create_article(session, article(department="street_pudong"), admin, clock.now())
    session.commit()
    refused(session, Forbidden, lambda: kb.create_article(
        session, article(department="street_pudong"), handler, clock.now()))
    refused(session, Forbidden, lambda: kb.revise_article(
        session, other.id, article(department="urban_management"), handler, clock.now()))
    refused(session, Forbidden, lambda: kb.revise_article(
        session, own.id, article(department="street_pudong"), handler, clock.now()))
    refused(session, Forbidden, lambda: kb.retire_article(session, other.id, handler,
                                                          clock.now()))
    refused(session, Forbidden, lambda: kb.create_article(
        session, article(), actors["operator1"], clock.now()))
    refused(session, NotFound, lambda: kb.revise_article(
        session, other.id + 100, article(), handler, clock.now()))
    assert kb.get_article(session, other.id).version == 1


def test_a_retired_article_leaves_search_but_stays_readable(
        session: Session, admin: Actor, clock: ManualClock) -> None:
    a = kb.create_article(session, article(), admin, clock.now())
    session.commit()
    assert [h.article_id for h in kb.search(session, "占道经营", on=TODAY)] == [a.id]
    retired = kb.retire_article(session, a.id, admin, clock.now())
    session.commit()
    assert retired.active is False
    assert kb.search(session, "占道经营", on=TODAY) == []
    assert kb.get_article(session, a.id, 1).title == "占道经营投诉处理流程"


def test_search_honours_validity_dates_on_both_backends(
        session: Session, admin: Actor, clock: ManualClock) -> None:
    kb.create_article(session, article(title="2027年度医保缴费", body="医保缴费期为九月至十二月。",
                                       category="labour", department="healthcare_security",
                                       valid_from="2026-09-01", valid_to="2026-12-31"),
                      admin, clock.now())
    session.commit()
    assert len(kb.search(session, "医保缴费", on=TODAY)) == 1
    assert kb.search(session, "医保缴费", on=date(2027, 1, 1)) == []
    assert kb.search(session, "医保缴费", on=TODAY, category="labour")[0].category == "labour"


def test_the_demo_knowledge_base_loads_once(session: Session, clock: ManualClock) -> None:
    assert kb.load_demo_knowledge(session, clock.now()) >= 40
    session.commit()
    assert kb.load_demo_knowledge(session, clock.now()) == 0
    hits = kb.search(session, "居住证怎么办理", on=TODAY, limit=3)
    assert hits[0].title == "居住证办理条件和所需材料"


# ---------------------------------------------------------------- direct answers


def answer_event(desk: Any, ticket: Ticket) -> Event:
    return [e for e in desk.events(ticket) if e.action == "answer"][-1]


def test_a_direct_answer_records_the_current_version_and_its_title(
        desk: Any, admin: Actor) -> None:
    a = kb.create_article(desk.session, article(), admin, desk.clock.now())
    kb.revise_article(desk.session, a.id, article(title="占道经营怎么投诉"), admin,
                      desk.clock.now())
    desk.session.commit()
    ticket = desk.intake(type="consult")
    desk.act(ticket, "answer", "operator1", answer="已告知处理流程", article_id=a.id)
    assert (ticket.status, ticket.outcome) == ("ARCHIVED", "direct_answer")
    payload = answer_event(desk, ticket).payload
    assert payload == {"answer": "已告知处理流程", "article_id": a.id, "article_version": 2,
                       "article_title": "占道经营怎么投诉"}


def test_a_direct_answer_may_give_an_older_version_still_in_force(
        desk: Any, admin: Actor) -> None:
    a = kb.create_article(desk.session, article(), admin, desk.clock.now())
    kb.revise_article(desk.session, a.id, article(title="新版"), admin, desk.clock.now())
    desk.session.commit()
    ticket = desk.intake(type="consult")
    desk.act(ticket, "answer", "operator1", answer="按旧版答复", article_id=a.id,
             article_version=1)
    payload = answer_event(desk, ticket).payload
    assert (payload["article_version"], payload["article_title"]) == (1, "占道经营投诉处理流程")


def test_a_direct_answer_without_an_article_records_none(desk: Any) -> None:
    ticket = desk.intake(type="consult")
    desk.act(ticket, "answer", "operator1", answer="已口头答复")
    payload = answer_event(desk, ticket).payload
    assert payload == {"answer": "已口头答复", "article_id": None, "article_version": None}


def test_a_direct_answer_with_a_bad_article_is_refused_and_writes_nothing(
        desk: Any, admin: Actor) -> None:
    now = desk.clock.now()
    a = kb.create_article(desk.session, article(), admin, now)
    later = kb.create_article(desk.session, article(
        title="明年起的新规定", valid_from=(TODAY + timedelta(days=1)).isoformat()), admin, now)
    expired = kb.create_article(desk.session, article(
        title="去年的规定", valid_from="2025-01-01", valid_to="2025-12-31"), admin, now)
    retired = kb.create_article(desk.session, article(title="已废止"), admin, now)
    kb.retire_article(desk.session, retired.id, admin, now)
    desk.session.commit()
    ticket = desk.intake(type="consult")
    cases = [
        ({"article_id": a.id + 100}, "article_id"),
        ({"article_id": a.id, "article_version": 2}, "article_version"),
        ({"article_id": later.id}, "article_version"),
        ({"article_id": expired.id, "article_version": 1}, "article_version"),
        ({"article_id": retired.id}, "article_id"),
        ({"article_version": 1}, "article_id"),
    ]
    for payload, field in cases:
        error = desk.refused(ticket, "answer", "operator1", InvalidInput, answer="答复",
                             **payload)
        assert error.field == field, payload
        assert error.message.startswith(f"{field}: "), error.message
    assert desk.snapshot(ticket).status == "NEW"


def test_validity_is_judged_on_the_tickets_local_day(desk: Any, admin: Actor) -> None:
    # 2026-11-23 02:00 UTC is 10:00 in Shanghai; an answer valid until the 22nd is out.
    a = kb.create_article(desk.session, article(valid_to="2026-11-22"), admin, desk.clock.now())
    b = kb.create_article(desk.session, article(valid_from="2026-11-23"), admin, desk.clock.now())
    desk.session.commit()
    ticket = desk.intake(type="consult")
    error = desk.refused(ticket, "answer", "operator1", InvalidInput, answer="答复",
                         article_id=a.id)
    assert error.message == (f"article_version: 知识条目 {a.id} 第 1 版在 2026-11-23 "
                             "不在有效期内（有效期 不限 至 2026-11-22）")
    desk.act(ticket, "answer", "operator1", answer="答复", article_id=b.id)
    assert answer_event(desk, ticket).payload["article_version"] == 1
