"""The citizens' public API under /api/v1/public (CONTRACT.md "The citizens' web page"): send a
demand (JSON or multipart with up to 3 photos), follow it with its number and pick-up code,
rate it once reviewed; and what the page's map needs (the county's streets and communities,
an address looked up). No login: every answer is limited to the citizen's own demand.

Throttled per client address and per phone with `limits` (as the login throttle in
web/auth.py): in Redis when `HOTLINE_REDIS_URL` is set, in memory in the embedded mode; a
throttled request answers 429 in Chinese with `Retry-After`. No captcha, no third party.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from typing import Any

from flask import current_app, jsonify, request, send_file
from flask.typing import ResponseReturnValue
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from pydantic import BaseModel, ConfigDict, Field
from werkzeug.exceptions import UnsupportedMediaType

from dispatch.core.commands import Strict
from dispatch.core.errors import Conflict, InvalidInput, NotFound
from dispatch.core.vocab import Satisfaction
from dispatch.intake import web_channel
from dispatch.intake.phones import normalize_phone
from dispatch.tickets.attachments import stored_path
from grid.directory import SqlDirectory
from grid.models import COMMUNITY, STREET
from grid.service import GridRouting
from web.api.attachments import FRAMING_BYTES, storage_dir
from web.api.base import ApiBlueprint, commit
from web.extensions import db
from web.services import services

bp = ApiBlueprint("public", __name__)
log = logging.getLogger("hotline.public")

REPORT_ENDPOINT = "public.create_request"
FORM_FIELDS = ("text", "address", "lon", "lat", "crs", "name", "phone", "anonymous", "sms_code",
               "sms_token")
# (requests, seconds) per kind of key; app.config may replace each (tests, deployments).
LIMITS = {
    "PUBLIC_REPORTS_PER_ADDRESS": (5, 10 * 60),
    "PUBLIC_REPORTS_PER_PHONE": (5, 24 * 3600),
    "PUBLIC_LOOKUP_FAILURES_PER_ADDRESS": (10, 10 * 60),
    "PUBLIC_LOOKUP_FAILURES_PER_NUMBER": (20, 3600),
    "PUBLIC_LOCATES_PER_ADDRESS": (60, 10 * 60),
    "PUBLIC_PHONE_CODES_PER_ADDRESS": (5, 10 * 60),
    "PUBLIC_PHONE_CODES_PER_PHONE": (3, 10 * 60),
}


# ---------------------------------------------------------------- throttling


class PublicThrottled(Exception):
    """Too many requests from this address (or for this phone, or this number)."""

    def __init__(self, retry_after: int, what: str) -> None:
        super().__init__(f"throttled for {retry_after} s")
        self.retry_after = retry_after
        self.what = what

    @property
    def message(self) -> str:
        """What the citizen is told (zh-CN)."""
        wait = (f"{math.ceil(self.retry_after / 60)} 分钟" if self.retry_after >= 60
                else f"{self.retry_after} 秒")
        return f"{self.what}过于频繁，请在 {wait}后再试"


class PublicThrottle:
    """Moving-window counters per (limit, key); with the shared storage unreachable they count
    in this process's memory meanwhile (logged once a minute)."""

    def __init__(self, storage_uri: str) -> None:
        options: dict[str, Any] = {}
        if storage_uri.startswith(("redis://", "rediss://")):
            options = {"key_prefix": "hotline-public", "socket_timeout": 1.0,
                       "socket_connect_timeout": 1.0}
        self._shared = MovingWindowRateLimiter(storage_from_string(storage_uri, **options))
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._warned = -math.inf

    def _run(self, operation: str, item: RateLimitItem, *keys: str) -> Any:
        try:
            return getattr(self._shared, operation)(item, *keys)
        except Exception:  # noqa: BLE001  (any storage failure: count in memory meanwhile)
            if time.monotonic() - self._warned > 60:
                self._warned = time.monotonic()
                log.warning("public throttle: storage unreachable, counting in memory",
                            exc_info=True)
            return getattr(self._local, operation)(item, *keys)

    @staticmethod
    def _item(name: str) -> RateLimitItem:
        amount, seconds = current_app.config.get(name) or LIMITS[name]
        return RateLimitItemPerSecond(int(amount), int(seconds))

    def _wait(self, item: RateLimitItem, name: str, key: str) -> int:
        stats = self._run("get_window_stats", item, name, key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def hit(self, name: str, key: str, what: str) -> None:
        """Count one request; PublicThrottled when the limit is already reached."""
        item = self._item(name)
        if not self._run("hit", item, name, key):
            raise PublicThrottled(self._wait(item, name, key), what)

    def check(self, name: str, key: str, what: str) -> None:
        """PublicThrottled when the limit is reached (nothing counted)."""
        item = self._item(name)
        if not self._run("test", item, name, key):
            raise PublicThrottled(self._wait(item, name, key), what)

    def count(self, name: str, key: str) -> None:
        """Count one (a failure) without refusing."""
        self._run("hit", self._item(name), name, key)


def throttle() -> PublicThrottle:
    """This application's public throttle (made on first use)."""
    found = current_app.extensions.get("hotline_public_throttle")
    if found is None:  # two first requests at once: one throttle is kept
        found = current_app.extensions.setdefault("hotline_public_throttle", PublicThrottle(
            current_app.config.get("REDIS_URL") or "memory://"))
    return found


def _address() -> str:
    return request.remote_addr or "unknown"


@bp.errorhandler(PublicThrottled)
def _throttled(exc: PublicThrottled) -> ResponseReturnValue:
    db.session.rollback()
    response = jsonify({"error": {"code": "too_many_requests", "message": exc.message}})
    response.headers["Retry-After"] = str(exc.retry_after)
    return response, 429


# ---------------------------------------------------------------- sending a demand


@bp.url_value_preprocessor
def _lift_body_limit(endpoint_name: str | None, values: dict[str, Any] | None) -> None:
    # Before every before_request hook (the CSRF check of a signed-in browser reads the form).
    # Only a multipart form carries photos: JSON keeps the app's small body limit.
    if endpoint_name == REPORT_ENDPOINT and request.mimetype == "multipart/form-data":
        request.max_content_length = (web_channel.MAX_PHOTOS
                                      * current_app.config["UPLOAD_MAX_BYTES"] + FRAMING_BYTES)


def _form() -> tuple[dict[str, Any], list[web_channel.Photo]]:
    """The citizen's demand and photos, from JSON or a multipart form."""
    if request.mimetype == "application/json":
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise InvalidInput("请求内容须为 JSON 对象")
        return data, []
    if request.mimetype not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise UnsupportedMediaType("请以 multipart/form-data 或 application/json 发送诉求")
    data: dict[str, Any] = {}
    for key in request.form:
        if key == "csrf_token":
            continue
        value = request.form.get(key, "").strip()
        if key not in FORM_FIELDS:
            raise InvalidInput(f"{key}: 不认识的字段", field=key)
        if key in ("lon", "lat") and value:
            try:
                data[key] = float(value)
            except ValueError:
                raise InvalidInput(f"{key}: 须为数字", field=key) from None
        elif key == "anonymous":
            data[key] = value.lower() in ("1", "true", "on", "yes")
        elif value:
            data[key] = value
    limit = current_app.config["UPLOAD_MAX_BYTES"]
    photos = [web_channel.Photo(f.stream.read(limit + 1), f.filename)
              for f in request.files.getlist(web_channel.PHOTO_FIELD)]
    photos = [p for p in photos if p.data or p.filename]  # an empty file input sends nothing
    unknown = [k for k in request.files if k != web_channel.PHOTO_FIELD]
    if unknown:
        raise InvalidInput(f"{unknown[0]}: 照片请用 photos 字段上传", field=unknown[0])
    return data, photos


def sms_available() -> bool:
    """Whether an SMS gateway is configured (only then could a phone be verified)."""
    return bool(current_app.config.get("SMS_GATEWAY_URL"))


def _secret() -> bytes:
    return str(current_app.secret_key).encode()


def _send_sms(phone: str, text: str, ref: str) -> bool:
    """Send one SMS through the configured gateway; False (logged) when it fails."""
    try:
        services().sms.send(phone, text, ref=ref)  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001  (the gateway's errors: the page says so, nothing lost)
        log.warning("public SMS to a citizen not sent", exc_info=True)
        return False
    return True


class PhoneIn(Strict):
    phone: str = Field(max_length=32)


@bp.endpoint("/public/phone-codes", "POST",
             "Send a 6-digit SMS code to the citizen's phone (only where an SMS gateway is "
             "configured); answers the token to send back with the code", body=PhoneIn,
             public=True, status=201, errors=(409, 429, 503))
def send_phone_code(body: PhoneIn) -> ResponseReturnValue:
    if not sms_available():
        raise Conflict("本平台暂未开通短信验证：手机号无需验证，提取码只在页面上显示")
    guard = throttle()
    guard.hit("PUBLIC_PHONE_CODES_PER_ADDRESS", _address(), "获取验证码")
    phone = normalize_phone(body.phone, "phone")
    guard.hit("PUBLIC_PHONE_CODES_PER_PHONE", phone, "同一手机号获取验证码")
    code, token = web_channel.phone_challenge(phone, _secret(), services().clock.now())
    text = f"【长垣12345】您的验证码是{code}，10分钟内有效。如非本人操作，请忽略本短信。"
    if not _send_sms(phone, text, "web-verify-" + secrets.token_hex(8)):
        return jsonify({"error": {"code": "unavailable", "field": "phone",
                                  "message": "短信发送失败，请稍后重试，或选择匿名反映"}}), 503
    seconds = int(web_channel.PHONE_PROOF_TTL.total_seconds())
    return jsonify({"token": token, "expires_in": seconds}), 201


@bp.endpoint("/public/requests", "POST",
             "A citizen's demand from the web page (JSON, or multipart with up to 3 photos in "
             "'photos'); answers the ticket number and its pick-up code (shown once); "
             "throttled per address and phone; with an SMS gateway a phone needs its SMS code",
             public=True, status=201, errors=(413, 429))
def create_request() -> ResponseReturnValue:
    guard = throttle()
    guard.hit("PUBLIC_REPORTS_PER_ADDRESS", _address(), "提交诉求")
    data, photos = _form()
    phone = normalize_phone(str(data["phone"]), "phone") if data.get("phone") else None
    if phone is not None:
        guard.hit("PUBLIC_REPORTS_PER_PHONE", phone, "同一手机号提交诉求")
    now = services().clock.now()
    verified = web_channel.phone_verification(
        phone, sms_enabled=sms_available(), code=data.get(web_channel.SMS_CODE_FIELD),
        token=data.get("sms_token"), secret=_secret(), now=now)
    receipt = web_channel.report(
        db.session, data, photos, now=now, ports=services().intake_ports(db.session, now),
        directory=SqlDirectory(db.session), storage_dir=storage_dir(),
        max_bytes=current_app.config["UPLOAD_MAX_BYTES"], phone_verified=verified)
    number, code = receipt.ticket.number, receipt.code
    answer = {
        "number": number, "code": code, "state": web_channel.state_label(receipt.ticket),
        "emergency": receipt.alarm is not None, "advice": receipt.advice,
        "photos": receipt.photos, "phone_verified": receipt.phone_verified,
    }
    commit(receipt.events)
    by_sms = receipt.phone_verified and phone is not None and _send_sms(
        phone, web_channel.receipt_sms(number, code), f"web-receipt-{number}")
    notice = "凭工单编号和提取码可查询办理进度"
    if by_sms:
        notice = "工单编号和提取码也已发送到您的手机；" + notice
    else:
        notice = "提取码只在本页显示这一次，请截图或抄下；" + notice
        if receipt.ticket.citizen_phone is not None and not receipt.phone_verified:
            notice += "。手机号未经短信验证，仅用于回访联系"
    return jsonify({**answer, "code_by_sms": bool(by_sms), "notice": notice}), 201


# ---------------------------------------------------------------- following it


class Query(BaseModel):
    """Query strings arrive as text: numbers are parsed (lax), unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CodeQuery(Query):
    code: str = Field("", max_length=32, description="the pick-up code (提取码)")


def _own_ticket(number: str, code: str) -> Any:
    """The citizen's ticket, counting failures against the address and the number."""
    guard = throttle()
    guard.check("PUBLIC_LOOKUP_FAILURES_PER_ADDRESS", _address(), "查询")
    guard.check("PUBLIC_LOOKUP_FAILURES_PER_NUMBER", number[:40], "查询该工单")
    try:
        return web_channel.find_for_citizen(db.session, number, code)
    except NotFound:
        guard.count("PUBLIC_LOOKUP_FAILURES_PER_ADDRESS", _address())
        guard.count("PUBLIC_LOOKUP_FAILURES_PER_NUMBER", number[:40])
        raise


def _view(view: web_channel.CitizenView, number: str, code: str) -> dict[str, Any]:
    def photo(i: int) -> str:
        return f"/api/v1/public/requests/{number}/photos/{i}?code={code}"

    return {
        "number": view.number, "state": view.state, "status": view.status, "text": view.text,
        "category": view.category, "department": view.department, "address": view.address,
        "created_at": view.created_at.isoformat(),
        "steps": [{"at": s.at.isoformat(), "label": s.label} for s in view.steps],
        "reply": view.reply, "reply_photos": [photo(i) for i in view.reply_photos],
        "own_photos": [photo(i) for i in view.own_photos],
        "can_rate": view.can_rate, "rating": view.rating, "resolved": view.rated_resolved,
    }


@bp.endpoint("/public/requests/<number>", "GET",
             "Where a citizen's demand stands, for its number and pick-up code (a wrong code "
             "answers the same 404 as an unknown number)", query=CodeQuery, public=True,
             errors=(404, 429))
def read_request(number: str, query: CodeQuery) -> dict[str, Any]:
    ticket = _own_ticket(number, query.code)
    view = web_channel.citizen_view(db.session, ticket, SqlDirectory(db.session))
    db.session.commit()
    return _view(view, ticket.number, web_channel.normalise_code(query.code))


class RatingIn(Strict):
    satisfaction: Satisfaction
    resolved: bool


@bp.endpoint("/public/requests/<number>/rating", "POST",
             "The citizen's rating of a reviewed demand (once; dissatisfied or unresolved "
             "reopens it)", query=CodeQuery, body=RatingIn, public=True, errors=(404, 409, 429))
def rate_request(number: str, query: CodeQuery, body: RatingIn) -> dict[str, Any]:
    ticket = _own_ticket(number, query.code)
    events = web_channel.rate(db.session, ticket, body.satisfaction, body.resolved,
                              now=services().clock.now(), directory=SqlDirectory(db.session))
    view = web_channel.citizen_view(db.session, ticket, SqlDirectory(db.session))
    answer = _view(view, ticket.number, web_channel.normalise_code(query.code))
    commit(events)
    return answer


@bp.endpoint("/public/requests/<number>/photos/<int:photo_id>", "GET",
             "A photo the citizen sent, or a published photo of the result", query=CodeQuery,
             public=True, errors=(404, 429))
def read_photo(number: str, photo_id: int, query: CodeQuery) -> ResponseReturnValue:
    ticket = _own_ticket(number, query.code)
    found = web_channel.visible_photo(db.session, ticket, photo_id, SqlDirectory(db.session))
    path = stored_path(storage_dir(), found.storage_key)
    db.session.commit()
    if not path.is_file():
        raise NotFound("照片不存在", field="photo")
    response = send_file(path, mimetype=found.content_type, conditional=True, max_age=None)
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response, response.status_code


# ---------------------------------------------------------------- the map


@bp.endpoint("/public/map.geojson", "GET",
             "The county's streets and communities for the citizens' map (names and outlines "
             "only, simplified; cached)", public=True)
def public_map() -> ResponseReturnValue:
    grid = GridRouting(db.session, services().clock.now(), services().grid_cache)
    index = grid.index
    db.session.commit()
    features: list[dict[str, Any]] = []
    if index is not None:
        for level, zoom in ((STREET, 12), (COMMUNITY, 13)):
            found, _ = index.features(level, None, zoom)
            features += [{"type": "Feature", "geometry": f["geometry"],
                          "properties": {"name": f["properties"]["name"], "level": level}}
                         for f in found]
    body = {"type": "FeatureCollection", "features": features,
            "properties": {"grid_version": index.version if index is not None else None}}
    response = current_app.response_class(current_app.json.dumps(body),
                                          mimetype="application/geo+json")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response, 200


class PlaceQuery(Query):
    address: str | None = Field(None, max_length=200)
    lon: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)


@bp.endpoint("/public/locate", "GET",
             "Where an address or a pin is, in the citizen's words (street and community "
             "names, no routing)", query=PlaceQuery, public=True, errors=(429,))
def public_locate(query: PlaceQuery) -> dict[str, Any]:
    throttle().hit("PUBLIC_LOCATES_PER_ADDRESS", _address(), "查询地址")
    address = (query.address or "").strip() or None
    if (query.lon is None) != (query.lat is None):
        missing = "lat" if query.lat is None else "lon"
        raise InvalidInput(f"{missing}: 经度和纬度须同时提供", field=missing)
    if query.lon is None and address is None:
        raise InvalidInput("address: 请填写地址", field="address")
    grid = GridRouting(db.session, services().clock.now(), services().grid_cache)
    loc = grid.locate(query.lon, query.lat, "WGS84", address)
    index = grid.index
    db.session.commit()

    def name(code: str | None) -> str | None:
        return index.areas[code].name if index is not None and code in index.areas else None

    found = loc.lon is not None and (loc.street is not None or loc.community is not None)
    return {"found": found, "lon": loc.lon, "lat": loc.lat, "address": address,
            "street": name(loc.street), "community": name(loc.community),
            "outside": "outside_grid" in loc.flags or "nearest_cell" in loc.flags}
