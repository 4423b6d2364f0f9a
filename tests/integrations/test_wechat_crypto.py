"""Our WeChat crypto against wechatpy as the independent peer: signatures, safe-mode payloads
both ways, and every refusal (bad signature, wrong appid, tampering, padding, length)."""

from __future__ import annotations

import base64
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy.crypto import PrpCrypto
from wechatpy.crypto import WeChatCrypto as PeerCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

from integrations.wechat.crypto import CryptoError, WeChatCrypto, aes_key, sign
from integrations.wechat.fake import message_xml
from integrations.wechat.inbound import Credentials, WeChatError, parse_xml, read_push
from integrations.wechat.mapping import encrypted_reply

TOKEN = "hotline-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx1234567890abcdef"
CREDS = Credentials(TOKEN, AES_KEY, APP_ID)
TS, NONCE = "1795399200", "n0nce42"
NOW = float(TS)  # our clock, for the 300 s window
TEXT = message_xml("oOPENID_1", "text", Content="路灯不亮😀𠀀", MsgId="1001")


def peer() -> PeerCrypto:
    return PeerCrypto(TOKEN, AES_KEY, APP_ID)


def _raw_cipher(plain: bytes) -> str:
    key = aes_key(AES_KEY)
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def _args(payload: str, **over: str) -> dict[str, str]:
    return {"signature": sign(TOKEN, TS, NONCE), "timestamp": TS, "nonce": NONCE,
            "encrypt_type": "aes", "msg_signature": sign(TOKEN, TS, NONCE, payload), **over}


def _body(payload: str) -> bytes:
    return f"<xml><ToUserName>gh_x</ToUserName><Encrypt>{payload}</Encrypt></xml>".encode()


def test_our_signature_is_the_one_wechatpy_checks():
    signature = sign(TOKEN, TS, NONCE)
    check_signature(TOKEN, signature, TS, NONCE)
    with pytest.raises(InvalidSignatureException):
        check_signature(TOKEN, sign(TOKEN, TS, "other"), TS, NONCE)


def test_wechatpy_decrypts_what_we_encrypt_and_we_decrypt_what_it_encrypts():
    ours = WeChatCrypto(AES_KEY, APP_ID)
    message = TEXT.encode()
    assert PrpCrypto(aes_key(AES_KEY)).decrypt(ours.encrypt(message), APP_ID) == TEXT
    theirs = PrpCrypto(aes_key(AES_KEY)).encrypt(TEXT, APP_ID).decode()
    assert ours.decrypt(theirs) == message
    # Lengths around the 32-byte padding boundary.
    for size in (0, 1, 11, 12, 31, 32, 33, 64):
        blob = ("测" * size).encode()
        assert ours.decrypt(PrpCrypto(ours.key).encrypt(blob, APP_ID).decode()) == blob
        assert PrpCrypto(ours.key).decrypt(ours.encrypt(blob), APP_ID) == blob.decode()


def test_a_push_wechatpy_encrypts_is_verified_decrypted_and_parsed():
    envelope = peer().encrypt_message(TEXT, NONCE, TS)
    fields = parse_xml(envelope.encode())
    push = read_push(CREDS, _args(fields["Encrypt"],
                                  msg_signature=fields["MsgSignature"]), envelope.encode(),
                     now=NOW)
    assert push.encrypted and push.nonce == NONCE
    assert push.message.content == "路灯不亮😀𠀀" and push.message.msg_id == "1001"
    assert push.message.from_user == "oOPENID_1"


def test_our_encrypted_reply_is_accepted_by_wechatpy():
    reply = "<xml><ToUserName>oOPENID_1</ToUserName><Content>工单 12345</Content></xml>"
    envelope = encrypted_reply(WeChatCrypto(AES_KEY, APP_ID), TOKEN, reply, TS, NONCE)
    fields = parse_xml(envelope.encode())
    assert peer().decrypt_message(envelope, fields["MsgSignature"], TS, NONCE) == reply


def test_a_bad_or_missing_msg_signature_is_refused():
    payload = peer().encrypt_message(TEXT, NONCE, TS)
    encrypt = parse_xml(payload.encode())["Encrypt"]
    for args in (_args(encrypt, msg_signature="0" * 40), _args(encrypt, msg_signature=""),
                 _args(encrypt, signature="0" * 40),
                 _args(encrypt, msg_signature=sign("other-token", TS, NONCE, encrypt))):
        with pytest.raises(WeChatError) as err:
            read_push(CREDS, args, _body(encrypt), now=NOW)
        assert err.value.http_status == 401


def test_a_payload_for_another_appid_is_refused():
    other = PrpCrypto(aes_key(AES_KEY)).encrypt(TEXT, "wxOTHERAPP").decode()
    with pytest.raises(CryptoError, match="appid"):
        WeChatCrypto(AES_KEY, APP_ID).decrypt(other)
    with pytest.raises(WeChatError) as err:
        read_push(CREDS, _args(other), _body(other), now=NOW)
    assert err.value.http_status == 400


def test_tampered_ciphertext_is_refused():
    good = base64.b64decode(PrpCrypto(aes_key(AES_KEY)).encrypt(TEXT, APP_ID))
    for position in (len(good) - 1, len(good) - 20, 5):
        bad = bytearray(good)
        bad[position] ^= 0x5A
        payload = base64.b64encode(bytes(bad)).decode()
        with pytest.raises(WeChatError) as err:
            read_push(CREDS, _args(payload), _body(payload), now=NOW)
        assert err.value.http_status in (400, 401)


def _plain(length: int, padding: bytes) -> bytes:
    return b"\x00" * 16 + struct.pack(">I", length) + b"abc" + APP_ID.encode() + padding


@pytest.mark.parametrize("plain", [
    _plain(3, b"\x00" * 23),
    _plain(3, b"\x21" * 23),
    _plain(3, b"\x17" * 22 + b"\x16"),
    _plain(3, b"\x17" * 21 + b"\x01\x17"),
    _plain(9999, b"\x17" * 23),
], ids=["zero-padding", "padding-over-32", "padding-value-wrong", "uneven-padding",
        "length-beyond-payload"])
def test_bad_padding_and_lengths_are_refused(plain: bytes):
    assert len(plain) % 32 == 0
    with pytest.raises(CryptoError):
        WeChatCrypto(AES_KEY, APP_ID).decrypt(_raw_cipher(plain))


@pytest.mark.parametrize("payload", ["not base64!", "", "QUJD", base64.b64encode(b"x" * 17)
                                     .decode()])
def test_payloads_that_are_not_whole_blocks_of_base64_are_refused(payload: str):
    with pytest.raises(CryptoError):
        WeChatCrypto(AES_KEY, APP_ID).decrypt(payload)


def test_a_bad_encoding_aes_key_is_refused():
    for key in ("short", AES_KEY + "A", "!" * 43):
        with pytest.raises(CryptoError):
            WeChatCrypto(key, APP_ID)


@pytest.mark.parametrize("xml", [
    '<!DOCTYPE xml [<!ENTITY x "y">]><xml><Content>&x;</Content></xml>',
    '<!DOCTYPE xml SYSTEM "http://example.invalid/x.dtd"><xml/>',
    '<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><Content>&x;</Content></xml>',
    '<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    ']><xml><Content>&b;</Content></xml>',
    "<xml><Content>unclosed</xml>",
    "<other/>",
])
def test_the_parser_refuses_dtds_entities_and_malformed_xml(xml: str):
    with pytest.raises(WeChatError) as err:
        parse_xml(xml.encode())
    assert err.value.http_status == 400


def test_a_decrypted_message_with_a_dtd_is_refused_too():
    inner = '<!DOCTYPE xml [<!ENTITY x "y">]><xml><Content>&x;</Content></xml>'
    payload = WeChatCrypto(AES_KEY, APP_ID).encrypt(inner.encode())
    with pytest.raises(WeChatError) as err:
        read_push(CREDS, _args(payload), _body(payload), now=NOW)
    assert err.value.http_status == 400


def test_a_well_formed_raw_payload_decrypts():
    assert WeChatCrypto(AES_KEY, APP_ID).decrypt(_raw_cipher(_plain(3, b"\x17" * 23))) == b"abc"
