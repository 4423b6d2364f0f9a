"""Callbacks on a real database: the queue by callback deadline, the SMS questionnaire owed
once per review, anonymous tickets archived without one, citizens' answers recorded by the
system (archive or reopen to the same department under supervision), replies that are not
answers changing nothing, and three failed tries ending unreachable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.models import Ticket
from dispatch.outbound import callbacks
from dispatch.outbound.callbacks import (
    QUESTIONNAIRE,
    callback_questionnaire,
    callback_queue,
    queue_size,
    record_citizen_answer,
)
from dispatch.outbound.outbox import OutboxMessage
from tests.service.conftest import URBAN

PHONE = "13800138000"
OPENID = "oCITIZEN_openid_0000000000001"


def questionnaires(session: Session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.topic == QUESTIONNAIRE)
                                .order_by(OutboxMessage.id)))


def answer(desk, text: str, *, phone: str | None = PHONE, openid: str | None = None,
           channel: str = "sms") -> callbacks.AnswerOutcome:
    outcome = record_citizen_answer(desk.session, phone=phone, openid=openid, text=text,
                                    channel=channel, now=desk.clock.now(),
                                    directory=desk.directory)
    desk.session.commit()
    return outcome


# ---------------------------------------------------------------- the queue


def test_queue_orders_by_callback_deadline_then_id_and_flags_overdue(desk):
    late, early, same = desk.completed(), desk.completed(), desk.completed()
    desk.intake()  # NEW: not awaiting a callback
    archived = desk.reviewed()
    desk.act(archived, "callback", "operator1", satisfaction="satisfied", resolved=True)
    desk.act(early, "review_accept", "dispatcher1")
    desk.clock.advance(days=2)
    desk.act(late, "review_accept", "dispatcher1")
    desk.act(same, "review_accept", "dispatcher1")
    desk.act(late, "callback", "operator1", reached=False)

    queue = callback_queue(desk.session, desk.clock.now(), limit=10, offset=0)
    assert [i.ticket.number for i in queue] == [early.number, late.number, same.number]
    assert [i.overdue for i in queue] == [True, False, False]
    assert [i.attempts for i in queue] == [0, 1, 0]
    assert queue[0].deadline == early.callback_deadline < queue[1].deadline
    assert queue[1].deadline == queue[2].deadline
    assert {i.department for i in queue} == {URBAN}
    assert queue_size(desk.session) == 3
    page = callback_queue(desk.session, desk.clock.now(), limit=1, offset=1)
    assert [i.ticket.number for i in page] == [late.number]


# ---------------------------------------------------------------- the questionnaire


def test_questionnaire_is_owed_once_per_review_with_the_phone_and_text(desk, session):
    t = desk.completed()
    assert questionnaires(session) == []
    desk.act(t, "review_accept", "dispatcher1")
    (row,) = questionnaires(session)
    key = f"{QUESTIONNAIRE}:{t.number}:1"
    assert (row.dedupe_key, row.ticket_id) == (key, t.id)
    assert row.payload == {"to": PHONE, "text": callback_questionnaire(t.number),
                           "ticket_no": t.number, "kind": "questionnaire", "ref": key}
    assert len(row.payload["text"]) <= 70
    # A failed try and a note leave the ticket REVIEWED: nothing is owed again.
    desk.act(t, "callback", "operator1", reached=False)
    desk.act(t, "note", "operator1", text="市民电话未接通")
    assert len(questionnaires(session)) == 1
    # Reopened, handled again and reviewed again: a second round owes a second message.
    desk.act(t, "callback", "operator1", satisfaction="dissatisfied", resolved=False)
    desk.act(t, "dispatch", "dispatcher1")
    desk.act(t, "sign", "handler1")
    desk.act(t, "complete", "handler1", result="再次清理并加强巡查")
    desk.act(t, "review_accept", "dispatcher1")
    assert [r.dedupe_key for r in questionnaires(session)] == [
        key, f"{QUESTIONNAIRE}:{t.number}:2"]


def test_sms_text_is_the_one_the_sms_adapter_exports(desk):
    from integrations.sms import callback_questionnaire as adapter_text
    from integrations.sms import parse_reply as adapter_parser

    assert adapter_text("12345-20261123-000001") == callback_questionnaire(
        "12345-20261123-000001")
    assert adapter_parser is callbacks.parse_reply


def test_anonymous_ticket_archives_without_callback_or_questionnaire(desk, session):
    t = desk.completed(citizen={"phone": PHONE, "anonymous": True})
    desk.act(t, "review_accept", "dispatcher1")
    assert (t.status, t.outcome) == ("ARCHIVED", "no_callback")
    assert questionnaires(session) == []
    assert callback_queue(session, desk.clock.now()) == []
    assert answer(desk, "1").result == "no_ticket"


@pytest.mark.parametrize(("citizen", "sent"), [
    ({"name": "张三", "phone": PHONE, "confidential": True}, False),
    ({"name": "张三", "phone": PHONE, "confidential": True, "direct_contact": True}, True),
    ({"openid": OPENID}, False),  # no phone: WeChat only, nothing to text
])
def test_confidential_without_consent_and_phoneless_tickets_get_no_sms(desk, session, citizen,
                                                                       sent):
    t = desk.reviewed(citizen=citizen)
    assert t.status == "REVIEWED"  # still owed a callback: an operator makes it
    assert len(questionnaires(session)) == int(sent)
    assert [i.ticket.number for i in callback_queue(session, desk.clock.now())] == [t.number]


# ---------------------------------------------------------------- answers


@pytest.mark.parametrize(("text", "satisfaction"), [
    ("1", "satisfied"), ("满意", "satisfied"), ("１，４", "satisfied"),
    ("基本满意", "basically_satisfied"),
])
def test_satisfied_answers_archive_the_ticket(desk, text, satisfaction):
    t = desk.reviewed()
    outcome = answer(desk, text)
    assert (outcome.result, outcome.ticket) == ("recorded", t)
    assert (t.status, t.outcome, t.satisfaction, t.resolved) == (
        "ARCHIVED", "callback", satisfaction, True)
    event = desk.events(t)[-1]
    assert (event.action, event.actor_role, event.actor_id) == ("callback", "system", None)
    assert event.payload["via"] == "sms"
    assert "短信" in event.reason


@pytest.mark.parametrize(("text", "satisfaction", "resolved"), [
    ("3", "dissatisfied", False),
    ("不满意", "dissatisfied", False),
    ("不满意，没解决", "dissatisfied", False),
    ("满意，但还没处理好", "satisfied", False),
    ("1 5", "satisfied", False),
])
def test_dissatisfied_or_unresolved_answers_reopen_to_the_same_department(desk, text,
                                                                           satisfaction,
                                                                           resolved):
    t = desk.reviewed()
    outcome = answer(desk, text)
    assert outcome.recorded
    assert (t.status, t.satisfaction, t.resolved, t.supervised) == (
        "REOPENED", satisfaction, resolved, True)
    assert desk.events(t)[-1].payload["previous_lead"] == URBAN
    r = desk.act(t, "dispatch", "dispatcher1")  # no lead given: back to the same department
    assert r.events[0].payload["lead"] == URBAN and r.events[0].payload["supervised"] is True


def test_a_wechat_answer_finds_the_ticket_by_openid(desk):
    t = desk.reviewed(citizen={"openid": OPENID})
    assert answer(desk, "2", phone=None, openid="oSOMEONE_ELSE").result == "no_ticket"
    outcome = answer(desk, "2", phone=None, openid=OPENID, channel="wechat")
    assert outcome.recorded and t.status == "ARCHIVED"
    assert desk.events(t)[-1].payload["via"] == "wechat"


def test_the_answer_goes_to_the_quoted_ticket_else_the_latest_reviewed(desk):
    first = desk.reviewed()
    desk.clock.advance(days=3)
    second = desk.reviewed()
    assert answer(desk, f"工单{first.number} 满意").ticket == first
    assert answer(desk, "不满意").ticket == second
    assert (first.status, second.status) == ("ARCHIVED", "REOPENED")


@pytest.mark.parametrize("text", [
    "", "   ", "你好", "4", "未解决", "1 不满意", "满意 不满意", "6",
    "路灯又坏了，快来修，这次希望能够彻底解决，不然我还要继续投诉",
])
def test_replies_that_are_not_a_clear_answer_change_nothing(desk, text):
    # "未解决" alone gives no satisfaction, which the callback must record: an operator asks.
    t = desk.reviewed()
    before = desk.snapshot(t)
    outcome = answer(desk, text)
    assert (outcome.result, outcome.ticket, outcome.events) == ("unrecognised", t, [])
    assert desk.snapshot(t) == before


def test_no_ticket_awaiting_a_callback_changes_nothing(desk, session):
    t = desk.completed()
    before = desk.snapshot(t)
    assert answer(desk, "1").result == "no_ticket"
    assert answer(desk, "1", phone="not a phone").result == "no_ticket"
    assert answer(desk, "1", phone=None).result == "no_ticket"
    assert desk.snapshot(t) == before


def test_the_phone_is_matched_whatever_its_format(desk):
    t = desk.reviewed()
    assert answer(desk, "1", phone="+86 138-0013-8000").ticket == t


def test_three_failed_operator_tries_archive_the_ticket_as_unreachable(desk, session):
    t = desk.reviewed()
    for attempt in (1, 2):
        desk.clock.advance(hours=2)
        desk.act(t, "callback", "operator1", reached=False)
        assert (t.status, t.callback_attempts) == ("REVIEWED", attempt)
        assert callback_queue(session, desk.clock.now())[0].attempts == attempt
    desk.act(t, "callback", "operator1", reached=False)
    assert (t.status, t.outcome, t.callback_attempts) == ("ARCHIVED", "unreachable", 3)
    assert desk.events(t)[-1].payload["unreachable"] is True
    assert callback_queue(session, desk.clock.now()) == []
    assert answer(desk, "1").result == "no_ticket"  # a late reply finds nothing awaiting


def test_an_answer_after_the_callback_deadline_is_still_recorded(desk):
    t = desk.reviewed()
    desk.clock.advance(days=10)
    assert callback_queue(desk.session, desk.clock.now())[0].overdue is True
    assert answer(desk, "1").recorded and t.status == "ARCHIVED"
    assert desk.session.get(Ticket, t.id).closed_at == desk.clock.now()
    assert t.closed_at - t.callback_deadline > timedelta(0)
