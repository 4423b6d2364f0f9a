"""Emergencies on the unattended channels over HTTP (DOMAIN.md, Triage): WeChat and Open311
answer "call 110" with the ticket number and the console hears an `alarm`; the alarm is
acknowledged by a dispatcher once; the triage settings (admin); 智能派单 taken back; 首接 on a
second transfer to 110. Refusals answer in Chinese and write nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from integrations.open311.fake import Open311App
from integrations.wechat.fake import FakeWeChatServer, message_xml
from tests.web.conftest import counts, error_of, ticket_state

TOKEN = "hotline-token"
ACCOUNT = "gh_hotline12345"
CITIZEN = "oCITIZEN_openid_0000000000001"
KEY = "test-open311-key"
POLICE_LEAF = "public_security.public_order.public_order_cases"
PLACE = "长垣市蒲东街道宏力大道与山海大道交叉口"
SETTINGS = "/api/v1/admin/triage-settings"
STAB = "有人拿刀砍人"
NUMBER = re.compile(r"12345-\d{8}-\d{6}")


@pytest.fixture
def channels(app, clock):
    """The app with the WeChat account and an Open311 key configured and the shipped
    classifier rules loaded (as `hotline db upgrade` does)."""
    from dispatch.triage.rules import load_classifier_rules
    from web.extensions import db

    app.config.update(WECHAT_TOKEN=TOKEN, OPEN311_API_KEYS=(KEY,))
    with app.app_context():
        load_classifier_rules(db.session)
        db.session.commit()
    return app


class WeChat:
    """The WeChat server pushing a citizen's messages; returns our passive reply."""

    def __init__(self, client, clock) -> None:
        self.client, self.clock = client, clock
        self.server = FakeWeChatServer(TOKEN)

    def send(self, text: str, msg_id: str | None = None) -> str:
        stamp = int(self.clock.now().timestamp())
        xml = message_xml(CITIZEN, "text", account=ACCOUNT, create_time=stamp, Content=text,
                          MsgId=msg_id or self.server.next_msg_id())
        args, body = self.server.push(xml, timestamp=str(stamp))
        r = self.client.post("/hooks/wechat", query_string=args, data=body,
                             content_type="text/xml")
        assert r.status_code == 200, r.get_data(as_text=True)
        return self.server.open_reply(r.data)["Content"]


@pytest.fixture
def wechat(channels, client, clock) -> WeChat:
    return WeChat(client, clock)


def console_events(app, number: str) -> list[tuple[str, str, dict]]:
    """The console feed of one ticket: (type, action, summary), in order."""
    from dispatch.console.feed import ConsoleEvent
    from dispatch.core.models import Ticket
    from web.extensions import db

    with app.app_context():
        tid = db.session.scalar(select(Ticket.id).where(Ticket.number == number))
        rows = db.session.scalars(select(ConsoleEvent).where(ConsoleEvent.ticket_id == tid)
                                  .order_by(ConsoleEvent.id)).all()
        return [(r.type, r.action, r.summary) for r in rows]


def alarmed(wechat: WeChat) -> str:
    reply = wechat.send(STAB)
    match = NUMBER.search(reply)
    assert match, reply
    return match.group(0)


# ---------------------------------------------------------------- the channels


def test_wechat_knife_attack_is_answered_call_110_with_the_number_and_alarms_the_console(
        channels, wechat, publisher):
    msg_id = wechat.server.next_msg_id()
    reply = wechat.send(STAB, msg_id)
    number = NUMBER.search(reply).group(0)
    assert "立即拨打110" in reply and number in reply
    assert "您的诉求已受理" not in reply
    feed = console_events(channels, number)
    assert [(t, a) for t, a, _ in feed] == [("created", "intake"), ("alarm", "raise_alarm")]
    assert feed[-1][2]["alarm"] == "raised" and feed[-1][2]["queues"][0] == "alarm"
    assert [e.action for e in publisher.published][-2:] == ["intake", "raise_alarm"]
    # WeChat retries a push it got no answer to: the same reply, nothing written.
    before = counts(channels)
    assert wechat.send(STAB, msg_id) == reply
    assert counts(channels) == before


def test_an_ordinary_wechat_demand_gets_the_ordinary_answer(channels, wechat):
    reply = wechat.send("小区门口路灯不亮，晚上很黑")
    assert "您的诉求已受理" in reply and "110" not in reply
    number = NUMBER.search(reply).group(0)
    assert [t for t, _, _ in console_events(channels, number)] == ["created"]


def test_open311_emergency_notice_says_call_110_with_the_number(channels, client):
    o311 = Open311App(client, KEY)
    r = o311.report(POLICE_LEAF, "小区楼下有人拿刀砍人，地上很多血", address_string=PLACE)
    assert r.status_code == 200, r.get_data(as_text=True)
    [created] = o311.body(r)
    number = created["service_request_id"]
    notice = created["service_notice"]
    assert "立即拨打110" in notice and "120" in notice and number in notice
    assert [t for t, _, _ in console_events(channels, number)] == ["created", "alarm"]
    xml = o311.report(POLICE_LEAF, "有人拿刀砍人", "xml", address_string=PLACE)
    [created] = o311.body(xml)
    assert "110" in created["service_notice"] and created["service_request_id"] in \
        created["service_notice"]


def test_with_auto_transfer_110_the_reply_says_it_went_to_110(channels, wechat, api):
    r = api.put("admin1", SETTINGS, json={"auto_transfer_110": True})
    assert r.status_code == 200, r.get_json()
    reply = wechat.send(STAB)
    number = NUMBER.search(reply).group(0)
    assert "转交110" in reply
    ticket = api.get("dispatcher1", f"/api/v1/tickets/{number}").get_json()
    assert ticket["status"] == "TRANSFERRED_110"
    assert [t for t, _, _ in console_events(channels, number)] == [
        "created", "alarm", "transfer"]


# ---------------------------------------------------------------- acknowledgement


def test_a_dispatcher_acknowledges_once_then_409_in_chinese_and_nothing_written(
        channels, wechat, api, unchanged):
    number = alarmed(wechat)
    r = api.act("dispatcher1", number, "acknowledge_alarm")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["events"][-1]["action"] == "acknowledge_alarm"
    assert console_events(channels, number)[-1][2]["alarm"] == "acknowledged"
    version = r.get_json()["version"]
    with unchanged(number):
        error = error_of(api.act("dispatcher1", number, "acknowledge_alarm", version), 409,
                         "conflict")
        assert "无需重复确认" in error["message"]
        for user in ("operator1", "leader1"):
            error_of(api.act(user, number, "acknowledge_alarm", version), 403, "forbidden")


def test_the_alarm_escalates_after_60_seconds_and_the_console_hears_it(channels, wechat,
                                                                      clock):
    from dispatch.tickets.alarm_clock import sweep_alarms
    from web.extensions import db

    number = alarmed(wechat)
    clock.advance(seconds=61)
    with channels.app_context():
        report = sweep_alarms(db.session, clock.now())
        db.session.remove()
    assert report.escalated == (number,)
    last = console_events(channels, number)[-1]
    assert last[:2] == ("alarm_escalated", "escalate_alarm")
    assert last[2]["alarm"] == "escalated" and "alarm" in last[2]["queues"]


# ---------------------------------------------------------------- triage settings


def test_admins_read_and_replace_the_triage_settings(channels, api):
    r = api.get("dispatcher1", SETTINGS)
    assert r.status_code == 200
    assert r.get_json() == {"auto_transfer_110": False, "alarm_escalation_seconds": 60,
                            "auto_dispatch": {}, "category_names": {}}
    r = api.put("admin1", SETTINGS, json={"auto_dispatch": {"utilities.water": 0.85}})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["auto_dispatch"] == {"utilities.water": 0.85}
    assert r.get_json()["category_names"] == {"utilities.water": "供水"}
    assert api.get("admin1", SETTINGS).get_json()["auto_dispatch"] == {"utilities.water": 0.85}
    # recorded in the log of admin changes, before → after
    changes = api.get("admin1", "/api/v1/admin/audit",
                      query_string={"kind": "changes", "action": "triage_settings"}).get_json()
    (change,) = changes["items"]
    assert change["user"] == api.get("admin1", "/api/v1/auth/me").get_json()["display_name"]
    assert [f for f in change["changes"] if f["field"] == "auto_dispatch"]


@pytest.mark.parametrize("user, body, status, code, field", [
    ("admin1", {"auto_dispatch": {"utilities.water": 1.2}}, 400, "invalid",
     "auto_dispatch.utilities.water"),
    ("admin1", {"auto_dispatch": {"nowhere": 0.9}}, 400, "invalid", "auto_dispatch.nowhere"),
    ("admin1", {"alarm_escalation_seconds": 0}, 400, "invalid", "alarm_escalation_seconds"),
    ("admin1", {"auto_transfer_110": 1}, 400, "invalid", "auto_transfer_110"),
    ("admin1", [], 400, "invalid", None),
    ("dispatcher1", {"auto_transfer_110": True}, 403, "forbidden", None),
])
def test_bad_triage_settings_are_refused_and_nothing_is_written(channels, api, unchanged,
                                                                user, body, status, code,
                                                                field):
    with unchanged():
        error = error_of(api.put(user, SETTINGS, json=body), status, code, field)
    if status == 400:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in error["message"])


# ---------------------------------------------------------------- 智能派单 and 首接


def test_an_auto_dispatched_ticket_is_marked_and_a_dispatcher_takes_it_back(channels, api,
                                                                            unchanged):
    from grid import catalogue as cat
    from web.extensions import db

    with channels.app_context():
        cat.create_rule(db.session, {"category": "utilities.water", "lead": "water_supply"},
                        None)
        db.session.commit()
    assert api.put("admin1", SETTINGS, json={"auto_dispatch": {"utilities": 0.6}}).status_code \
        == 200
    t = api.create(text="小区停水两天了，一直没有来水", category="utilities.water",
                   type="complaint")
    assert (t["status"], t["version"]) == ("DISPATCHED", 2), t["events"]
    dispatch = t["events"][-1]
    assert dispatch["action"] == "dispatch" and dispatch["payload"]["dispatched_by"] == "auto"
    assert dispatch["payload"]["reasons"]
    assert console_events(channels, t["number"])[-1][2]["auto_dispatched"] is True
    assert "take_back" in api.get("dispatcher1", f"/api/v1/tickets/{t['number']}"
                                  ).get_json()["actions"]
    with unchanged(t["number"]):
        error_of(api.act("operator1", t["number"], "take_back", t["version"]), 403, "forbidden")
    r = api.act("dispatcher1", t["number"], "take_back", reason="应由物业维修")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "NEW"
    assert console_events(channels, t["number"])[-1][2]["auto_dispatched"] is False


def test_first_receiver_keeps_what_110_rejected_unless_a_supervisor_arbitrates(channels, api,
                                                                               unchanged):
    t = api.create(text="有人在小区门口打架", urgency="urgent")
    number = t["number"]
    assert api.act("operator1", number, "transfer_110", reason="涉警").status_code == 200
    r = api.act("police1", number, "police_reject", reason="非警情")
    assert r.status_code == 200
    version = r.get_json()["version"]
    with unchanged(number):
        error = error_of(api.act("dispatcher1", number, "transfer_110", version, reason="再转"),
                         409, "conflict")
        assert "首接" in error["message"] and "非警情" in error["message"]
        error_of(api.act("supervisor1", number, "transfer_110", version, reason="再转"), 409,
                 "conflict", "arbitration")
    before = ticket_state(channels, number)
    r = api.act("supervisor1", number, "transfer_110", version,
                arbitration="现场有人持械，协调后转110")
    assert r.status_code == 200, r.get_json()
    shown = r.get_json()
    assert shown["status"] == "TRANSFERRED_110"
    assert shown["events"][-1]["payload"]["arbitration"] == "现场有人持械，协调后转110"
    assert ticket_state(channels, number)["events"] == before["events"] + 1
