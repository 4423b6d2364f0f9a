"""The 110 police desk: signed JSON both ways: transfers and acks in (verified, parsed, mapped
to our intake and actions), transfers and acks out (signed and posted from the outbox)."""

from dispatch.outbound.outbox import PermanentError, TransientError
from integrations.police110.inbound import Ack, PoliceError, Transfer
from integrations.police110.signing import signature, signed_headers

__all__ = ["Ack", "PermanentError", "PoliceError", "Transfer", "TransientError", "signature",
           "signed_headers"]
