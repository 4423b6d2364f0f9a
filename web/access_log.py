"""gunicorn's logs without secrets: the query strings of the hooks (`/hooks/*`, where WeChat
puts its signature, timestamp, nonce and the citizen's OpenID, and `/open311/*`, where an
`api_key` may ride) are replaced before a line is written, in the access log and in the error
log (gunicorn names the request target when a request fails)."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

from web.logs import own_formatter

# Paths whose query strings may carry signatures, keys or personal data.
REDACTED_PREFIXES = ("/hooks/", "/open311/")
REDACTED = "[redacted]"
# A hook's target inside free text (the error log's "Error handling request /hooks/…?…").
_IN_TEXT = re.compile(r"((?:/hooks/|/open311/)[^\s?\"']*)\?[^\s\"']*")
# gunicorn atoms that can hold the query string.
_URI_ATOMS = ("r", "q", "{raw_uri}e", "{query_string}e", "{request_uri}e")


def redacts(path: str) -> bool:
    """True when the query string of a request to `path` must not be logged."""
    return any(prefix in path for prefix in REDACTED_PREFIXES)


def redact_target(target: str) -> str:
    """A request target (`/path?query`) as the access log may show it."""
    path, sep, _ = target.partition("?")
    return f"{path}?{REDACTED}" if sep and redacts(path) else target


def redact_text(text: str) -> str:
    """Free text with the query string of every hook target in it replaced."""
    return _IN_TEXT.sub(rf"\1?{REDACTED}", text)


class RedactingFilter(logging.Filter):
    """Rewrites a record whose message names a hook target with its query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record, its message redacted."""
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class RedactingLogger(Logger):
    """gunicorn's logger, with the query strings of the hooks redacted in every access atom
    and in the error log, and in JSON lines when the process logs so."""

    def setup(self, cfg: Any) -> None:
        """gunicorn's handlers, and the redacting filter on the error log."""
        super().setup(cfg)
        if not any(isinstance(f, RedactingFilter) for f in self.error_log.filters):
            self.error_log.addFilter(RedactingFilter())
        formatter = own_formatter()  # JSON lines when HOTLINE_LOG_FORMAT=json (web.logs)
        if formatter is not None:
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.setFormatter(formatter)

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any],
              request_time: timedelta) -> dict[str, Any]:
        """gunicorn's atoms, the request line and query string of a hook redacted."""
        atoms = super().atoms(resp, req, environ, request_time)
        raw = str(environ.get("RAW_URI") or "")
        if not (redacts(str(environ.get("PATH_INFO") or "")) or redacts(raw.partition("?")[0])):
            return atoms
        atoms["r"] = (f"{environ.get('REQUEST_METHOD', '-')} {redact_target(raw)} "
                      f"{environ.get('SERVER_PROTOCOL', '-')}")
        for key in _URI_ATOMS[1:]:
            if atoms.get(key):
                atoms[key] = (redact_target(atoms[key]) if "?" in atoms[key] else REDACTED)
        # A Referer could repeat the address; a hook's caller has no reason to send one.
        if "?" in str(atoms.get("f", "")):
            atoms["f"] = redact_target(atoms["f"])
        return atoms
