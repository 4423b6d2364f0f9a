"""Open311 GeoReport v2 under /open311/v2 (CONTRACT.md): public reads, keyed POSTs that go
through the same intake pipeline as every other channel, JSON or XML by the URL's extension."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from dispatch.core.errors import DomainError, Forbidden, NotFound, Unauthorized
from dispatch.core.models import Category, Event
from dispatch.core.vocab import Role
from dispatch.intake.pipeline import intake
from dispatch.tickets.lifecycle import Actor, perform
from dispatch.tickets.public import PublicQuery, PublicTicket, find_public, get_public
from grid.directory import SqlDirectory
from integrations.open311 import PermanentError, formats, inbound, mapping
from web.api.base import commit
from web.errors import http_message
from web.extensions import db
from web.i18n import t as translate
from web.services import services

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

# Open311 is a machine channel, not a person at a desk: the system role (which may log a
# demand and add a note, and sees every ticket) under a name that says where it came from.
OPEN311_ACTOR = Actor(None, Role.SYSTEM, None, "open311")
CHANGESET = datetime(2026, 11, 23, tzinfo=UTC)  # when this API last changed
CONTACT = "12345 政务服务便民热线"


# ---------------------------------------------------------------- plumbing


def _format(fmt: str | None) -> str:
    """The answer format of this request, or a 404 (in JSON) for an unknown one."""
    fmt = (fmt or "").lower()
    if fmt not in formats.FORMATS:
        g.open311_format = "json"
        raise PermanentError(404, "未知的格式：请用 .json 或 .xml")
    g.open311_format = fmt
    return fmt


def _answer(fmt: str, root: str, value: Any, status: int = 200) -> Response:
    body, content_type = formats.render(fmt, root, value)
    return Response(body, status=status, content_type=content_type)


def _error(status: int, description: str) -> Response:
    body, content_type = formats.render_error(g.get("open311_format"), status, description)
    return Response(body, status=status, content_type=content_type)


@bp.errorhandler(PermanentError)
def _refused(exc: PermanentError) -> Response:
    db.session.rollback()
    return _error(exc.http_status, exc.description)


@bp.errorhandler(DomainError)
def _domain(exc: DomainError) -> Response:
    db.session.rollback()
    status = 404 if isinstance(exc, NotFound) else 403 if isinstance(
        exc, Forbidden | Unauthorized) else 400
    return _error(status, exc.translated(translate))


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException) -> Response:
    db.session.rollback()
    return _error(exc.code or 500, http_message(exc))


def _api_keys() -> tuple[str, ...]:
    """The keys allowed to POST: the app's config, else the environment (CONTRACT.md)."""
    configured = current_app.config.get("OPEN311_API_KEYS")
    if configured is None:
        configured = os.environ.get("HOTLINE_OPEN311_API_KEYS")
    return inbound.parse_keys(configured)


def _categories() -> list[dict[str, Any]]:
    rows = db.session.execute(select(Category.code, Category.name, Category.parent_code,
                                     Category.sort_order, Category.active)).mappings()
    return [dict(r) for r in rows]


def _services() -> list[dict[str, Any]]:
    return mapping.services(_categories())


# ---------------------------------------------------------------- discovery and services


@bp.get("/discovery.<fmt>")
def discovery(fmt: str) -> Response:
    """Where the GeoReport v2 endpoint is and which formats it speaks."""
    fmt = _format(fmt)
    base = request.host_url.rstrip("/") + (bp.url_prefix or "") + "/"
    return _answer(fmt, "discovery", mapping.discovery(base, CHANGESET, CONTACT))


@bp.get("/services.<fmt>")
def service_list(fmt: str) -> Response:
    """The services: the leaf categories, grouped by their top-level category."""
    fmt = _format(fmt)
    return _answer(fmt, "services", _services())


@bp.get("/services/<name>")
@bp.get("/service/<name>")
def service_definition(name: str) -> Response:
    """A service's definition (no extra attributes); `service/` is what an old client asks."""
    code, fmt = formats.split_format(name)
    fmt = _format(fmt)
    if code not in {s["service_code"] for s in _services()}:
        raise PermanentError(404, f"service_code: 没有编码为“{code}”的服务")
    return _answer(fmt, "service_definition", mapping.service_definition(code))


# ---------------------------------------------------------------- service requests


def _requests(tickets: Sequence[PublicTicket]) -> list[dict[str, Any]]:
    return [mapping.service_request({
        "number": t.number, "status": t.status, "category_code": t.category_code,
        "service_name": t.category_name, "text": t.text, "confidential": t.confidential,
        "police_matter": t.police_matter, "agency": t.agency, "expected": t.expected,
        "created_at": t.created_at, "updated_at": t.updated_at, "address": t.address,
        "lon": t.lon, "lat": t.lat, "media_url": mapping.media_url_of(t.system_notes),
    }) for t in tickets]


@bp.get("/requests.<fmt>")
def request_list(fmt: str) -> Response:
    """Service requests by id, or by service, state and time (newest first, at most 1000)."""
    fmt = _format(fmt)
    q = inbound.parse_query(request.args, services().clock.now())
    found = find_public(db.session, PublicQuery(
        numbers=q.ids, categories=q.service_codes, states=q.states, start=q.start, end=q.end,
        limit=inbound.MAX_RESULTS), SqlDirectory(db.session))
    return _answer(fmt, "service_requests", _requests(found))


def _one(number: str) -> PublicTicket:
    ticket = get_public(db.session, number, SqlDirectory(db.session))
    if ticket is None:
        raise PermanentError(404, f"service_request_id: 没有编号为“{number}”的诉求")
    return ticket


@bp.get("/requests/<name>")
def request_one(name: str) -> Response:
    """One service request, as a list of one (as the specification says)."""
    number, fmt = formats.split_format(name)
    fmt = _format(fmt)
    return _answer(fmt, "service_requests", _requests([_one(number)]))


@bp.get("/tokens/<name>")
def token(name: str) -> Response:
    """A token's request: ours are created at once, so a token is the request's number."""
    number, fmt = formats.split_format(name)
    fmt = _format(fmt)
    return _answer(fmt, "service_requests", [mapping.token(_one(number).number)])


@bp.post("/requests.<fmt>")
def report(fmt: str) -> Response:
    """A new service request from a keyed client: logged, located and routed by the pipeline."""
    fmt = _format(fmt)
    keys = _api_keys()
    if not keys:
        raise PermanentError(403, inbound.NOT_ENABLED)
    if request.mimetype not in inbound.FORM_TYPES:
        raise PermanentError(400, "请以 application/x-www-form-urlencoded 发送请求")
    form = request.form
    inbound.check_api_key(form.get("api_key"), keys)
    codes = {s["service_code"] for s in _services()}
    data = inbound.parse_request(form, codes)
    media = inbound.media_url(form)
    now = services().clock.now()
    result = intake(db.session, data, OPEN311_ACTOR, now=now,
                    ports=services().intake_ports(db.session, now))
    events: list[Event] = list(result.events)
    if media:  # kept on the ticket's history, where dispatchers and handlers see it
        noted = perform(db.session, result.ticket, "note", OPEN311_ACTOR,
                        {"text": mapping.media_note(media)}, now=now,
                        directory=SqlDirectory(db.session))
        events += noted.events
    number = result.ticket.number
    # An emergency: the notice tells the citizen to call 110 (119, 120) now.
    notice = result.alarm.advice(number) if result.alarm is not None else None
    commit(events)
    return _answer(fmt, "service_requests", [mapping.created(number, notice)])


@bp.route("/<path:rest>", methods=["GET", "POST"])
def unknown(rest: str) -> Response:
    """Any other path under /open311/v2: the protocol's 404."""
    g.open311_format = formats.split_format(rest.rsplit("/", 1)[-1])[1] or "json"
    raise PermanentError(404, f"没有这个资源：{rest}")
