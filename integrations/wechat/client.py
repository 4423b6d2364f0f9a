"""The only outbound I/O to WeChat's official API: the access token (`GET /cgi-bin/token`,
cached across processes in Redis when configured, else in this process, refreshed five minutes
before it expires), customer-service messages (`POST /cgi-bin/message/custom/send`) and
subscribe messages (`POST /cgi-bin/message/subscribe/send`).

`WeChatOutbound` is the outbox's sender of the topics `wechat.customer_service` (the ticket
number owed after a burst) and `wechat.notice` (progress notices): a customer-service message
within 48 hours of the citizen's last message, a subscribe message otherwise (or when WeChat
answers 45015), SMS when neither can be sent. Only `TransientError` and `PermanentError` leave
it; their text (in Chinese) is the outbox row's `last_error`.

Error codes: 40001/42001/40014 (token invalid or expired) → the token is dropped, fetched
again and the call retried once; 45015/45047 (outside the 48-hour window, too many messages
without a reply) → the next way; -1 (system busy), 45009/45011 (rate limits), HTTP 5xx/429 and
network failures → transient (the outbox backs off); anything else → permanent for that way.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

from redis.exceptions import LockError, RedisError

from dispatch.core.ports import Clock, SystemClock
from dispatch.outbound.citizen_notices import TOPIC as NOTICE
from dispatch.outbound.citizen_notices import WINDOW
from dispatch.outbound.outbox import PermanentError, Sender, TransientError

_log = logging.getLogger("hotline.wechat")

API_BASE = "https://api.weixin.qq.com"
CUSTOMER_SERVICE = "wechat.customer_service"  # as integrations.wechat.conversation
TOPICS = (CUSTOMER_SERVICE, NOTICE)  # the outbox topics this module delivers
TIMEOUT = 5.0
# Refresh this long before the token's own expiry, so that no call goes out with a token
# about to lapse.
REFRESH_MARGIN = timedelta(minutes=5)
MAX_ANSWER = 64 * 1024
TOKEN_INVALID = frozenset({40001, 40014, 42001})
OUTSIDE_WINDOW = frozenset({45015, 45047})
TRANSIENT = frozenset({-1, 45009, 45011})
REASONS = {
    -1: "系统繁忙", 40001: "access_token 无效", 40003: "OpenID 无效", 40014: "access_token 不合法",
    40037: "订阅消息模板 ID 无效", 42001: "access_token 已过期", 43004: "用户未关注公众号",
    43101: "用户拒绝接收订阅消息", 45009: "接口调用超过限额", 45011: "调用过于频繁",
    45015: "超出48小时客服消息时限", 45047: "客服消息条数超过上限", 47003: "模板参数不符合要求",
}


class ApiError(Exception):
    """WeChat answered with a non-zero errcode."""

    def __init__(self, errcode: int, errmsg: str, what: str) -> None:
        self.errcode = errcode
        self.errmsg = errmsg
        reason = REASONS.get(errcode, errmsg or "未知错误")
        super().__init__(f"微信{what}失败：errcode {errcode}（{reason}）")

    @property
    def transient(self) -> bool:
        return self.errcode in TRANSIENT


# ---------------------------------------------------------------- the token cache


@dataclass(frozen=True)
class Token:
    """An access token and when WeChat said it lapses (UTC)."""

    value: str
    expires_at: datetime


class TokenCache(Protocol):
    def get(self, app_id: str) -> Token | None: ...

    def put(self, app_id: str, token: Token) -> None: ...

    def drop(self, app_id: str, value: str) -> None:
        """Forget the token, if it is still this one (another process may have a newer)."""
        ...

    def refreshing(self, app_id: str) -> AbstractContextManager[object]:
        """Held while one caller fetches a new token, so that the others wait for it instead
        of each fetching their own (every fetch makes WeChat retire the previous token)."""
        ...


class MemoryTokenCache:
    """One process's tokens (without Redis: each process fetches its own)."""

    def __init__(self) -> None:
        self._tokens: dict[str, Token] = {}
        self._lock = threading.Lock()
        self._refresh = threading.Lock()

    def get(self, app_id: str) -> Token | None:
        with self._lock:
            return self._tokens.get(app_id)

    def put(self, app_id: str, token: Token) -> None:
        with self._lock:
            self._tokens[app_id] = token

    def drop(self, app_id: str, value: str) -> None:
        with self._lock:
            if (held := self._tokens.get(app_id)) is not None and held.value == value:
                del self._tokens[app_id]

    def refreshing(self, app_id: str) -> AbstractContextManager[object]:
        return self._refresh


_PROCESS_CACHE = MemoryTokenCache()


class RedisTokenCache:
    """Tokens shared by every process (web, workers) through Redis, one key per account."""

    def __init__(self, url: str, prefix: str = "hotline:wechat:token:") -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        self.prefix = prefix

    def get(self, app_id: str) -> Token | None:
        raw = self._redis.get(self.prefix + app_id)
        if raw is None:
            return None
        data = json.loads(raw)
        return Token(data["value"], datetime.fromisoformat(data["expires_at"]))

    def put(self, app_id: str, token: Token) -> None:
        body = json.dumps({"value": token.value, "expires_at": token.expires_at.isoformat()})
        # Redis forgets it on its own a little after WeChat would (clocks may differ).
        self._redis.set(self.prefix + app_id, body, ex=7200 + 600)

    def drop(self, app_id: str, value: str) -> None:
        held = self.get(app_id)
        if held is not None and held.value == value:
            self._redis.delete(self.prefix + app_id)

    def refreshing(self, app_id: str) -> AbstractContextManager[object]:
        # A lock that lapses on its own (a fetch takes at most the timeout); a caller that
        # waited 10 s goes on and fetches anyway.
        return self._redis.lock(self.prefix + app_id + ":refresh", timeout=15,
                                blocking_timeout=10)


# ---------------------------------------------------------------- the API client


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class WeChatClient:
    """One official account's API calls, with its token."""

    def __init__(self, app_id: str, secret: str, base_url: str = API_BASE, *,
                 cache: TokenCache | None = None, timeout: float = TIMEOUT,
                 clock: Clock | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"WeChat API base must be http(s)://host: {base_url!r}")
        if not app_id or not secret:
            raise ValueError("WeChat app id and secret are required")
        self.app_id = app_id
        self._secret = secret
        self.base_url = base_url.rstrip("/")
        self.cache = cache or _PROCESS_CACHE
        self.timeout = timeout
        self.clock = clock or SystemClock()
        self._opener = urllib.request.build_opener(_NoRedirects())

    def __repr__(self) -> str:
        return f"WeChatClient(app_id={self.app_id!r}, base_url={self.base_url!r})"

    def _request(self, request: urllib.request.Request, what: str) -> dict[str, Any]:
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                raw = answer.read(MAX_ANSWER + 1)
        except urllib.error.HTTPError as exc:
            with exc:
                status = exc.code
            if status >= 500 or status in (408, 429):
                raise TransientError(f"微信{what}失败：HTTP {status}") from None
            raise PermanentError(f"微信{what}失败：HTTP {status}") from None
        except (OSError, http.client.HTTPException) as exc:
            raise TransientError(f"微信接口无法连接（{what}）：{type(exc).__name__}") from None
        try:
            data = json.loads(raw[:MAX_ANSWER].decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise TransientError(f"微信{what}失败：应答不是 JSON") from None
        if not isinstance(data, dict):
            raise TransientError(f"微信{what}失败：应答不是 JSON 对象")
        code = data.get("errcode") or 0
        if code:
            raise ApiError(int(code), str(data.get("errmsg") or ""), what)
        return data

    def access_token(self, *, refused: str | None = None) -> str:
        """The cached token while it has more than five minutes left, else a new one (one
        caller fetches, the others wait for it); `refused` is a token WeChat just refused."""
        now = self.clock.now()

        def usable(token: Token | None) -> bool:
            return (token is not None and token.value != refused
                    and now < token.expires_at - REFRESH_MARGIN)

        try:
            held = self.cache.get(self.app_id)
            if held is not None and usable(held):
                return held.value
            try:
                with self.cache.refreshing(self.app_id):
                    # Another caller may have fetched one while this one waited.
                    held = self.cache.get(self.app_id)
                    if held is not None and usable(held):
                        return held.value
                    return self._fetch(now)
            except LockError:  # waited long enough: fetch anyway
                return self._fetch(now)
        except RedisError as exc:
            raise TransientError(f"微信 access_token 缓存（Redis）不可用：{type(exc).__name__}"
                                 ) from None

    def _fetch(self, now: datetime) -> str:
        query = urlencode({"grant_type": "client_credential", "appid": self.app_id,
                           "secret": self._secret})
        request = urllib.request.Request(f"{self.base_url}/cgi-bin/token?{query}",
                                         headers={"Accept": "application/json"})
        try:
            data = self._request(request, "获取 access_token ")
        except ApiError as exc:
            # A refused app id, secret or server address (IP whitelist) is the
            # installation's to fix: the messages wait and are retried meanwhile.
            raise TransientError(str(exc)) from None
        value, expires_in = data.get("access_token"), data.get("expires_in")
        if not isinstance(value, str) or not value or not isinstance(expires_in, int):
            raise TransientError("微信获取 access_token 失败：应答缺少 access_token")
        token = Token(value, now + timedelta(seconds=expires_in))
        self.cache.put(self.app_id, token)
        return value

    def call(self, path: str, body: Mapping[str, Any], what: str) -> dict[str, Any]:
        """POST one JSON body with the token; an invalid or expired token is dropped,
        fetched again and the call retried once."""
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        token = self.access_token()
        for attempt in (1, 2):
            request = urllib.request.Request(
                f"{self.base_url}{path}?{urlencode({'access_token': token})}", data=data,
                method="POST", headers={"Content-Type": "application/json; charset=utf-8",
                                        "Accept": "application/json"})
            try:
                return self._request(request, what)
            except ApiError as exc:
                if exc.errcode not in TOKEN_INVALID:
                    raise
                if attempt == 2:  # a fresh token refused too: try again later
                    raise TransientError(str(exc)) from None
                _log.info("WeChat token refused (%s), fetching a new one", exc.errcode)
                try:
                    self.cache.drop(self.app_id, token)
                except RedisError:
                    pass  # the new token replaces it in the cache anyway
                token = self.access_token(refused=token)
        raise AssertionError("unreachable")

    def send_custom(self, openid: str, text: str) -> dict[str, Any]:
        """A customer-service text message."""
        return self.call("/cgi-bin/message/custom/send",
                         {"touser": openid, "msgtype": "text", "text": {"content": text}},
                         "发送客服消息")

    def send_subscribe(self, openid: str, template_id: str, data: Mapping[str, str]
                       ) -> dict[str, Any]:
        """A subscribe message of one template; `data` maps its fields to their values."""
        return self.call("/cgi-bin/message/subscribe/send",
                         {"touser": openid, "template_id": template_id,
                          "data": {k: {"value": v} for k, v in data.items()}},
                         "发送订阅消息")


# ---------------------------------------------------------------- the outbox's sender


class SmsPort(Protocol):
    def send(self, phone: str, text: str, *, ref: str) -> Any: ...


def subscribe_data(ticket_no: str, status: str, note: str) -> dict[str, str]:
    """The template's fields: the ticket number, a status (≤5), a note (≤20 characters)."""
    return {"character_string1": ticket_no, "phrase2": status[:5], "thing3": note[:20]}


class WeChatOutbound:
    """Delivers the WeChat topics of the outbox: customer service, subscribe message, SMS."""

    def __init__(self, client: WeChatClient, *, template_id: str | None = None,
                 sms: SmsPort | None = None) -> None:
        self.client = client
        self.template_id = template_id or None
        self.sms = sms

    def senders(self, now: datetime) -> dict[str, Sender]:
        """The outbox senders, judging the 48-hour window at `now`."""
        return {CUSTOMER_SERVICE: lambda p: self.deliver_reply(p),
                NOTICE: lambda p: self.deliver_notice(p, now)}

    def deliver_reply(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The reply owed after a held message (the citizen just wrote: customer service);
        outside the window, the ticket number as a subscribe message."""
        text = payload["text"]["content"]
        ticket_no = payload.get("ticket_no")
        subscribe = ({"status": "已受理", "note": "请凭工单编号查询办理进度"}
                     if ticket_no else None)
        return self._deliver(payload["touser"], text, True, ticket_no, subscribe, None,
                             payload.get("msg_id") or "reply")

    def deliver_notice(self, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
        """A progress notice: customer service within 48 h of the citizen's last message,
        else a subscribe message, else SMS."""
        last = payload.get("last_message_at")
        within = last is not None and now - datetime.fromisoformat(last) < WINDOW
        return self._deliver(payload["touser"], payload["text"], within,
                             payload.get("ticket_no"), payload.get("subscribe"),
                             payload.get("sms"), payload["ref"])

    def _deliver(self, openid: str, text: str, within: bool, ticket_no: str | None,
                 subscribe: Mapping[str, str] | None, sms: Mapping[str, str] | None,
                 ref: str) -> dict[str, Any]:
        tried: list[str] = []
        if within:
            try:
                answer = self.client.send_custom(openid, text)
                return {"via": "customer_service", "msgid": answer.get("msgid")}
            except ApiError as exc:
                if exc.transient:
                    raise TransientError(str(exc)) from None
                tried.append(str(exc))
        else:
            tried.append("距市民最后一条消息已超过48小时")
        if self.template_id and subscribe and ticket_no:
            try:
                answer = self.client.send_subscribe(
                    openid, self.template_id,
                    subscribe_data(ticket_no, subscribe["status"], subscribe["note"]))
                return {"via": "subscribe", "msgid": answer.get("msgid"), "tried": tried}
            except ApiError as exc:
                if exc.transient:
                    raise TransientError(str(exc)) from None
                tried.append(str(exc))
        elif not self.template_id:
            tried.append("未配置订阅消息模板")
        if sms and self.sms is not None:
            receipt = self.sms.send(sms["to"], sms["text"], ref=ref.replace(" ", "")[:128])
            return {"via": "sms", "provider_id": getattr(receipt, "provider_id", None),
                    "tried": tried}
        tried.append("无手机号，不能改发短信")
        raise PermanentError("无法送达：" + "；".join(tried))


def outbound_from_config(config: Mapping[str, Any], *, sms: SmsPort | None = None,
                         clock: Clock | None = None) -> WeChatOutbound | None:
    """The sender of the configured account (`WECHAT_APP_ID`, `WECHAT_APP_SECRET`,
    `WECHAT_API_BASE`, `WECHAT_SUBSCRIBE_TEMPLATE`; the token shared through `REDIS_URL` when
    set), or None while the id or secret is unset (then the WeChat rows wait in the outbox)."""
    app_id = (config.get("WECHAT_APP_ID") or "").strip()
    secret = (config.get("WECHAT_APP_SECRET") or "").strip()
    if not app_id or not secret:
        return None
    redis_url = config.get("REDIS_URL")
    cache: TokenCache = RedisTokenCache(redis_url) if redis_url else _PROCESS_CACHE
    client = WeChatClient(app_id, secret, config.get("WECHAT_API_BASE") or API_BASE,
                          cache=cache, clock=clock,
                          timeout=float(config.get("WECHAT_API_TIMEOUT") or TIMEOUT))
    return WeChatOutbound(client, template_id=config.get("WECHAT_SUBSCRIBE_TEMPLATE"),
                          sms=sms)
