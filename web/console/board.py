"""`GET /api/v1/console/board`: the open tickets the console page starts from, each with the
sequence number of its last console event."""

from __future__ import annotations

from typing import Any

from flask import current_app

from dispatch.console.board import open_board
from dispatch.core.vocab import Role
from web.api.base import ApiBlueprint
from web.extensions import db
from web.services import services

bp = ApiBlueprint("console", __name__)


@bp.endpoint("/console/board", "GET",
             "The live console's board: open tickets with their feed seq", roles=tuple(Role))
def board(actor: Any) -> dict[str, Any]:
    now = services().clock.now()
    result = open_board(db.session, actor, now, services().console.decorate(db.session))
    return {"seq": result.seq, "server_now": now.isoformat(), "tickets": result.tickets,
            "truncated": result.truncated, "recent": result.recent,
            "map_tile_url": current_app.config.get("MAP_TILE_URL")}
