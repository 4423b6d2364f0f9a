"""The WeChat API client against `FakeWeChatApi` over real HTTP: the token fetched once, cached
(across clients sharing Redis too) and refreshed five minutes before it lapses; 40001/42001 → a
new token and exactly one retry; 45015 → a subscribe message, or SMS without a template, or a
permanent failure naming why; transient errors classified as such."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from dispatch.core.ports import ManualClock
from dispatch.outbound.citizen_notices import TOPIC as NOTICE
from dispatch.outbound.outbox import PermanentError, TransientError
from integrations.sms.fake import RecordingSms
from integrations.wechat.client import (
    CUSTOMER_SERVICE,
    MemoryTokenCache,
    RedisTokenCache,
    WeChatClient,
    WeChatOutbound,
    outbound_from_config,
)
from integrations.wechat.fake import FakeWeChatApi

START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
ALICE = "oALICE_openid_000000000000001"
TEMPLATE = "tmpl-progress-1"
PHONE = "13800138000"


@pytest.fixture
def fake():
    with FakeWeChatApi() as api:
        yield api


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def client_of(fake: FakeWeChatApi, clock: ManualClock, cache=None) -> WeChatClient:
    return WeChatClient(fake.app_id, fake.secret, fake.base_url,
                        cache=cache or MemoryTokenCache(), clock=clock, timeout=2)


def notice(*, last: datetime | None, sms: bool = True) -> dict:
    return {"touser": ALICE, "kind": "dispatched", "ticket_no": "12345-20261123-000001",
            "text": "您反映的问题（工单12345-20261123-000001）已派单",
            "last_message_at": last.isoformat() if last else None,
            "subscribe": {"status": "已派单", "note": "承办单位正在办理"},
            "sms": {"to": PHONE, "text": "【长垣12345】已派单"} if sms else None,
            "ref": "wechat.notice:12345-20261123-000001:dispatched"}


def test_the_topic_names_are_the_conversations_and_the_domains():
    from integrations.wechat.conversation import CUSTOMER_SERVICE as HELD

    assert CUSTOMER_SERVICE == HELD and NOTICE == "wechat.notice"


def test_the_token_is_fetched_once_cached_and_refreshed_before_it_lapses(fake, clock):
    client = client_of(fake, clock)
    client.send_custom(ALICE, "一")
    client.send_custom(ALICE, "二")
    assert fake.token_fetches == 1
    [first] = {c.query["access_token"] for c in fake.calls if "message" in c.path}
    clock.advance(seconds=7200 - 301)  # more than five minutes left: the same token
    client.send_custom(ALICE, "三")
    assert fake.token_fetches == 1
    clock.advance(seconds=2)  # under five minutes left: a new one before it lapses
    client.send_custom(ALICE, "四")
    assert fake.token_fetches == 2
    assert fake.calls[-1].query["access_token"] != first
    assert [b["text"]["content"] for b in fake.sent("custom")] == ["一", "二", "三", "四"]


def test_callers_needing_a_token_at_once_wait_for_one_fetch(fake, clock):
    import threading

    fake.token_delay = 0.2  # long enough for every thread to find the cache empty
    client = client_of(fake, clock)
    tokens: list[str] = []
    threads = [threading.Thread(target=lambda: tokens.append(client.access_token()))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fake.token_fetches == 1 and len(set(tokens)) == 1 and len(tokens) == 4


def test_a_bad_secret_is_transient_and_names_the_code(fake, clock):
    client = WeChatClient(fake.app_id, "wrong", fake.base_url, cache=MemoryTokenCache(),
                          clock=clock)
    with pytest.raises(TransientError, match="40125"):
        client.send_custom(ALICE, "一")
    assert fake.sent("custom") == []


def test_processes_sharing_redis_share_the_token(fake, clock):
    url = os.environ.get("HOTLINE_TEST_REDIS_URL")
    if not url:
        pytest.skip("HOTLINE_TEST_REDIS_URL is not set")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("Redis is not reachable")
    prefix = f"test:wechat:{os.getpid()}:{id(fake)}:"
    one = client_of(fake, clock, RedisTokenCache(url, prefix=prefix))
    two = client_of(fake, clock, RedisTokenCache(url, prefix=prefix))
    one.send_custom(ALICE, "一")
    two.send_custom(ALICE, "二")
    assert fake.token_fetches == 1
    fake.expire_tokens()  # the second process finds it refused, fetches a new one for both
    two.send_custom(ALICE, "三")
    one.send_custom(ALICE, "四")
    assert fake.token_fetches == 2
    redis.Redis.from_url(url).delete(prefix + fake.app_id)


@pytest.mark.parametrize("code", [40001, 42001])
def test_a_refused_token_is_replaced_and_the_call_retried_once(fake, clock, code):
    client = client_of(fake, clock)
    client.send_custom(ALICE, "一")
    fake.failures = [code]
    client.send_custom(ALICE, "二")
    assert fake.token_fetches == 2
    assert [b["text"]["content"] for b in fake.sent("custom")] == ["一", "二"]
    # Refused again with the new token: no third try, the outbox retries later.
    fake.failures = [code, code]
    with pytest.raises(TransientError, match=str(code)):
        client.send_custom(ALICE, "三")
    assert fake.token_fetches == 3
    assert sum(1 for c in fake.calls if c.path.endswith("custom/send")) == 2 + 1 + 2


def test_within_48_hours_a_notice_is_a_customer_service_message(fake, clock):
    sms = RecordingSms()
    out = WeChatOutbound(client_of(fake, clock), template_id=TEMPLATE, sms=sms)
    receipt = out.deliver_notice(notice(last=START - timedelta(hours=47)), START)
    assert receipt["via"] == "customer_service"
    [body] = fake.sent("custom")
    assert body == {"touser": ALICE, "msgtype": "text",
                    "text": {"content": "您反映的问题（工单12345-20261123-000001）已派单"}}
    assert fake.sent("subscribe") == [] and sms.sent == []


def test_45015_turns_into_a_subscribe_message(fake, clock):
    fake.templates.add(TEMPLATE)
    fake.outside_window.add(ALICE)  # WeChat's own count of the window says no
    sms = RecordingSms()
    out = WeChatOutbound(client_of(fake, clock), template_id=TEMPLATE, sms=sms)
    receipt = out.deliver_notice(notice(last=START - timedelta(hours=1)), START)
    assert receipt["via"] == "subscribe" and "45015" in receipt["tried"][0]
    [body] = fake.sent("subscribe")
    assert body == {"touser": ALICE, "template_id": TEMPLATE, "data": {
        "character_string1": {"value": "12345-20261123-000001"},
        "phrase2": {"value": "已派单"}, "thing3": {"value": "承办单位正在办理"}}}
    assert sms.sent == []


def test_past_48_hours_no_customer_service_message_is_tried(fake, clock):
    fake.templates.add(TEMPLATE)
    out = WeChatOutbound(client_of(fake, clock), template_id=TEMPLATE, sms=RecordingSms())
    assert out.deliver_notice(notice(last=START - timedelta(hours=49)), START)["via"] == (
        "subscribe")
    assert not any(c.path.endswith("custom/send") for c in fake.calls)


def test_without_a_template_45015_falls_back_to_sms(fake, clock):
    fake.outside_window.add(ALICE)
    sms = RecordingSms()
    out = WeChatOutbound(client_of(fake, clock), template_id=None, sms=sms)
    receipt = out.deliver_notice(notice(last=START), START)
    assert receipt["via"] == "sms"
    assert sms.texts_to(PHONE) == ["【长垣12345】已派单"]
    assert fake.sent("subscribe") == []


def test_with_no_way_left_the_failure_is_permanent_and_says_why(fake, clock):
    fake.outside_window.add(ALICE)
    out = WeChatOutbound(client_of(fake, clock), template_id=None, sms=RecordingSms())
    with pytest.raises(PermanentError) as caught:
        out.deliver_notice(notice(last=START, sms=False), START)
    message = str(caught.value)
    assert "45015" in message and "未配置订阅消息模板" in message and "无手机号" in message


@pytest.mark.parametrize("failure", [-1, 45009, ("http", 503), ("http", 429)])
def test_busy_rate_limited_or_down_is_transient(fake, clock, failure):
    fake.templates.add(TEMPLATE)
    sms = RecordingSms()
    out = WeChatOutbound(client_of(fake, clock), template_id=TEMPLATE, sms=sms)
    fake.failures = [failure]
    with pytest.raises(TransientError):
        out.deliver_notice(notice(last=START), START)
    assert fake.sent("subscribe") == [] and sms.sent == []  # nothing else tried meanwhile


def test_a_server_that_is_gone_is_transient(clock):
    with FakeWeChatApi() as gone:
        pass
    with pytest.raises(TransientError, match="无法连接"):
        client_of(gone, clock).send_custom(ALICE, "一")


def test_unconfigured_there_is_no_sender():
    assert outbound_from_config({"WECHAT_APP_ID": "wx1"}) is None
    assert outbound_from_config({"WECHAT_APP_SECRET": "s"}) is None
    out = outbound_from_config({"WECHAT_APP_ID": "wx1", "WECHAT_APP_SECRET": "s"})
    assert out is not None and out.client.base_url == "https://api.weixin.qq.com"
    assert set(out.senders(START)) == {CUSTOMER_SERVICE, NOTICE}


def test_the_settings_reach_the_app_and_a_bad_base_is_refused_in_chinese(tmp_path):
    from web.config import Config, ConfigError

    config = Config.from_environment({
        "HOTLINE_INSTANCE_PATH": str(tmp_path), "HOTLINE_WECHAT_APP_ID": "wx1",
        "HOTLINE_WECHAT_APP_SECRET": "s3cret", "HOTLINE_WECHAT_SUBSCRIBE_TEMPLATE": "t1"})
    settings = config.flask_settings()
    assert (settings["WECHAT_APP_SECRET"], settings["WECHAT_API_BASE"],
            settings["WECHAT_SUBSCRIBE_TEMPLATE"]) == (
        "s3cret", "https://api.weixin.qq.com", "t1")
    assert "s3cret" not in repr(config)
    out = outbound_from_config(settings)
    assert out is not None and out.template_id == "t1"
    with pytest.raises(ConfigError) as refused:
        Config.from_environment({"HOTLINE_WECHAT_API_BASE": "api.weixin.qq.com"})
    assert str(refused.value) == ("配置 HOTLINE_WECHAT_API_BASE 应为 http:// 或 https:// 地址，"
                                  "实为“api.weixin.qq.com”")
