"""A working double of the WeChat server: builds message XML and signs (and in safe mode
encrypts) pushes as the real server does, for the embedded mode, demos and tests."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from itertools import count
from typing import Any
from xml.sax.saxutils import escape

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
