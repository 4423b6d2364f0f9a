"""Callbacks over HTTP: the queue by role with masking, the SMS gateway's reply hook (its
refusals writing nothing, the same reply id twice recorded once), and a WeChat "1" recorded as
the callback answer instead of opening a new demand."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import web.api.callbacks  # registers GET /api/v1/callbacks before any app is created
import web.hooks.sms
import web.hooks.wechat
from dispatch.core.models import Contact, Ticket
from tests.web.conftest import dispatched, error_of, personal_reads
from tests.web.test_wechat_hook import AES_KEY, ALICE, APP_ID, BOB, TOKEN, Server

QUEUE = "/api/v1/callbacks"
REPLIES = "/hooks/sms/replies"
GATEWAY = "gateway-secret-短信"
PHONE, OTHER = "13800138000", "13900139000"


@pytest.fixture
def cb_app(app):
    app.config.update(SMS_GATEWAY_TOKEN=GATEWAY, WECHAT_TOKEN=TOKEN, WECHAT_AES_KEY=AES_KEY,
                      WECHAT_APP_ID=APP_ID)
    for bp in (web.hooks.sms.bp, web.hooks.wechat.bp):
        if bp.name not in app.blueprints:  # until create_app registers them
            app.register_blueprint(bp)
    return app


def reviewed(api, **fields) -> dict:
    """A ticket taken through handling to REVIEWED by the demo users."""
    t = dispatched(api, **fields)
    n, v = t["number"], t["version"]
    for user, action, payload in (("handler1", "sign", {}),
                                  ("handler1", "complete", {"result": "已清理占道摊点"}),
                                  ("dispatcher1", "review_accept", {})):
        r = api.act(user, n, action, version=v, **payload)
        assert r.status_code == 200, (action, r.get_json())
        v = r.get_json()["version"]
    assert r.get_json()["status"] == "REVIEWED"
    return r.get_json()


def ticket(app, number: str) -> Ticket:
    from web.extensions import db

    with app.app_context():
        t = db.session.scalar(select(Ticket).where(Ticket.number == number))
        db.session.expunge_all()
        return t


def contacts(app) -> list[Contact]:
    from web.extensions import db

    with app.app_context():
        rows = list(db.session.scalars(select(Contact).order_by(Contact.id)))
        db.session.expunge_all()
        return rows


def reply(client, body, *, token: str | None = GATEWAY, **kw):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post(REPLIES, json=body, headers=headers, **kw)


# ---------------------------------------------------------------- the queue


def test_queue_lists_awaiting_tickets_by_deadline_masked_by_role(cb_app, long_tokens, api,
                                                                  clock, app):
    first = reviewed(api)
    clock.advance(days=3)
    secret = reviewed(api, citizen={"name": "李四", "phone": OTHER, "confidential": True})
    api.create()  # NEW: not in the queue

    r = api.get("operator1", QUEUE)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["total"], body["limit"], body["offset"]) == (2, 50, 0)
    assert [i["number"] for i in body["items"]] == [first["number"], secret["number"]]
    assert [i["callback"]["overdue"] for i in body["items"]] == [True, False]
    assert [i["callback"]["attempts"] for i in body["items"]] == [0, 0]
    assert {i["department"] for i in body["items"]} == {"urban_management"}
    # Operators make the calls: they see every phone, the confidential one included.
    assert [i["citizen"]["phone"] for i in body["items"]] == [PHONE, OTHER]
    assert personal_reads(app)[-2:] == [("operator1", first["number"]),
                                        ("operator1", secret["number"])]
    for user in ("dispatcher1", "supervisor1"):
        items = api.get(user, QUEUE).get_json()["items"]
        assert items[0]["citizen"]["phone"] == PHONE
        assert items[1]["citizen"] == {**items[1]["citizen"], "hidden": True, "phone": None,
                                       "name": None}
    page = api.get("operator1", QUEUE + "?limit=1&offset=1").get_json()
    assert [i["number"] for i in page["items"]] == [secret["number"]]
    for user in ("handler1", "worker1", "leader1"):
        error_of(api.get(user, QUEUE), 403, "forbidden")
    error_of(api.get("operator1", QUEUE + "?limit=0"), 400, "invalid", "limit")
    assert cb_app.test_client().get(QUEUE).status_code == 401


# ---------------------------------------------------------------- SMS replies


def test_sms_reply_refusals_write_nothing(cb_app, client, api, unchanged):
    t = reviewed(api)
    good = {"from": PHONE, "text": "1", "id": "sms-1"}
    with unchanged(t["number"]):
        assert reply(client, good, token=None).status_code == 401
        error_of(reply(client, good, token="guessed"), 401, "unauthorized")
        r = client.post(REPLIES, json=good, headers={"Authorization": f"Basic {GATEWAY}"})
        assert r.status_code == 401
        error_of(reply(client, {"text": "1", "id": "x"}), 400, "invalid", "from")
        error_of(reply(client, {"from": PHONE, "text": "1"}), 400, "invalid", "id")
        error_of(reply(client, {**good, "text": "1\x00"}), 400, "invalid", "text")
        r = client.post(REPLIES, data="1", content_type="text/plain",
                        headers={"Authorization": f"Bearer {GATEWAY}"})
        assert r.status_code == 415
        cb_app.config["SMS_GATEWAY_TOKEN"] = None
        error_of(reply(client, good), 503, "unavailable")
    assert ticket(cb_app, t["number"]).status == "REVIEWED"


def test_sms_reply_is_recorded_once_by_its_id(cb_app, client, api):
    t = reviewed(api)
    body = {"from": "+86 138 0013 8000", "text": "３ 没解决", "id": "gw-777", "extra": 1}
    r = reply(client, body)
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"id": "gw-777", "result": "recorded", "duplicate": False}
    after = ticket(cb_app, t["number"])
    assert (after.status, after.satisfaction, after.resolved, after.supervised) == (
        "REOPENED", "dissatisfied", False, True)
    again = reply(client, body)
    assert again.get_json() == {"id": "gw-777", "result": "recorded", "duplicate": True}
    assert ticket(cb_app, t["number"]).version == after.version
    (contact,) = contacts(cb_app)[-1:]
    assert (contact.channel, contact.external_id, contact.phone, contact.ticket_id) == (
        "phone", "sms:gw-777", PHONE, after.id)
    assert sum(c.external_id == "sms:gw-777" for c in contacts(cb_app)) == 1


def test_sms_reply_that_is_no_answer_is_logged_and_changes_no_ticket(cb_app, client, api):
    t = reviewed(api)
    before = ticket(cb_app, t["number"])
    r = reply(client, {"from": PHONE, "text": "你们是谁？", "id": "gw-1"})
    assert r.get_json()["result"] == "unrecognised"
    r = reply(client, {"from": OTHER, "text": "1", "id": "gw-2"})
    assert r.get_json()["result"] == "no_ticket"
    assert ticket(cb_app, t["number"]).version == before.version
    logged = {c.external_id: (c.ticket_id, c.note) for c in contacts(cb_app)}
    assert logged["sms:gw-1"] == (before.id, "短信回复：你们是谁？")
    assert logged["sms:gw-2"] == (None, "短信回复：1")
    assert reply(client, {"from": OTHER, "text": "1", "id": "gw-2"}).get_json() == {
        "id": "gw-2", "result": "no_ticket", "duplicate": True}


# ---------------------------------------------------------------- WeChat answers


def test_a_wechat_1_is_recorded_as_the_callback_answer(cb_app, api):
    server = Server(cb_app.test_client())
    t = reviewed(api, citizen={"openid": ALICE})
    msg_id = server.msg_id()
    _, text = server.send(ALICE, "text", Content="1", msg_id=msg_id)
    assert text.startswith("感谢您的评价") and t["number"] in text
    after = ticket(cb_app, t["number"])
    assert (after.status, after.satisfaction, after.resolved) == ("ARCHIVED", "satisfied", True)
    # The same push again: the same reply, nothing new.
    count = len(contacts(cb_app))
    _, again = server.send(ALICE, "text", Content="1", msg_id=msg_id)
    assert again == text and len(contacts(cb_app)) == count
    assert ticket(cb_app, t["number"]).version == after.version
    # Nothing awaits now: a text is a demand again.
    _, text = server.send(ALICE, "text", Content="小区门口路灯不亮，晚上很黑")
    assert text.startswith("您的诉求已受理")


def test_a_wechat_demand_while_a_callback_awaits_still_opens_a_ticket(cb_app, api):
    server = Server(cb_app.test_client())
    t = reviewed(api, citizen={"openid": BOB})
    _, text = server.send(BOB, "text", Content="楼下烧烤店油烟太大，晚上十点还在营业")
    assert text.startswith("您的诉求已受理")
    assert ticket(cb_app, t["number"]).status == "REVIEWED"
