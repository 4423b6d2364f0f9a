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


REGISTRY: list[Operation] = []


def _query_parameters(model: type[BaseModel], defs: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    defs.update(schema.get("$defs", {}))
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema["properties"].items():
        explode = prop.get("type") == "array"
        params.append({"name": name, "in": "query", "required": name in required,
                       "schema": prop, "explode": explode,
                       **({"description": prop["description"]} if "description" in prop else {})})
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
            "parameters": [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in op.path_params],
            "responses": {str(op.status): {"description": "success"}},
        }
        if op.roles:
            entry["description"] = "Roles: " + ", ".join(op.roles)
        if op.query is not None:
            entry["parameters"] += _query_parameters(op.query, schemas)
        if op.body is not None:
            entry["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}}}}
        errors = {400, 404} | ({401, 403} if not op.public else set()) | set(op.extra_errors)
        if op.body is not None:
            errors |= {413, 415}
        for status in sorted(errors):
            entry["responses"][str(status)] = {
                "description": "error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
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
