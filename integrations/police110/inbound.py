"""What arrives from the 110 desk: signature, key, time window and header checks, then the JSON
body (UTF-8, the schemas of CONTRACT.md) into frozen `Transfer` and `Ack` values.

Missing fields, wrong types and malformed JSON are 400; values of the right type but out of
range are 422; anything about the signature is 401; a body that is not JSON is 415. The nonce's
replay check needs the database and is left to the caller
(`dispatch.outbound.police.remember_nonce`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from dispatch.core.validation import MESSAGES, message_of
from integrations.errors import RefusedRequest
from integrations.police110 import signing

MAX_BODY = 64 * 1024
TIME_WINDOW = 300  # seconds either way
NONCE = re.compile(r"^[A-Za-z0-9_\-]{8,128}$")
KEY_ID = re.compile(r"^[A-Za-z0-9_\-.]{1,64}$")
TIMESTAMP = re.compile(r"^[0-9]{1,12}$")


class PoliceError(RefusedRequest):
    """A request from the 110 desk refused (see `RefusedRequest`)."""


@dataclass(frozen=True)
class SignedBy:
    """Who signed a verified request, with which nonce."""

    key_id: str
    nonce: str
    timestamp: int


@dataclass(frozen=True)
class Caller:
    name: str | None
    phone: str | None


@dataclass(frozen=True)
class Place:
    address: str | None
    lon: float | None
    lat: float | None
    crs: str


@dataclass(frozen=True)
class Remark:
    at: datetime
    text: str


@dataclass(frozen=True)
class Transfer:
    """A non-police matter 110 hands to 12345 (or, in the fake desk, one we sent)."""

    incident_no: str
    received_at: datetime
    caller: Caller
    location: Place
    category_hint: str | None
    summary: str
    urgency: str
    remarks: tuple[Remark, ...]


@dataclass(frozen=True)
class Ack:
    """110's business answer about one of our transfers."""

    ticket_no: str
    incident_no: str | None
    status: str
    cause: str | None
    result: str | None
    at: datetime


def load_keys(raw: Mapping[str, str] | str | None = None) -> dict[str, str] | None:
    """Key id → secret from a mapping or JSON text (default: HOTLINE_POLICE110_KEYS); None
    when nothing usable is configured."""
    if raw is None:
        raw = os.environ.get("HOTLINE_POLICE110_KEYS") or None
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    if not isinstance(raw, Mapping):
        return None
    keys = {str(k): str(v) for k, v in raw.items() if k and v}
    return keys or None


def verify(keys: Mapping[str, str], headers: Mapping[str, str], body: bytes,
           now: float) -> SignedBy:
    """Check the key id, the time window and the signature of one request."""
    key_id = headers.get(signing.KEY, "")
    stamp = headers.get(signing.TIMESTAMP, "")
    nonce = headers.get(signing.NONCE, "")
    given = headers.get(signing.SIGNATURE, "")
    if not key_id or not stamp or not nonce or not given:
        missing = next(h for h, v in ((signing.KEY, key_id), (signing.TIMESTAMP, stamp),
                                      (signing.NONCE, nonce), (signing.SIGNATURE, given))
                       if not v)
        raise PoliceError(401, f"{missing}：缺少此请求头", missing)
    if not KEY_ID.match(key_id) or key_id not in keys:
        raise PoliceError(401, f"{signing.KEY}：未知的密钥编号", signing.KEY)
    if not TIMESTAMP.match(stamp):
        raise PoliceError(401, f"{signing.TIMESTAMP}：须为 Unix 秒数", signing.TIMESTAMP)
    if abs(int(stamp) - now) > TIME_WINDOW:
        raise PoliceError(401, f"{signing.TIMESTAMP}：与服务器时间相差超过 {TIME_WINDOW} 秒",
                          signing.TIMESTAMP)
    if not NONCE.match(nonce):
        raise PoliceError(401, f"{signing.NONCE}：格式错误（须为 8–128 个字母、数字、- 或 _）",
                          signing.NONCE)
    if not signing.signature_ok(keys[key_id], stamp, nonce, body, given):
        raise PoliceError(401, f"{signing.SIGNATURE}：签名不正确", signing.SIGNATURE)
    return SignedBy(key_id, nonce, int(stamp))


# ---------------------------------------------------------------- the JSON schemas


def _text(max_length: int, min_length: int = 0) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=min_length,
                             max_length=max_length)


class _Schema(BaseModel):
    # Unknown fields are ignored: the desk may add some without breaking the link.
    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        """PostgreSQL cannot store NUL characters."""
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("不能含 NUL 字符")
        return value


class _CallerIn(_Schema):
    name: Annotated[str, _text(60)] | None = None
    phone: Annotated[str, _text(32)] | None = None


class _LocationIn(_Schema):
    address: Annotated[str, _text(200)] | None = None
    lon: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    crs: Literal["WGS84", "GCJ02", "BD09"] = "WGS84"

    @model_validator(mode="after")
    def _point_or_address(self) -> _LocationIn:
        if (self.lon is None) != (self.lat is None):
            raise _Missing("lat" if self.lat is None else "lon")
        if self.lon is None and not self.address:
            raise _Missing("address")
        return self


class _RemarkIn(_Schema):
    at: AwareDatetime
    text: Annotated[str, _text(2000, 1)]


IncidentNo = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9\-]{1,64}$")]
TicketNo = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9\-]{1,32}$")]


class _TransferIn(_Schema):
    incident_no: IncidentNo
    received_at: AwareDatetime
    caller: _CallerIn = _CallerIn()
    location: _LocationIn
    category_hint: Annotated[str, _text(80)] | None = None
    summary: Annotated[str, _text(4000, 1)]
    urgency: Literal["normal", "urgent", "critical"] = "normal"
    remarks: list[_RemarkIn] = Field(default_factory=list, max_length=50)


class _AckIn(_Schema):
    ticket_no: TicketNo
    incident_no: IncidentNo | None = None
    status: Literal["accepted", "rejected", "completed"]
    cause: Annotated[str, _text(2000)] | None = None
    result: Annotated[str, _text(4000)] | None = None
    at: AwareDatetime

    @model_validator(mode="after")
    def _cause_or_result(self) -> _AckIn:
        if self.status == "rejected" and not self.cause:
            raise _Missing("cause")
        if self.status == "completed" and not self.result:
            raise _Missing("result")
        return self


class _Missing(ValueError):
    """A field required by another one's value (a 400 naming it, like a missing field)."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def _status_of(error_type: str) -> int:
    """Shape errors (missing, wrong type, malformed JSON) are 400; value errors 422."""
    if error_type == "missing" or error_type.endswith("_type") or error_type.startswith("json"):
        return 400
    return 422


def _validate(model: type[BaseModel], body: bytes, content_type: str | None) -> Any:
    if len(body) > MAX_BODY:
        raise PoliceError(413, "请求内容超过 64 KiB 上限")
    mimetype, _, params = (content_type or "").partition(";")
    charset = dict(p.strip().lower().partition("=")[::2] for p in params.split(";") if p.strip())
    if mimetype.strip().lower() != "application/json" or \
            charset.get("charset", "utf-8").strip('"') not in ("utf-8", "utf8"):
        raise PoliceError(415, "请求内容须为 UTF-8 编码的 application/json")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise PoliceError(400, "请求内容不是 UTF-8 编码") from None
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        cause = (first.get("ctx") or {}).get("error")
        where = [str(p) for p in first["loc"]]
        if isinstance(cause, _Missing):
            required = ".".join([*where, cause.field])
            raise PoliceError(400, f"{required}: {MESSAGES['missing']}", required) from None
        field = ".".join(where) or None
        if first["type"].startswith("json"):
            raise PoliceError(400, "请求内容不是格式正确的 JSON") from None
        if first["type"] == "model_type" and field is None:
            raise PoliceError(400, "请求内容须为 JSON 对象") from None
        message = message_of(first)
        raise PoliceError(_status_of(first["type"]), f"{field}: {message}", field) from None


def read_transfer(body: bytes, content_type: str | None) -> Transfer:
    """Parse and check one transfer's body."""
    t = _validate(_TransferIn, body, content_type)
    return Transfer(
        incident_no=t.incident_no, received_at=t.received_at,
        caller=Caller(t.caller.name or None, t.caller.phone or None),
        location=Place(t.location.address or None, t.location.lon, t.location.lat,
                       t.location.crs),
        category_hint=t.category_hint or None, summary=t.summary, urgency=t.urgency,
        remarks=tuple(Remark(r.at, r.text) for r in t.remarks),
    )


def read_ack(body: bytes, content_type: str | None) -> Ack:
    """Parse and check one ack's body."""
    a = _validate(_AckIn, body, content_type)
    return Ack(a.ticket_no, a.incident_no, a.status, a.cause or None, a.result or None, a.at)
