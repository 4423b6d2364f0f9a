"""The only outbound I/O to the call centre: `POST {HOTLINE_CTI_URL}/transfer` (signed like
its events, short timeout) and the recordings streamed from its host. Failures leave as
`TransientError` (connection, timeout, 5xx, 429: retry later) or `PermanentError` (any other
4xx)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dispatch.calls.transfer import TOPIC
from dispatch.outbound.outbox import PermanentError, Sender, TransientError
from integrations.cti.inbound import CtiError, check_recording_url, load_keys
from integrations.cti.mapping import transfer_body
from integrations.police110.signing import signed_headers

TIMEOUT = 3.0
CHUNK = 64 * 1024
# The centre is on the hotline's own network: never through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Recording:
    """A recording being streamed: its type, length (if known) and its chunks."""

    content_type: str
    length: int | None
    chunks: Iterator[bytes]


@dataclass(frozen=True)
class CentreClient:
    """Talks to one call centre (signing with one key when keys are configured)."""

    base_url: str
    key_id: str | None = None
    secret: str | None = None
    timeout: float = TIMEOUT

    def transfer(self, payload: dict[str, Any]) -> dict[str, Any]:
        """POST one transfer command; the centre's receipt."""
        body = json.dumps(transfer_body(payload), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.key_id and self.secret:
            headers.update(signed_headers(self.key_id, self.secret, body))
        request = urllib.request.Request(self.base_url.rstrip("/") + "/transfer", data=body,
                                         headers=headers, method="POST")
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                raw, status = response.read(), response.status
        except urllib.error.HTTPError as exc:
            with exc:
                detail = exc.read(2000).decode("utf-8", "replace")
            message = f"呼叫中心答复 {exc.code}：{detail}"
            if exc.code >= 500 or exc.code in (408, 429):
                raise TransientError(message) from None
            raise PermanentError(message) from None
        except OSError as exc:
            raise TransientError(f"呼叫中心无法连接：{exc}") from None
        try:
            receipt = json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, ValueError):
            receipt = {"raw": raw[:2000].decode("utf-8", "replace")}
        return {"http_status": status, **(receipt if isinstance(receipt, dict) else {})}

    def senders(self) -> dict[str, Sender]:
        """The outbox senders of this centre."""
        return {TOPIC: self.transfer}

    def recording(self, url: str) -> Recording:
        """Open a recording on the centre's own host (any other URL is refused before any
        connection is made)."""
        try:
            check_recording_url(url, self.base_url)
        except CtiError as exc:
            raise PermanentError(exc.message) from None
        try:
            response = _OPENER.open(urllib.request.Request(url, method="GET"),
                                    timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code >= 500:
                raise TransientError(f"呼叫中心答复 {exc.code}") from None
            raise PermanentError(f"呼叫中心答复 {exc.code}") from None
        except OSError as exc:
            raise TransientError(f"呼叫中心无法连接：{exc}") from None
        length = response.headers.get("Content-Length")

        def chunks() -> Iterator[bytes]:
            with response:
                while block := response.read(CHUNK):
                    yield block

        return Recording(response.headers.get("Content-Type") or "audio/wav",
                         int(length) if length and length.isdigit() else None, chunks())


def centre_client_from_config(config: Mapping[str, Any]) -> CentreClient | None:
    """The client of the configured call centre (`CTI_URL`, optional `CTI_KEYS` to sign), or
    None while the URL is unset (then transfer commands wait in the outbox)."""
    url = config.get("CTI_URL") or os.environ.get("HOTLINE_CTI_URL")
    if not url:
        return None
    keys = load_keys(config.get("CTI_KEYS") or "") or {}
    key_id = next(iter(keys), None)
    return CentreClient(url, key_id, keys.get(key_id) if key_id else None,
                        timeout=float(config.get("CTI_TIMEOUT") or TIMEOUT))
