"""Every message a user can read is zh-CN (the house standard; CONTRACT.md "Errors, retries and
limits"): the refusals raised across `dispatch/`, `web/` and `integrations/`, the central
validation table and the HTTP statuses' defaults. Log messages (for operators) are not
checked; `code` and `field` stay English."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Where user-visible refusals are raised. dispatch/simulation is a tool whose errors go to its
# developer.
SCANNED = ("web", "dispatch", "integrations", "grid", "workers")
SKIPPED = ("dispatch/simulation/", "web/migrations/")
# Known gaps (paths not scanned yet): none; a new gap is named here with its owner.
NOT_YET: tuple[str, ...] = ()
FAKES = "fake.py"  # stand-ins for the outside parties, used by tests
# Exceptions whose message reaches a person: the domain's refusals, the hooks' own errors,
# werkzeug's HTTP errors raised with a description, the console's refused connections.
USER_ERRORS = {
    "DomainError", "InvalidInput", "NotFound", "Forbidden", "Conflict", "StaleVersion",
    "Unauthorized", "KeyReused", "WeChatError", "PoliceError", "UnsupportedMediaType",
    "BadRequest", "RequestEntityTooLarge", "ConnectionRefusedError", "LoginThrottled",
    "GridFileError",
}
# Lists whose lines an admin reads: the grid importer's problems (its refusal) and warnings
# (its report), filled with `problems.append(...)`, `warns.append(...)`, `warns.extend(...)`.
REPORT_LISTS = {"problems", "warns"}
# Helpers that answer with a message among their arguments (the first text argument).
ANSWERING = {"_refuse", "_plain", "answer", "error_response", "page_error"}
# Open311's PermanentError (status, description) is an answer; the outbox's is for the log.
OPEN311_FILES = ("integrations/open311/", "web/hooks/open311.py")
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")
CODE = re.compile(r"[a-z_]+")
LETTERS = re.compile(r"[A-Za-z]{2,}")


def _literal(node: ast.AST) -> str | None:
    """The literal text of a message expression (f-string parts, concatenations)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values
                       if isinstance(v, ast.Constant) and isinstance(v.value, str))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        parts = [_literal(node.left), _literal(node.right)]
        return "".join(p for p in parts if p) if any(p is not None for p in parts) else None
    return None


def _name(func: ast.AST) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _report_line(call: ast.Call) -> bool:
    """Whether a call adds a line to one of the importer's report lists."""
    func = call.func
    return isinstance(func, ast.Attribute) and func.attr in ("append", "extend") and \
        isinstance(func.value, ast.Name) and func.value.id in REPORT_LISTS


def _first_line(node: ast.AST | None) -> ast.AST | None:
    """The message in a list of them (GridFileError([...])) or a generator of them."""
    if isinstance(node, ast.List) and node.elts:
        return node.elts[0]
    if isinstance(node, ast.GeneratorExp | ast.ListComp):
        return node.elt
    return node


def _message_arg(call: ast.Call, name: str, path: str) -> ast.AST | None:
    args = list(call.args)
    if name in ANSWERING:
        # Codes ("unavailable") and protocol words ("success") are identifiers, not messages.
        return next((a for a in args if _literal(a) is not None
                     and not CODE.fullmatch(_literal(a) or "")), None)
    if name in ("WeChatError", "PoliceError") or (
            name == "PermanentError" and path.startswith(OPEN311_FILES)):
        args = args[1:]  # (status, message)
    return _first_line(args[0]) if args else None


def _validator_functions(tree: ast.AST) -> set[ast.AST]:
    """Functions whose ValueError becomes a pydantic refusal (decorated validators)."""
    found: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                if _name(target) in ("field_validator", "model_validator"):
                    found.add(node)
    return found


def english_messages() -> list[str]:
    """`path:line: message` of every user-facing refusal whose text has no Chinese."""
    found = []
    for top in SCANNED:
        for file in sorted((ROOT / top).rglob("*.py")):
            path = file.relative_to(ROOT).as_posix()
            if path.startswith(SKIPPED + NOT_YET) or file.name == FAKES:
                continue
            tree = ast.parse(file.read_text(encoding="utf-8"))
            validators = _validator_functions(tree)
            in_validator = {id(n) for f in validators for n in ast.walk(f)}
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                name = _name(node.func)
                if name is None:
                    continue
                user_facing = name in USER_ERRORS or name in ANSWERING or (
                    name == "PermanentError" and path.startswith(OPEN311_FILES)) or (
                    name == "ValueError" and id(node) in in_validator) or _report_line(node)
                if not user_facing:
                    continue
                arg = _message_arg(node, name, path)
                text = _literal(arg) if arg is not None else None
                if text and LETTERS.search(text) and not CJK.search(text):
                    found.append(f"{path}:{node.lineno}: {text}")
    return found


def test_every_refusal_raised_in_the_code_speaks_chinese() -> None:
    assert english_messages() == []


def test_the_scan_finds_an_english_refusal(tmp_path: Path, monkeypatch) -> None:
    """The scan itself can fail: an English message in a scanned file is reported."""
    package = tmp_path / "web"
    package.mkdir()
    (package / "bad.py").write_text(
        'raise InvalidInput(f"{x}: must be a number", field="x")\n'
        'raise WeChatError(400, "the body is not UTF-8")\n'
        'raise InvalidInput("text: 不能为空", field="text")\n', encoding="utf-8")
    (tmp_path / "grid").mkdir()
    (tmp_path / "grid" / "importer.py").write_text(
        'raise GridFileError([f"{name} is empty"])\n'
        'problems.append(f"{label}: no code")\n'
        'warns.extend(f"layer {n}: {w}" for w in caught)\n'
        'problems.append(f"{label}: 缺少编码")\n'
        'names.append("not a report line")\n', encoding="utf-8")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert english_messages() == ["web/bad.py:1: : must be a number",
                                  "web/bad.py:2: the body is not UTF-8",
                                  "grid/importer.py:1:  is empty",
                                  "grid/importer.py:2: : no code",
                                  "grid/importer.py:3: layer : "]


def test_every_validation_message_of_the_catalogue_is_chinese() -> None:
    from dispatch.core.validation import FALLBACK, MESSAGES

    for kind, message in {**MESSAGES, "fallback": FALLBACK}.items():
        assert CJK.search(message), kind


def test_every_default_http_message_and_page_title_is_chinese() -> None:
    from web.errors import HTTP_CODES, HTTP_MESSAGES, PAGE_TITLES

    assert set(HTTP_CODES) <= set(HTTP_MESSAGES)
    for status, message in {**HTTP_MESSAGES, **PAGE_TITLES}.items():
        assert CJK.search(message), status


@pytest.mark.parametrize(("data", "field", "says"), [
    ({"text": "x"}, "channel", "必填"),
    ({"channel": "fax", "text": "x"}, "channel", "须为以下之一"),
    ({"channel": "phone", "text": "长" * 4001}, "text", "不能超过 4000 个字符"),
    ({"channel": "phone", "text": 5}, "text", "须为文本"),
    ({"channel": "phone", "text": "x", "lon": 200}, "lon", "不能大于 180"),
    ({"channel": "phone", "text": "x", "citizen": {"anonymous": "yes"}}, "citizen.anonymous",
     "true 或 false"),
    ({"channel": "phone", "text": "x", "colour": "red"}, "colour", "不是可接受的字段"),
])
def test_schema_refusals_are_chinese_and_name_the_field(data, field, says) -> None:
    from dispatch.core.commands import TicketCreate, parse
    from dispatch.core.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        parse(TicketCreate, data)
    assert refused.value.field == field
    assert refused.value.message.startswith(f"{field}: ")
    assert says in refused.value.message and CJK.search(refused.value.message)
