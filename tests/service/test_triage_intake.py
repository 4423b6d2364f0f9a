"""What intake does with the classifier's judgement (DOMAIN.md, Triage): the alarm of an
emergency on an unattended channel (the citizen's advice, acknowledgement, escalation after
60 s by the sweep, `auto_transfer_110`), automatic dispatch (智能派单) by per-category
confidence, taking it back, and 首接 on a second transfer to 110. Every refusal writes nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import func, select

from dispatch.console.views import event_type
from dispatch.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from dispatch.core.models import Assignment, Event, Setting, Ticket
from dispatch.core.ports import IntakePorts, Suggestion
from dispatch.intake import alarms, autodispatch
from dispatch.intake.pipeline import intake
from dispatch.outbound.outbox import OutboxMessage
from dispatch.tickets.alarm_clock import sweep_alarms
from dispatch.triage.rules import RuleClassifier, rules_from_file
from grid.catalogue import create_rule
from grid.service import GridRouting
from tests.service.test_available_actions import offered

CATALOGUE = json.loads(
    (__import__("pathlib").Path(__file__).resolve().parents[2] / "grid" / "data"
     / "demo_catalogue.json").read_text(encoding="utf-8"))
STAB = "有人拿刀砍人，流了很多血"
WATER = "小区停水两天了，一直没有来水"


@dataclass(frozen=True)
class Judged(Suggestion):
    """A suggestion with the learned classifier's extra fields (they may also be on
    `Suggestion` itself, once the model is in)."""

    confidence: dict[str, float] = field(default_factory=dict)
    emergency: bool = False
    model: str = "test-model"


@dataclass
class Says:
    """A classifier that says what the test wants, whatever the text."""

    suggestion: Any

    def suggest(self, text: str) -> Any:
        return self.suggestion


def water(confidence: float, **fields: Any) -> Judged:
    base: dict[str, Any] = {"type": "complaint", "category": "utilities.water",
                            "urgency": "normal", "police_matter": False,
                            "reasons": ("“停水” → 分类 utilities.water (+5)",),
                            "confidence": {"category": confidence, "type": 0.9}}
    base.update(fields)
    return Judged(**base)


@pytest.fixture
def catalogue(session):
    """The demo dispatch catalogue's county-wide rules (functional departments need no grid)."""
    for rule in CATALOGUE:
        if rule.get("area") is None:
            create_rule(session, rule, None)
    session.commit()


def ports(session, clock, directory, classifier: Any = None) -> IntakePorts:
    grid = GridRouting(session, clock.now())
    return IntakePorts(classifier or RuleClassifier(rules_from_file()), grid, grid,
                       respond=True, directory=directory)


def log(desk, *, channel: str = "wechat", text: str = STAB, classifier: Any = None,
        user: str = "operator1", **fields: Any):
    """One demand through intake with the judgement acted on; committed."""
    data = {"channel": channel, "text": text,
            "citizen": fields.pop("citizen", {"openid": "oCITIZEN"}), **fields}
    actor = desk.actors[user] if channel == "phone" else alarms.ALARM_ACTOR
    result = intake(desk.session, data, actor, now=desk.clock.now(),
                    ports=ports(desk.session, desk.clock, desk.directory, classifier))
    desk.session.commit()
    return result


def settings(desk, **values: Any) -> None:
    autodispatch.set_settings(desk.session, values, None)
    desk.session.commit()


def actions(desk, ticket: Ticket) -> list[str]:
    return [e.action for e in desk.events(ticket)]


# ---------------------------------------------------------------- the alarm


def test_an_emergency_on_wechat_raises_the_alarm_and_tells_the_citizen_to_call_110_and_120(desk):
    result = log(desk)
    t = result.ticket
    assert t.status == "NEW" and t.police_matter and t.urgency == "critical"
    assert t.alarm_raised_at == desk.clock.now() and t.alarm_acknowledged_at is None
    assert actions(desk, t) == ["intake", "raise_alarm"]
    raised = desk.events(t)[1]
    assert event_type(raised, t) == "alarm"
    assert raised.payload["numbers"] == ["110", "120"] and raised.payload["reasons"]
    assert result.alarm is not None and not result.alarm.transferred
    advice = result.alarm.advice(t.number)
    assert "立即拨打110" in advice and "120" in advice and t.number in advice
    assert "119" not in advice
    # The reply of a retried message is rebuilt from the record, the same.
    assert alarms.alarm_of(desk.session, t) == result.alarm
    assert result.events == tuple(desk.events(t))


def test_fire_and_gas_add_119_and_an_ordinary_demand_raises_nothing(desk):
    gas = log(desk, text="楼道里闻到很大的煤气味，敲门没人应").alarm
    assert gas is not None and gas.numbers == ("110", "119")
    plain = log(desk, text=WATER)
    assert plain.alarm is None and plain.ticket.alarm_raised_at is None
    assert actions(desk, plain.ticket) == ["intake"]


@pytest.mark.parametrize("channel", ["open311", "web"])
def test_every_unattended_channel_raises_it_and_the_phone_does_not(desk, channel):
    assert log(desk, channel=channel).alarm is not None
    phone = log(desk, channel="phone", citizen={"phone": "13800138000"})
    assert phone.alarm is None and phone.ticket.alarm_raised_at is None
    assert phone.ticket.police_matter  # flagged for the operator, who is there to act


def test_without_respond_intake_only_logs(desk, session, clock, directory):
    grid = GridRouting(session, clock.now())
    result = intake(session, {"channel": "wechat", "text": STAB}, alarms.ALARM_ACTOR,
                    now=clock.now(), ports=IntakePorts(RuleClassifier(rules_from_file()),
                                                       grid, grid))
    session.commit()
    assert result.alarm is None and result.ticket.alarm_raised_at is None


def test_auto_transfer_110_sends_the_emergency_to_110_through_the_outbox(desk):
    settings(desk, auto_transfer_110=True)
    result = log(desk)
    t = result.ticket
    assert t.status == "TRANSFERRED_110" and t.police_state == "pending"
    assert actions(desk, t) == ["intake", "raise_alarm", "transfer_110"]
    assert desk.events(t)[2].payload == {"direction": "to_110", "automatic": True}
    owed = desk.session.scalars(select(OutboxMessage).where(
        OutboxMessage.topic == "police110.transfer")).all()
    assert [o.payload["ticket_no"] for o in owed] == [t.number]
    assert result.alarm is not None and result.alarm.transferred
    assert "转交110" in result.alarm.advice(t.number)
    assert alarms.alarm_of(desk.session, t) == result.alarm


def test_a_dispatcher_acknowledges_the_alarm_once(desk):
    t = log(desk).ticket
    assert "acknowledge_alarm" in offered(desk, t, "dispatcher1")
    desk.clock.advance(seconds=20)
    done = desk.act(t, "acknowledge_alarm", "dispatcher1")
    (event,) = done.events
    assert event.payload["waited_s"] == 20.0 and not event.payload["escalated"]
    assert t.alarm_acknowledged_at == desk.clock.now()
    assert t.alarm_acknowledged_by_id == desk.uid("dispatcher1")
    assert "acknowledge_alarm" not in offered(desk, t, "dispatcher1")
    again = desk.refused(t, "acknowledge_alarm", "supervisor1", Conflict)
    assert "已于" in again.message and "无需重复确认" in again.message


@pytest.mark.parametrize("user, error", [
    ("operator1", Forbidden), ("leader1", Forbidden), ("admin1", Forbidden),
    ("handler1", NotFound),  # a department does not even see a ticket not sent to it
])
def test_only_dispatchers_and_supervisors_acknowledge(desk, user, error):
    t = log(desk).ticket
    desk.refused(t, "acknowledge_alarm", user, error)


def test_a_ticket_without_an_alarm_has_nothing_to_acknowledge(desk):
    t = log(desk, text=WATER).ticket
    err = desk.refused(t, "acknowledge_alarm", "dispatcher1", Conflict)
    assert "没有警报" in err.message


def test_an_alarm_not_acknowledged_in_60_seconds_escalates_to_supervisors_once(desk, session):
    t = log(desk).ticket
    waiting = log(desk, text="有人落水了，快来人").ticket
    acknowledged = log(desk, text="有人持刀抢劫").ticket
    desk.act(acknowledged, "acknowledge_alarm", "dispatcher1")
    desk.clock.advance(seconds=59)
    assert sweep_alarms(session, desk.clock.now()).escalated == ()
    desk.clock.advance(seconds=2)
    report = sweep_alarms(session, desk.clock.now())
    assert set(report.escalated) == {t.number, waiting.number}
    assert {e.action for e in report.events} == {"escalate_alarm"}
    session.expire_all()
    assert t.alarm_escalated_at == desk.clock.now() and acknowledged.alarm_escalated_at is None
    escalation = desk.events(t)[-1]
    assert escalation.action == "escalate_alarm" and escalation.payload["to"] == "supervisor"
    assert escalation.payload["waited_s"] == 61.0
    assert event_type(escalation, t) == "alarm_escalated"
    # Once: the next sweeps find nothing; a late acknowledgement still counts.
    desk.clock.advance(minutes=5)
    assert sweep_alarms(session, desk.clock.now()).escalated == ()
    assert actions(desk, t).count("escalate_alarm") == 1
    late = desk.act(t, "acknowledge_alarm", "supervisor1").events[0]
    assert late.payload["escalated"] and late.payload["waited_s"] == 361.0


def test_the_escalation_time_is_a_setting(desk, session):
    settings(desk, alarm_escalation_seconds=30)
    t = log(desk).ticket
    desk.clock.advance(seconds=31)
    assert sweep_alarms(session, desk.clock.now()).escalated == (t.number,)


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize("values, field_name", [
    ({"auto_dispatch": {"utilities.water": 1.5}}, "auto_dispatch.utilities.water"),
    ({"auto_dispatch": {"utilities.water": -0.1}}, "auto_dispatch.utilities.water"),
    ({"auto_dispatch": {"utilities.water": "0.9"}}, "auto_dispatch.utilities.water"),
    ({"auto_dispatch": {"utilities.water": True}}, "auto_dispatch.utilities.water"),
    ({"auto_dispatch": {"no.such.category": 0.9}}, "auto_dispatch.no.such.category"),
    ({"auto_dispatch": ["utilities.water"]}, "auto_dispatch"),
    ({"auto_transfer_110": "yes"}, "auto_transfer_110"),
    ({"alarm_escalation_seconds": 5}, "alarm_escalation_seconds"),
    ({"alarm_escalation_seconds": 60.5}, "alarm_escalation_seconds"),
    ({"colour": "red"}, "colour"),
])
def test_bad_triage_settings_are_refused_in_chinese_naming_the_field(desk, values, field_name):
    settings(desk, auto_dispatch={"utilities.electricity": 0.7})
    before = desk.session.scalar(select(Setting.value).where(Setting.key == "triage_settings"))
    with pytest.raises(InvalidInput) as caught:
        autodispatch.set_settings(desk.session, values, None)
    desk.session.rollback()
    assert caught.value.field == field_name
    assert caught.value.message.startswith(field_name + ": ")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in caught.value.message)
    after = desk.session.scalar(select(Setting.value).where(Setting.key == "triage_settings"))
    assert after == before


def test_settings_default_to_nothing_automatic(desk):
    value = autodispatch.get_settings(desk.session)
    assert (value.auto_transfer_110, value.alarm_escalation_seconds, value.auto_dispatch) == (
        False, 60, {})


# ---------------------------------------------------------------- 智能派单


def test_a_confident_ordinary_demand_is_dispatched_automatically_with_its_reasons(
        desk, catalogue):
    settings(desk, auto_dispatch={"utilities.water": 0.8})
    result = log(desk, text=WATER, classifier=Says(water(0.93)))
    t = result.ticket
    assert t.status == "DISPATCHED"
    assert actions(desk, t) == ["intake", "dispatch"]
    dispatch = desk.events(t)[1]
    assert dispatch.actor_role == "system" and dispatch.payload["dispatched_by"] == "auto"
    assert dispatch.payload["lead"] == "water_supply"
    assert dispatch.payload["confidence"] == 0.93 and dispatch.payload["threshold"] == 0.8
    assert dispatch.payload["source"] == "test-model"
    reasons = dispatch.payload["reasons"]
    assert any("0.93" in r and "0.80" in r for r in reasons)
    assert any("派单目录规则" in r for r in reasons)
    (a,) = desk.assignments(t)
    assert a.auto_dispatched and a.department_code == "water_supply"
    assert result.auto_dispatch is not None and result.auto_dispatch.dispatch


def test_off_by_default_below_the_threshold_or_outside_the_setting_it_waits(desk, catalogue):
    off = log(desk, text=WATER, classifier=Says(water(0.99))).ticket
    settings(desk, auto_dispatch={"utilities.water": 0.8})
    low = log(desk, text=WATER, classifier=Says(water(0.79)))
    other = log(desk, text="停电了", classifier=Says(water(0.99, category="utilities.electricity")))
    assert [t.status for t in (off, low.ticket, other.ticket)] == ["NEW"] * 3
    assert low.auto_dispatch is not None and not low.auto_dispatch.dispatch
    assert any("低于阈值" in r for r in low.auto_dispatch.reasons)
    assert desk.count(Assignment) == 0


def test_a_setting_on_a_parent_covers_its_children(desk, catalogue):
    settings(desk, auto_dispatch={"utilities": 0.5})
    t = log(desk, text=WATER, classifier=Says(water(0.6))).ticket
    assert t.status == "DISPATCHED"
    assert desk.events(t)[1].payload["setting"] == "utilities"


@pytest.mark.parametrize("why, fields, suggestion", [
    ("涉警事项", {}, {"police_matter": True}),
    ("特急事项", {}, {"urgency": "critical"}),
    ("特急事项", {}, {"emergency": True}),
    ("保密诉求", {"citizen": {"phone": "13800138000", "confidential": True}}, {}),
    ("匿名且无位置", {"citizen": {"anonymous": True}}, {}),
    ("疑似涉警", {}, {"reasons": ("疑似涉警/紧急，请话务员确认",)}),
    ("分类与系统建议不一致", {"category": "utilities.electricity"}, {}),
])
def test_never_for_police_critical_confidential_anonymous_unplaced_or_doubtful(
        desk, catalogue, why, fields, suggestion):
    settings(desk, auto_dispatch={"utilities": 0.5})
    result = log(desk, channel="phone", text=WATER, classifier=Says(water(0.99, **suggestion)),
                 **fields)
    assert result.ticket.status == "NEW"
    assert result.auto_dispatch is not None and not result.auto_dispatch.dispatch
    assert any(why in r for r in result.auto_dispatch.reasons), result.auto_dispatch.reasons
    assert desk.count(Assignment) == 0


def test_a_candidate_repeat_waits_for_the_dispatcher(desk, catalogue):
    settings(desk, auto_dispatch={"utilities.water": 0.5})
    who = {"phone": "13800138000"}
    first = log(desk, channel="phone", text=WATER, classifier=Says(water(0.9)), citizen=who)
    again = log(desk, channel="phone", text=WATER, classifier=Says(water(0.9)), citizen=who)
    assert first.ticket.status == "DISPATCHED" and again.ticket.status == "NEW"
    assert any("重复" in r for r in again.auto_dispatch.reasons)


def test_no_catalogue_rule_no_automatic_dispatch(desk):
    settings(desk, auto_dispatch={"utilities.water": 0.5})
    result = log(desk, text=WATER, classifier=Says(water(0.99)))
    assert result.ticket.status == "NEW"
    assert any("派单目录" in r for r in result.auto_dispatch.reasons)


def test_without_a_confidence_the_rule_scores_give_an_estimate(desk, catalogue):
    rules = RuleClassifier(rules_from_file())
    plain = rules.suggest(WATER)
    estimate = autodispatch.rule_confidence(plain)
    assert 0.5 < estimate < 0.95  # one strong phrase (+5): 5 / 7
    assert autodispatch.category_confidence(plain) == (estimate, "rules-estimate")
    assert autodispatch.rule_confidence(Suggestion(category=None)) == 0.0
    close = Suggestion(category="utilities", reasons=(
        "“停水” → 分类 utilities (+5)", "分类：utilities (5) 与 urban (4.5) 得分接近，请确认"))
    assert autodispatch.rule_confidence(close) < estimate
    settings(desk, auto_dispatch={"utilities": round(estimate - 0.01, 2)})
    t = log(desk, text=WATER).ticket  # the rule classifier itself, no confidence given
    assert t.status == "DISPATCHED"
    assert desk.events(t)[1].payload["source"] == "rules-estimate"


def test_a_dispatcher_takes_an_automatic_dispatch_back_to_the_queue(desk, catalogue):
    settings(desk, auto_dispatch={"utilities.water": 0.8})
    t = log(desk, text=WATER, classifier=Says(water(0.9))).ticket
    assert "take_back" in offered(desk, t, "dispatcher1")
    desk.refused(t, "take_back", "operator1", Forbidden)
    done = desk.act(t, "take_back", "dispatcher1", reason="应由物业处理")
    (event,) = done.events
    assert (event.from_status, event.to_status) == ("DISPATCHED", "NEW")
    assert event.payload["department"] == "water_supply" and event.payload["auto_dispatched"]
    assert event.reason == "应由物业处理"
    assert [a.status for a in desk.assignments(t)] == ["cancelled"]
    assert t.status == "NEW" and "dispatch" in offered(desk, t, "dispatcher1")
    # Dispatched again by a person: not automatic, and not to be taken back.
    desk.act(t, "dispatch", "dispatcher1", lead="urban_management")
    assert desk.events(t)[-1].payload["dispatched_by"] == "dispatcher"
    assert not desk.assignments(t)[-1].auto_dispatched
    assert "take_back" not in offered(desk, t, "dispatcher1")
    err = desk.refused(t, "take_back", "dispatcher1", Conflict)
    assert "不是智能派单" in err.message


# ---------------------------------------------------------------- 首接


def rejected(desk) -> Ticket:
    t = desk.intake(text="有人在小区门口打架，有人受伤", urgency="urgent")
    desk.act(t, "transfer_110", "operator1", reason="涉警事项，转110处置")
    desk.act(t, "police_reject", "police1", reason="非警情，属邻里纠纷")
    return t


def test_after_110_rejects_an_operator_or_dispatcher_cannot_send_it_again(desk):
    t = rejected(desk)
    for user in ("operator1", "dispatcher1"):
        assert "transfer_110" not in offered(desk, t, user)
        err = desk.refused(t, "transfer_110", user, Conflict, reason="再次转110")
        assert "首接" in err.message and "非警情，属邻里纠纷" in err.message
    err = desk.refused(t, "transfer_110", "supervisor1", Conflict, reason="再转")
    assert err.field == "arbitration" and "仲裁" in err.message


def test_a_supervisor_sends_it_again_with_a_recorded_arbitration(desk, session):
    t = rejected(desk)
    assert "transfer_110" in offered(desk, t, "supervisor1")
    done = desk.act(t, "transfer_110", "supervisor1", arbitration="现场有人持械，经协调由110处置")
    (event,) = done.events
    assert t.status == "TRANSFERRED_110"
    assert event.payload["arbitration"] == "现场有人持械，经协调由110处置"
    assert event.payload["arbitrated_by"] == "supervisor1"
    assert event.payload["previous_cause"] == "非警情，属邻里纠纷"
    assert event.reason == "现场有人持械，经协调由110处置"
    transfers = session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.topic == "police110.transfer"))
    assert transfers == 2


def test_a_matter_both_sides_refuse_stays_with_12345(desk):
    t = rejected(desk)
    desk.act(t, "transfer_110", "supervisor1", arbitration="经协调再次转110")
    desk.act(t, "police_reject", "police1", reason="仍不属警情")
    for user in ("supervisor1", "dispatcher1"):
        assert "transfer_110" not in offered(desk, t, user)
    err = desk.refused(t, "transfer_110", "supervisor1", Conflict, arbitration="第三次")
    assert "由 12345 办理" in err.message
    desk.act(t, "dispatch", "dispatcher1", lead="urban_management")  # 12345 handles it
    assert t.status == "DISPATCHED"


def test_an_arbitration_only_after_a_rejection_and_a_reason_always(desk):
    t = desk.intake(text="有人打架")
    err = desk.refused(t, "transfer_110", "operator1", InvalidInput, arbitration="无需")
    assert err.field == "arbitration"
    err = desk.refused(t, "transfer_110", "operator1", InvalidInput)
    assert err.field == "reason"
    desk.refused(t, "transfer_110", "supervisor1", Forbidden, arbitration="督办员首转")


def test_the_events_of_the_judgement_are_in_the_console_feed(desk):
    from dispatch.console.feed import ConsoleEvent

    t = log(desk).ticket
    types = desk.session.execute(select(ConsoleEvent.type, ConsoleEvent.summary).where(
        ConsoleEvent.ticket_id == t.id).order_by(ConsoleEvent.id)).all()
    assert [ty for ty, _ in types] == ["created", "alarm"]
    summary = types[-1][1]
    assert summary["alarm"] == "raised" and summary["queues"][0] == "alarm"
    desk.act(t, "acknowledge_alarm", "dispatcher1")
    last = desk.session.scalars(select(ConsoleEvent).where(ConsoleEvent.ticket_id == t.id)
                                .order_by(ConsoleEvent.id.desc())).first()
    assert last.summary["alarm"] == "acknowledged" and "alarm" not in last.summary["queues"]
    assert desk.session.scalar(select(func.count()).select_from(Event).where(
        Event.ticket_id == t.id)) == 3


def test_the_intake_event_keeps_the_judgement_with_its_confidence_and_model(desk):
    """What the classifier said (and how sure it was, and which version) stays on the intake
    event: the labelled examples of training compare it with what people confirmed."""
    result = log(desk, channel="phone", text=WATER,
                 classifier=Says(water(0.93, model="v7", doubts=("疑似涉警，请确认",))))
    suggested = desk.events(result.ticket)[0].payload["suggested"]
    assert suggested["category"] == "utilities.water"
    assert suggested["confidence"] == {"category": 0.93, "type": 0.9}
    assert suggested["model"] == "v7"
    assert suggested["doubts"] == ["疑似涉警，请确认"]
    assert suggested["emergency"] is False
