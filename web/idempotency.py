"""`Idempotency-Key` on intake and the ticket actions (`dispatch.core.idempotency`): the
route runs with its commit held back, the answer is stored with the key in the same
transaction, and only then does the transaction commit and its consequences run."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Response, g, jsonify, request
from sqlalchemy.exc import IntegrityError

from dispatch.core import idempotency
from dispatch.core.actors import Actor
from dispatch.core.models import Event
from web.extensions import db
from web.services import services

REPLAYED = "Idempotent-Replayed"
# Claims lost to a concurrent request that then rolled back: claim again, a few times.
ATTEMPTS = 3


def requested() -> str | None:
    """The request's idempotency key, if it sent one."""
    return request.headers.get(idempotency.HEADER)


def deferred_events() -> list[Event] | None:
    """The events of a held-back commit (the route runs under a key), else None."""
    return g.get("hotline_idempotent_events")


def _replay(answer: idempotency.StoredAnswer) -> tuple[Response, int]:
    db.session.rollback()  # nothing of this request is written
    response = jsonify(answer.body)
    response.headers[REPLAYED] = "true"
    return response, answer.http_status


def guarded(actor: Actor, run: Callable[[], Any], status: int) -> tuple[Response, int]:
    """Run a route under the request's key: the first answer again for a repeat, 422 for the
    key with another request, else the route's answer stored with the key."""
    key = idempotency.check_key(requested() or "")
    if actor.id is None:
        raise idempotency.InvalidInput("这个身份不能使用幂等键", field=idempotency.HEADER)
    print_ = idempotency.fingerprint(request.method, request.path,
                                     request.get_data(cache=True))
    now = services().clock.now()
    for attempt in range(ATTEMPTS):
        answer = idempotency.stored_answer(db.session, actor.id, key, print_, now)
        if answer is not None:
            return _replay(answer)
        try:
            row = idempotency.claim(db.session, actor.id, key, print_, now)
            break
        except IntegrityError:  # claimed by a request that has now committed (or not)
            db.session.rollback()
            if attempt == ATTEMPTS - 1:
                raise
    events: list[Event] = []
    g.hotline_idempotent_events = events
    try:
        result = run()
    finally:
        g.pop("hotline_idempotent_events", None)
    body = json.loads(jsonify(result).get_data())
    idempotency.record(db.session, row, status, body)
    published = services().describe(events) if events else []
    db.session.commit()
    services().after_commit(db.session, events, published)
    return jsonify(body), status
