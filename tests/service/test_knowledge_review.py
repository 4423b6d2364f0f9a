"""The knowledge base's review step on a real database: a department editor's versions are drafts
that search and answers ignore until the hotline office publishes them; a newer published version
leaves older drafts superseded; rejections keep their reason; every step is recorded in the log of
admin changes; refusals write nothing. And the word-level diff of two texts."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import dispatch.triage.knowledge as kb
from dispatch.core.errors import DomainError, Forbidden, InvalidInput
from dispatch.core.models import AdminChange
from dispatch.core.ports import ManualClock
from dispatch.tickets.lifecycle import Actor


def article(**fields: Any) -> dict[str, Any]:
    body = {"title": "占道经营投诉处理流程", "category": "urban.appearance.street_vending",
            "department": "urban_management",
            "body": "城管执法人员一般在2小时内到场核查，对占道经营行为先劝导、责令改正。"}
    body.update(fields)
    return body


def found(session: Session, clock: ManualClock, q: str = "占道经营") -> list[tuple[int, int]]:
    return [(h.article_id, h.version) for h in kb.search(
        session, q, on=kb.local_date(clock.now()))]


def written(session: Session) -> tuple[int, ...]:
    return tuple(session.scalar(select(func.count()).select_from(t)) or 0
                 for t in (kb.Article, kb.ArticleVersion, AdminChange))


def refused(session: Session, error: type[DomainError], call: Any) -> DomainError:
    session.commit()
    before = written(session)
    with pytest.raises(error) as caught:
        call()
    session.rollback()
    assert written(session) == before
    return caught.value


def test_drafts_are_searched_and_answered_only_once_published(
        session: Session, actors: dict[str, Actor], clock: ManualClock) -> None:
    handler, admin = actors["handler1"], actors["admin1"]
    draft = kb.create_article(session, article(), handler, clock.now())
    session.commit()
    assert (draft.status, draft.current_version) == (kb.DRAFT, 0)
    assert found(session, clock) == []
    with pytest.raises(InvalidInput) as caught:
        kb.answer_version(session, draft.id, None, kb.local_date(clock.now()))
    assert caught.value.field == "article_version"

    kb.publish_version(session, draft.id, 1, admin, clock.now())
    session.commit()
    assert found(session, clock) == [(draft.id, 1)]
    assert kb.answer_version(session, draft.id, None, kb.local_date(clock.now())).version == 1

    second = kb.revise_article(session, draft.id, article(body="城管执法人员到场核查占道经营。"),
                               handler, clock.now())
    third = kb.revise_article(session, draft.id, article(body="占道经营由城管执法人员核查。"),
                              handler, clock.now())
    session.commit()
    assert (second.version, third.version, third.drafts) == (2, 3, (2, 3))
    assert found(session, clock) == [(draft.id, 1)]  # the drafts change nothing yet
    kb.publish_version(session, draft.id, 3, admin, clock.now())
    session.commit()
    assert found(session, clock) == [(draft.id, 3)]
    assert kb.get_article(session, draft.id, 2).status == kb.SUPERSEDED
    error = refused(session, InvalidInput,
                    lambda: kb.publish_version(session, draft.id, 2, admin, clock.now()))
    assert error.field == "version" and "已被取代" in error.message

    actions = session.execute(select(AdminChange.action, AdminChange.actor_id)
                              .where(AdminChange.subject == "kb_article")
                              .order_by(AdminChange.id)).all()
    assert [tuple(a) for a in actions] == [
        ("draft", handler.id), ("publish", admin.id), ("draft", handler.id),
        ("draft", handler.id), ("publish", admin.id)]


def test_only_the_hotline_office_reviews_and_a_rejection_keeps_its_reason(
        session: Session, actors: dict[str, Actor], clock: ManualClock) -> None:
    handler, admin = actors["handler1"], actors["admin1"]
    draft = kb.create_article(session, article(), handler, clock.now())
    session.commit()
    refused(session, Forbidden, lambda: kb.publish_version(session, draft.id, 1, handler,
                                                           clock.now()))
    refused(session, Forbidden, lambda: kb.reject_version(session, draft.id, 1, "不行", handler,
                                                          clock.now()))
    error = refused(session, InvalidInput, lambda: kb.reject_version(
        session, draft.id, 1, "  ", admin, clock.now()))
    assert error.field == "note"
    rejected = kb.reject_version(session, draft.id, 1, "请补充处理时限的依据", admin, clock.now())
    session.commit()
    assert (rejected.status, rejected.review_note) == (kb.REJECTED, "请补充处理时限的依据")
    assert found(session, clock) == []
    change = session.scalars(select(AdminChange).where(AdminChange.action == "reject")).one()
    assert (change.before["status"], change.after["status"], change.after["note"]) == \
        ("draft", "rejected", "请补充处理时限的依据")


def test_a_retired_article_takes_no_publication_and_retiring_is_recorded(
        session: Session, actors: dict[str, Actor], clock: ManualClock) -> None:
    handler, admin = actors["handler1"], actors["admin1"]
    published = kb.create_article(session, article(), admin, clock.now())
    kb.revise_article(session, published.id, article(body="新的处理流程。"), handler, clock.now())
    kb.retire_article(session, published.id, admin, clock.now())
    session.commit()
    error = refused(session, InvalidInput,
                    lambda: kb.publish_version(session, published.id, 2, admin, clock.now()))
    assert error.field == "article_id"
    retire = session.scalars(select(AdminChange).where(AdminChange.action == "retire")).one()
    assert (retire.before["active"], retire.after["active"], retire.actor_id) == \
        (True, False, admin.id)


def test_the_word_diff_gives_back_both_texts_and_marks_only_what_changed() -> None:
    before = "城管执法人员一般在2小时内到场核查。\n先劝导。"
    after = "城管执法人员一般在1小时内到场核查。\n先劝导，再责令改正。"
    runs = kb.word_diff(before, after)
    assert "".join(r["text"] for r in runs if r["op"] != "insert") == before
    assert "".join(r["text"] for r in runs if r["op"] != "delete") == after
    changed = [(r["op"], r["text"]) for r in runs if r["op"] != "equal"]
    assert ("delete", "2") in changed and ("insert", "1") in changed
    assert all("城管" not in text for _, text in changed)
    assert kb.word_diff("同样的文字", "同样的文字") == [{"op": "equal", "text": "同样的文字"}]
    assert kb.word_diff("", "新写的") == [{"op": "insert", "text": "新写的"}]
