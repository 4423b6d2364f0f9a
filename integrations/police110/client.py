"""The only outbound I/O to the 110 desk: POST signed JSON to `<url>/transfers` and
`<url>/acks` (standard library, short timeout). Failures leave as `TransientError` (connection,
timeout, 5xx, 429: retry later) or `PermanentError` (any other 4xx)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dispatch.outbound.outbox import PermanentError, Sender, TransientError
from dispatch.outbound.police import ACK, TRANSFER
from integrations.police110.signing import signed_headers

TIMEOUT = 5.0
# The desk sits on the police network: go straight to it, never through an HTTP proxy from
# the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class DeskClient:
    """Posts to one 110 desk, signing with one key."""

    base_url: str
    key_id: str
    secret: str
    timeout: float = TIMEOUT

    def post(self, path: str, payload: dict[str, Any], *, now: float | None = None
             ) -> dict[str, Any]:
        """POST one signed JSON body; the desk's receipt."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8",
                   **signed_headers(self.key_id, self.secret, body, timestamp=now)}
        request = urllib.request.Request(self.base_url.rstrip("/") + path, data=body,
                                         headers=headers, method="POST")
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            with exc:  # closes the error's response (no ResourceWarning)
                detail = exc.read(2000).decode("utf-8", "replace")
            message = f"110 answered {exc.code}: {detail}"
            if exc.code >= 500 or exc.code in (408, 429):
                raise TransientError(message) from None
            raise PermanentError(message) from None
        except OSError as exc:  # URLError, refused connections and timeouts are all OSErrors
            raise TransientError(f"110 is unreachable: {exc}") from None
        try:
            receipt = json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, ValueError):
            receipt = {"raw": raw[:2000].decode("utf-8", "replace")}
        if not isinstance(receipt, dict):
            receipt = {"raw": receipt}
        return {"http_status": status, **receipt}

    def senders(self, now: Callable[[], datetime] | datetime | None = None
                ) -> dict[str, Sender]:
        """The outbox senders of this desk (signing with `now`'s time when given)."""

        def stamp() -> float | None:
            if now is None:
                return None
            return (now() if callable(now) else now).timestamp()

        return {
            TRANSFER: lambda payload: self.post("/transfers", payload, now=stamp()),
            ACK: lambda payload: self.post("/acks", payload, now=stamp()),
        }


def desk_client_from_config(config: Mapping[str, Any]) -> DeskClient | None:
    """The client of the configured desk (`POLICE110_URL`, `POLICE110_KEYS`, optional
    `POLICE110_OUTBOUND_KEY` and `POLICE110_TIMEOUT`), or None while the URL or keys are unset
    (then outbound messages wait in the outbox)."""
    from integrations.police110.inbound import load_keys

    url = config.get("POLICE110_URL") or os.environ.get("HOTLINE_POLICE110_URL")
    keys = load_keys(config.get("POLICE110_KEYS"))
    if not url or not keys:
        return None
    key_id = config.get("POLICE110_OUTBOUND_KEY") or next(iter(keys))
    if key_id not in keys:
        return None
    return DeskClient(url, key_id, keys[key_id],
                      timeout=float(config.get("POLICE110_TIMEOUT") or 5.0))
