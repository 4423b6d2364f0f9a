"""The citizens' own pages (no login, zh-CN, phone-sized first): `/report` to send a demand
with a pin on the county map and photos, `/track` to follow it with its number and pick-up code
and rate it. They render a light public frame (templates/citizen_base.html), never the staff
navigation; their scripts talk to /api/v1/public (web/api/public.py)."""

from __future__ import annotations

from flask import current_app, render_template, request
from flask.typing import ResponseReturnValue

from dispatch.intake.web_channel import CODE_LENGTH, MAX_PHOTOS
from web.api.public import sms_available
from web.pages.staff import bp


def _boot() -> dict[str, object]:
    return {"max_photos": MAX_PHOTOS, "max_photo_bytes": current_app.config["UPLOAD_MAX_BYTES"],
            "code_length": CODE_LENGTH, "sms": sms_available()}


@bp.route("/report")
def report() -> ResponseReturnValue:
    """The form a citizen sends a demand with."""
    return render_template("report.html", boot=_boot(), sms=sms_available(),
                           max_photos=MAX_PHOTOS,
                           max_photo_mb=current_app.config["UPLOAD_MAX_BYTES"] >> 20)


@bp.route("/track")
def track() -> ResponseReturnValue:
    """Where a demand stands, for its number and pick-up code (both typed by the citizen)."""
    number = (request.args.get("number") or "").strip()[:40]
    return render_template("track.html", boot=_boot(), number=number)
