"""The 110 desk's request signature (CONTRACT.md): HMAC-SHA256, hex, over
`timestamp + "\\n" + nonce + "\\n" + raw body`, in the X-Hotline-* headers, both ways."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

KEY = "X-Hotline-Key"
TIMESTAMP = "X-Hotline-Timestamp"
NONCE = "X-Hotline-Nonce"
SIGNATURE = "X-Hotline-Signature"


def signature(secret: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of one request."""
    message = timestamp.encode("ascii") + b"\n" + nonce.encode("ascii") + b"\n" + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_ok(secret: str, timestamp: str, nonce: str, body: bytes, given: str) -> bool:
    """Whether `given` is the request's signature (constant-time, case-insensitive hex)."""
    if not timestamp.isascii() or not nonce.isascii() or not given.isascii():
        return False
    expected = signature(secret, timestamp, nonce, body)
    return hmac.compare_digest(expected.encode("ascii"), given.strip().lower().encode("ascii"))


def new_nonce() -> str:
    """A fresh random nonce (128 bits, hex)."""
    return secrets.token_hex(16)


def signed_headers(key_id: str, secret: str, body: bytes, *, timestamp: float | None = None,
                   nonce: str | None = None) -> dict[str, str]:
    """The four headers that sign one request (now and a fresh nonce unless given)."""
    stamp = str(int(time.time() if timestamp is None else timestamp))
    nonce = nonce or new_nonce()
    return {KEY: key_id, TIMESTAMP: stamp, NONCE: nonce,
            SIGNATURE: signature(secret, stamp, nonce, body)}
