"""Pydantic's refusals in zh-CN: one table from pydantic's error kind to a Chinese sentence, so
every schema-checked field (API bodies, settings, the 110 desk's transfers, SMS replies) is
refused with the same words, naming the field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

# pydantic error type → the message after "<field>: " ({...} from the error's context).
MESSAGES: dict[str, str] = {
    "missing": "必填，不能缺少",
    "extra_forbidden": "不是可接受的字段",
    "string_type": "须为文本",
    "string_too_short": "不能为空",
    "string_too_long": "不能超过 {max_length} 个字符",
    "string_pattern_mismatch": "格式不正确",
    "string_unicode": "须为有效的 Unicode 文本",
    "int_type": "须为整数",
    "int_parsing": "须为整数",
    "int_from_float": "须为整数，不能有小数",
    "int_parsing_size": "数值超出范围",
    "float_type": "须为数字",
    "float_parsing": "须为数字",
    "finite_number": "须为有限的数字",
    "decimal_type": "须为数字",
    "decimal_parsing": "须为数字",
    "bool_type": "须为 true 或 false",
    "bool_parsing": "须为 true 或 false",
    "greater_than": "须大于 {gt}",
    "greater_than_equal": "不能小于 {ge}",
    "less_than": "须小于 {lt}",
    "less_than_equal": "不能大于 {le}",
    "multiple_of": "须为 {multiple_of} 的倍数",
    "literal_error": "须为以下之一：{expected}",
    "enum": "须为以下之一：{expected}",
    "too_short": "至少须有 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "list_type": "须为列表（数组）",
    "tuple_type": "须为列表（数组）",
    "set_type": "须为列表（数组）",
    "dict_type": "须为对象",
    "model_type": "须为对象",
    "model_attributes_type": "须为对象",
    "json_invalid": "不是有效的 JSON",
    "json_type": "须为 JSON 文本",
    "date_type": "须为日期（YYYY-MM-DD）",
    "date_parsing": "须为日期（YYYY-MM-DD）",
    "date_from_datetime_parsing": "须为日期（YYYY-MM-DD）",
    "date_from_datetime_inexact": "须为日期（YYYY-MM-DD），不能带时刻",
    "datetime_type": "须为带时区的时间（如 2026-11-23T08:00:00+08:00）",
    "datetime_parsing": "须为带时区的时间（如 2026-11-23T08:00:00+08:00）",
    "datetime_from_date_parsing": "须为带时区的时间（如 2026-11-23T08:00:00+08:00）",
    "timezone_aware": "须带时区（如 +08:00）",
    "timezone_naive": "不能带时区",
    "url_type": "须为网址",
    "url_parsing": "不是有效的网址",
    "url_scheme": "须为 http 或 https 网址",
    "uuid_type": "须为 UUID",
    "uuid_parsing": "不是有效的 UUID",
    "union_tag_invalid": "类型不正确",
    "union_tag_not_found": "缺少类型标记",
    "frozen_instance": "不能修改",
    "is_instance_of": "类型不正确",
    "none_required": "须为空（null）",
}
FALLBACK = "取值无效"


def _context(error: ErrorDetails) -> dict[str, Any]:
    """The error's context with pydantic's English joins ("'a' or 'b'") made Chinese."""
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    expected = ctx.get("expected")
    if isinstance(expected, str):
        ctx["expected"] = expected.replace(" or ", "、").replace(", ", "、")
    return ctx


def field_of(error: Mapping[str, Any]) -> str | None:
    """The dotted path of the field an error is about ("citizen.phone"), None for the body."""
    return ".".join(str(p) for p in error["loc"]) or None


def message_of(error: ErrorDetails) -> str:
    """One pydantic error as a Chinese sentence (without the field)."""
    kind = error["type"]
    if kind == "value_error":
        # A validator of ours: its ValueError already speaks Chinese.
        cause = (error.get("ctx") or {}).get("error")
        return str(cause) if cause is not None else error["msg"].removeprefix("Value error, ")
    template = MESSAGES.get(kind)
    if template is None:
        return FALLBACK
    try:
        return template.format(**_context(error))
    except (KeyError, IndexError):
        return template.split("{")[0].rstrip("：: ") or FALLBACK


def first_error(exc: ValidationError) -> tuple[str | None, str]:
    """The field and the Chinese message ("<field>: <message>") of the first refusal."""
    first = exc.errors()[0]
    field = field_of(first)
    message = message_of(first)
    return field, f"{field}: {message}" if field else message


def check_changes(changes: Mapping[str, Any], editable: Iterable[str],
                  required: Iterable[str]) -> None:
    """A partial update (PATCH/PUT of some fields): refuse a field that may not be changed and
    a required one set to null (InvalidInput naming the field, in Chinese)."""
    from dispatch.core.errors import InvalidInput

    unknown = set(changes) - set(editable)
    if unknown:
        field = sorted(unknown)[0]
        raise InvalidInput(f"{field}: 不能修改此项", field=field)
    for field in required:
        if field in changes and changes[field] is None:
            raise InvalidInput(f"{field}: 不能为空", field=field)
