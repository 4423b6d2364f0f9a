"""WeChat outbound through the outbox, with `FakeWeChatApi` over real HTTP: a WeChat citizen's
ticket dispatched → "已派单" as a customer-service message; reviewed → "已办结，请评价" and the
questionnaire, answered on WeChat; the ticket number owed after a burst delivered; a transient
error retried with back-off, a permanent one dead with its reason; unconfigured, a notice goes
by its SMS fallback or waits, and /healthz says so; a phone citizen's questionnaire stays an SMS."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from dispatch.outbound.callbacks import QUESTIONNAIRE
from dispatch.outbound.citizen_notices import TOPIC as NOTICE
from dispatch.outbound.citizen_notices import dispatched_text, questionnaire_text
from integrations.wechat import mapping
from integrations.wechat.client import CUSTOMER_SERVICE, MemoryTokenCache
from integrations.wechat.fake import FakeWeChatApi
from tests.web.test_wechat_burst import burst  # noqa: F401  (fixture)
from tests.web.test_wechat_hook import (  # noqa: F401  (fixtures)
    ALICE,
    APP_ID,
    Server,
    _number_in,
    server,
    wechat_app,
    wx,
)
from workers.rounds import deliver_round, inbox_round

URBAN = "urban_management"
DISPATCH = {"lead": URBAN, "type": "help", "category": "urban.appearance.street_vending"}


@pytest.fixture
def fake(wechat_app, monkeypatch):  # noqa: F811
    """The fake API, the app pointed at it; a token cache of this test's own."""
    import integrations.wechat.client

    monkeypatch.setattr(integrations.wechat.client, "_PROCESS_CACHE", MemoryTokenCache())
    with FakeWeChatApi(app_id=APP_ID) as api:
        wechat_app.config.update(WECHAT_APP_SECRET=api.secret, WECHAT_API_BASE=api.base_url)
        yield api


def rows(app, topic: str) -> list:
    from dispatch.outbound.outbox import OutboxMessage
    from web.extensions import db

    with app.app_context():
        found = db.session.scalars(select(OutboxMessage).where(OutboxMessage.topic == topic)
                                   .order_by(OutboxMessage.id)).all()
        db.session.expunge_all()
        return list(found)


def wechat_ticket(server: Server) -> str:  # noqa: F811
    _, reply = server.send(ALICE, "text", Content="小区门口有人占道经营，堵住了出口")
    return _number_in(reply)


def test_a_dispatched_wechat_ticket_tells_the_citizen_on_wechat(
        server: Server, fake, api, clock, tokens):  # noqa: F811
    number = wechat_ticket(server)
    assert rows(server.client.application, NOTICE) == []
    r = api.act("dispatcher1", number, "dispatch", **DISPATCH)
    assert r.status_code == 200, r.get_json()
    [row] = rows(server.client.application, NOTICE)
    assert row.payload["kind"] == "dispatched" and row.payload["touser"] == ALICE
    report = deliver_round(server.client.application, clock.now())
    assert report.delivered == (row.id,)
    [body] = fake.sent("custom")
    assert body == {"touser": ALICE, "msgtype": "text",
                    "text": {"content": dispatched_text(number)}}
    assert "已派单" in body["text"]["content"]
    [row] = rows(server.client.application, NOTICE)
    assert row.receipt["via"] == "customer_service"
    assert deliver_round(server.client.application, clock.now()).delivered == ()
    assert len(fake.sent("custom")) == 1


def test_a_reviewed_wechat_ticket_gets_the_questionnaire_on_wechat_and_the_answer_counts(
        server: Server, fake, api, clock, tokens):  # noqa: F811
    app = server.client.application
    number = wechat_ticket(server)
    for user, action, payload in (("dispatcher1", "dispatch", DISPATCH),
                                  ("handler1", "sign", {}),
                                  ("handler1", "complete", {"result": "已清理占道摊位"}),
                                  ("dispatcher1", "review_accept", {})):
        r = api.act(user, number, action, **payload)
        assert r.status_code == 200, (action, r.get_json())
    assert rows(app, QUESTIONNAIRE) == []  # not an SMS: the citizen wrote on WeChat
    assert [r.payload["kind"] for r in rows(app, NOTICE)] == ["dispatched", "questionnaire"]
    assert len(deliver_round(app, clock.now()).delivered) == 2
    texts = [b["text"]["content"] for b in fake.sent("custom")]
    assert texts == [dispatched_text(number), questionnaire_text(number)]
    assert "已办结，请评价" in texts[1]
    _, reply = server.send(ALICE, "text", Content="1")
    assert number in reply and "感谢您的评价" in reply
    view = api.get("dispatcher1", f"/api/v1/tickets/{number}").get_json()
    assert view["status"] == "ARCHIVED"


def test_a_phone_citizens_questionnaire_stays_an_sms(app, api, clock, tokens):
    t = api.create()
    for user, action, payload in (("dispatcher1", "dispatch", DISPATCH),
                                  ("handler1", "sign", {}),
                                  ("handler1", "complete", {"result": "已清理"}),
                                  ("dispatcher1", "review_accept", {})):
        assert api.act(user, t["number"], action, **payload).status_code == 200
    assert len(rows(app, QUESTIONNAIRE)) == 1 and rows(app, NOTICE) == []


def test_the_number_owed_after_a_burst_is_delivered(server: Server, burst, fake, clock):  # noqa: F811
    _, reply = server.send(ALICE, "text", Content="小区门口路灯不亮，晚上很黑")
    assert reply == mapping.HELD
    assert inbox_round(burst).processed == 1
    [row] = rows(burst, CUSTOMER_SERVICE)
    number = row.payload["ticket_no"]
    assert deliver_round(burst, clock.now()).delivered == (row.id,)
    [body] = fake.sent("custom")
    assert body["touser"] == ALICE and body["text"]["content"] == mapping.accepted(number)
    [row] = rows(burst, CUSTOMER_SERVICE)
    assert row.delivered_at is not None and row.attempts == 1


def test_a_transient_error_is_retried_with_back_off(
        server: Server, fake, api, clock, tokens):  # noqa: F811
    app = server.client.application
    number = wechat_ticket(server)
    api.act("dispatcher1", number, "dispatch", **DISPATCH)
    fake.failures = [-1]  # 系统繁忙
    report = deliver_round(app, clock.now())
    assert len(report.retried) == 1 and report.delivered == ()
    [row] = rows(app, NOTICE)
    assert row.attempts == 1 and row.due_at > clock.now() and "系统繁忙" in row.last_error
    assert deliver_round(app, clock.now()).retried == ()  # not due yet
    clock.advance(seconds=30)
    assert len(deliver_round(app, clock.now()).delivered) == 1
    [row] = rows(app, NOTICE)
    assert row.attempts == 2 and row.last_error is None and not row.dead
    assert [b["text"]["content"] for b in fake.sent("custom")] == [dispatched_text(number)]


def test_a_permanent_error_marks_the_row_dead_with_its_reason(
        server: Server, fake, api, clock, tokens):  # noqa: F811
    app = server.client.application
    number = wechat_ticket(server)
    api.act("dispatcher1", number, "dispatch", **DISPATCH)
    fake.failures = [43004]  # the citizen unfollowed; no template, no phone
    report = deliver_round(app, clock.now())
    assert len(report.dead) == 1
    [row] = rows(app, NOTICE)
    assert row.dead and row.delivered_at is None
    assert "43004" in row.last_error and "用户未关注公众号" in row.last_error
    assert "无手机号" in row.last_error
    clock.advance(hours=2)
    assert deliver_round(app, clock.now()).dead == ()  # never tried again


def test_outside_48_hours_without_a_template_a_citizen_with_a_phone_gets_an_sms(
        server: Server, fake, api, clock, tokens):  # noqa: F811
    from integrations.sms.fake import RecordingSms
    from web.services import services

    app = server.client.application
    number = wechat_ticket(server)
    with app.app_context():
        from dispatch.core.models import Contact, Ticket
        from web.extensions import db

        db.session.scalar(select(Ticket).where(Ticket.number == number)).citizen_phone = (
            "13900139000")
        for contact in db.session.scalars(select(Contact).where(Contact.openid == ALICE)):
            contact.received_at -= timedelta(hours=49)  # the citizen wrote 49 hours ago
        db.session.commit()
        services().sms = sms = RecordingSms()
    api.act("dispatcher1", number, "dispatch", **DISPATCH)
    assert len(deliver_round(app, clock.now()).delivered) == 1
    assert fake.sent("custom") == [] and fake.sent("subscribe") == []
    [text] = sms.texts_to("13900139000")
    assert number in text and "已派单" in text
    [row] = rows(app, NOTICE)
    assert row.receipt["via"] == "sms"


def test_unconfigured_a_notice_goes_by_sms_or_waits_and_healthz_says_so(
        server: Server, api, clock, tokens):  # noqa: F811
    from integrations.sms.fake import RecordingSms
    from web.services import services

    app = server.client.application
    assert app.config.get("WECHAT_APP_SECRET") is None
    number = wechat_ticket(server)
    api.act("dispatcher1", number, "dispatch", **DISPATCH)
    # No phone to fall back to: the notice waits for the account (retried, never dead).
    assert deliver_round(app, clock.now()).delivered == ()
    [row] = rows(app, NOTICE)
    assert row.delivered_at is None and not row.dead and "等待配置" in row.last_error
    assert row.due_at > clock.now()
    body = app.test_client().get("/healthz").get_json()
    assert (body["status"], body["wechat_outbound"], body["wechat_waiting"]) == (
        "ok", "unconfigured", 1)
    # A citizen with a phone gets the notice by SMS, as the questionnaire went before.
    second = wechat_ticket(server)
    with app.app_context():
        from dispatch.core.models import Ticket
        from web.extensions import db

        db.session.scalar(select(Ticket).where(Ticket.number == second)).citizen_phone = (
            "13900139000")
        db.session.commit()
        services().sms = sms = RecordingSms()
    api.act("dispatcher1", second, "dispatch", **DISPATCH)
    assert len(deliver_round(app, clock.now()).delivered) == 1
    [text] = sms.texts_to("13900139000")
    assert second in text and "已派单" in text
    assert [r.receipt["via"] for r in rows(app, NOTICE) if r.delivered_at] == ["sms"]
