"""The audit viewer's API under /api/v1 (CONTRACT.md, Administration): the ticket events, the
log of reads of unmasked personal data and the log of admin changes, filtered, paged newest
first (`GET /admin/audit?kind=events|reads|changes`) and exported to Excel
(`GET /admin/audit.xlsx`). Admins only; reading the audit writes nothing."""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal
from urllib.parse import quote

from flask import send_file
from flask.typing import ResponseReturnValue
from pydantic import ConfigDict, Field, StringConstraints

from dispatch.core.commands import Strict
from dispatch.core.vocab import Role
from dispatch.stats import audit_log as audit
from dispatch.stats.export import listing_file
from dispatch.tickets.lifecycle import Actor
from grid.directory import SqlDirectory
from web.api.base import ApiBlueprint
from web.extensions import db
from web.i18n import t
from web.services import services

bp = ApiBlueprint("admin_audit", __name__)

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=60)]


class AuditExportQuery(Strict):
    """Which log, and its filters (each optional; an empty value is no filter)."""

    model_config = ConfigDict(extra="forbid", strict=False, frozen=True, populate_by_name=True)

    kind: Literal[audit.KINDS] = Field(  # type: ignore[valid-type]
        "events", description="events (ticket events), reads (personal-data reads) or "
                              "changes (admin changes)")
    user: Text | None = Field(None, description="who: a username (or a person's exact name)")
    ticket: Text | None = Field(None, description="a ticket number (events and reads)")
    date_from: Text | None = Field(
        None, alias="from", description="from this Asia/Shanghai day (YYYY-MM-DD) or time "
                                        "(YYYY-MM-DDTHH:MM)")
    date_to: Text | None = Field(
        None, alias="to", description="to this day (included) or time")
    action: Text | None = Field(
        None, description="events: the action (dispatch, sign…); reads: the field read "
                          "(citizen, text, contact); changes: a subject, subject/action or "
                          "an action")


class AuditQuery(AuditExportQuery):
    page: int = Field(1, ge=1, le=audit.MAX_PAGE)
    per_page: int = Field(audit.DEFAULT_PER_PAGE, ge=1, le=audit.MAX_PER_PAGE)


def _filter(query: AuditExportQuery, page: int = 1,
            per_page: int = audit.DEFAULT_PER_PAGE) -> audit.AuditFilter:
    return audit.audit_filter(db.session, query.kind, user=query.user or None,
                              ticket=query.ticket or None, start=query.date_from or None,
                              end=query.date_to or None, action=query.action or None,
                              page=page, per_page=per_page)


@bp.endpoint("/admin/audit", "GET",
          "The audit: ticket events, personal-data reads or admin changes, filtered, paged, "
          "newest first (names, never a citizen's data)", query=AuditQuery, roles=(Role.ADMIN,))
def audit_list(actor: Actor, query: AuditQuery) -> dict[str, Any]:
    found = _filter(query, query.page, query.per_page)
    return audit.audit_page(db.session, found, SqlDirectory(db.session), t).as_dict()


@bp.endpoint("/admin/audit.xlsx", "GET",
          "The filtered audit as an Excel file (the newest rows up to the export limit; the "
          "sheet 说明 says when the filter matches more)", query=AuditExportQuery,
          roles=(Role.ADMIN,))
def audit_xlsx(actor: Actor, query: AuditExportQuery) -> ResponseReturnValue:
    table = audit.audit_table(db.session, _filter(query), SqlDirectory(db.session),
                              services().clock.now(), t, limit=audit.EXPORT_MAX_ROWS)
    made = listing_file(table)
    response = send_file(io.BytesIO(made.content), mimetype=made.mimetype)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{made.plain_filename}\"; "
        f"filename*=UTF-8''{quote(made.filename)}")
    return response, 200
