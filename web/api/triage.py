"""The triage settings (admin): `auto_transfer_110`, the alarm's escalation time and the
per-category minimum confidence of automatic dispatch (智能派单), under /api/v1/admin."""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.exceptions import UnsupportedMediaType

from dispatch.core.actors import Actor
from dispatch.core.errors import InvalidInput
from dispatch.core.vocab import Role
from dispatch.intake import autodispatch
from web.api.base import ApiBlueprint, commit
from web.extensions import db

bp = ApiBlueprint("triage", __name__)

READERS = (Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR, Role.LEADER)


@bp.endpoint("/admin/triage-settings", "GET",
          "The triage settings: auto_transfer_110, alarm escalation, 智能派单 thresholds",
          roles=READERS)
def read_triage_settings(actor: Actor) -> dict[str, Any]:
    value = autodispatch.get_settings(db.session)
    return autodispatch.settings_view(db.session, value)


@bp.endpoint("/admin/triage-settings", "PUT",
          "Replace the triage settings (fields left out take the defaults: nothing automatic)",
          roles=(Role.ADMIN,))
def write_triage_settings(actor: Actor) -> dict[str, Any]:
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("请以 application/json 发送")
    data = request.get_json(silent=True)
    if data is None:
        raise InvalidInput("请求体不是有效的 JSON")
    value = autodispatch.set_settings(db.session, data, actor.id)
    view = autodispatch.settings_view(db.session, value)
    commit()
    return view
