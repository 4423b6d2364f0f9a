"""WeChat bursts: a message the hook cannot take through the whole intake in time is held (one
row in the WeChat inbox, keyed by its MsgId), answered at once that the ticket number follows,
and processed off the request into one ticket and one customer-service message with its number;
a retry stores nothing; an emergency is never held."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from integrations.wechat import mapping
from integrations.wechat.conversation import CUSTOMER_SERVICE
from integrations.wechat.fake import message_xml
from tests.web.test_wechat_hook import (  # noqa: F401  (fixtures)
    ACCOUNT,
    ALICE,
    BOB,
    TS,
    Server,
    _number_in,
    _tickets,
    server,
    wechat_app,
    wx,
)
from workers.rounds import inbox_round


@pytest.fixture
def burst(wechat_app):  # noqa: F811
    """Every deferrable message is held: the request's time budget is spent from the start."""
    wechat_app.config["WECHAT_BUDGET_SECONDS"] = 0
    return wechat_app


def _held(app) -> list:
    from integrations.wechat.inbox import HeldMessage
    from web.extensions import db

    with app.app_context():
        rows = db.session.scalars(select(HeldMessage).order_by(HeldMessage.id)).all()
        db.session.expunge_all()
        return rows


def _follow_ups(app) -> list:
    from dispatch.outbound.outbox import OutboxMessage
    from web.extensions import db

    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.topic == CUSTOMER_SERVICE).order_by(OutboxMessage.id)).all()
        db.session.expunge_all()
        return rows


def _contacts(app, msg_id: str) -> int:
    from dispatch.core.models import Contact
    from web.extensions import db

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Contact).where(
            Contact.external_id == msg_id))


@pytest.mark.parametrize("safe", [False, True], ids=["plain", "safe"])
def test_a_held_demand_is_stored_once_answered_at_once_and_its_number_follows(
        server: Server, burst, safe):  # noqa: F811
    _, reply = server.send(ALICE, "text", safe=safe, msg_id="6200000000000000001",
                           Content="小区门口路灯不亮，晚上很黑")
    assert reply == mapping.HELD and "工单编号" in reply
    [row] = _held(burst)
    assert (row.msg_id, row.openid, row.processed_at) == ("6200000000000000001", ALICE, None)
    assert _tickets(burst) == [] and _follow_ups(burst) == []

    report = inbox_round(burst)
    assert (report.processed, report.failed, report.more) == (1, 0, False)
    [ticket] = _tickets(burst)
    assert (ticket.channel, ticket.citizen_openid, ticket.text) == (
        "wechat", ALICE, "小区门口路灯不亮，晚上很黑")
    assert _contacts(burst, "6200000000000000001") == 1
    [row] = _held(burst)
    assert row.processed_at is not None and row.ticket_number == ticket.number
    [notice] = _follow_ups(burst)
    assert notice.ticket_id == ticket.id
    assert notice.payload["touser"] == ALICE
    assert notice.payload["text"]["content"] == mapping.accepted(ticket.number)
    assert notice.payload["ticket_no"] == ticket.number
    # A second round finds nothing: one ticket, one follow-up.
    assert inbox_round(burst).processed == 0
    assert len(_tickets(burst)) == 1 and len(_follow_ups(burst)) == 1
    # WeChat retrying after the processing gets the number itself.
    _, again = server.send(ALICE, "text", safe=safe, msg_id="6200000000000000001",
                           Content="小区门口路灯不亮，晚上很黑")
    assert _number_in(again) == ticket.number


def test_a_retry_during_the_deferral_stores_nothing_and_gets_the_same_answer(
        server: Server, burst):  # noqa: F811
    xml = message_xml(BOB, "text", account=ACCOUNT, create_time=int(TS),
                      Content="夜间施工噪音扰民", MsgId="6200000000000000002")
    bodies = []
    for _ in range(3):  # WeChat's retries, each with a fresh nonce
        r = server.post(xml)
        assert r.status_code == 200
        bodies.append(server.reply(r, BOB))
    assert bodies == [mapping.HELD] * 3
    assert len(_held(burst)) == 1 and _tickets(burst) == []
    inbox_round(burst)
    assert len(_tickets(burst)) == 1 and len(_follow_ups(burst)) == 1
    assert _contacts(burst, "6200000000000000002") == 1


def test_a_held_location_follows_its_held_demand_in_order(server: Server, burst):  # noqa: F811
    server.send(ALICE, "text", Content="井盖缺失，很危险")
    _, reply = server.send(ALICE, "image", PicUrl="https://example.com/a.jpg",
                           MediaId="m1")
    assert reply == mapping.HELD
    assert inbox_round(burst).processed == 2
    [ticket] = _tickets(burst)
    notices = _follow_ups(burst)
    assert [n.payload["text"]["content"] for n in notices] == [
        mapping.accepted(ticket.number), mapping.added(ticket.number, "图片")]


def test_an_emergency_is_never_held(server: Server, burst):  # noqa: F811
    from dispatch.triage.rules import load_classifier_rules
    from web.extensions import db

    with burst.app_context():
        load_classifier_rules(db.session)
        db.session.commit()
    _, reply = server.send(ALICE, "text", msg_id="6200000000000000003",
                           Content="小区门口有人持刀抢劫")
    assert "请立即拨打110" in reply
    [ticket] = _tickets(burst)
    assert ticket.number in reply
    assert _held(burst) == []


def test_a_query_is_answered_now_not_held(server: Server, burst):  # noqa: F811
    _, reply = server.send(ALICE, "text", Content="查询")
    assert reply == mapping.NO_OPEN_TICKETS
    assert _held(burst) == []


def test_with_time_to_spare_a_demand_is_not_held(server: Server, wechat_app):  # noqa: F811
    _, reply = server.send(ALICE, "text", Content="楼下烧烤店油烟太大")
    assert reply == mapping.accepted(_number_in(reply))
    assert _held(wechat_app) == []


def test_while_a_burst_is_on_a_demand_is_held_even_with_time_to_spare(
        server: Server, wechat_app):  # noqa: F811
    import time

    from web.hooks.wechat import _state

    with wechat_app.app_context():
        _state().last_hold = time.monotonic()  # a push was held just now
    _, reply = server.send(ALICE, "text", Content="楼下烧烤店油烟太大")
    assert reply == mapping.HELD
    assert len(_held(wechat_app)) == 1 and _tickets(wechat_app) == []
