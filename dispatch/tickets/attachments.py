"""Photos attached to tickets: verified by content, re-encoded without metadata, stored
content-addressed, and linked to the action (complete, note) that reports them.

An upload becomes an `Attachment` row that no action uses yet (`event_id` NULL). An action
names the ids it reports; they must belong to the ticket, have been uploaded by the same user
and be unused; the event written by the action then owns them.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import unicodedata
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import ForeignKey, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from dispatch.core.db import Base, UTCDateTime, utcnow
from dispatch.core.errors import Conflict, InvalidInput, NotFound
from dispatch.core.models import Event, Ticket
from dispatch.core.vocab import CLOSED_STATES
from dispatch.tickets.access import can_see

if TYPE_CHECKING:
    from dispatch.core.actors import Actor

FIELD = "file"
# Accepted formats as Pillow names them, and what each is stored and served as.
FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
DEFAULT_MAX_BYTES = 10 << 20
# Decompression bombs: a small file that decodes to a huge bitmap. 50 MP covers the photos of
# any phone camera; anything larger is refused before a single pixel is decoded.
DEFAULT_MAX_PIXELS = 50_000_000
# Stored photos are scaled down to this longest side (a 12 MP phone photo is 4032 px).
MAX_SIDE = 4096
JPEG_QUALITY = 85
MAX_PER_ACTION = 9
# Uploads a user may hold on one ticket before using them in an action (a full disk guard).
MAX_UNUSED_PER_TICKET = 30
MAX_NAME = 120
# Actions whose event payload may name attachments (see `link_reported`).
REPORTING_ACTIONS = frozenset({"complete", "note", "self_handle"})
_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{64}\.(jpg|png|webp)$")


class Attachment(Base):
    """A photo uploaded for a ticket; `event_id` is set when an action reports it. A grid
    worker's photo taken on patrol has no ticket until the patrol report names it
    (`add_unfiled_attachment`, `file_unfiled`)."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    # None: the citizen's own photo, sent with a demand from the web page (no user).
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), index=True)
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(80))
    original_name: Mapped[str | None] = mapped_column(String(MAX_NAME))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    event: Mapped[Event | None] = relationship()


@dataclass(frozen=True)
class CleanImage:
    """An upload that passed verification, re-encoded: the bytes to store."""

    content: bytes
    content_type: str
    extension: str
    width: int
    height: int
    sha256: str

    @property
    def storage_key(self) -> str:
        """Where it is stored under the storage directory (from its digest only)."""
        return f"{self.sha256[:2]}/{self.sha256}.{self.extension}"


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(f"{FIELD}: {message}", field=FIELD)


def verify_image(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> CleanImage:
    """Check an upload by its content (JPEG, PNG or WebP; size; pixel count) and re-encode
    it upright and without metadata (EXIF, GPS, XMP, text chunks); InvalidInput otherwise."""
    if not data:
        raise _refuse("文件为空")
    if len(data) > max_bytes:
        raise _refuse(f"文件大小 {len(data)} 字节，超过上限 {max_bytes} 字节")
    try:
        with warnings.catch_warnings():
            # Pillow warns, then refuses, past its own pixel limit: both are a refusal here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(FORMATS)) as img:
                # Many phone cameras write MPO (a JPEG with extra pictures appended, e.g. a
                # depth map): its first picture is the photo.
                kind = "JPEG" if img.format == "MPO" else img.format
                if kind not in FORMATS:  # pragma: no cover - `formats` already limits this
                    raise _refuse("只接受 JPEG、PNG 和 WebP 格式的照片")
                width, height = img.size
                if width < 1 or height < 1 or width * height > max_pixels:
                    raise _refuse(f"图片为 {width}×{height} 像素，超过上限 "
                                  f"{max_pixels} 像素")
                img.load()
                clean = _reencode(img, kind)
    except (UnidentifiedImageError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise _refuse("不是 JPEG、PNG 或 WebP 图片，或图片过大无法解码") from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise _refuse("图片无法读取，文件可能已损坏") from None
    return clean


def _reencode(img: Image.Image, kind: str) -> CleanImage:
    content_type, extension = FORMATS[kind]
    upright = ImageOps.exif_transpose(img)  # a copy, turned as the camera held it
    keep: dict[str | tuple[int, int], Any] = {
        k: upright.info[k] for k in ("transparency",) if k in upright.info}
    upright.info = keep  # nothing else is carried over: no EXIF, XMP, comments, text
    if max(upright.size) > MAX_SIDE:
        upright.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if kind == "JPEG":
        if upright.mode not in ("RGB", "L"):
            upright = upright.convert("RGB")
        upright.save(out, "JPEG", quality=JPEG_QUALITY)
    elif kind == "PNG":
        if upright.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
            upright = upright.convert("RGBA")
        upright.save(out, "PNG")
    else:
        if upright.mode not in ("RGB", "RGBA"):
            upright = upright.convert("RGBA" if "A" in upright.getbands() else "RGB")
        upright.save(out, "WEBP", quality=JPEG_QUALITY)
    content = out.getvalue()
    return CleanImage(content, content_type, extension, upright.width, upright.height,
                      hashlib.sha256(content).hexdigest())


def store_image(image: CleanImage, storage_dir: Path) -> str:
    """Write the image under `storage_dir` by its digest (once: same bytes, same file);
    returns its storage key. No part of the path comes from the client."""
    key = image.storage_key
    target = storage_dir / key
    if target.exists():
        return key
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(image.content)
        os.replace(tmp, target)  # atomic: a reader never sees half a file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return key


def stored_path(storage_dir: Path, storage_key: str) -> Path:
    """The file of a storage key, refusing any key this module did not make."""
    if not _KEY.match(storage_key):
        raise NotFound("附件文件不存在")
    return storage_dir / storage_key


def sanitise_name(name: str | None) -> str | None:
    """A client's file name fit to show: the last path part, no control characters, short."""
    if not name:
        return None
    base = re.split(r"[/\\]", unicodedata.normalize("NFC", name))[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip(" .")
    return base[:MAX_NAME] or None


def add_attachment(session: Session, ticket: Ticket, actor: Actor, data: bytes,
                   filename: str | None, *, storage_dir: Path, now: datetime,
                   max_bytes: int = DEFAULT_MAX_BYTES,
                   max_pixels: int = DEFAULT_MAX_PIXELS) -> Attachment:
    """Verify, store and record a photo for a ticket this user may see and that is open;
    nothing is written when it is refused."""
    if not can_see(session, actor, ticket):
        raise NotFound(f"工单 {ticket.number} 不存在")
    if ticket.status in CLOSED_STATES:
        raise Conflict(f"工单 {ticket.number} 已结束（{{status}}），不能再添加照片",
                       terms={"status": ("status", ticket.status)})
    unused = session.scalar(select(func.count()).select_from(Attachment).where(
        Attachment.ticket_id == ticket.id, Attachment.uploaded_by_id == actor.id,
        Attachment.event_id.is_(None))) or 0
    if unused >= MAX_UNUSED_PER_TICKET:
        raise Conflict(f"你在此工单上已有 {unused} 张照片尚未用于办理操作，请先使用这些照片")
    image = verify_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
    key = store_image(image, storage_dir)
    attachment = Attachment(
        ticket_id=ticket.id, uploaded_by_id=actor.id, content_type=image.content_type,
        size=len(image.content), sha256=image.sha256, storage_key=key,
        original_name=sanitise_name(filename), width=image.width, height=image.height,
        created_at=now)
    session.add(attachment)
    session.flush()
    return attachment


def add_unfiled_attachment(session: Session, actor: Actor, data: bytes, filename: str | None,
                           *, storage_dir: Path, now: datetime,
                           max_bytes: int = DEFAULT_MAX_BYTES,
                           max_pixels: int = DEFAULT_MAX_PIXELS) -> Attachment:
    """Verify, store and record a photo a grid worker took on patrol, before the report that
    names it exists; nothing is written when it is refused."""
    unused = session.scalar(select(func.count()).select_from(Attachment).where(
        Attachment.ticket_id.is_(None), Attachment.uploaded_by_id == actor.id)) or 0
    if unused >= MAX_UNUSED_PER_TICKET:
        raise Conflict(f"你已有 {unused} 张巡查照片尚未用于上报，请先上报")
    image = verify_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
    key = store_image(image, storage_dir)
    attachment = Attachment(
        ticket_id=None, uploaded_by_id=actor.id, content_type=image.content_type,
        size=len(image.content), sha256=image.sha256, storage_key=key,
        original_name=sanitise_name(filename), width=image.width, height=image.height,
        created_at=now)
    session.add(attachment)
    session.flush()
    return attachment


def check_unfiled(session: Session, actor: Actor, ids: list[int], field: str) -> None:
    """Each of these photos was taken on patrol by this user and belongs to no ticket yet;
    InvalidInput naming `field` otherwise."""
    if len(set(ids)) != len(ids):
        raise InvalidInput(f"{field}: 每张照片只能列出一次", field=field)
    if len(ids) > MAX_PER_ACTION:
        raise InvalidInput(f"{field}: 最多 {MAX_PER_ACTION} 张照片", field=field)
    rows = {a.id: a for a in session.scalars(select(Attachment).where(Attachment.id.in_(ids)))}
    for i in ids:
        a = rows.get(i)
        if a is None or a.uploaded_by_id != actor.id or a.ticket_id is not None:
            raise InvalidInput(f"{field}: 没有你上传且尚未使用的巡查照片 {i}", field=field)


def file_unfiled(session: Session, ticket: Ticket, ids: list[int],
                 event_id: int | None = None) -> None:
    """The patrol photos (checked by `check_unfiled`) now belong to this ticket (and to the
    event that reports them, when given)."""
    for a in session.scalars(select(Attachment).where(Attachment.id.in_(ids))):
        a.ticket_id = ticket.id
        if event_id is not None:
            a.event_id = event_id


def visible_attachment(session: Session, actor: Actor, attachment_id: int) -> Attachment:
    """An attachment whose ticket this user may see (a patrol photo not yet reported: its
    uploader only); NotFound otherwise (same as missing)."""
    found = session.get(Attachment, attachment_id)
    if found is not None and found.ticket_id is None:
        if found.uploaded_by_id is not None and found.uploaded_by_id == actor.id:
            return found
        raise NotFound(f"附件 {attachment_id} 不存在")
    ticket = session.get(Ticket, found.ticket_id) if found is not None else None
    if found is None or ticket is None or not can_see(session, actor, ticket):
        raise NotFound(f"附件 {attachment_id} 不存在")
    return found


def claim(session: Session, ticket: Ticket, actor: Actor, ids: list[int]) -> list[Attachment]:
    """The attachments an action reports: each of this ticket, uploaded by this user and not
    used by another action; InvalidInput naming `attachments` otherwise."""
    if len(set(ids)) != len(ids):
        raise InvalidInput("attachments: 每张照片只能列出一次", field="attachments")
    if len(ids) > MAX_PER_ACTION:
        raise InvalidInput(f"attachments: 每次操作最多 {MAX_PER_ACTION} 张照片",
                           field="attachments")
    if not ids:
        return []
    rows = {a.id: a for a in session.scalars(select(Attachment).where(Attachment.id.in_(ids)))}
    for i in ids:
        a = rows.get(i)
        if a is None or a.ticket_id != ticket.id or a.uploaded_by_id != actor.id:
            raise InvalidInput(f"attachments: 工单 {ticket.number} 上没有你上传的照片 {i}",
                               field="attachments")
        if a.event_id is not None:
            raise InvalidInput(f"attachments: 照片 {i} 已用于其他操作",
                               field="attachments")
    return [rows[i] for i in ids]


def reported_place(lon: float | None, lat: float | None) -> dict[str, float | str] | None:
    """Where the user reported from (WGS-84), both coordinates or neither."""
    if (lon is None) != (lat is None):
        missing = "lat" if lat is None else "lon"
        raise InvalidInput(f"{missing}: lon 和 lat 须同时提供或都不提供", field=missing)
    if lon is None or lat is None:
        return None
    return {"lon": lon, "lat": lat, "crs": "WGS84"}


def evidence(session: Session, ticket: Ticket, actor: Actor, payload: Any) -> dict[str, Any]:
    """What a report (complete, note) adds to its event: the photos it names and the place it
    was made from; only the keys that were given."""
    out: dict[str, Any] = {}
    place = reported_place(payload.lon, payload.lat)
    photos = claim(session, ticket, actor, list(payload.attachments))
    if photos:
        out["attachments"] = [a.id for a in photos]
    if place is not None:
        out["location"] = place
    return out


def link_reported(session: Session, flush_context: Any, instances: Any) -> None:
    # The event of an action does not exist while its handler runs (the state table writes
    # it afterwards), so the photos a new report names are linked to it as it is flushed.
    for obj in list(session.new):
        if not isinstance(obj, Event) or obj.action not in REPORTING_ACTIONS:
            continue
        ids = (obj.payload or {}).get("attachments") or []
        with session.no_autoflush:
            for attachment_id in ids:
                attachment = session.get(Attachment, attachment_id)
                if attachment is None or attachment.event is not None \
                        or attachment.event_id is not None:
                    raise Conflict(f"照片 {attachment_id} 已被另一个操作使用")
                attachment.event = obj
