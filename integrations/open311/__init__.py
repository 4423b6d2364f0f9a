"""Open311 GeoReport v2 (CONTRACT.md): citizens' apps report and follow demands.

`inbound` checks the API key and turns a POSTed form into our intake command, `mapping` turns
categories and tickets into Open311 services and requests, `formats` writes JSON or XML and the
protocol's error list. Everything here is pure: dicts in, dicts or bytes out; `web/hooks/open311.py`
does the database and HTTP work.
"""

from __future__ import annotations


class PermanentError(Exception):
    """A refusal that will not change on retry: answered as Open311's error list."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.http_status = status
        self.description = description


__all__ = ["PermanentError"]
