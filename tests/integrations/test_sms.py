"""The SMS adapter: the log backend masks phones, the HTTP gateway backend over real HTTP
against the fake gateway (payload, token, idempotency, error mapping), templates, replies."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import pytest

from dispatch.core.errors import InvalidInput
from dispatch.core.ports import ManualClock
from dispatch.core.vocab import Satisfaction
from integrations.sms import (
    HttpGatewaySms,
    LogSms,
    PermanentError,
    SatisfactionAnswer,
    TransientError,
    assignment_notice,
    callback_questionnaire,
    overdue_notice,
    parse_reply,
    sender_from_config,
    urge_notice,
)
from integrations.sms.fake import FakeSmsGateway, RecordingSms
from integrations.sms.mapping import SEGMENT

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
NUMBER = "12345-20261123-000001"
PHONE = "13800138000"
TEXT = callback_questionnaire(NUMBER)


@pytest.fixture
def gateway() -> FakeSmsGateway:
    with FakeSmsGateway(token="s3cret") as gw:
        yield gw


def http_sender(gw: FakeSmsGateway, **kwargs: float) -> HttpGatewaySms:
    return HttpGatewaySms(gw.url, "s3cret", clock=ManualClock(NOW), **kwargs)


# ---------------------------------------------------------------- LogSms


def test_log_sms_logs_the_text_with_the_phone_masked(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="hotline.sms")
    receipt = LogSms(clock=ManualClock(NOW)).send("+86 138 0013 8000", TEXT, ref="cb-1")
    assert receipt.provider_id == "log:cb-1"
    assert receipt.accepted_at == NOW
    assert "138****8000" in caplog.text
    assert PHONE not in caplog.text
    assert NUMBER in caplog.text


def test_log_sms_refuses_a_bad_phone() -> None:
    with pytest.raises(InvalidInput):
        LogSms().send("12345", TEXT, ref="cb-1")


# ---------------------------------------------------------------- HttpGatewaySms


def test_gateway_gets_the_json_payload_token_and_idempotency_key(
        gateway: FakeSmsGateway) -> None:
    receipt = http_sender(gateway).send("138-0013-8000", TEXT, ref="ticket-7-callback-1")
    assert receipt.provider_id == "gw-1"
    assert receipt.accepted_at == NOW
    [req] = gateway.requests
    assert req.method == "POST" and req.path == "/sms/send"
    assert req.headers["authorization"] == "Bearer s3cret"
    assert req.headers["idempotency-key"] == "ticket-7-callback-1"
    assert req.headers["content-type"].startswith("application/json")
    assert req.body == {"to": PHONE, "text": TEXT, "ref": "ticket-7-callback-1",
                        "sign": "长垣12345"}


def test_a_repeated_ref_gets_the_same_receipt_id(gateway: FakeSmsGateway) -> None:
    sender = http_sender(gateway)
    first = sender.send(PHONE, TEXT, ref="r-1")
    again = sender.send(PHONE, TEXT, ref="r-1")
    other = sender.send(PHONE, TEXT, ref="r-2")
    assert first.provider_id == again.provider_id != other.provider_id


def test_a_wrong_token_is_permanent(gateway: FakeSmsGateway) -> None:
    with pytest.raises(PermanentError, match="401"):
        HttpGatewaySms(gateway.url, "wrong").send(PHONE, TEXT, ref="r-1")
    assert gateway.sent == []


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_and_rate_limits_are_transient(gateway: FakeSmsGateway,
                                                     status: int) -> None:
    gateway.forced_status = status
    with pytest.raises(TransientError, match=str(status)):
        http_sender(gateway).send(PHONE, TEXT, ref="r-1")


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_other_client_errors_are_permanent(gateway: FakeSmsGateway, status: int) -> None:
    gateway.forced_status = status
    with pytest.raises(PermanentError, match=str(status)):
        http_sender(gateway).send(PHONE, TEXT, ref="r-1")


def test_a_gateway_that_is_down_is_transient(gateway: FakeSmsGateway) -> None:
    gateway.go_down()
    with pytest.raises(TransientError):
        http_sender(gateway).send(PHONE, TEXT, ref="r-1")


def test_a_slow_gateway_times_out_as_transient(gateway: FakeSmsGateway) -> None:
    gateway.delay = 2.0
    started = time.monotonic()
    with pytest.raises(TransientError, match="(?i)timed? ?out"):
        http_sender(gateway, timeout=0.2).send(PHONE, TEXT, ref="r-1")
    assert time.monotonic() - started < 1.5


def test_a_bad_phone_is_refused_before_any_request(gateway: FakeSmsGateway) -> None:
    sender = http_sender(gateway)
    for phone in ("12345", "not a phone", "03738888888", ""):
        with pytest.raises(InvalidInput):
            sender.send(phone, TEXT, ref="r-1")
    with pytest.raises(InvalidInput):
        sender.send(PHONE, " ", ref="r-1")
    with pytest.raises(InvalidInput):
        sender.send(PHONE, TEXT, ref="")
    assert gateway.requests == []


def test_the_token_is_not_in_the_repr(gateway: FakeSmsGateway) -> None:
    assert "s3cret" not in repr(http_sender(gateway))


def test_config_chooses_the_backend() -> None:
    assert isinstance(sender_from_config({}), LogSms)
    assert isinstance(sender_from_config({"SMS_GATEWAY_URL": ""}), LogSms)
    sender = sender_from_config({"SMS_GATEWAY_URL": "https://sms.example/send",
                                 "SMS_GATEWAY_TOKEN": "t"})
    assert isinstance(sender, HttpGatewaySms) and sender.url == "https://sms.example/send"
    with pytest.raises(ValueError, match="TOKEN"):
        sender_from_config({"SMS_GATEWAY_URL": "https://sms.example/send"})
    with pytest.raises(ValueError, match="http"):
        sender_from_config({"SMS_GATEWAY_URL": "ftp://x", "SMS_GATEWAY_TOKEN": "t"})


# ---------------------------------------------------------------- RecordingSms


def test_recording_sms_keeps_one_message_per_ref_and_fails_on_demand() -> None:
    sms = RecordingSms(clock=ManualClock(NOW))
    first = sms.send("+8613800138000", TEXT, ref="r-1")
    assert sms.send(PHONE, TEXT, ref="r-1") == first
    assert sms.texts_to(PHONE) == [TEXT]
    sms.failures.append(TransientError("down"))
    with pytest.raises(TransientError):
        sms.send(PHONE, TEXT, ref="r-2")
    sms.send(PHONE, TEXT, ref="r-2")
    assert len(sms.sent) == 2


# ---------------------------------------------------------------- templates

DEADLINE = datetime(2026, 11, 26, 23, 59)
LONGEST = "12345-20261231-999999"


def test_templates_fit_one_sms_segment() -> None:
    texts = [assignment_notice(LONGEST, "城市管理市容环境占道经营乱摆摊点", DEADLINE),
             urge_notice(LONGEST, DEADLINE), overdue_notice(LONGEST, DEADLINE),
             callback_questionnaire(LONGEST)]
    for text in texts:
        assert len(text) <= SEGMENT, text
        assert text.startswith("【长垣12345】") and LONGEST in text


def test_templates_say_what_and_when() -> None:
    notice = assignment_notice(NUMBER, "占道经营", DEADLINE)
    assert "占道经营" in notice and "11月26日23:59" in notice and "签收" in notice
    assert "催办" in urge_notice(NUMBER, DEADLINE)
    assert "超期" in overdue_notice(NUMBER, DEADLINE)
    # An aware time is shown in Beijing time.
    aware = datetime(2026, 11, 26, 15, 59, tzinfo=UTC)
    assert "11月26日23:59" in urge_notice(NUMBER, aware)
    long_name = assignment_notice(NUMBER, "一二三四五六七八九十", DEADLINE)
    assert "一二三四五六七…" in long_name


def test_the_questionnaire_lists_every_option_the_parser_reads() -> None:
    text = callback_questionnaire(NUMBER)
    for option in ("1满意", "2基本满意", "3不满意", "4已解决", "5未解决"):
        assert option in text
    assert "工单" + NUMBER in text


# ---------------------------------------------------------------- replies

S, B, D = Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED, Satisfaction.DISSATISFIED


@pytest.mark.parametrize(("reply", "expected"), [
    ("1", SatisfactionAnswer(S)),
    ("１", SatisfactionAnswer(S)),
    (" 2 ", SatisfactionAnswer(B)),
    ("３", SatisfactionAnswer(D)),
    ("满意", SatisfactionAnswer(S)),
    ("非常满意！谢谢", SatisfactionAnswer(S)),
    ("基本满意", SatisfactionAnswer(B)),
    ("还行吧", SatisfactionAnswer(B)),
    ("不满意", SatisfactionAnswer(D)),
    ("3 不满意", SatisfactionAnswer(D)),
    ("3不满意", SatisfactionAnswer(D)),
    ("不太满意", SatisfactionAnswer(D)),
    ("不满意，没解决", SatisfactionAnswer(D, False)),
    ("不满意，问题根本没有解决", SatisfactionAnswer(D, False)),
    ("1 4", SatisfactionAnswer(S, True)),
    ("14", SatisfactionAnswer(S, True)),
    ("１，４", SatisfactionAnswer(S, True)),
    ("2、5", SatisfactionAnswer(B, False)),
    ("35", SatisfactionAnswer(D, False)),
    ("满意，已解决", SatisfactionAnswer(S, True)),
    ("满意 问题解决了 谢谢你们", SatisfactionAnswer(S, True)),
    ("基本满意，基本解决", SatisfactionAnswer(B, True)),
    ("满意，但还没处理好", SatisfactionAnswer(S, False)),
    ("1满意", SatisfactionAnswer(S)),
    ("回复1", SatisfactionAnswer(S)),
    ("工单12345-20261123-000001 满意", SatisfactionAnswer(S)),
    # Not answers, or answers that contradict themselves: a person reads them.
    ("", None),
    ("   ", None),
    ("你好", None),
    ("退订", None),
    ("TD", None),
    ("什么工单？", None),
    ("路灯又坏了，快来修", None),
    ("4", None),
    ("未解决", None),
    ("12", None),
    ("1 不满意", None),
    ("满意 不满意", None),
    ("6", None),
    ("0", None),
    ("45", None),
    ("13800138000", None),
    ("12345", None),
    ("我想反映一下小区门口的垃圾好几天没人清理了，味道很大，希望你们尽快处理，满意", None),
])
def test_parse_reply(reply: str, expected: SatisfactionAnswer | None) -> None:
    assert parse_reply(reply) == expected
