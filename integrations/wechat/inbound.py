"""What arrives from the WeChat server: signatures checked, the timestamp within 300 s of our
clock, plain mode refused once the AES key is configured, safe mode decrypted, XML parsed with
defusedxml (no DTDs, no entities), sizes and UTF-8 checked, into a frozen `Message`.

The nonce is only checked for shape here; remembering it (10 minutes, shared by every process)
is the hook's, in the transaction of what the push writes."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from integrations.wechat.crypto import CryptoError, WeChatCrypto, signature_ok

MAX_BODY = 64 * 1024
# Long enough that an over-long text gets a polite reply rather than a protocol error.
MAX_FIELD = 16_384
# OpenIDs and account ids are short ASCII; anything else is not from WeChat.
ACCOUNT = re.compile(r"^[A-Za-z0-9_\-@.]{1,64}$")
MSG_ID = re.compile(r"^[0-9]{1,64}$")
# WeChat's nonces are short digit strings; what we remember must fit the nonce table.
NONCE = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")
TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
# A push whose timestamp is further than this from our clock is refused (CONTRACT.md).
WINDOW_SECONDS = 300
# Messages (not events) always carry a MsgId: it is what makes a retried push harmless.
MESSAGE_TYPES = frozenset({"text", "voice", "image", "location"})
FIELDS = ("ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "Recognition",
          "PicUrl", "MediaId", "Format", "Location_X", "Location_Y", "Scale", "Label", "Event",
          "EventKey", "MsgId", "Encrypt", "MsgSignature", "TimeStamp", "Nonce")


class WeChatError(Exception):
    """A push refused, with the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.http_status = status
        self.message = message


@dataclass(frozen=True)
class Credentials:
    """The account's token, EncodingAESKey and appid (the last two for safe mode)."""

    token: str
    aes_key: str | None = None
    app_id: str | None = None

    def crypto(self) -> WeChatCrypto:
        """The safe-mode crypto, or 503 when the key or appid is not configured."""
        if not self.aes_key or not self.app_id:
            raise WeChatError(503, "安全模式未配置（缺少 EncodingAESKey 或 AppID）")
        try:
            return WeChatCrypto(self.aes_key, self.app_id)
        except CryptoError:
            raise WeChatError(503, "安全模式配置有误（EncodingAESKey 或 AppID 无效）") from None


@dataclass(frozen=True)
class Message:
    """One push: a message (text, voice, image, location, …) or an event."""

    to_user: str
    from_user: str
    create_time: int
    msg_type: str
    content: str | None = None
    recognition: str | None = None
    pic_url: str | None = None
    media_id: str | None = None
    lat: float | None = None  # Location_X, GCJ-02
    lon: float | None = None  # Location_Y, GCJ-02
    label: str | None = None
    event: str | None = None
    msg_id: str | None = None


@dataclass(frozen=True)
class Push:
    """A verified push and how to answer it (encrypted or not, with which nonce)."""

    message: Message
    encrypted: bool
    nonce: str
    timestamp: int


def verify_url(creds: Credentials, args: Mapping[str, str], *, now: float) -> str:
    """The GET check: the echostr to send back when the signature is right and fresh."""
    _check_plain_signature(creds, args)
    check_fresh(args, now)
    echostr = args.get("echostr")
    if not echostr or len(echostr) > 512:
        raise WeChatError(400, "echostr：缺失或过长")
    return echostr


def _check_plain_signature(creds: Credentials, args: Mapping[str, str]) -> None:
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    if not timestamp or not nonce or not signature_ok(args.get("signature"), creds.token,
                                                      timestamp, nonce):
        raise WeChatError(401, "signature：签名缺失或不正确")


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise WeChatError(400, f"{what}不是 UTF-8 编码") from None


def parse_xml(raw: bytes, what: str = "请求内容") -> dict[str, str]:
    """The top-level fields of a `<xml>` document; refuses DTDs, entities, malformed XML."""
    # Parsed as decoded text, so a declaration naming another encoding changes nothing.
    text = _text(raw, what)
    try:
        root: Element = fromstring(text, forbid_dtd=True, forbid_entities=True,
                                   forbid_external=True)
    except DefusedXmlException:
        raise WeChatError(400, f"{what}含有 DTD 或实体声明，不予接受") from None
    except ParseError:
        raise WeChatError(400, f"{what}不是格式正确的 XML") from None
    if root.tag != "xml":
        raise WeChatError(400, f"{what}不是微信的 <xml> 消息")
    fields: dict[str, str] = {}
    for child in root:
        if child.tag in FIELDS and len(child) == 0:
            if child.tag in fields:
                raise WeChatError(400, f"{child.tag}：重复出现")
            fields[child.tag] = child.text or ""
    return fields


def check_fresh(args: Mapping[str, str], now: float) -> int:
    """The push's timestamp, or 401 when it is malformed or more than 300 s from `now`."""
    raw = args.get("timestamp", "")
    if not TIMESTAMP.match(raw):
        raise WeChatError(401, "timestamp：缺失或格式错误")
    if abs(int(raw) - now) > WINDOW_SECONDS:
        raise WeChatError(401, f"timestamp：与服务器时间相差超过 {WINDOW_SECONDS} 秒，"
                               "可能是重放的请求")
    if not NONCE.match(args.get("nonce", "")):
        raise WeChatError(401, "nonce：缺失或格式错误")
    return int(raw)


def read_push(creds: Credentials, args: Mapping[str, str], body: bytes, *,
              now: float) -> Push:
    """Verify and parse one POST (plain or safe mode) into a message; `now` is our clock
    (unix seconds): a timestamp more than 300 s away is refused, as is plain mode when the
    AES key is configured (safe and compatible mode both carry the encrypted body)."""
    if len(body) > MAX_BODY:
        raise WeChatError(413, "请求内容超过 64 KiB 上限")
    _check_plain_signature(creds, args)
    timestamp = check_fresh(args, now)
    encrypted = args.get("encrypt_type", "raw").lower() == "aes"
    if not encrypted and creds.aes_key:
        # In plain mode the signature does not cover the body: with the key configured, only
        # the encrypted body (signed by msg_signature) is believed.
        raise WeChatError(401, "encrypt_type：已配置消息加密密钥，只接受安全模式（aes）推送")
    fields = parse_xml(body)
    if encrypted:
        crypto = creds.crypto()
        payload = fields.get("Encrypt")
        if not payload:
            raise WeChatError(400, "Encrypt：安全模式的消息缺少 <Encrypt>")
        if not signature_ok(args.get("msg_signature"), creds.token, args["timestamp"],
                            args["nonce"], payload):
            raise WeChatError(401, "msg_signature：签名缺失或不正确")
        try:
            inner = crypto.decrypt(payload)
        except CryptoError:
            raise WeChatError(400, "Encrypt：无法解密消息") from None
        fields = parse_xml(inner, "解密后的消息")
    return Push(to_message(fields), encrypted, args["nonce"], timestamp)


def _optional(fields: dict[str, str], name: str) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if len(value) > MAX_FIELD:
        raise WeChatError(400, f"{name}：内容过长")
    return value


def _float(fields: dict[str, str], name: str, limit: float) -> float:
    raw = fields.get(name)
    try:
        value = float(raw) if raw is not None else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or abs(value) > limit:
        raise WeChatError(400, f"{name}：不是有效的坐标")
    return value


def to_message(fields: dict[str, str]) -> Message:
    """Check the fields of one message and give it a shape."""
    for name in ("ToUserName", "FromUserName"):
        if not ACCOUNT.match(fields.get(name, "")):
            raise WeChatError(400, f"{name}：缺失或格式错误")
    msg_type = fields.get("MsgType", "").strip().lower()
    if not re.match(r"^[a-z_]{1,32}$", msg_type):
        raise WeChatError(400, "MsgType：缺失或格式错误")
    created = fields.get("CreateTime", "0").strip() or "0"
    if not created.isascii() or not created.isdigit() or len(created) > 12:
        raise WeChatError(400, "CreateTime：格式错误")
    msg_id = _optional(fields, "MsgId")
    if msg_id is not None and not MSG_ID.match(msg_id.strip()):
        raise WeChatError(400, "MsgId：格式错误")
    if msg_id is None and msg_type in MESSAGE_TYPES:
        raise WeChatError(400, "MsgId：缺失")
    lat = lon = None
    if msg_type == "location":
        lat = _float(fields, "Location_X", 90)
        lon = _float(fields, "Location_Y", 180)
    pic_url = _optional(fields, "PicUrl")
    if pic_url is not None and (len(pic_url) > 1000 or not re.match(r"^https?://\S+$", pic_url)):
        raise WeChatError(400, "PicUrl：不是 http(s) 地址")
    event = _optional(fields, "Event")
    if "\x00" in "".join(fields.values()):
        raise WeChatError(400, "消息中不能含 NUL 字符")
    return Message(
        to_user=fields["ToUserName"], from_user=fields["FromUserName"],
        create_time=int(created), msg_type=msg_type,
        content=_optional(fields, "Content"), recognition=_optional(fields, "Recognition"),
        pic_url=pic_url, media_id=_optional(fields, "MediaId"), lat=lat, lon=lon,
        label=_optional(fields, "Label"), event=event.lower() if event else None,
        msg_id=msg_id.strip() if msg_id else None,
    )
