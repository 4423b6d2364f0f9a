"""The call centre (CTI: its ACD/PBX): signed call events in (verified and parsed exactly like
the 110 desk's requests, the same X-Hotline-* headers and HMAC), transfer commands out."""

from dispatch.outbound.outbox import PermanentError, TransientError
from integrations.cti.inbound import CtiError

__all__ = ["CtiError", "PermanentError", "TransientError"]
