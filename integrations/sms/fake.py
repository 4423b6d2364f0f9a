"""Working doubles: `FakeSmsGateway`, a real HTTP gateway on 127.0.0.1 in a thread (records
requests, checks the bearer token, answers an error or goes down on demand), and `RecordingSms`,
an in-memory sender for tests of whatever sends SMS."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import count
from types import TracebackType
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from dispatch.core.ports import Clock, SystemClock
from integrations.sms.client import SmsReceipt, check_message


@dataclass(frozen=True)
class GatewayRequest:
    """One request as the fake gateway received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # the JSON, or None when the body was not JSON
    status: int  # what the fake answered


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        pass


class FakeSmsGateway:
    """A JSON SMS gateway on a free local port; use as a context manager (or `close()`)."""

    def __init__(self, token: str = "test-token") -> None:
        self.token = token
        self.requests: list[GatewayRequest] = []
        self.forced_status: int | None = None  # force this answer status (503, 429, 400, …)
        self.delay = 0.0  # seconds to wait before answering
        self._ids = count(1)
        self._by_key: dict[str, str] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        server = make_server("127.0.0.1", 0, self._app, threaded=True,
                             request_handler=_QuietHandler)
        assert isinstance(server, ThreadedWSGIServer)  # threaded=True makes one
        self._server = server
        # Handler threads are joined on close, so none outlives the test.
        self._server.daemon_threads = False
        self.url = f"http://127.0.0.1:{self._server.server_port}/sms/send"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="fake-sms-gateway", daemon=True)
        self._thread.start()
        self._up = True

    def __enter__(self) -> FakeSmsGateway:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def go_down(self) -> None:
        """Stop listening: from now on connections to `url` are refused."""
        self.close()

    def close(self) -> None:
        """Stop the server, wake any delayed answer, join the threads, close the socket."""
        if not self._up:
            return
        self._up = False
        self._closing.set()
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()

    @property
    def sent(self) -> list[dict[str, Any]]:
        """The JSON bodies of the messages accepted so far."""
        return [r.body for r in self.requests if r.status == 200]

    def _app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            body: Any = json.loads(request.get_data(as_text=True))
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in request.headers.items()}
        if self.delay:
            self._closing.wait(self.delay)
        answer, status = self._answer(request, headers, body)
        with self._lock:
            self.requests.append(GatewayRequest(request.method, request.path, headers, body,
                                                status))
        return Response(json.dumps(answer), status=status,
                        content_type="application/json")(environ, start_response)

    def _answer(self, request: Request, headers: dict[str, str],
                body: Any) -> tuple[dict[str, Any], int]:
        if self.forced_status is not None:
            return {"error": "forced"}, self.forced_status
        if request.method != "POST":
            return {"error": "method"}, 405
        if headers.get("authorization") != f"Bearer {self.token}":
            return {"error": "unauthorized"}, 401
        if not isinstance(body, dict) or not {"to", "text", "ref", "sign"} <= body.keys():
            return {"error": "bad request"}, 400
        key = headers.get("idempotency-key") or body["ref"]
        with self._lock:
            # A repeated key gets the first answer and sends nothing new, as real gateways do.
            ident = self._by_key.setdefault(key, f"gw-{next(self._ids)}")
        return {"id": ident}, 200


@dataclass(frozen=True)
class SentSms:
    """One message a `RecordingSms` accepted."""

    phone: str
    text: str
    ref: str
    receipt: SmsReceipt


@dataclass
class RecordingSms:
    """An in-memory sender: keeps what it sends (once per ref), fails on demand."""

    clock: Clock = field(default_factory=SystemClock)
    sent: list[SentSms] = field(default_factory=list)
    # Raised one by one by the next sends (e.g. TransientError to test retries).
    failures: list[Exception] = field(default_factory=list)

    def send(self, phone: str, text: str, *, ref: str) -> SmsReceipt:
        """Record the message and return a receipt; a repeated ref sends nothing new."""
        number = check_message(phone, text, ref)
        if self.failures:
            raise self.failures.pop(0)
        for earlier in self.sent:
            if earlier.ref == ref:
                return earlier.receipt
        receipt = SmsReceipt(provider_id=f"rec-{len(self.sent) + 1}",
                             accepted_at=self.clock.now())
        self.sent.append(SentSms(number, text, ref, receipt))
        return receipt

    def texts_to(self, phone: str) -> list[str]:
        """The texts sent to one number, oldest first."""
        return [s.text for s in self.sent if s.phone == phone]

