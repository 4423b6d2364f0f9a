"""Photos for tickets: verified by content, re-encoded without metadata, stored by digest, and
linked to the complete or note action that reports them (on SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import ExifTags, Image
from sqlalchemy import func, select

from dispatch.core.errors import Conflict, InvalidInput, NotFound
from dispatch.core.models import Event
from dispatch.tickets.attachments import (
    MAX_UNUSED_PER_TICKET,
    Attachment,
    add_attachment,
    sanitise_name,
    stored_path,
    verify_image,
    visible_attachment,
)

# ---------------------------------------------------------------- image makers


def jpeg(size: tuple[int, int] = (64, 48), color: str = "red", **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", **save)
    return out.getvalue()


def png(size: tuple[int, int] = (32, 32), mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (0, 128, 255, 100) if mode == "RGBA" else 0).save(out, "PNG")
    return out.getvalue()


def image_bytes(kind: str, size: tuple[int, int] = (20, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "blue").save(out, kind)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature and header declaring a huge image, with a tiny compressed body:
    the shape of a decompression bomb (the pixels are never needed to judge it)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    body = zlib.compress(b"\x00" * 1024, 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body)
            + chunk(b"IEND", b""))


def photo_with_gps_and_orientation() -> bytes:
    """A 40×20 phone photo turned on its side (Orientation 6) with GPS in its EXIF."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "PhoneMaker"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (35.0, 12.0, 7.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (114.0, 40.0, 3.25)
    img = Image.new("RGB", (40, 20), "white")
    img.paste((255, 0, 0), (0, 0, 10, 20))  # a red band on the left of the sensor image
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes(), quality=95)
    return out.getvalue()


# ---------------------------------------------------------------- helpers


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    return tmp_path / "uploads"


def stored_files(storage: Path) -> list[Path]:
    return sorted(p for p in storage.rglob("*") if p.is_file()) if storage.exists() else []


def attachment_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Attachment)) or 0


def upload(desk, ticket, user: str, data: bytes, storage: Path, name: str = "photo.jpg",
           **limits) -> Attachment:
    a = add_attachment(desk.session, ticket, desk.actors[user], data, name,
                       storage_dir=storage, now=desk.clock.now(), **limits)
    desk.session.commit()
    return a


def refused_upload(desk, ticket, user: str, data: bytes, storage: Path,
                   error: type = InvalidInput, **limits) -> Exception:
    """Assert the upload is refused with `error` and that neither a row nor a file was
    written."""
    before_rows, before_files = attachment_count(desk.session), stored_files(storage)
    with pytest.raises(error) as caught:
        add_attachment(desk.session, ticket, desk.actors[user], data, "photo.jpg",
                       storage_dir=storage, now=desk.clock.now(), **limits)
    desk.session.rollback()
    assert attachment_count(desk.session) == before_rows
    assert stored_files(storage) == before_files
    return caught.value


# ---------------------------------------------------------------- verification


def test_a_jpeg_is_re_encoded_and_stored_under_its_digest(desk, storage):
    t = desk.signed()
    a = upload(desk, t, "handler1", jpeg((64, 48)), storage, name="现场照片.JPG")
    path = stored_path(storage, a.storage_key)
    content = path.read_bytes()
    assert a.storage_key == f"{a.sha256[:2]}/{a.sha256}.jpg"
    assert hashlib.sha256(content).hexdigest() == a.sha256
    assert (a.content_type, a.width, a.height, a.size) == ("image/jpeg", 64, 48, len(content))
    assert a.original_name == "现场照片.JPG" and a.event_id is None
    assert a.uploaded_by_id == desk.uid("handler1") and a.ticket_id == t.id
    with Image.open(path) as stored:
        assert stored.format == "JPEG"
    assert stored_files(storage) == [path]


def test_png_and_webp_keep_their_format_and_png_its_transparency():
    clean_png = verify_image(png((32, 32), "RGBA"))
    reread = Image.open(io.BytesIO(clean_png.content))
    assert (clean_png.content_type, clean_png.extension, reread.mode) == (
        "image/png", "png", "RGBA")
    assert reread.getpixel((0, 0))[3] == 100
    clean_webp = verify_image(image_bytes("WEBP"))
    assert (clean_webp.content_type, clean_webp.extension) == ("image/webp", "webp")
    assert Image.open(io.BytesIO(clean_webp.content)).format == "WEBP"


@pytest.mark.parametrize("data, why", [
    (b"this is not a photo, only text in a file named .jpg", "text"),
    (b"", "empty"),
    (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "svg"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "pdf"),
])
def test_files_that_are_not_images_are_refused_whatever_their_name(data, why):
    with pytest.raises(InvalidInput) as caught:
        verify_image(data)
    assert caught.value.field == "file"


@pytest.mark.parametrize("kind", ["GIF", "BMP", "TIFF"])
def test_real_images_of_other_formats_are_refused(kind):
    with pytest.raises(InvalidInput) as caught:
        verify_image(image_bytes(kind))
    assert caught.value.field == "file"


def test_a_truncated_jpeg_is_refused():
    data = jpeg((200, 200), "green", quality=95)
    with pytest.raises(InvalidInput) as caught:
        verify_image(data[: len(data) // 2])
    assert caught.value.field == "file"


@pytest.mark.parametrize("width, height", [(100_000, 100_000), (8_000, 8_000)])
def test_png_bombs_are_refused_before_decoding(width, height):
    bomb = png_header_only(width, height)
    assert len(bomb) < 200  # a tiny file...
    with pytest.raises(InvalidInput) as caught:
        verify_image(bomb)  # ...declaring 10 000 or 64 megapixels
    assert caught.value.field == "file"
    assert "像素" in caught.value.message or "无法解码" in caught.value.message


def test_the_pixel_limit_is_an_argument():
    assert verify_image(jpeg((100, 100)), max_pixels=10_000).width == 100
    with pytest.raises(InvalidInput):
        verify_image(jpeg((101, 100)), max_pixels=10_000)


def test_a_file_over_the_size_limit_is_refused():
    data = jpeg((64, 64))
    assert verify_image(data, max_bytes=len(data)).width == 64
    with pytest.raises(InvalidInput) as caught:
        verify_image(data, max_bytes=len(data) - 1)
    assert caught.value.field == "file" and "超过上限" in caught.value.message


def test_exif_gps_is_gone_and_the_photo_is_turned_upright():
    original = photo_with_gps_and_orientation()
    before = Image.open(io.BytesIO(original)).getexif()
    assert before.get_ifd(ExifTags.IFD.GPSInfo) and before[ExifTags.Base.Orientation] == 6
    clean = verify_image(original)
    after = Image.open(io.BytesIO(clean.content))
    assert not after.getexif() and "exif" not in after.info
    assert b"Exif" not in clean.content and b"PhoneMaker" not in clean.content
    # Orientation 6: the camera was turned; the stored photo stands upright (20×40), and the
    # red band that was on the left of the sensor image is now at the top.
    assert (clean.width, clean.height) == (20, 40) == after.size
    top, bottom = after.getpixel((10, 2)), after.getpixel((10, 37))
    assert top[0] > 200 and top[1] < 80 and min(bottom) > 200


def test_a_multi_picture_jpeg_from_a_phone_camera_is_accepted_as_its_first_picture():
    out = io.BytesIO()
    first, depth = Image.new("RGB", (60, 40), "red"), Image.new("RGB", (30, 20), "black")
    first.save(out, "MPO", save_all=True, append_images=[depth])
    with Image.open(io.BytesIO(out.getvalue())) as sent:
        assert sent.format == "MPO" and sent.n_frames == 2
    clean = verify_image(out.getvalue())
    assert (clean.content_type, clean.width, clean.height) == ("image/jpeg", 60, 40)
    with Image.open(io.BytesIO(clean.content)) as stored:
        assert stored.format == "JPEG" and getattr(stored, "n_frames", 1) == 1


def test_an_oversized_photo_is_scaled_down_to_the_longest_side():
    clean = verify_image(jpeg((5000, 1000)))
    assert (clean.width, clean.height) == (4096, 819)


def test_the_same_photo_twice_is_stored_once(desk, storage):
    t = desk.signed()
    first = upload(desk, t, "handler1", jpeg(), storage)
    second = upload(desk, t, "handler1", jpeg(), storage)
    assert first.id != second.id and first.storage_key == second.storage_key
    assert len(stored_files(storage)) == 1


def test_a_refused_upload_writes_neither_row_nor_file(desk, storage):
    t = desk.signed()
    error = refused_upload(desk, t, "handler1", b"GIF89a not really", storage)
    assert error.field == "file"
    refused_upload(desk, t, "handler1", png_header_only(100_000, 100_000), storage)
    refused_upload(desk, t, "handler1", jpeg((64, 64)), storage, max_bytes=100)
    assert stored_files(storage) == []


@pytest.mark.parametrize("raw, clean", [
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\张三\\照片.jpg", "照片.jpg"),
    ("evil\x00name\u202e.jpg", "evilname.jpg"),
    ("", None),
    (None, None),
    ("...", None),
    ("a" * 300 + ".jpg", "a" * 120),
])
def test_client_file_names_are_sanitised(raw, clean):
    assert sanitise_name(raw) == clean


def test_stored_path_refuses_keys_it_did_not_make(storage):
    for key in ("../secret_key", "ab/../../x.jpg", "/etc/passwd", "ab/" + "0" * 64 + ".svg"):
        with pytest.raises(NotFound):
            stored_path(storage, key)


# ---------------------------------------------------------------- who may upload and read


def test_no_upload_to_a_ticket_the_user_cannot_see(desk, storage):
    t = desk.signed()  # urban_management's ticket
    refused_upload(desk, t, "street1", jpeg(), storage, error=NotFound)
    refused_upload(desk, t, "worker1", jpeg(), storage, error=NotFound)


def test_no_upload_to_a_closed_ticket(desk, storage):
    t = desk.intake()
    desk.act(t, "void", "operator1", reason="测试电话")
    refused_upload(desk, t, "operator1", jpeg(), storage, error=Conflict)


def test_unused_uploads_per_user_and_ticket_are_capped(desk, storage):
    t = desk.signed()
    for i in range(MAX_UNUSED_PER_TICKET):
        upload(desk, t, "handler1", jpeg((8 + i, 8)), storage)
    refused_upload(desk, t, "handler1", jpeg((100, 8)), storage, error=Conflict)


def test_a_photo_is_readable_only_by_those_who_see_its_ticket(desk, storage):
    t = desk.signed()
    a = upload(desk, t, "handler1", jpeg(), storage)
    assert visible_attachment(desk.session, desk.actors["dispatcher1"], a.id).id == a.id
    assert visible_attachment(desk.session, desk.actors["handler1"], a.id).id == a.id
    for user in ("street1", "worker1"):
        with pytest.raises(NotFound):
            visible_attachment(desk.session, desk.actors[user], a.id)
    with pytest.raises(NotFound):
        visible_attachment(desk.session, desk.actors["dispatcher1"], a.id + 1000)


# ---------------------------------------------------------------- reported by actions


def test_complete_links_its_photos_and_records_them_and_the_place(desk, storage):
    t = desk.signed()
    photos = [upload(desk, t, "handler1", jpeg((10 + i, 10)), storage) for i in range(2)]
    r = desk.act(t, "complete", "handler1", result="摊点已清理",
                 attachments=[p.id for p in photos], lon=114.6712, lat=35.2034)
    event = r.events[0]
    assert t.status == "COMPLETED"
    assert event.payload["attachments"] == [p.id for p in photos]
    assert event.payload["location"] == {"lon": 114.6712, "lat": 35.2034, "crs": "WGS84"}
    desk.session.expire_all()
    linked = desk.session.scalars(select(Attachment).order_by(Attachment.id)).all()
    assert [a.event_id for a in linked] == [event.id, event.id]


def test_a_note_with_photos_links_them_and_a_plain_note_stays_plain(desk, storage):
    t = desk.signed()
    photo = upload(desk, t, "handler1", jpeg(), storage)
    r = desk.act(t, "note", "handler1", text="已到现场，正在劝离", attachments=[photo.id])
    assert r.events[0].payload == {"text": "已到现场，正在劝离", "attachments": [photo.id]}
    desk.session.expire_all()
    assert desk.session.get(Attachment, photo.id).event_id == r.events[0].id
    plain = desk.act(t, "note", "handler1", text="商户已答应今天搬走")
    assert plain.events[0].payload == {"text": "商户已答应今天搬走"}


def test_complete_with_a_photo_of_another_ticket_is_refused_and_writes_nothing(desk, storage):
    other, t = desk.signed(), desk.signed()
    foreign = upload(desk, other, "handler1", jpeg(), storage)
    error = desk.refused(t, "complete", "handler1", InvalidInput, result="已办结",
                         attachments=[foreign.id])
    assert error.field == "attachments"
    desk.session.expire_all()
    assert desk.session.get(Attachment, foreign.id).event_id is None


def test_photos_of_another_user_or_already_reported_are_refused(desk, storage):
    t = desk.dispatched(co=["street_pudong"])
    desk.act(t, "sign", "handler1")
    desk.act(t, "sign", "street1")
    theirs = upload(desk, t, "street1", jpeg(), storage)  # the co-handler's photo
    error = desk.refused(t, "note", "handler1", InvalidInput, text="进展",
                         attachments=[theirs.id])
    assert error.field == "attachments"
    mine = upload(desk, t, "handler1", jpeg((9, 9)), storage)
    desk.act(t, "note", "handler1", text="进展一", attachments=[mine.id])
    error = desk.refused(t, "complete", "handler1", InvalidInput, result="已办结",
                         attachments=[mine.id])
    assert "已用于其他操作" in error.message
    assert desk.session.scalar(select(func.count()).select_from(Event).where(
        Event.ticket_id == t.id, Event.action == "complete")) == 0


@pytest.mark.parametrize("payload, field", [
    ({"lon": 114.67}, "lat"),
    ({"lat": 35.2}, "lon"),
    ({"lon": 114.67, "lat": 135.2}, "lat"),
    ({"lon": 200.0, "lat": 35.2}, "lon"),
    ({"attachments": [1, 1]}, "attachments"),
    ({"attachments": list(range(1, 11))}, "attachments"),
    ({"attachments": [0]}, "attachments.0"),
    ({"attachments": ["1"]}, "attachments.0"),
])
def test_bad_places_and_photo_lists_are_refused_and_write_nothing(desk, storage, payload,
                                                                   field):
    t = desk.signed()
    error = desk.refused(t, "complete", "handler1", InvalidInput, result="已办结", **payload)
    assert error.field == field
    assert attachment_count(desk.session) == 0
