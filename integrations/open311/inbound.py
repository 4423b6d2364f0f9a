"""What an Open311 client POSTs: the API key check and the form turned into a TicketCreate."""

from __future__ import annotations

import hmac
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dispatch.core.commands import MAX_TEXT, TicketCreate, parse
from dispatch.core.errors import InvalidInput
from dispatch.core.vocab import Channel
from dispatch.intake.phones import normalize_phone
from integrations.open311 import PermanentError
from integrations.open311.mapping import LOCAL_TZ

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_MEDIA_URL = 2000
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]")


def parse_keys(raw: str | Collection[str] | None) -> tuple[str, ...]:
    """The configured keys: a comma-separated string or a collection; blanks dropped."""
    if raw is None:
        return ()
    items = raw.split(",") if isinstance(raw, str) else raw
    return tuple(k.strip() for k in items if k and k.strip())


NOT_ENABLED = "本服务器未开放 POST（未配置 API 密钥）"


def check_api_key(given: str | None, keys: Collection[str]) -> None:
    """Refuse (403) when no key is configured, or the given key is missing or unknown."""
    if not keys:
        raise PermanentError(403, NOT_ENABLED)
    if not given:
        raise PermanentError(403, "api_key: 必填，不能缺少")
    # Compare with every key in constant time, so timing does not tell how close a guess was.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given.encode("utf-8"), key.encode("utf-8"))
    if not matched:
        raise PermanentError(403, "api_key: 无效的 API 密钥")


def _text(form: Mapping[str, str], name: str) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _coordinate(form: Mapping[str, str], name: str, limit: float) -> float | None:
    raw = _text(form, name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise PermanentError(400, f"{name}: 须为数字") from None
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise PermanentError(400, f"{name}: 须在 {-limit:g} 到 {limit:g} 之间")
    return value


def citizen_name(first: str | None, last: str | None) -> str | None:
    """张 + 三 → 张三 (Chinese order, no space); John + Smith → John Smith."""
    parts = [p for p in (first, last) if p]
    if not parts:
        return None
    if any(_CJK.search(p) for p in parts):
        return "".join(p for p in (last, first) if p)
    return " ".join(parts)


def parse_request(form: Mapping[str, str], services: Collection[str]) -> dict[str, Any]:
    """The POSTed form as our intake command (a TicketCreate dict); refuses what is wrong.

    `services` are the service codes that may be requested (the leaf categories). Email,
    device_id and account_id are not kept: the citizen record has no place for them and they
    are not needed to handle the demand.
    """
    code = _text(form, "service_code")
    if code is None:
        raise PermanentError(400, "service_code: 必填，不能缺少")
    if code not in services:
        raise PermanentError(404, f"service_code: 没有编码为“{code}”的服务")
    description = _text(form, "description")
    if description is None:
        raise PermanentError(400, "description: 必填，不能为空")
    if len(description) > MAX_TEXT:
        raise PermanentError(400, f"description: 不能超过 {MAX_TEXT} 个字符")
    lat = _coordinate(form, "lat", 90)
    lon = _coordinate(form, "long", 180)
    if (lat is None) != (lon is None):
        missing = "lat" if lat is None else "long"
        raise PermanentError(400, f"{missing}: lat 和 long 须同时提供或都不提供")
    address = _text(form, "address_string")
    if lat is None and address is None:
        raise PermanentError(400, "address_string: 须提供位置：lat 和 long，或 address_string")
    name = citizen_name(_text(form, "first_name"), _text(form, "last_name"))
    phone = _text(form, "phone")
    data: dict[str, Any] = {
        "channel": Channel.OPEN311.value, "text": description, "category": code,
        "citizen": {"name": name, "phone": phone, "anonymous": name is None and phone is None},
        "address": address, "lon": lon, "lat": lat, "crs": "WGS84",
    }
    try:
        if phone is not None:
            normalize_phone(phone, "phone")
        parse(TicketCreate, data)  # the same checks as intake, answered in Open311's shape
    except InvalidInput as exc:
        raise PermanentError(400, _open311_message(exc)) from None
    return data


_FIELD_NAMES = {"citizen.name": "first_name/last_name", "citizen.phone": "phone",
                "address": "address_string", "lon": "long", "text": "description",
                "category": "service_code"}


def _open311_message(exc: InvalidInput) -> str:
    """Our field names in a validation message replaced by the form's."""
    field = exc.field or ""
    name = _FIELD_NAMES.get(field, field)
    message = exc.message
    if field and message.startswith(field + ":"):
        message = name + message[len(field):]
    return message


def media_url(form: Mapping[str, str]) -> str | None:
    """The photo link a client sent, if it is an http(s) URL of sensible length."""
    url = _text(form, "media_url")
    if url is None:
        return None
    if len(url) > MAX_MEDIA_URL or not re.match(r"https?://[^\s\x00-\x1f]+$", url):
        raise PermanentError(400, "media_url: 须为 http 或 https 网址")
    return url


DEFAULT_WINDOW = timedelta(days=90)
MAX_RESULTS = 1000
MAX_IDS = 200


@dataclass(frozen=True)
class RequestQuery:
    """The filters of GET requests: either ids, or service codes, states and a time window."""

    ids: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    states: frozenset[str] = frozenset()
    start: datetime | None = None
    end: datetime | None = None


def _list(raw: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in (raw or "").split(",") if v.strip()))


def _moment(raw: str | None, name: str) -> datetime | None:
    if raw is None or not raw.strip():
        return None
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise PermanentError(400, f"{name}: 不是 W3C 日期时间格式"
                                  "（如 2026-11-23T08:00:00+08:00）") from None
    # A time without its offset is read as local time: the only sensible guess here.
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TZ)


def parse_query(args: Mapping[str, str], now: datetime) -> RequestQuery:
    """GET requests' parameters; by default the last 90 days (as the specification says)."""
    ids = _list(args.get("service_request_id"))
    if ids:  # the specification: with ids, every other parameter is ignored
        if len(ids) > MAX_IDS:
            raise PermanentError(400, f"service_request_id: 一次最多 {MAX_IDS} 个")
        return RequestQuery(ids=ids)
    states = frozenset(s.lower() for s in _list(args.get("status")))
    if states - {"open", "closed"}:
        raise PermanentError(400, "status: 须为 'open'、'closed' 或两者（逗号分隔）")
    start, end = _moment(args.get("start_date"), "start_date"), _moment(args.get("end_date"),
                                                                         "end_date")
    if start is None and end is None:
        start, end = now - DEFAULT_WINDOW, None
    if start is not None and end is not None and end < start:
        raise PermanentError(400, "end_date: 早于 start_date")
    return RequestQuery(service_codes=_list(args.get("service_code")), states=states,
                        start=start, end=end)
