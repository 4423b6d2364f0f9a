"""Photos attached to tickets under /api/v1: upload (multipart, field `file`) and download.

The app's body limit is 64 KiB; the upload route alone allows `UPLOAD_MAX_BYTES` (plus room for
the multipart framing). The limit is lifted before the request's `before_request` hooks run,
because the CSRF check of a browser request reads the form, and so parses the body, first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app, request, send_file
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import UnsupportedMediaType

from dispatch.core.errors import InvalidInput, NotFound
from dispatch.core.vocab import Role
from dispatch.tickets.attachments import (
    FIELD,
    Attachment,
    add_attachment,
    add_unfiled_attachment,
    stored_path,
    visible_attachment,
)
from dispatch.tickets.lifecycle import Actor
from dispatch.tickets.queries import get_ticket
from web.api.base import STAFF, ApiBlueprint, commit
from web.extensions import db
from web.services import services

bp = ApiBlueprint("attachments", __name__)

UPLOADERS = (Role.HANDLER, Role.GRID_WORKER, Role.DISPATCHER, Role.OPERATOR)
UPLOAD_ENDPOINT = "attachments.upload_attachment"
PATROL_UPLOAD_ENDPOINT = "attachments.upload_patrol_photo"
# The multipart framing around the file (boundaries, part headers) on top of the file limit.
FRAMING_BYTES = 64 * 1024


def storage_dir() -> Path:
    """Where this application keeps uploaded photos."""
    return Path(current_app.instance_path) / "uploads"


def attachment_view(a: Attachment) -> dict[str, Any]:
    return {"id": a.id, "content_type": a.content_type, "size": a.size, "width": a.width,
            "height": a.height, "url": f"/api/v1/attachments/{a.id}"}


@bp.url_value_preprocessor
def _lift_body_limit(endpoint_name: str | None, values: dict[str, Any] | None) -> None:
    # URL value preprocessors run before every before_request hook (the CSRF check included).
    if endpoint_name in (UPLOAD_ENDPOINT, PATROL_UPLOAD_ENDPOINT):
        request.max_content_length = current_app.config["UPLOAD_MAX_BYTES"] + FRAMING_BYTES


def _uploaded_file() -> tuple[bytes, str | None]:
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType(f"请以 multipart/form-data 上传照片，字段名为"
                                   f"“{FIELD}”")
    files = request.files.getlist(FIELD)
    if len(files) != 1:
        raise InvalidInput(f"{FIELD}: 每次请求只能上传一张照片（收到 {len(files)} 张）",
                           field=FIELD)
    limit = current_app.config["UPLOAD_MAX_BYTES"]
    # One byte past the limit is enough to know it is over (verify_image names the limit).
    return files[0].stream.read(limit + 1), files[0].filename


@bp.endpoint("/tickets/<number>/attachments", "POST",
          "Upload a photo for a ticket (multipart/form-data, field 'file'; JPEG, PNG or WebP, "
          "checked by content, re-encoded without EXIF); use its id in a complete or note "
          "action", roles=UPLOADERS, status=201)
def upload_attachment(actor: Actor, number: str) -> dict[str, Any]:
    ticket = get_ticket(db.session, number, actor)
    data, filename = _uploaded_file()
    attachment = add_attachment(
        db.session, ticket, actor, data, filename, storage_dir=storage_dir(),
        now=services().clock.now(), max_bytes=current_app.config["UPLOAD_MAX_BYTES"])
    view = attachment_view(attachment)
    commit()
    return view


@bp.endpoint("/attachments", "POST",
          "Upload a photo taken on patrol, before the patrol report (巡查上报) that names it "
          "(multipart/form-data, field 'file'); grid workers", roles=(Role.GRID_WORKER,),
          status=201)
def upload_patrol_photo(actor: Actor) -> dict[str, Any]:
    data, filename = _uploaded_file()
    attachment = add_unfiled_attachment(
        db.session, actor, data, filename, storage_dir=storage_dir(),
        now=services().clock.now(), max_bytes=current_app.config["UPLOAD_MAX_BYTES"])
    view = attachment_view(attachment)
    commit()
    return view


@bp.endpoint("/attachments/<int:attachment_id>", "GET",
          "A photo of a ticket the user may see (the stored image itself)", roles=STAFF)
def read_attachment(actor: Actor, attachment_id: int) -> ResponseReturnValue:
    attachment = visible_attachment(db.session, actor, attachment_id)
    path = stored_path(storage_dir(), attachment.storage_key)
    if not path.is_file():
        raise NotFound(f"附件 {attachment_id} 不存在")
    db.session.commit()
    extension = attachment.storage_key.rsplit(".", 1)[-1]
    response = send_file(path, mimetype=attachment.content_type, as_attachment=False,
                         download_name=f"attachment-{attachment.id}.{extension}",
                         conditional=True, max_age=None)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, max-age=3600"
    # Opened on its own, the image may not run or load anything.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response, response.status_code  # 304 when the browser has it already
