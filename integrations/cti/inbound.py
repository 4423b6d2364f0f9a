"""What arrives from the call centre at `POST /hooks/cti/events` (CONTRACT.md, Calls): the
request is signed like the 110 desk's (the same headers, time window and HMAC-SHA256: the 110
adapter's `verify`, with the centre's keys), its JSON body becomes the domain's `CallReport`.

A recording URL must be on the call centre's own host (HOTLINE_CTI_URL's): the server streams
recordings from there only, so an event cannot make it fetch an arbitrary address. The nonce's
replay check needs the database and is left to the caller, as for 110.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from dispatch.calls.events import CallReport
from integrations.errors import RefusedRequest
from integrations.police110 import inbound as signed_json
from integrations.police110.inbound import SignedBy

EVENTS = ("ringing", "answered", "transferred", "hangup", "abandoned", "recording")
CALL_ID = r"^[A-Za-z0-9_.:\-]{1,64}$"
NUMBER = r"^\+?[0-9*#\-]{1,32}$"
EXTENSION = r"^[0-9A-Za-z_\-]{1,12}$"


class CtiError(RefusedRequest):
    """An event from the call centre refused (see `RefusedRequest`)."""


def load_keys(raw: Mapping[str, str] | str | None = None) -> dict[str, str] | None:
    """Key id → secret from a mapping or JSON text (default: HOTLINE_CTI_KEYS); None when
    nothing usable is configured."""
    if raw is None:
        raw = os.environ.get("HOTLINE_CTI_KEYS") or ""
    return signed_json.load_keys(raw or "")


def verify(keys: Mapping[str, str], headers: Mapping[str, str], body: bytes,
           now: float) -> SignedBy:
    """Key id, time window (300 s) and signature, checked as for the 110 desk."""
    try:
        return signed_json.verify(keys, headers, body, now)
    except signed_json.PoliceError as exc:
        raise CtiError(exc.http_status, exc.message, exc.field) from None


def _text(pattern: str) -> Any:
    return StringConstraints(strip_whitespace=True, pattern=pattern)


class _EventIn(signed_json._Schema):
    event: Literal["ringing", "answered", "transferred", "hangup", "abandoned", "recording"]
    call_id: Annotated[str, _text(CALL_ID)]
    at: AwareDatetime
    caller: Annotated[str, _text(NUMBER)] | None = None
    callee: Annotated[str, _text(NUMBER)] | None = None
    agent: Annotated[str, _text(EXTENSION)] | None = None
    queue: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    wait_s: float | None = Field(None, ge=0, le=86_400, allow_inf_nan=False)
    duration_s: float | None = Field(None, ge=0, le=86_400, allow_inf_nan=False)
    recording_url: Annotated[str, StringConstraints(strip_whitespace=True,
                                                    max_length=500)] | None = None
    transfer_to: Annotated[str, _text(NUMBER)] | None = None

    @model_validator(mode="after")
    def _required_by_event(self) -> _EventIn:
        if self.event == "recording" and not self.recording_url:
            raise signed_json._Missing("recording_url")
        if self.event == "transferred" and not self.transfer_to:
            raise signed_json._Missing("transfer_to")
        return self


def host_of(url: str | None) -> str | None:
    """`host[:port]` of an http(s) URL, lower-cased (None when it is not one)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    return parts.hostname.lower() + (f":{port}" if port else "")


def check_recording_url(url: str, centre_url: str | None) -> str:
    """The recording URL when it is on the call centre's host; refused (422) otherwise, so
    that the server never fetches an address an event names elsewhere."""
    centre = host_of(centre_url)
    if centre is None:
        raise CtiError(422, "recording_url: 未配置呼叫中心地址（HOTLINE_CTI_URL），不接受录音地址",
                       "recording_url")
    if host_of(url) != centre or urlsplit(url).scheme != urlsplit(centre_url or "").scheme:
        raise CtiError(422, f"recording_url: 录音地址须在呼叫中心主机 {centre} 上",
                       "recording_url")
    return url


def read_event(body: bytes, content_type: str | None, centre_url: str | None) -> CallReport:
    """Parse and check one event's body (`centre_url`: HOTLINE_CTI_URL, the recordings' host)."""
    try:
        e = signed_json._validate(_EventIn, body, content_type)
    except signed_json.PoliceError as exc:
        raise CtiError(exc.http_status, exc.message, exc.field) from None
    url = check_recording_url(e.recording_url, centre_url) if e.recording_url else None
    return CallReport(e.event, e.call_id, e.at, e.caller or None, e.callee or None,
                       e.agent or None, e.queue or None, e.wait_s, e.duration_s, url,
                       e.transfer_to or None)


def event_body(event: str, call_id: str, at: str, **fields: Any) -> bytes:
    """A call event's JSON body (for the fake call centre and the tests)."""
    payload = {"event": event, "call_id": call_id, "at": at,
               **{k: v for k, v in fields.items() if v is not None}}
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


__all__ = ["EVENTS", "CtiError", "SignedBy", "check_recording_url",
           "event_body", "host_of", "load_keys", "read_event", "verify"]
