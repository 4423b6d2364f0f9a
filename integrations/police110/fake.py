"""A working 110 desk for tests and demos: a real HTTP server on 127.0.0.1 (a free port, in a
thread) that verifies our signatures, records what we sent and answers with receipts; it can
be taken down (connections refused, or 503) and back up, and it sends signed transfers and
acks to our `/hooks/police110/...` endpoints (a base URL, or a Flask test client)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from integrations.police110.inbound import PoliceError, verify
from integrations.police110.signing import signed_headers
from integrations.served import ServedFake

HOOKS = "/hooks/police110"
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Received:
    """One verified request the desk took: `/transfers` or `/acks`, its body, its key."""

    path: str
    payload: dict[str, Any]
    key_id: str


@dataclass(frozen=True)
class Answer:
    """Our endpoint's answer to something the desk sent."""

    status: int
    body: Any


@dataclass
class FakePoliceDesk(ServedFake):
    """A 110 desk sharing `keys` (key id → secret) with us; signs with `key_id` (default: the
    first key) at `clock()` unix seconds (default: the real time)."""

    thread_name: ClassVar[str] = "fake-110-desk"

    keys: Mapping[str, str]
    key_id: str | None = None
    clock: Callable[[], float] = time.time
    received: list[Received] = field(default_factory=list)
    refused: list[tuple[str, int, str]] = field(default_factory=list)
    _nonces: set[tuple[str, str]] = field(default_factory=set)
    _incidents: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------ what arrived

    def transfers(self, ticket_no: str | None = None) -> list[dict[str, Any]]:
        """The transfers we sent, oldest first (only those of one ticket when named)."""
        return [r.payload for r in self.received if r.path == "/transfers"
                and (ticket_no is None or r.payload.get("ticket_no") == ticket_no)]

    def acks(self, incident_no: str | None = None) -> list[dict[str, Any]]:
        """The acks we sent about 110's transfers, oldest first."""
        return [r.payload for r in self.received if r.path == "/acks"
                and (incident_no is None or r.payload.get("incident_no") == incident_no)]

    def incident_for(self, ticket_no: str) -> str:
        """The incident number 110 gave (or gives) our transfer of this ticket."""
        with self._lock:
            if ticket_no not in self._incidents:
                self._incidents[ticket_no] = f"J4107282026{len(self._incidents) + 1:08d}"
            return self._incidents[ticket_no]

    def _wsgi(self, environ: dict[str, Any],
              start_response: Callable[..., Any]) -> Iterable[bytes]:
        def answer(status: int, body: dict[str, Any]) -> list[bytes]:
            reason = {202: "Accepted", 401: "Unauthorized", 400: "Bad Request",
                      404: "Not Found", 503: "Service Unavailable"}.get(status, "OK")
            raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
            start_response(f"{status} {reason}", [("Content-Type", "application/json"),
                                                  ("Content-Length", str(len(raw)))])
            return [raw]

        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        path = environ.get("PATH_INFO", "")
        if self._mode == "503":
            return answer(503, {"error": "down for maintenance"})
        if environ["REQUEST_METHOD"] != "POST" or path not in ("/transfers", "/acks"):
            return answer(404, {"error": "no such endpoint"})
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items()
                   if k.startswith("HTTP_")}
        try:
            signed = verify(self.keys, headers, body, self.clock())
            with self._lock:
                if (signed.key_id, signed.nonce) in self._nonces:
                    raise PoliceError(401, "nonce replayed")
                self._nonces.add((signed.key_id, signed.nonce))
            payload = json.loads(body.decode("utf-8"))
            if not isinstance(payload, dict):
                raise PoliceError(400, "not a JSON object")
        except PoliceError as exc:
            self.refused.append((path, exc.http_status, exc.message))
            return answer(exc.http_status, {"error": exc.message})
        except (UnicodeDecodeError, ValueError):
            self.refused.append((path, 400, "malformed JSON"))
            return answer(400, {"error": "malformed JSON"})
        with self._lock:
            self.received.append(Received(path, payload, signed.key_id))
        if path == "/transfers":
            ticket_no = str(payload.get("ticket_no"))
            return answer(202, {"receipt": "received", "incident_no": self.incident_for(ticket_no)})
        return answer(202, {"receipt": "received"})

    # ------------------------------------------------------------ sending to 12345

    def signed(self, body: bytes, **overrides: Any) -> dict[str, str]:
        """The signature headers of a body (timestamp, nonce, key or secret overridable)."""
        key_id = overrides.pop("key_id", None) or self.key_id or next(iter(self.keys))
        secret = overrides.pop("secret", None) or self.keys.get(key_id, "unknown")
        timestamp = overrides.pop("timestamp", None)
        return signed_headers(key_id, secret, body,
                              timestamp=self.clock() if timestamp is None else timestamp,
                              **overrides)

    def send(self, target: Any, path: str, payload: Any = None, *, raw: bytes | None = None,
             headers: Mapping[str, str] | None = None,
             content_type: str = "application/json; charset=utf-8",
             **sign: Any) -> Answer:
        """POST one signed body to our hook (`target`: a base URL or a Flask test client)."""
        body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode()
        all_headers = {"Content-Type": content_type, **self.signed(body, **sign),
                       **(headers or {})}
        url = HOOKS + path
        if not isinstance(target, str):
            r = target.post(url, data=body, headers=all_headers)
            return Answer(r.status_code, r.get_json(silent=True))
        request = urllib.request.Request(target.rstrip("/") + url, data=body,
                                         headers=all_headers, method="POST")
        try:
            with _OPENER.open(request, timeout=5) as response:
                return Answer(response.status, json.loads(response.read() or b"null"))
        except urllib.error.HTTPError as exc:
            with exc:
                return Answer(exc.code, json.loads(exc.read() or b"null"))

    def send_transfer(self, target: Any, incident_no: str, **fields: Any) -> Answer:
        """A transfer of a non-police matter (CONTRACT.md's example unless `fields` say)."""
        return self.send(target, "/transfers", transfer_body(incident_no, **fields))

    def send_ack(self, target: Any, ticket_no: str, status: str, *, cause: str | None = None,
                 result: str | None = None, incident_no: str | None = None,
                 at: str = "2026-11-23T10:20:00+08:00") -> Answer:
        """110's answer about one of our transfers."""
        if incident_no is None and status != "rejected":
            incident_no = self.incident_for(ticket_no)
        return self.send(target, "/acks", {
            "ticket_no": ticket_no, "incident_no": incident_no, "status": status,
            "cause": cause, "result": result, "at": at})


def transfer_body(incident_no: str, **fields: Any) -> dict[str, Any]:
    """CONTRACT.md's example transfer under another incident number, fields replaced."""
    body: dict[str, Any] = {
        "incident_no": incident_no,
        "received_at": "2026-11-23T10:15:00+08:00",
        "caller": {"name": "张三", "phone": "13800000000"},
        "location": {"address": "长垣市蒲西街道宏力大道与山海大道交叉口", "lon": 114.669,
                     "lat": 35.201, "crs": "WGS84"},
        "category_hint": "挪车",
        "summary": "小区门口车辆堵住出口，联系不上车主",
        "urgency": "normal",
        "remarks": [{"at": "2026-11-23T10:16:10+08:00", "text": "报警人情绪平稳"}],
    }
    body.update(fields)
    return body
