"""The citizens' own web page (channel `web`, CONTRACT.md "The citizens' web page"): a demand
sent from `/report` goes through the same intake as every channel and gets a pick-up code
(提取码); with its number and that code the citizen follows it on `/track` and rates the result
once it is reviewed (a dissatisfied rating reopens it like any callback).

The code is shown once and stored only as a salted, slow hash (PBKDF2-SHA256, standard
library); it is compared in constant time, and an unknown number costs the same hash as a
wrong code, so neither the answer nor its timing tells one from the other.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from dispatch.core.commands import CallbackPayload, NotePayload, TicketCreate, parse
from dispatch.core.db import Base, UTCDateTime
from dispatch.core.errors import Conflict, InvalidInput, NotFound
from dispatch.core.models import Event, Ticket
from dispatch.core.ports import Directory, IntakePorts
from dispatch.core.vocab import Channel, Role, Satisfaction, Status
from dispatch.intake.alarms import Alarm
from dispatch.intake.pipeline import intake
from dispatch.tickets.attachments import (
    DEFAULT_MAX_BYTES,
    Attachment,
    CleanImage,
    sanitise_name,
    store_image,
    verify_image,
)
from dispatch.tickets.lifecycle import Actor, needs_callback, perform
from dispatch.tickets.public import public_view

# The web page is a channel, not a person at a desk: the system role under its own name.
WEB_ACTOR = Actor(None, Role.SYSTEM, None, "web")
MAX_PHOTOS = 3
PHOTO_FIELD = "photos"
CODE_LENGTH = 6
# No 0/O, 1/I/L: a code read off a screen and typed on a phone must not be misread.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
HASH_NAME = "pbkdf2_sha256"
HASH_ITERATIONS = 120_000
PHOTO_NOTE = "市民通过网页随诉求上传的照片"
NOT_FOUND = "没有找到这个工单，或提取码不正确，请核对工单编号和提取码"


class PickupCode(Base):
    """The hashed pick-up code of a demand sent from the web page (one per ticket)."""

    __tablename__ = "web_pickup_codes"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(160))
    # Whether the phone was proved by an SMS code (only where an SMS gateway is configured).
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


# ---------------------------------------------------------------- the code


def new_code() -> str:
    """A fresh random pick-up code (6 characters, about 30 bits)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str | None) -> str:
    """What the citizen typed, as stored: upper case, spaces and dashes dropped."""
    return "".join(ch for ch in (code or "").upper() if ch not in " -\t")[:32]


def hash_code(code: str, *, salt: bytes | None = None,
              iterations: int = HASH_ITERATIONS) -> str:
    """The stored form of a code: `pbkdf2_sha256$iterations$salt$digest` (hex)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", normalise_code(code).encode(), salt, iterations)
    return f"{HASH_NAME}${iterations}${salt.hex()}${digest.hex()}"


# Compared against when the number is unknown, so that answer takes as long as a wrong code.
_DECOY = hash_code("DECOY0", salt=b"\x00" * 16)


def code_matches(stored: str, code: str) -> bool:
    """Whether a typed code is the one stored (constant-time comparison of the digests)."""
    try:
        name, rounds, salt, digest = stored.split("$")
        iterations = int(rounds)
        salt_bytes = bytes.fromhex(salt)
    except ValueError:
        return False
    if name != HASH_NAME:
        return False
    candidate = hash_code(code, salt=salt_bytes, iterations=iterations).rsplit("$", 1)[1]
    return hmac.compare_digest(candidate.encode(), digest.encode())


# ---------------------------------------------------------------- proving a phone by SMS

PHONE_PROOF_TTL = timedelta(minutes=10)
SMS_CODE_FIELD = "sms_code"


def phone_challenge(phone: str, secret: bytes, now: datetime) -> tuple[str, str]:
    """A 6-digit code to send to `phone` by SMS and the token the page keeps meanwhile (its
    expiry and an HMAC of phone, code and expiry under the server's secret: nothing stored,
    and the token alone does not give the code away)."""
    code = f"{secrets.randbelow(10 ** 6):06d}"
    expires = int((now + PHONE_PROOF_TTL).timestamp())
    return code, f"{expires}.{_proof_mac(phone, code, expires, secret)}"


def _proof_mac(phone: str, code: str, expires: int, secret: bytes) -> str:
    message = f"{phone}|{code.strip()}|{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def phone_proved(phone: str, code: str | None, token: str | None, secret: bytes,
                 now: datetime) -> bool:
    """Whether `code` is the one sent to `phone` for this token, before it expired."""
    expires_raw, _, mac = (token or "").partition(".")
    if not code or not expires_raw.isdigit() or len(expires_raw) > 12:
        return False
    expires = int(expires_raw)
    if now.timestamp() > expires:
        return False
    expected = _proof_mac(phone, code, expires, secret)
    return hmac.compare_digest(expected.encode(), mac.encode())


def phone_verification(phone: str | None, *, sms_enabled: bool, code: str | None,
                       token: str | None, secret: bytes, now: datetime) -> bool:
    """Whether the demand's phone is proved: never without an SMS gateway (recorded
    unverified); with one, a phone must come with the code sent to it (InvalidInput naming
    `sms_code` otherwise)."""
    if phone is None or not sms_enabled:
        return False
    if not code:
        raise InvalidInput(f"{SMS_CODE_FIELD}: 请先获取并填写发到手机上的短信验证码",
                           field=SMS_CODE_FIELD)
    if not phone_proved(phone, code, token, secret, now):
        raise InvalidInput(f"{SMS_CODE_FIELD}: 短信验证码不正确或已过期，请重新获取",
                           field=SMS_CODE_FIELD)
    return True


def receipt_sms(number: str, code: str) -> str:
    """The SMS that repeats the number and the code to a proved phone."""
    return (f"【长垣12345】您的诉求已受理，工单编号{number}，提取码{code}。"
            "凭编号和提取码可在网上查询办理进度，请勿告诉他人。")


# ---------------------------------------------------------------- reporting


@dataclass(frozen=True)
class Photo:
    """One uploaded file as it arrived (bytes, the client's file name)."""

    data: bytes
    filename: str | None = None


@dataclass(frozen=True)
class WebReceipt:
    """What the citizen gets back: the ticket, its pick-up code (shown once), the alarm advice
    for an emergency, and the events to publish after the commit."""

    ticket: Ticket
    code: str
    alarm: Alarm | None
    events: tuple[Event, ...]
    photos: int
    phone_verified: bool = False

    @property
    def advice(self) -> str | None:
        """"请立即拨打110…" for an emergency, else None."""
        return self.alarm.advice(self.ticket.number) if self.alarm is not None else None


def check_photos(photos: Sequence[Photo], *, max_bytes: int = DEFAULT_MAX_BYTES,
                 ) -> list[CleanImage]:
    """Every photo verified by content and re-encoded without EXIF, before anything is
    written; InvalidInput naming `photos` (and which one) otherwise."""
    if len(photos) > MAX_PHOTOS:
        raise InvalidInput(f"{PHOTO_FIELD}: 最多上传 {MAX_PHOTOS} 张照片（收到 {len(photos)} 张）",
                           field=PHOTO_FIELD)
    clean = []
    for i, photo in enumerate(photos, start=1):
        if len(photo.data) > max_bytes:
            raise InvalidInput(
                f"{PHOTO_FIELD}: 第 {i} 张照片超过 {max_bytes // (1 << 20)} MB，请压缩后再上传",
                field=PHOTO_FIELD)
        try:
            clean.append(verify_image(photo.data, max_bytes=max_bytes))
        except InvalidInput as exc:
            detail = exc.message.split(": ", 1)[-1]
            raise InvalidInput(f"{PHOTO_FIELD}: 第 {i} 张照片不能接受：{detail}",
                               field=PHOTO_FIELD) from None
    return clean


def web_demand(data: dict[str, Any]) -> TicketCreate:
    """The citizen's form as a demand of the web channel: only what a citizen may say (the
    text, the place, a name and phone, or anonymous); the rest is the pipeline's judgement."""
    allowed = {"text", "address", "lon", "lat", "crs", "name", "phone", "anonymous",
               SMS_CODE_FIELD, "sms_token"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidInput(f"{unknown[0]}: 不认识的字段", field=unknown[0])
    phone = data.get("phone") or None
    anonymous = bool(data.get("anonymous")) or phone is None
    citizen = {"name": None if anonymous else (data.get("name") or None),
               "phone": phone, "anonymous": anonymous and phone is None}
    return parse(TicketCreate, {
        "channel": Channel.WEB.value, "text": data.get("text"),
        "citizen": citizen, "address": data.get("address") or None,
        "lon": data.get("lon"), "lat": data.get("lat"), "crs": data.get("crs") or "WGS84",
    })


def report(session: Session, data: dict[str, Any], photos: Sequence[Photo], *, now: datetime,
           ports: IntakePorts, directory: Directory, storage_dir: Path,
           max_bytes: int = DEFAULT_MAX_BYTES, code: str | None = None,
           phone_verified: bool = False) -> WebReceipt:
    """Log a citizen's demand from the web page: checked first (text, place, phone, photos),
    then the same intake as every channel, the photos kept on the ticket's history, and a
    pick-up code stored hashed. Nothing is written when anything is refused."""
    cmd = web_demand(data)
    if cmd.address is None and cmd.lon is None:
        raise InvalidInput("address: 请在地图上标出位置，或填写地址", field="address")
    images = check_photos(photos, max_bytes=max_bytes)
    result = intake(session, cmd, WEB_ACTOR, now=now, ports=ports)
    ticket = result.ticket
    events = list(result.events)
    if images:
        ids = []
        for image, photo in zip(images, photos, strict=True):
            key = store_image(image, storage_dir)
            attachment = Attachment(
                ticket_id=ticket.id, uploaded_by_id=None, content_type=image.content_type,
                size=len(image.content), sha256=image.sha256, storage_key=key,
                original_name=sanitise_name(photo.filename), width=image.width,
                height=image.height, created_at=now)
            session.add(attachment)
            session.flush()
            ids.append(attachment.id)
        # Kept on the history, where dispatchers and handlers see the photos.
        events += perform(session, ticket, "note", WEB_ACTOR,
                          NotePayload(text=PHOTO_NOTE, attachments=ids), now=now,
                          directory=directory).events
    code = code or new_code()
    session.add(PickupCode(ticket_id=ticket.id, code_hash=hash_code(code),
                           phone_verified=phone_verified and ticket.citizen_phone is not None,
                           created_at=now))
    session.flush()
    return WebReceipt(ticket, code, result.alarm, tuple(events), len(images),
                      phone_verified and ticket.citizen_phone is not None)


# ---------------------------------------------------------------- following it


def find_for_citizen(session: Session, number: str, code: str | None) -> Ticket:
    """The web demand with this number whose code this is; the same NotFound for an unknown
    number, a ticket of another channel and a wrong code."""
    number = (number or "").strip()[:40]
    row = None
    if "\x00" not in number:
        row = session.execute(select(Ticket, PickupCode.code_hash).join(
            PickupCode, PickupCode.ticket_id == Ticket.id).where(Ticket.number == number)
        ).first()
    stored = row[1] if row is not None else _DECOY
    matches = code_matches(stored, normalise_code(code))  # always one hash: same timing
    if row is None or not matches or not code:
        raise NotFound(NOT_FOUND, field="code")
    ticket: Ticket = row[0]
    return ticket


# What the citizen reads for each state (the five words of the page, and the rarer ones).
def state_label(ticket: Ticket) -> str:
    """The state of a demand in the citizen's words."""
    status = Status(ticket.status)
    if status == Status.REVIEWED:
        return "待评价" if needs_callback(ticket) else "已办结"
    return {
        Status.NEW: "已受理", Status.DISPATCHED: "已派单", Status.SIGNED: "办理中",
        Status.RETURNED: "办理中", Status.COMPLETED: "办理中", Status.REOPENED: "重新办理中",
        Status.ARCHIVED: "已办结", Status.TRANSFERRED_110: "已转110处理",
        Status.MERGED: "已与同类诉求合并办理", Status.VOID: "不予受理",
    }.get(status, "办理中")


# Events the citizen sees on the timeline, in their words; everything else stays internal
# (notes, returns, alarms, extensions, urges, who did it and why).
STEPS = {
    "intake": "诉求已受理", "dispatch": "已派单至承办单位", "sign": "承办单位已签收，正在办理",
    "review_accept": "办理结果已审核，待您评价", "transfer_110": "已转交110处理",
    "merge": "与同类诉求合并办理",
}
SATISFACTION_NAMES: dict[str, str] = {
    Satisfaction.SATISFIED: "满意", Satisfaction.BASICALLY_SATISFIED: "基本满意",
    Satisfaction.DISSATISFIED: "不满意",
}


@dataclass(frozen=True)
class Step:
    at: datetime
    label: str


@dataclass(frozen=True)
class CitizenView:
    """What the citizen may read of their demand: no staff names, no internal notes."""

    number: str
    state: str
    status: str
    text: str
    category: str | None
    department: str | None
    address: str | None
    created_at: datetime
    steps: tuple[Step, ...]
    reply: str | None  # the department's result, once the hotline accepted it
    reply_photos: tuple[int, ...]  # the result's photos, when the department published them
    own_photos: tuple[int, ...]  # the photos the citizen sent
    can_rate: bool
    rating: str | None  # the satisfaction recorded, in words
    rated_resolved: bool | None


def citizen_view(session: Session, ticket: Ticket, directory: Directory) -> CitizenView:
    """The public facts of the citizen's own demand (dispatch.tickets.public) and its steps."""
    facts = public_view(session, [ticket], directory)[0]
    events = session.scalars(select(Event).where(Event.ticket_id == ticket.id)
                             .order_by(Event.id)).all()
    steps: list[Step] = []
    reply, reply_photos, pending = None, (), None
    own: tuple[int, ...] = ()
    rating, rated_resolved = None, None
    for e in events:
        payload = e.payload or {}
        if e.action == "complete":
            pending = e
        elif e.action == "review_accept" and pending is not None:
            done = pending.payload or {}
            reply = done.get("result")
            reply_photos = tuple(done.get("attachments") or ()) if done.get("publish") else ()
            steps.append(Step(pending.at, "承办单位已办结"))
        elif e.action == "review_reject":
            pending = None
        elif e.action == "note" and e.actor_role == Role.SYSTEM and payload.get(
                "text") == PHOTO_NOTE:
            own = tuple(payload.get("attachments") or ())
        if e.action == "callback" and payload.get("reached"):
            rating = SATISFACTION_NAMES.get(str(payload.get("satisfaction")))
            rated_resolved = payload.get("resolved")
            steps.append(Step(e.at, f"已评价：{rating or ''}"))
            if e.to_status == Status.REOPENED:
                steps.append(Step(e.at, "评价不满意，已安排重新办理"))
        elif e.action in STEPS and not (e.action == "review_accept"
                                        and not needs_callback(ticket)):
            steps.append(Step(e.at, STEPS[e.action]))
        if e.to_status == Status.ARCHIVED and e.action != "callback":
            steps.append(Step(e.at, "已办结归档"))
    return CitizenView(
        ticket.number, state_label(ticket), ticket.status, ticket.text, facts.category_name,
        facts.agency, ticket.address, ticket.created_at, tuple(steps), reply, reply_photos,
        own, ticket.status == Status.REVIEWED and needs_callback(ticket), rating,
        rated_resolved)


def rate(session: Session, ticket: Ticket, satisfaction: Satisfaction, resolved: bool, *,
         now: datetime, directory: Directory) -> list[Event]:
    """The citizen's own rating of a reviewed demand, recorded as its callback (once; a
    dissatisfied or unresolved rating reopens it for the same department)."""
    if ticket.status != Status.REVIEWED or not needs_callback(ticket):
        if ticket.satisfaction is not None and ticket.status in (
                Status.ARCHIVED, Status.REOPENED, Status.DISPATCHED, Status.SIGNED):
            raise Conflict("这个工单已经评价过了，每次办理结果只能评价一次")
        raise Conflict(f"这个工单当前（{state_label(ticket)}）还不能评价，"
                       "请在办理结果审核后再评价")
    payload = CallbackPayload(reached=True, satisfaction=satisfaction, resolved=resolved,
                              via="web", reason="市民通过网页评价")
    return list(perform(session, ticket, "callback", WEB_ACTOR, payload, now=now,
                        directory=directory).events)


def visible_photo(session: Session, ticket: Ticket, attachment_id: int,
                  directory: Directory) -> Attachment:
    """A photo the citizen may see: one they sent, or one of a published result."""
    view = citizen_view(session, ticket, directory)
    found = session.get(Attachment, attachment_id)
    if (found is None or found.ticket_id != ticket.id
            or attachment_id not in view.own_photos + view.reply_photos):
        raise NotFound("照片不存在", field="photo")
    return found
