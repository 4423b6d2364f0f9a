"""`GET /api/v1/callbacks`: the operators' callback queue, masked like every ticket read. (The
SMS gateway's replies to the questionnaire arrive at `web.hooks.sms`.)"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from dispatch.core.commands import Offset, Strict
from dispatch.core.vocab import Role
from dispatch.outbound.callbacks import (
    callback_queue,
    queue_size,
)
from dispatch.tickets.lifecycle import Actor
from dispatch.tickets.readmodel import list_view
from web.api.base import ApiBlueprint, commit
from web.extensions import db
from web.services import services

bp = ApiBlueprint("callbacks", __name__)

CALLBACK_ROLES = (Role.OPERATOR, Role.DISPATCHER, Role.SUPERVISOR)


# ---------------------------------------------------------------- the queue


class QueueQuery(Strict):
    """Paging of the callback queue."""

    limit: int = Field(50, ge=1, le=200)
    offset: Offset = 0


@bp.endpoint("/callbacks", "GET", "The callback queue: reviewed tickets awaiting a callback, "
          "earliest callback deadline first", query=QueueQuery, roles=CALLBACK_ROLES)
def callbacks(actor: Actor, query: QueueQuery) -> dict[str, Any]:
    now = services().clock.now()
    items = callback_queue(db.session, now, limit=query.limit, offset=query.offset)
    views = list_view(db.session, [i.ticket for i in items], actor, now)  # masks, audits
    for item, view in zip(items, views, strict=True):
        view["callback"] |= {"overdue": item.overdue}
        view["department"] = item.department
    total = queue_size(db.session)
    commit()
    return {"items": views, "total": total, "limit": query.limit, "offset": query.offset}
