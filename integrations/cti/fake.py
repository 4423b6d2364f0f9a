"""A working call centre for tests and demos: a real HTTP server on 127.0.0.1 (a free port, in
a thread) that takes our transfer commands (`POST /transfer`, answered and confirmed with a
signed `transferred` event), serves recordings (`GET /recordings/<call id>.wav`), can go down
(connections refused, or 503) and back up, and sends signed call events to our
`/hooks/cti/events` (a base URL, or a Flask test client) as an ACD would: ringing an agent's
extension, answered, hung up, abandoned in the queue, a recording ready."""

from __future__ import annotations

import io
import json
import math
import struct
import threading
import time
import urllib.error
import urllib.request
import wave
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from integrations.police110.signing import signed_headers
from integrations.served import ServedFake

HOOK = "/hooks/cti/events"
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def tone_wav(seconds: float = 1.0, rate: int = 8000, hz: float = 440.0) -> bytes:
    """A short 8 kHz mono WAV (a tone): what a recording sounds like in the demo."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * i / rate)))
                          for i in range(int(seconds * rate)))
        w.writeframes(frames)
    return buffer.getvalue()


@dataclass(frozen=True)
class Answer:
    """Our hook's answer to an event the centre sent."""

    status: int
    body: Any


@dataclass
class FakeCallCentre(ServedFake):
    """A call centre sharing `keys` (key id → secret) with us; signs with the first key at
    `clock()` unix seconds (default: the real time). `hotline`: where events go (a base URL or
    a Flask test client) when the centre confirms a transfer by itself."""

    thread_name: ClassVar[str] = "fake-call-centre"
    threaded: ClassVar[bool] = True  # recordings stream while events come in

    keys: Mapping[str, str]
    clock: Callable[[], float] = time.time
    hotline: Any = None
    transfers: list[dict[str, Any]] = field(default_factory=list)
    sent: list[tuple[dict[str, Any], Answer]] = field(default_factory=list)
    recording_fetches: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _wav: bytes = field(default_factory=tone_wav)

    # ------------------------------------------------------------ serving

    def recording_url(self, call_id: str) -> str:
        """Where the centre keeps a call's recording."""
        return f"{self.url}/recordings/{call_id}.wav"

    def _wsgi(self, environ: dict[str, Any],
              start_response: Callable[..., Any]) -> Iterable[bytes]:
        def answer(status: str, body: bytes, kind: str = "application/json") -> list[bytes]:
            start_response(status, [("Content-Type", kind), ("Content-Length", str(len(body)))])
            return [body]

        path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
        if self._mode == "503":
            return answer("503 Service Unavailable", b'{"error":"down"}')
        if method == "GET" and path.startswith("/recordings/") and path.endswith(".wav"):
            with self._lock:
                self.recording_fetches += 1
            return answer("200 OK", self._wav, "audio/wav")
        if method == "POST" and path == "/transfer":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                payload = json.loads(environ["wsgi.input"].read(length) or b"null")
            except ValueError:
                payload = None
            if not isinstance(payload, dict) or not payload.get("call_id"):
                return answer("400 Bad Request", b'{"error":"call_id missing"}')
            with self._lock:
                self.transfers.append(payload)
            if self.hotline is not None:  # the centre confirms it (as a real ACD would)
                threading.Thread(target=self.transferred, daemon=True,
                                 args=(self.hotline, payload["call_id"],
                                       str(payload.get("to", "110")))).start()
            return answer("202 Accepted", b'{"receipt":"received"}')
        return answer("404 Not Found", b'{"error":"no such endpoint"}')

    # ------------------------------------------------------------ sending to 12345

    def now_iso(self) -> str:
        """The centre's clock as an ISO moment."""
        return datetime.fromtimestamp(self.clock(), UTC).isoformat()

    def send(self, target: Any, payload: Any = None, *, raw: bytes | None = None,
             headers: Mapping[str, str] | None = None,
             content_type: str = "application/json; charset=utf-8", **sign: Any) -> Answer:
        """POST one signed body to our hook (`sign`: key_id, secret, timestamp, nonce)."""
        body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode()
        key_id = sign.pop("key_id", None) or next(iter(self.keys))
        secret = sign.pop("secret", None) or self.keys.get(key_id, "unknown")
        stamp = sign.pop("timestamp", None)
        all_headers = {"Content-Type": content_type,
                       **signed_headers(key_id, secret, body,
                                        timestamp=self.clock() if stamp is None else stamp,
                                        **sign),
                       **(headers or {})}
        if not isinstance(target, str):
            r = target.post(HOOK, data=body, headers=all_headers)
            result = Answer(r.status_code, r.get_json(silent=True))
        else:
            request = urllib.request.Request(target.rstrip("/") + HOOK, data=body,
                                             headers=all_headers, method="POST")
            try:
                with _OPENER.open(request, timeout=10) as response:
                    result = Answer(response.status, json.loads(response.read() or b"null"))
            except urllib.error.HTTPError as exc:
                with exc:
                    result = Answer(exc.code, json.loads(exc.read() or b"null"))
        with self._lock:
            self.sent.append((payload if isinstance(payload, dict) else {}, result))
        return result

    def event(self, target: Any, event: str, call_id: str, **fields: Any) -> Answer:
        """One event of a call (`at` defaults to the centre's clock)."""
        payload = {"event": event, "call_id": call_id, "at": fields.pop("at", None)
                   or self.now_iso(), **{k: v for k, v in fields.items() if v is not None}}
        return self.send(target, payload)

    def ring(self, target: Any, call_id: str, caller: str, agent: str | None,
             queue: str = "12345", callee: str = "12345", **fields: Any) -> Answer:
        """The call rings an agent's extension."""
        return self.event(target, "ringing", call_id, caller=caller, callee=callee,
                          agent=agent, queue=queue, **fields)

    def answer(self, target: Any, call_id: str, wait_s: float | None = None,
               **fields: Any) -> Answer:
        """The agent picked up after `wait_s` seconds in the queue."""
        return self.event(target, "answered", call_id, wait_s=wait_s, **fields)

    def hangup(self, target: Any, call_id: str, duration_s: float | None = None,
               **fields: Any) -> Answer:
        """The call ended after `duration_s` seconds of talk."""
        return self.event(target, "hangup", call_id, duration_s=duration_s, **fields)

    def abandon(self, target: Any, call_id: str, caller: str, wait_s: float,
                queue: str = "12345", **fields: Any) -> Answer:
        """The caller hung up in the queue after `wait_s` seconds."""
        return self.event(target, "abandoned", call_id, caller=caller, wait_s=wait_s,
                          queue=queue, **fields)

    def record(self, target: Any, call_id: str, **fields: Any) -> Answer:
        """The call's recording is ready (on this centre's host)."""
        return self.event(target, "recording", call_id,
                          recording_url=fields.pop("recording_url", None)
                          or self.recording_url(call_id), **fields)

    def transferred(self, target: Any, call_id: str, to: str = "110") -> Answer:
        """The centre confirms a transfer."""
        return self.event(target, "transferred", call_id, transfer_to=to)

    # ------------------------------------------------------------ an ACD at work

    def place_call(self, target: Any, call_id: str, caller: str, agent: str | None, *,
                   ring_s: float, answered: bool, talk_s: float = 0.0,
                   sleep: Callable[[float], None] = time.sleep) -> list[Answer]:
        """One call as an ACD lives it: it rings `agent`, is answered after `ring_s` seconds
        and hung up after `talk_s` (then its recording is ready), or the caller gives up
        after `ring_s` in the queue. `sleep` waits (the demo scales time down)."""
        answers = [self.ring(target, call_id, caller, agent)]
        sleep(ring_s)
        if not answered:
            answers.append(self.abandon(target, call_id, caller, wait_s=ring_s))
            return answers
        answers.append(self.answer(target, call_id, wait_s=ring_s))
        sleep(talk_s)
        answers.append(self.hangup(target, call_id, duration_s=talk_s))
        answers.append(self.record(target, call_id))
        return answers
