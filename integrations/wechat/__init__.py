"""The WeChat official-account channel: verify and parse pushes, map them to our commands,
build (and encrypt) passive replies."""

from integrations.wechat.crypto import WeChatCrypto, sign
from integrations.wechat.inbound import Credentials, Message, Push, WeChatError

__all__ = ["Credentials", "Message", "Push", "WeChatCrypto", "WeChatError", "sign"]
