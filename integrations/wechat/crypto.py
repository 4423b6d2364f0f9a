"""The official-account message crypto: SHA-1 signatures and AES-256-CBC ("safe mode").

Payload = base64(AES-256-CBC(key, iv=key[:16], PKCS#7 to 32 bytes) of 16 random bytes +
4-byte big-endian length + message + appid), key = base64decode(EncodingAESKey + "=").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32  # WeChat pads to 32 bytes, not to the AES block size


class CryptoError(ValueError):
    """A bad key, signature, ciphertext, padding, length or appid."""


def sign(token: str, *parts: str) -> str:
    """The WeChat signature: SHA-1 of the token and the parts, sorted and concatenated."""
    return hashlib.sha1("".join(sorted((token, *parts))).encode("utf-8")).hexdigest()


def signature_ok(expected: str | None, token: str, *parts: str) -> bool:
    """Compare a received signature with ours in constant time."""
    if not expected:
        return False
    return hmac.compare_digest(expected.lower().encode("ascii", "replace"),
                               sign(token, *parts).encode("ascii"))


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key of a 43-character EncodingAESKey."""
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError("the EncodingAESKey is not base64") from None
    if len(encoding_aes_key) != 43 or len(key) != 32:
        raise CryptoError("the EncodingAESKey must be 43 characters (32 bytes)")
    return key


class WeChatCrypto:
    """Encrypt and decrypt safe-mode payloads for one account (key and appid)."""

    def __init__(self, encoding_aes_key: str, app_id: str) -> None:
        self.key = aes_key(encoding_aes_key)
        self.app_id = app_id

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, message: bytes, random: bytes | None = None) -> str:
        """The base64 payload of one message (16 random bytes unless given)."""
        random = os.urandom(16) if random is None else random
        if len(random) != 16:
            raise CryptoError("the random prefix is 16 bytes")
        plain = random + struct.pack(">I", len(message)) + message + self.app_id.encode()
        pad = BLOCK - len(plain) % BLOCK
        plain += bytes([pad]) * pad
        enc = self._cipher().encryptor()
        return base64.b64encode(enc.update(plain) + enc.finalize()).decode("ascii")

    def decrypt(self, payload: str) -> bytes:
        """The message inside a payload; refuses bad base64, padding, length or appid."""
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise CryptoError("the payload is not base64") from None
        if not data or len(data) % 16:
            raise CryptoError("the payload is not whole AES blocks")
        dec = self._cipher().decryptor()
        plain = dec.update(data) + dec.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or pad > len(plain) or plain[-pad:] != bytes([pad]) * pad:
            raise CryptoError("bad padding")
        body = plain[16:-pad]
        if len(body) < 4:
            raise CryptoError("the payload is too short")
        (length,) = struct.unpack(">I", body[:4])
        if length > len(body) - 4:
            raise CryptoError("the length field exceeds the payload")
        message, app_id = body[4:4 + length], body[4 + length:]
        if not hmac.compare_digest(app_id, self.app_id.encode()):
            raise CryptoError("the payload is for another appid")
        return message
