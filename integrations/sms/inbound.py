"""What the SMS gateway posts to us: a citizen's reply (verified by the gateway's bearer token,
parsed into `SmsReply`). Only verification and parsing; what a reply means is the domain's
(`dispatch.outbound.callbacks.record_sms_reply`)."""

from __future__ import annotations

import hmac

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dispatch.core.commands import parse

# Channel has no `sms`: a reply is a contact on the phone channel, its id prefixed.
SMS_PREFIX = "sms:"


class SmsReply(BaseModel):
    """One inbound SMS as the gateway posts it."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    sender: str = Field(alias="from", min_length=1, max_length=32)
    text: str = Field(max_length=1000)
    id: str = Field(min_length=1, max_length=60)

    @field_validator("sender", "text", "id")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        """PostgreSQL cannot store NUL characters."""
        if "\x00" in value:
            raise ValueError("不能含 NUL 字符")
        return value

    @property
    def external_id(self) -> str:
        """The contact's external id: the gateway's message id, prefixed."""
        return SMS_PREFIX + self.id


def gateway_authorised(expected_token: str, authorization: str) -> bool:
    """Whether an `Authorization: Bearer …` header carries the gateway's token (constant
    time)."""
    scheme, _, value = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(),
                                                              str(expected_token).encode())


def parse_reply(body: bytes) -> SmsReply:
    """The reply in a JSON body (InvalidInput naming the field when it is not one)."""
    return parse(SmsReply, body)
