"""WeChat messages ⇄ our commands: the intake dict, the relocate and note payloads, and the
passive replies (texts in Chinese, XML, encrypted in safe mode)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dispatch.core.vocab import Channel, Status
from integrations.wechat.crypto import WeChatCrypto, sign
from integrations.wechat.inbound import Message

QUERY_WORDS = frozenset({"查询", "查询进度", "进度"})
MAX_LISTED = 10
ADDRESS_MAX = 200

STATE_NAMES: dict[str, str] = {
    Status.NEW: "已受理，待派单",
    Status.DISPATCHED: "已派单，待签收",
    Status.SIGNED: "办理中",
    Status.RETURNED: "重新派单中",
    Status.COMPLETED: "已办结，待审核",
    Status.REVIEWED: "已办结，待回访",
    Status.REOPENED: "重新办理中",
    Status.ARCHIVED: "已归档",
    Status.TRANSFERRED_110: "已转110处理",
    Status.MERGED: "已并入其他工单",
    Status.VOID: "已作废",
}

WELCOME = ("您好，欢迎关注12345政务服务便民热线！直接发送文字或语音即可反映诉求，"
           "可再发送位置和图片补充说明；回复“查询”可查看办理进度。")
UNSUPPORTED = "抱歉，暂不支持此类消息。请用文字或语音描述您的诉求，也可发送位置和图片补充。"
NO_RECOGNITION = "抱歉，未能识别您的语音，请用文字描述您的诉求。"
INVALID_TEXT = "抱歉，未能受理这条消息（内容为空或过长），请用文字简要描述您的诉求。"
ASK_DESCRIPTION = "已收到您发送的{what}。请用文字或语音描述您要反映的问题，我们将尽快受理。"
# A message held in a burst: stored, to be processed shortly; the ticket number follows.
HELD = ("已收到您的消息，系统正在排队受理，受理后将通过本公众号把工单编号发送给您，"
        "请勿重复发送。回复“查询”可查看办理进度。")
# 查询 while every intake slot is busy: nothing written, ask again.
BUSY_QUERY = "当前咨询人数较多，请稍后再回复“查询”查看办理进度。"
NO_OPEN_TICKETS = "您目前没有办理中的工单。如有新的诉求，请直接发送文字或语音。"


def is_query(message: Message) -> bool:
    """A text that asks for the status of the citizen's tickets."""
    return message.msg_type == "text" and (message.content or "").strip() in QUERY_WORDS


def demand_text(message: Message) -> str | None:
    """The words of a text or voice message (voice: its speech recognition)."""
    raw = message.content if message.msg_type == "text" else message.recognition
    return raw.strip() if raw and raw.strip() else None


def intake_data(message: Message) -> dict[str, Any]:
    """The intake command of a text or voice message."""
    return {"channel": Channel.WECHAT, "text": demand_text(message) or "",
            "citizen": {"openid": message.from_user}}


def relocate_payload(message: Message) -> dict[str, Any]:
    """The relocate payload of a location message (GCJ-02, with its label as the address)."""
    payload: dict[str, Any] = {"lon": message.lon, "lat": message.lat, "crs": "GCJ02",
                               "reason": "诉求人通过微信发送位置"}
    if message.label:
        payload["address"] = message.label.strip()[:ADDRESS_MAX] or None
    return payload


def note_text(message: Message) -> str:
    """What an image or a location adds to a ticket's history."""
    if message.msg_type == "image":
        media = f"（MediaId {message.media_id}）" if message.media_id else ""
        return f"诉求人通过微信补充图片：{message.pic_url or '（无地址）'}{media}"
    label = f"{message.label[:ADDRESS_MAX]}，" if message.label else ""
    return f"诉求人通过微信补充位置：{label}GCJ-02 经度 {message.lon}，纬度 {message.lat}"


def accepted(number: str) -> str:
    """The reply to a new demand."""
    return f"您的诉求已受理，工单编号 {number}，我们将尽快处理。回复“查询”可查看办理进度。"


def added(number: str, what: str) -> str:
    """The reply to an image or location added to a demand."""
    return f"已将您发送的{what}补充到工单 {number}。回复“查询”可查看办理进度。"


def kind_name(message: Message) -> str:
    """The Chinese name of what the citizen sent."""
    return {"image": "图片", "location": "位置"}.get(message.msg_type, "消息")


def status_list(tickets: Sequence[tuple[str, str]]) -> str:
    """The reply to 查询: the citizen's open tickets (number, state), newest first."""
    if not tickets:
        return NO_OPEN_TICKETS
    lines = [f"您有 {len(tickets)} 件办理中的工单："]
    lines += [f"{number}：{STATE_NAMES.get(status, status)}"
              for number, status in tickets[:MAX_LISTED]]
    if len(tickets) > MAX_LISTED:
        lines.append(f"……另有 {len(tickets) - MAX_LISTED} 件，请拨打12345查询。")
    return "\n".join(lines)


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(message: Message, content: str, create_time: int) -> str:
    """A passive text reply to the sender of a message."""
    return ("<xml>"
            f"<ToUserName>{_cdata(message.from_user)}</ToUserName>"
            f"<FromUserName>{_cdata(message.to_user)}</FromUserName>"
            f"<CreateTime>{create_time}</CreateTime>"
            "<MsgType><![CDATA[text]]></MsgType>"
            f"<Content>{_cdata(content)}</Content>"
            "</xml>")


def encrypted_reply(crypto: WeChatCrypto, token: str, reply: str, timestamp: str,
                    nonce: str) -> str:
    """A reply wrapped for safe mode: Encrypt, MsgSignature, TimeStamp, Nonce."""
    payload = crypto.encrypt(reply.encode("utf-8"))
    signature = sign(token, timestamp, nonce, payload)
    return ("<xml>"
            f"<Encrypt>{_cdata(payload)}</Encrypt>"
            f"<MsgSignature>{_cdata(signature)}</MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp>"
            f"<Nonce>{_cdata(nonce)}</Nonce>"
            "</xml>")
