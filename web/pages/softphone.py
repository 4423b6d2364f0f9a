"""The softphone's settings for one operator's intake page: where to register (the centre's SIP
server over WebSocket), as whom (sip:<extension>@<domain>) and, when the office shares a secret
with its SIP server, a time-limited credential for that extension alone.

The credential follows the ephemeral-credentials scheme of Kamailio's `autheph` module (and of
the TURN REST API): user ``"<expiry unix time>:<extension>"``, password
``base64(HMAC-SHA1(secret, user))``. The secret never leaves the server; a page carries only its
own operator's credential, which the SIP server refuses after the expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from dispatch.core.models import User


def ephemeral_credential(secret: str, extension: str, expires: datetime) -> tuple[str, str]:
    """The (authorization user, password) autheph accepts for this extension until `expires`."""
    user = f"{int(expires.timestamp())}:{extension}"
    digest = hmac.new(secret.encode(), user.encode(), hashlib.sha1).digest()
    return user, base64.b64encode(digest).decode()


def softphone_settings(user: User, config: Mapping[str, Any],
                       now: datetime) -> dict[str, Any] | None:
    """The softphone block of the intake page's boot data; None when no SIP server is set."""
    ws_url = config.get("SIP_WS_URL")
    if not ws_url:
        return None
    domain = config["SIP_DOMAIN"]
    extension = (user.extension or "").strip() or None
    settings: dict[str, Any] = {
        "ws_url": ws_url, "domain": domain, "extension": extension,
        "uri": f"sip:{extension}@{domain}" if extension else None,
        "display_name": user.display_name, "ice_servers": config.get("SIP_ICE_SERVERS") or [],
        "authorization_user": None, "password": None, "expires_at": None,
    }
    secret = config.get("SIP_SECRET")
    if extension and secret:
        expires = now + timedelta(hours=config.get("SIP_CREDENTIAL_HOURS", 12))
        settings["authorization_user"], settings["password"] = ephemeral_credential(
            secret, extension, expires)
        settings["expires_at"] = expires.isoformat()
    return settings
