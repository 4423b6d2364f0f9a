"""What every REST module under /api/v1 shares: `ApiBlueprint` (each area owns one; a route
declared with `bp.endpoint` gets its OpenAPI operation, role check and body/query parsing), and
`commit`, which commits the unit of work and runs its after-commit consequences."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date
from functools import wraps
from typing import Any, ClassVar, get_origin

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import BaseModel
from werkzeug.exceptions import NotFound, UnsupportedMediaType
from werkzeug.routing import IntegerConverter, Map

from dispatch.core.commands import MAX_INT, kinds_of, parse
from dispatch.core.errors import InvalidInput
from dispatch.core.models import Event
from dispatch.core.vocab import Role
from web import idempotency
from web.api import openapi
from web.auth import current_actor
from web.extensions import db
from web.services import services

PREFIX = "/api/v1"
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
STAFF = tuple(r.value for r in Role if r not in (Role.SYSTEM,))
ALL_SEEING = (Role.OPERATOR, Role.DISPATCHER, Role.SUPERVISOR, Role.LEADER, Role.ADMIN)


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` in a URL within a database integer (1 to 2³¹−1 by default): a larger or
    zero id is not found (404, whatever the method) instead of failing in the database."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = 1,  # noqa: A002
                 max: int | None = MAX_INT, signed: bool = False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, signed=signed)
        self.bounds = (min, max)

    def to_python(self, value: str) -> int:
        """The integer, or 404 when it is beyond the bounds. (A converter's ValidationError
        would let Werkzeug's matcher answer 405 with the methods of the route it skipped.)"""
        number = super().to_python(value) if len(value) <= 20 else None
        low, high = self.bounds
        if (number is None or (low is not None and number < low)
                or (high is not None and number > high)):
            raise NotFound(f"编号 {value[:20]} 超出范围，未找到")
        return number


def _query_dict(model: type[BaseModel]) -> dict[str, Any]:
    """Query-string values typed as the schema expects (lists, booleans, integers)."""
    out: dict[str, Any] = {}
    fields = {f.alias or name: f for name, f in model.model_fields.items()}
    for key in request.args:
        values = request.args.getlist(key)
        if any("\x00" in v for v in values) or "\x00" in key:
            # PostgreSQL can neither store nor compare text holding NUL.
            raise InvalidInput(f"{key}: 不能含 NUL 字符", field=key)
        info = fields.get(key)
        annotation = info.annotation if info else None
        if get_origin(annotation) is list:
            out[key] = [v for raw in values for v in raw.split(",") if v]
            continue
        value: Any = values[-1]
        kinds = kinds_of(annotation)
        if date in kinds and str not in kinds and not ISO_DAY.fullmatch(value):
            # pydantic would read "0" as a Unix time (1970-01-01): a day is YYYY-MM-DD.
            raise InvalidInput(f"{key}: 须为日期（YYYY-MM-DD）", field=key)
        if bool in kinds and value.lower() in ("true", "false", "1", "0"):
            value = value.lower() in ("true", "1")
        elif int in kinds and value.lstrip("-").isdigit() and len(value) <= 20:
            value = int(value)
        out[key] = value
    return out


def json_body(model: type[BaseModel]) -> Any:
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("请以 application/json 发送请求内容")
    raw = request.get_data(cache=True)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("请求内容不是 UTF-8 文本") from None
    return parse(model, raw, strict=True)  # a body's types as its schema says


class ApiBlueprint(Blueprint):
    """The blueprint of one area of the REST API, under /api/v1."""

    every: ClassVar[list[ApiBlueprint]] = []

    def __init__(self, name: str, import_name: str) -> None:
        super().__init__(name, import_name, url_prefix=PREFIX)
        ApiBlueprint.every.append(self)

    def endpoint(self, rule: str, method: str, summary: str, *,  # type: ignore[override]
                 body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
                 roles: Sequence[str] = (), public: bool = False, status: int = 200,
                 document: bool = True, idempotent: bool = False,
                 errors: Sequence[int] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register a route, its OpenAPI operation, its role check and its body/query
        parsing; `idempotent` routes honour `Idempotency-Key` (web/idempotency.py), `errors`
        are the statuses it answers beyond the common ones (documented)."""
        path = rule
        params = []
        while "<" in path:
            start, end = path.index("<"), path.index(">")
            name = path[start + 1:end].split(":")[-1]
            params.append(name)
            path = path[:start] + "{" + name + "}" + path[end + 1:]
        if document:
            openapi.REGISTRY.append(openapi.Operation(
                PREFIX + path, method.lower(), summary, body, query, tuple(roles), public,
                status, tuple(params), tuple(errors), idempotent,
                tuple(p for p in params if f"<int:{p}>" in rule)))

        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            @wraps(fn)
            def view(**kwargs: Any) -> ResponseReturnValue:
                if not public:
                    kwargs["actor"] = current_actor(tuple(roles))
                if query is not None:
                    kwargs["query"] = parse(query, _query_dict(query))
                if idempotent and idempotency.requested() is not None:
                    return idempotency.guarded(kwargs["actor"], lambda: run(kwargs), status)
                result = run(kwargs)
                if isinstance(result, tuple):
                    return result
                return jsonify(result), status

            def run(kwargs: dict[str, Any]) -> Any:
                if body is not None:
                    kwargs["body"] = json_body(body)
                return fn(**kwargs)

            self.add_url_rule(rule, endpoint=fn.__name__, view_func=view, methods=[method])
            return view

        return decorate


def commit(events: Sequence[Event] = ()) -> None:
    """Commit the unit of work, then run its after-commit consequences
    (`dispatch.subscribers.AFTER_COMMIT`). Under an idempotency key only flushed: the key's
    answer is stored first, then web/idempotency.py commits."""
    held_back = idempotency.deferred_events()
    if held_back is not None:
        db.session.flush()
        held_back.extend(events)
        return
    published = services().describe(events) if events else []
    db.session.commit()
    services().after_commit(db.session, events, published)


def uploaded_sheet() -> tuple[bytes, str, bool]:
    """An admin's spreadsheet import: the file (multipart field `file`, .xlsx or .csv), its
    name, and whether this is a dry run (`?dry_run=true`, the default: nothing is written
    unless `dry_run=false` is said)."""
    from dispatch.core.imports import MAX_BYTES

    if not request.mimetype.startswith("multipart/form-data"):
        raise UnsupportedMediaType("请以 multipart/form-data 上传表格文件（字段 file）")
    files = request.files.getlist("file")
    if len(files) != 1:
        raise InvalidInput(f"file: 每次请上传一个表格文件（收到 {len(files)} 个）", field="file")
    flag = (request.args.get("dry_run") or "true").lower()
    if flag not in ("true", "false", "1", "0"):
        raise InvalidInput("dry_run: 须为 true 或 false", field="dry_run")
    return (files[0].stream.read(MAX_BYTES + 1), files[0].filename or "",
            flag in ("true", "1"))


def import_answer(report: Any, dry_run: bool) -> ResponseReturnValue:
    """The answer to an import (dispatch.core.imports.ImportReport): the report; 200 for a dry
    run, 201 when written, 422 with the report when rows were rejected (nothing written)."""
    data = report.as_dict()
    if dry_run:
        return jsonify(data), 200
    if report.rejected or not report.committed:
        message = (f"有 {len(report.rejected)} 行不能导入，整个文件都没有导入"
                   if report.rejected else "文件中没有可导入的行")
        return jsonify({"error": {"code": "import_rejected", "message": message,
                                  "field": "file"}, "report": data}), 422
    return jsonify(data), 201
