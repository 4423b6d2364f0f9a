"""Open311 answers as JSON or XML (UTF-8), and the protocol's error list."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

FORMATS = ("json", "xml")
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# The XML element of one item inside each list-valued element.
ITEM_NAMES = {"services": "service", "service_requests": "request", "errors": "error",
              "endpoints": "endpoint", "formats": "format", "attributes": "attribute",
              "values": "value"}
# Characters XML 1.0 cannot carry at all (control characters, lone surrogates, U+FFFE/FFFF).
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("\ufffd", str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), child)
    elif isinstance(value, list | tuple):
        name = ITEM_NAMES.get(element.tag, "item")
        for child in value:
            _fill(ET.SubElement(element, name), child)
    else:
        element.text = _text(value)


def to_xml(root: str, value: Any) -> bytes:
    """A document with `root` as its root element, UTF-8, with the XML declaration."""
    element = ET.Element(root)
    _fill(element, value)
    body = ET.tostring(element, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode("utf-8")


def to_json(value: Any) -> bytes:
    """JSON in UTF-8, Chinese and emoji as they are."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def render(fmt: str, root: str, value: Any) -> tuple[bytes, str]:
    """The body and content type of an answer; `root` names the XML root element."""
    if fmt == "xml":
        return to_xml(root, value), CONTENT_TYPES["xml"]
    return to_json(value), CONTENT_TYPES["json"]


def errors(status: int, description: str) -> list[dict[str, Any]]:
    """Open311's error list with one error."""
    return [{"code": status, "description": description}]


def render_error(fmt: str | None, status: int, description: str) -> tuple[bytes, str]:
    """An error in the requested format (JSON when the format is unknown)."""
    return render(fmt if fmt in FORMATS else "json", "errors", errors(status, description))


def split_format(name: str) -> tuple[str, str | None]:
    """`urban.x.json` → (`urban.x`, `json`); a known format extension or None."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return name, None
    return stem, ext.lower() if ext.lower() in FORMATS else None
