"""Working doubles of the WeChat server: `FakeWeChatServer` builds message XML and signs (and in
safe mode encrypts) pushes as the real server does, for the embedded mode, demos and tests;
`FakeWeChatApi` is the official API over real HTTP on 127.0.0.1 (token, customer-service and
subscribe messages), with its error codes on demand."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import count
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from integrations.wechat.crypto import WeChatCrypto, sign
from integrations.wechat.inbound import parse_xml


def message_xml(openid: str, msg_type: str, *, account: str = "gh_hotline12345",
                create_time: int = 0, **fields: Any) -> str:
    """One push as WeChat sends it (fields by their WeChat names: Content, Location_X, …)."""
    parts = [f"<ToUserName>{escape(account)}</ToUserName>",
             f"<FromUserName>{escape(openid)}</FromUserName>",
             f"<CreateTime>{create_time}</CreateTime>",
             f"<MsgType>{escape(msg_type)}</MsgType>"]
    parts += [f"<{name}>{escape(str(value))}</{name}>" for name, value in fields.items()
              if value is not None]
    return "<xml>" + "".join(parts) + "</xml>"


@dataclass
class FakeWeChatServer:
    """Signs pushes for one account; `push` gives the query string and body to POST."""

    token: str
    aes_key: str | None = None
    app_id: str | None = None
    _ids: count[int] = field(default_factory=lambda: count(24_000_000_000_000_000))

    def next_msg_id(self) -> str:
        """A fresh MsgId."""
        return str(next(self._ids))

    def query(self, timestamp: str, nonce: str) -> dict[str, str]:
        """The plain-mode signature parameters."""
        return {"signature": sign(self.token, timestamp, nonce), "timestamp": timestamp,
                "nonce": nonce}

    def push(self, xml: str, *, timestamp: str = "1795399200", safe: bool = False,
             nonce: str | None = None) -> tuple[dict[str, str], bytes]:
        """The query parameters and body of one push, plain or encrypted."""
        nonce = nonce or secrets.token_hex(5)
        args = self.query(timestamp, nonce)
        if not safe:
            return args, xml.encode("utf-8")
        assert self.aes_key and self.app_id, "safe mode needs the key and appid"
        payload = WeChatCrypto(self.aes_key, self.app_id).encrypt(xml.encode("utf-8"))
        args |= {"encrypt_type": "aes",
                 "msg_signature": sign(self.token, timestamp, nonce, payload)}
        return args, f"<xml><Encrypt><![CDATA[{payload}]]></Encrypt></xml>".encode()

    def open_reply(self, body: bytes, *, safe: bool = False) -> dict[str, str]:
        """The fields of a reply (checked and decrypted in safe mode)."""
        fields = parse_xml(body, "reply")
        if not safe:
            return fields
        assert self.aes_key and self.app_id
        expected = sign(self.token, fields["TimeStamp"], fields["Nonce"], fields["Encrypt"])
        assert fields["MsgSignature"] == expected, "bad reply signature"
        inner = WeChatCrypto(self.aes_key, self.app_id).decrypt(fields["Encrypt"])
        return parse_xml(inner, "reply")


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        pass


@dataclass(frozen=True)
class ApiCall:
    """One call as the fake API received it, and the errcode it answered (0: success)."""

    path: str
    query: dict[str, str]
    body: Any
    errcode: int


class FakeWeChatApi:
    """WeChat's official API on a free local port: `/cgi-bin/token` (checks the app id and
    secret), `/cgi-bin/message/custom/send` (45015 for an OpenID in `outside_window`) and
    `/cgi-bin/message/subscribe/send` (40037 for a template not in `templates`). Use as a
    context manager (or `close()`); `base_url` is what HOTLINE_WECHAT_API_BASE is set to."""

    def __init__(self, app_id: str = "wx-test-app", secret: str = "test-secret", *,
                 expires_in: int = 7200) -> None:
        self.app_id = app_id
        self.secret = secret
        self.expires_in = expires_in
        self.templates: set[str] = set()
        self.outside_window: set[str] = set()  # OpenIDs whose 48 hours have passed
        # Answered, one by one, by the next message calls (not token calls): an errcode, or
        # ("http", status) for an HTTP error.
        self.failures: list[int | tuple[str, int]] = []
        self.calls: list[ApiCall] = []
        self.token_delay = 0.0  # seconds a token fetch takes
        self._valid: set[str] = set()
        self._ids = count(1)
        self._lock = threading.Lock()
        server = make_server("127.0.0.1", 0, self._app, threaded=True,
                             request_handler=_QuietHandler)
        assert isinstance(server, ThreadedWSGIServer)
        self._server = server
        self._server.daemon_threads = False
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="fake-wechat-api", daemon=True)
        self._thread.start()
        self._up = True

    def __enter__(self) -> FakeWeChatApi:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop the server, join its threads, close the socket (connections are refused)."""
        if not self._up:
            return
        self._up = False
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()

    def expire_tokens(self) -> None:
        """Every token issued so far is refused from now on (42001), as after its 2 hours."""
        with self._lock:
            self._valid.clear()

    @property
    def token_fetches(self) -> int:
        """How many tokens were issued."""
        return sum(1 for c in self.calls if c.path == "/cgi-bin/token" and c.errcode == 0)

    def sent(self, kind: str) -> list[dict[str, Any]]:
        """The bodies accepted on `custom` or `subscribe`."""
        path = f"/cgi-bin/message/{kind}/send"
        return [c.body for c in self.calls if c.path == path and c.errcode == 0]

    def _app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        query = {k: v[0] for k, v in parse_qs(request.query_string.decode()).items()}
        try:
            body: Any = json.loads(request.get_data(as_text=True) or "null")
        except ValueError:
            body = None
        if self.token_delay and request.path == "/cgi-bin/token":
            threading.Event().wait(self.token_delay)
        with self._lock:
            answer = self._answer(request.path, query, body)
        if isinstance(answer, int):  # an HTTP error
            self.calls.append(ApiCall(request.path, query, body, -answer))
            return Response("error", status=answer)(environ, start_response)
        self.calls.append(ApiCall(request.path, query, body, int(answer.get("errcode", 0))))
        return Response(json.dumps(answer), status=200,
                        content_type="application/json")(environ, start_response)

    def _answer(self, path: str, query: dict[str, str], body: Any) -> dict[str, Any] | int:
        if path == "/cgi-bin/token":
            if query.get("grant_type") != "client_credential" or query.get(
                    "appid") != self.app_id:
                return {"errcode": 40013, "errmsg": "invalid appid"}
            if query.get("secret") != self.secret:
                return {"errcode": 40125, "errmsg": "invalid appsecret"}
            token = f"tok-{next(self._ids)}-{secrets.token_hex(4)}"
            self._valid.add(token)
            return {"access_token": token, "expires_in": self.expires_in}
        if path not in ("/cgi-bin/message/custom/send", "/cgi-bin/message/subscribe/send"):
            return 404
        token = query.get("access_token", "")
        if not token.startswith("tok-"):
            return {"errcode": 40014, "errmsg": "invalid access_token"}
        if token not in self._valid:
            return {"errcode": 42001, "errmsg": "access_token expired"}
        if self.failures:
            failure = self.failures.pop(0)
            if isinstance(failure, tuple):
                return failure[1]
            return {"errcode": failure, "errmsg": "forced"}
        if not isinstance(body, dict) or not body.get("touser"):
            return {"errcode": 40003, "errmsg": "invalid openid"}
        if path.endswith("/custom/send"):
            if body.get("touser") in self.outside_window:
                return {"errcode": 45015, "errmsg": "response out of time limit"}
            return {"errcode": 0, "errmsg": "ok"}
        if body.get("template_id") not in self.templates:
            return {"errcode": 40037, "errmsg": "invalid template_id"}
        return {"errcode": 0, "errmsg": "ok", "msgid": next(self._ids)}
