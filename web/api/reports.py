"""The admin routes of the periodic lists (周巡检, 月点评, 季通报): list, download, generate now.
The files are rendered and stored by `workers.reports`; the lists are built by
`dispatch.stats.reports`."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from flask import current_app, send_file
from flask.typing import ResponseReturnValue
from pydantic import Field

from dispatch.core.commands import Strict
from dispatch.core.errors import NotFound
from dispatch.core.vocab import Role
from dispatch.stats.reports import PeriodKind, period_for
from dispatch.tickets.calendar import LOCAL_TZ
from dispatch.tickets.lifecycle import Actor
from web.api.base import ApiBlueprint, commit
from web.extensions import db
from web.services import services
from workers.reports import (
    KIND_NAMES,
    XLSX,
    file_name,
    file_view,
    generate_in,
    list_reports,
    period_label,
    reports_dir,
    stored_period,
)

bp = ApiBlueprint("reports", __name__)

READERS = (Role.ADMIN, Role.LEADER, Role.SUPERVISOR)


# ---------------------------------------------------------------- routes


class ReportIn(Strict):
    kind: PeriodKind
    day: date | None = Field(None, description="the list covers the period before this day "
                                               "(default: today)")


@bp.endpoint("/admin/reports", "GET", "The generated periodic lists (周巡检, 月点评, 季通报)",
          roles=READERS)
def reports(actor: Actor) -> dict[str, Any]:
    return {"items": list_reports(reports_dir(current_app))}


@bp.endpoint("/admin/reports/<kind>/<start>.xlsx", "GET", "Download a periodic list (xlsx)",
          roles=READERS)
def download_report(actor: Actor, kind: str, start: str) -> ResponseReturnValue:
    period = stored_period(kind, start)
    path = reports_dir(current_app) / file_name(period)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"{period_label(period)}的{KIND_NAMES[period.kind]}"
                       "尚未生成") from None
    name = f"{KIND_NAMES[period.kind]}-{period.start.isoformat()}.xlsx"
    return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True,
                     download_name=name), 200


@bp.endpoint("/admin/reports", "POST", "Generate a periodic list now (overwrites the same period)",
          body=ReportIn, roles=(Role.ADMIN,), status=201)
def create_report(actor: Actor, body: ReportIn) -> dict[str, Any]:
    now = services().clock.now()
    day = body.day or now.astimezone(LOCAL_TZ).date()
    path = generate_in(db.session, reports_dir(current_app), body.kind, day, now)
    commit()
    return file_view(path, period_for(body.kind, day))
