"""The SMS channel: notices to handlers and grid workers, callback questionnaires, and the
parser of citizens' replies; a logging backend by default and a generic HTTP gateway."""

from __future__ import annotations

from dispatch.outbound.outbox import PermanentError, TransientError
from integrations.sms.client import (
    HttpGatewaySms,
    LogSms,
    SmsReceipt,
    SmsSender,
    sender_from_config,
)
from integrations.sms.mapping import (
    SatisfactionAnswer,
    assignment_notice,
    callback_questionnaire,
    overdue_notice,
    parse_reply,
    urge_notice,
)

__all__ = [
    "HttpGatewaySms", "LogSms", "PermanentError", "SatisfactionAnswer", "SmsReceipt",
    "SmsSender", "TransientError", "assignment_notice", "callback_questionnaire",
    "overdue_notice", "parse_reply", "sender_from_config", "urge_notice",
]
