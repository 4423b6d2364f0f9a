"""The OpenAPI document, generated from the same pydantic schemas that validate requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "field": {"type": "string"}},
    }},
}


@dataclass(frozen=True)
class Operation:
    path: str  # OpenAPI style: /tickets/{number}
    method: str
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    roles: tuple[str, ...] = ()
    public: bool = False
    status: int = 200
    path_params: tuple[str, ...] = ()
    extra_errors: tuple[int, ...] = field(default_factory=tuple)
    idempotent: bool = False  # honours Idempotency-Key (web/idempotency.py)
    int_params: tuple[str, ...] = ()  # path parameters declared <int:...>


REGISTRY: list[Operation] = []

MAX_INT = 2**31 - 1  # the bounded <int:...> converter (web/api/base.py)
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again",
                               "schema": {"type": "integer", "minimum": 1}}}
# Statuses with something to say beyond "error".
ERROR_WORDS = {
    400: "invalid input (the field is named in `error.field`)",
    401: "not signed in, or a wrong username or password",
    403: "the role may not do this",
    404: "not found, or not visible to this user",
    405: "method not allowed (the `Allow` header lists those allowed)",
    409: "not allowed in the ticket's state, or someone else changed it (`stale_version`)",
    413: "the body is over the limit (64 KiB; uploads: the upload limit), chunked or not",
    415: "wrong content type",
    422: "the Idempotency-Key was used with another request",
    429: "too many failed logins: wait `Retry-After` seconds",
    503: "the database or the queue is unavailable for a moment: retry after `Retry-After`",
}
# Limits checked beyond each parameter's schema, said where they apply.
YEAR_RANGE = (2000, 2100)
MAX_PERIOD_DAYS = 3660
PERIOD_NOTE = (f"the period from `from` to `to` (both included) spans at most "
               f"{MAX_PERIOD_DAYS} days, and `to` is not before `from` (400 otherwise)")
IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "the same key with the same request within 24 hours gives the first answer "
                   "again (header `Idempotent-Replayed: true`) and writes nothing; the same key "
                   "with another request: 422",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~]+$"},
}


def _path_parameter(op: Operation, name: str) -> dict[str, Any]:
    """A path parameter: integers within their bounds (years within the calendar's)."""
    schema: dict[str, Any] = {"type": "string"}
    if name in op.int_params:
        low, high = YEAR_RANGE if name == "year" else (1, MAX_INT)
        schema = {"type": "integer", "minimum": low, "maximum": high}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query_parameters(model: type[BaseModel], defs: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    defs.update(schema.get("$defs", {}))
    required = set(schema.get("required", []))
    params = []
    period = {"from", "to"} <= set(schema["properties"])
    for name, prop in schema["properties"].items():
        explode = prop.get("type") == "array"
        description = prop.get("description")
        if period and name == "to":
            description = f"{description}; {PERIOD_NOTE}" if description else PERIOD_NOTE
        params.append({"name": name, "in": "query", "required": name in required,
                       "schema": prop, "explode": explode,
                       **({"description": description} if description else {})})
    return params


def document(base_path: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every registered operation."""
    models = {op.body for op in REGISTRY if op.body is not None}
    ordered = sorted(models, key=lambda m: m.__name__)
    _, top = models_json_schema([(m, "validation") for m in ordered],
                                ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    schemas["Error"] = ERROR_SCHEMA
    paths: dict[str, Any] = {}
    for op in REGISTRY:
        entry: dict[str, Any] = {
            "summary": op.summary,
            "operationId": op.method + "_" + "_".join(
                part.strip("{}") for part in op.path.strip("/").split("/")),
            "parameters": [_path_parameter(op, p) for p in op.path_params],
            "responses": {str(op.status): {"description": "success"}},
        }
        if op.roles:
            entry["description"] = "Roles: " + ", ".join(op.roles)
        if op.query is not None:
            entry["parameters"] += _query_parameters(op.query, schemas)
        if op.body is not None:
            entry["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}}}}
        if op.idempotent:
            entry["parameters"].append(IDEMPOTENCY_HEADER)
        errors = ({400, 404, 503} | ({401, 403} if not op.public else set())
                  | set(op.extra_errors))
        if op.body is not None or op.method in ("post", "put", "patch"):
            errors |= {413, 415}
        if op.idempotent:
            errors.add(422)
        for status in sorted(errors):
            entry["responses"][str(status)] = {
                "description": ERROR_WORDS.get(status, "error"),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                **({"headers": RETRY_AFTER} if status in (429, 503) else {}),
            }
        if not op.public:
            entry["security"] = [{"bearer": []}, {"session": []}]
        paths.setdefault(op.path, {})[op.method] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "12345 热线与 110 联动工单派遣系统 API", "version": "1"},
        "servers": [{"url": base_path}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
    }
