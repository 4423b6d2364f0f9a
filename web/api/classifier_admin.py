"""The learned classifier's versions under /api/v1/admin/classifier (admin): list them with their
held-out figures, start a training, activate a version (only if it scores at least as well as
the active one, unless forced)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask, current_app, request
from werkzeug.exceptions import UnsupportedMediaType

from dispatch.core.commands import Strict, parse
from dispatch.core.vocab import Role
from dispatch.tickets.lifecycle import Actor
from dispatch.triage.training import (
    activate,
    begin_training,
    collect_examples,
    label,
    list_versions,
    parse_version,
    seed_dir_of,
    version_view,
)
from web.api.base import ApiBlueprint, commit
from web.extensions import db
from web.services import services

bp = ApiBlueprint("classifier_admin", __name__)

log = logging.getLogger("hotline.triage")
ADMIN = (Role.ADMIN,)
MODELS = "/admin/classifier/models"


class ActivateIn(Strict):
    """`force`: activate even a version that scores below the active one."""

    force: bool = False


def start(app: Flask, version: int) -> str:
    """Hand the training of `version` to the workers (distributed mode) or to a thread of
    this process (embedded mode); how it went."""
    from workers.tasks import TRAIN_CLASSIFIER, train_in_app

    if app.config.get("REDIS_URL"):
        runner = services().runner
        celery = getattr(runner, "celery", None)
        if celery is None:
            from workers.celery_app import make_celery

            celery = make_celery(app)
        celery.send_task(TRAIN_CLASSIFIER, args=[version], ignore_result=True)
        return "queued"
    thread = threading.Thread(target=train_in_app, args=(app, version),
                              name=f"hotline-train-{label(version)}", daemon=True)
    thread.start()
    app.extensions.setdefault("hotline_training", {})[version] = thread
    return "thread"


@bp.endpoint(MODELS, "GET", "The classifier's model versions with their held-out figures per "
          "field, and the classifier in use", roles=ADMIN)
def read_models(actor: Actor) -> dict[str, Any]:
    rows = list_versions(db.session)
    status = services().model_cache.status(db.session)
    commit()
    return {"items": [version_view(r) for r in rows], "total": len(rows), **status,
            "training": any(r.status == "training" for r in rows)}


@bp.endpoint("/admin/classifier/train", "POST", "Train a new model version from the seed "
          "examples and the confirmed tickets (in the background; 202 with its version)",
          roles=ADMIN, status=202)
def train_model(actor: Actor) -> dict[str, Any]:
    # The check (empty or one-class examples) reads the labels only; training reads them again.
    examples = collect_examples(db.session, seed_dir_of(current_app.config))
    row = begin_training(db.session, now=services().clock.now(), trained_by_id=actor.id,
                         examples=examples)
    view = version_view(row)
    commit()
    view["started"] = start(current_app._get_current_object(),  # type: ignore[attr-defined]
                            row.version)
    return view


def _optional_body() -> ActivateIn:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return ActivateIn()
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("请以 application/json 发送请求内容")
    return parse(ActivateIn, raw)


@bp.endpoint(MODELS + "/<version>/activate", "POST", "Activate a model version (refused when it "
          "scores below the active one on the held-out slice, unless `force`; the body "
          "`{\"force\": true}` is optional)", roles=ADMIN)
def activate_model(actor: Actor, version: str) -> dict[str, Any]:
    body = _optional_body()
    row = activate(db.session, parse_version(version), now=services().clock.now(),
                   force=body.force, actor_id=actor.id)
    view = version_view(row)
    commit()
    return view

