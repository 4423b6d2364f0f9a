"""Sending SMS: the `SmsSender` protocol, `LogSms` (the default: writes to the log) and
`HttpGatewaySms` (a generic JSON-over-HTTP gateway), chosen from config by `sender_from_config`.

The only place of this package that does outbound I/O. Only `TransientError` and
`PermanentError` leave it, and `InvalidInput` for a caller's mistake, before any I/O.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from dispatch.core.errors import InvalidInput
from dispatch.core.ports import Clock, SystemClock
from dispatch.intake.phones import mask_phone, normalize_phone
from dispatch.outbound.outbox import PermanentError, TransientError

_log = logging.getLogger("hotline.sms")

SENDER_NAME = "长垣12345"
# Long texts are split into up to ~7 segments by carriers; beyond that it is a bug upstream.
MAX_TEXT = 500
MAX_REF = 128
# The answer is a small JSON object; never read an unbounded body.
MAX_ANSWER = 64 * 1024
MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
REF = re.compile(r"^[\x21-\x7e]+$")


@dataclass(frozen=True)
class SmsReceipt:
    """The gateway's id of an accepted message and when it was accepted (UTC)."""

    provider_id: str
    accepted_at: datetime


class SmsSender(Protocol):
    def send(self, phone: str, text: str, *, ref: str) -> SmsReceipt:
        """Send one text to one mobile; `ref` is our idempotency key (same ref, one SMS)."""
        ...


def check_message(phone: str, text: str, ref: str) -> str:
    """The mobile number in national digits; refuses a bad phone, text or ref (no I/O)."""
    number = normalize_phone(phone, field="phone")
    if not MOBILE.match(number):
        raise InvalidInput(f"phone: {mask_phone(number)} 不是中国大陆手机号码",
                           field="phone")
    if not text or not text.strip():
        raise InvalidInput("text: 短信内容不能为空", field="text")
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"text: 不能超过 {MAX_TEXT} 个字符", field="text")
    if not REF.match(ref) or len(ref) > MAX_REF:
        raise InvalidInput(f"ref: 须为 1–{MAX_REF} 个可见 ASCII 字符", field="ref")
    return number


class LogSms:
    """Writes each message to the log with the phone masked; never fails on I/O."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()

    def send(self, phone: str, text: str, *, ref: str) -> SmsReceipt:
        """Log the message (phone masked) and return a receipt."""
        number = check_message(phone, text, ref)
        _log.info("SMS to %s (ref %s): %s", mask_phone(number), ref, text)
        return SmsReceipt(provider_id=f"log:{ref}", accepted_at=self.clock.now())


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A POST must not silently become a GET elsewhere: a redirect is a misconfigured URL.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class HttpGatewaySms:
    """POSTs `{"to", "text", "ref", "sign"}` as JSON with a bearer token; reads `{"id"}`."""

    def __init__(self, url: str, token: str, timeout: float = 5.0,
                 sender_name: str = SENDER_NAME, *, clock: Clock | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"SMS gateway URL must be http(s)://host/...: {url!r}")
        if not token:
            raise ValueError("SMS gateway token is empty")
        if not timeout > 0:
            raise ValueError("SMS gateway timeout must be positive")
        self.url = url
        self._token = token
        self.timeout = timeout
        self.sender_name = sender_name
        self.clock = clock or SystemClock()
        self._opener = urllib.request.build_opener(_NoRedirects())

    def __repr__(self) -> str:
        return f"HttpGatewaySms(url={self.url!r}, timeout={self.timeout})"

    def send(self, phone: str, text: str, *, ref: str) -> SmsReceipt:
        """POST one message; transient failures raise `TransientError`, refusals
        `PermanentError`."""
        number = check_message(phone, text, ref)
        body = json.dumps({"to": number, "text": text, "ref": ref, "sign": self.sender_name},
                          ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
            "Authorization": f"Bearer {self._token}",
            "Idempotency-Key": ref,
            "User-Agent": "hotline-sms/1",
        })
        where = f"SMS gateway ({mask_phone(number)}, ref {ref})"
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                raw = answer.read(MAX_ANSWER + 1)
        except urllib.error.HTTPError as exc:
            with exc:  # it holds the response: close it, or the socket leaks
                status = exc.code
            if status == 429 or status >= 500:
                raise TransientError(f"{where}: HTTP {status}") from None
            raise PermanentError(f"{where}: HTTP {status}") from None
        except (OSError, http.client.HTTPException) as exc:
            # URLError (refused, DNS), TimeoutError, resets, a dropped or garbled answer.
            raise TransientError(f"{where}: {type(exc).__name__}: {exc}") from None
        return SmsReceipt(provider_id=self._provider_id(raw, where),
                          accepted_at=self.clock.now())

    @staticmethod
    def _provider_id(raw: bytes, where: str) -> str:
        # The gateway said yes but its answer breaks the contract: a retry (same
        # Idempotency-Key) would get the same answer, so this is not transient.
        if len(raw) > MAX_ANSWER:
            raise PermanentError(f"{where}: the answer is over {MAX_ANSWER} bytes")
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise PermanentError(f"{where}: the answer is not JSON") from None
        ident = data.get("id") if isinstance(data, dict) else None
        if isinstance(ident, bool) or not isinstance(ident, str | int) or str(ident) == "":
            raise PermanentError(f"{where}: the answer has no id")
        return str(ident)[:MAX_REF]


def sender_from_config(config: Mapping[str, Any]) -> SmsSender:
    """`HttpGatewaySms` when `SMS_GATEWAY_URL` is set (with `SMS_GATEWAY_TOKEN`), else
    `LogSms`."""
    url = (config.get("SMS_GATEWAY_URL") or "").strip()
    if not url:
        return LogSms()
    token = (config.get("SMS_GATEWAY_TOKEN") or "").strip()
    if not token:
        raise ValueError("SMS_GATEWAY_URL is set but SMS_GATEWAY_TOKEN is not")
    timeout = float(config.get("SMS_GATEWAY_TIMEOUT") or 5.0)
    return HttpGatewaySms(url, token, timeout=timeout)
