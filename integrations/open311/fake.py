"""A small Open311 client double: what a citizen's app sends, and its answers read back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from defusedxml import ElementTree as SafeET

from integrations.open311.formats import ITEM_NAMES

FORM = "application/x-www-form-urlencoded"
OWN_KEY: Any = object()  # "send the app's own key" (None sends no key at all)


def report_form(api_key: str | None, service_code: str, description: str,
                **fields: Any) -> dict[str, str]:
    """The form fields of a POST, as an app fills them in (None values left out)."""
    form: dict[str, Any] = {"api_key": api_key, "service_code": service_code,
                            "description": description, **fields}
    return {k: str(v) for k, v in form.items() if v is not None}


def encode_form(form: dict[str, str]) -> bytes:
    """The form as an application/x-www-form-urlencoded body in UTF-8."""
    return urlencode(form, encoding="utf-8").encode("ascii")


def _value(element: Any) -> Any:
    children = list(element)
    if not children:
        return element.text
    if element.tag in ITEM_NAMES:
        return [_value(c) for c in children]
    return {c.tag: _value(c) for c in children}


def parse_xml(body: bytes) -> tuple[str, Any]:
    """An XML answer as (root element name, the value as plain lists and dicts of strings)."""
    root = SafeET.fromstring(body)
    if root.tag in ITEM_NAMES:
        return root.tag, [_value(c) for c in root]
    return root.tag, _value(root)


@dataclass
class Open311App:
    """An Open311 client driving a Flask test client: form posts, GETs, parsed answers."""

    client: Any
    api_key: str | None = None
    base: str = "/open311/v2"
    sent: list[dict[str, str]] = field(default_factory=list)

    def get(self, path: str, **params: Any) -> Any:
        """GET a resource (e.g. `services.json`) with query parameters."""
        return self.client.get(f"{self.base}/{path}", query_string=params)

    def report(self, service_code: str, description: str, fmt: str = "json",
               api_key: Any = OWN_KEY, **fields: Any) -> Any:
        """POST a service request as a form; `api_key` defaults to the app's own."""
        key = self.api_key if api_key is OWN_KEY else api_key
        form = report_form(key, service_code, description, **fields)
        self.sent.append(form)
        return self.client.post(f"{self.base}/requests.{fmt}", data=encode_form(form),
                                content_type=FORM)

    @staticmethod
    def body(response: Any) -> Any:
        """The answer as plain data: JSON as it is, XML as lists and dicts of strings."""
        if response.mimetype == "text/xml":
            return parse_xml(response.data)[1]
        return response.get_json()
