"""The monthly assessment (考核) and appeals (申诉) under /api/v1 (CONTRACT.md, Governance and
assessment): a month's scores and ranks with the deductions and their tickets, its Excel file,
its publication, the departments' appeals and the office's decisions, and the admin's scheme.
Routes only translate: `dispatch.stats.assessment` and `dispatch.stats.assessment_appeals`
decide."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import quote

from flask import current_app, request, send_file
from flask.typing import ResponseReturnValue
from pydantic import Field, StringConstraints

from dispatch.core.commands import AttachmentIds, Code, Reason, Strict
from dispatch.core.models import Ticket
from dispatch.core.vocab import Role
from dispatch.stats import assessment as scheme_of
from dispatch.stats import assessment_appeals as appeals_of
from dispatch.stats.assessment import AssessmentScheme
from dispatch.stats.assessment_export import assessment_file
from dispatch.stats.assessment_tables import Appeal
from dispatch.stats.definitions import local_day
from dispatch.tickets.lifecycle import Actor
from web.api.attachments import FRAMING_BYTES, _uploaded_file, attachment_view, storage_dir
from web.api.base import ApiBlueprint, commit
from web.api.stats import catch_up
from web.extensions import db
from web.services import services

bp = ApiBlueprint("assessment", __name__)

OFFICE = tuple(appeals_of.OFFICE_ROLES)
READERS = (*appeals_of.ALL_SEEING, Role.HANDLER)
ADMIN = (Role.ADMIN,)
Month = Annotated[str, StringConstraints(strip_whitespace=True,
                                         pattern=r"^20\d\d-(0[1-9]|1[0-2])$")]


class PhotoQuery(Strict):
    ticket: Code = Field(description="the number of the ticket appealed")


class MonthQuery(Strict):
    month: Month | None = Field(None, description="YYYY-MM (default: last month)")


class AppealsQuery(Strict):
    month: Month | None = None
    state: Literal["pending", "accepted", "rejected"] | None = None


class AppealIn(Strict):
    month: Month
    department: Code
    ticket: Code = Field(description="the ticket's number")
    reason: Reason
    attachments: AttachmentIds = Field(default_factory=list)


class DecisionIn(Strict):
    accept: bool
    reason: Reason


class PublishIn(Strict):
    reason: Reason | None = Field(None, description="why a month is published again")


def _month(query: MonthQuery) -> str:
    if query.month:
        return query.month
    first = local_day(services().clock.now()).replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def _report(actor: Actor, month: str) -> dict[str, Any]:
    # A draft month is read from the rollups when they hold every committed change (the same
    # report as the raw log's, faster), else from the raw log.
    source: Literal["raw", "rollups"] = "raw" if catch_up() else "rollups"
    report = appeals_of.assessment(db.session, month, services().clock.now(), source=source)
    return appeals_of.scoped(report, actor)


@bp.endpoint("/stats/assessment", "GET",
             "A month's assessment: per department score, rank (or \"not ranked\"), the items "
             "and each deduction with its tickets; a department sees its own row",
             query=MonthQuery, roles=READERS)
def read_assessment(actor: Actor, query: MonthQuery) -> dict[str, Any]:
    report = _report(actor, _month(query))
    commit()
    return report


@bp.endpoint("/stats/assessment/export", "GET",
             "A month's assessment as an Excel file (the scheme on a sheet of its own)",
             query=MonthQuery, roles=READERS)
def export_assessment(actor: Actor, query: MonthQuery) -> ResponseReturnValue:
    made = assessment_file(_report(actor, _month(query)))
    commit()
    response = send_file(io.BytesIO(made.content), mimetype=made.mimetype)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{made.plain_filename}\"; "
        f"filename*=UTF-8''{quote(made.filename)}")
    return response, 200


@bp.endpoint("/stats/assessment/<month>/publish", "POST",
             "Publish (lock) a finished month's assessment; again: a recorded re-publication",
             body=PublishIn, roles=OFFICE, status=201, errors=(409,))
def publish_assessment(actor: Actor, month: str, body: PublishIn) -> dict[str, Any]:
    row = appeals_of.publish(db.session, month, actor, services().clock.now(), body.reason)
    commit()
    return {"month": row.month, "number": row.number, "published_at": row.published_at.isoformat(),
            "reason": row.reason}


@bp.endpoint("/appeals", "GET", "Appeals (a department sees its own), newest first",
             query=AppealsQuery, roles=READERS)
def list_appeals(actor: Actor, query: AppealsQuery) -> dict[str, Any]:
    items = appeals_of.appeals(db.session, actor, query.month, query.state)
    return {"items": items, "total": len(items)}


PHOTO_ENDPOINT = "assessment.upload_appeal_photo"


@bp.url_value_preprocessor
def _lift_body_limit(endpoint_name: str | None, values: dict[str, Any] | None) -> None:
    # As for any photo upload (web/api/attachments.py): before the CSRF check reads the form.
    if endpoint_name == PHOTO_ENDPOINT:
        request.max_content_length = current_app.config["UPLOAD_MAX_BYTES"] + FRAMING_BYTES


@bp.endpoint("/appeals/photos", "POST",
             "Upload a photo for an appeal (multipart/form-data, field 'file'), kept on the "
             "ticket appealed, closed or not; use its id in the appeal's attachments",
             query=PhotoQuery, roles=(Role.HANDLER,), status=201, errors=(409,))
def upload_appeal_photo(actor: Actor, query: PhotoQuery) -> dict[str, Any]:
    data, filename = _uploaded_file()
    photo = appeals_of.add_appeal_photo(
        db.session, actor, query.ticket, data, filename, storage_dir=storage_dir(),
        now=services().clock.now(), max_bytes=current_app.config["UPLOAD_MAX_BYTES"])
    view = attachment_view(photo)
    commit()
    return view


def _view(appeal: Appeal) -> dict[str, Any]:
    ticket = db.session.get(Ticket, appeal.ticket_id)
    return appeals_of.appeal_view(appeal, ticket.number if ticket else "")


@bp.endpoint("/appeals", "POST",
             "A department appeals one ticket's effect on its published month (within 5 "
             "working days of the publication)", body=AppealIn, roles=(Role.HANDLER,),
             status=201, errors=(404, 409))
def file_appeal(actor: Actor, body: AppealIn) -> dict[str, Any]:
    appeal = appeals_of.file_appeal(db.session, actor, body.model_dump(), services().clock.now())
    commit()
    return _view(appeal)


@bp.endpoint("/appeals/<int:appeal_id>/decide", "POST",
             "The hotline office accepts or rejects an appeal with a reason (accepted: the "
             "month is re-published without that ticket for that department)",
             body=DecisionIn, roles=OFFICE, errors=(404, 409))
def decide_appeal(actor: Actor, appeal_id: int, body: DecisionIn) -> dict[str, Any]:
    appeal = appeals_of.decide_appeal(db.session, actor, appeal_id, body.accept, body.reason,
                                      services().clock.now())
    commit()
    return _view(appeal)


@bp.endpoint("/admin/assessment-scheme", "GET", "The assessment scheme in force",
             roles=(*READERS,))
def read_scheme(actor: Actor) -> dict[str, Any]:
    return scheme_of.get_scheme(db.session).model_dump(mode="json")


@bp.endpoint("/admin/assessment-scheme", "PUT",
             "Replace the assessment scheme (fields left out take the defaults; the four "
             "weights add up to more than 0 and at most 100)", body=AssessmentScheme,
             roles=ADMIN)
def write_scheme(actor: Actor, body: AssessmentScheme) -> dict[str, Any]:
    scheme = scheme_of.set_scheme(db.session, body.model_dump(mode="json"), actor.id)
    commit()
    return scheme.model_dump(mode="json")
