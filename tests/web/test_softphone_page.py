"""The softphone's settings in the intake page (web/pages/softphone.py): off without a SIP
server, the operator's own extension and, with a shared secret, a time-limited credential the
SIP server's auth_ephemeral accepts, never the secret itself; the settings checked at start."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import Any

import pytest

from tests.web.test_page_security import sign_in
from web.config import Config, ConfigError

SECRET = "the-office-sip-secret"


def _boot(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="boot">(.*?)</script>', html, re.S)
    assert found, html[:300]
    return json.loads(found.group(1))


def _set_extension(app, username: str, extension: str | None) -> None:
    from dispatch.core.models import User
    from web.extensions import db

    with app.app_context():
        db.session.query(User).filter_by(username=username).update({"extension": extension})
        db.session.commit()


def _intake(app, client) -> tuple[str, dict[str, Any]]:
    sign_in(client, "operator1")
    r = client.get("/intake")
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    html = r.get_data(as_text=True)
    return html, _boot(html)


def test_without_a_sip_server_the_intake_page_has_no_softphone(app, client):
    _set_extension(app, "operator1", "8001")
    html, boot = _intake(app, client)
    assert boot["softphone"] is None
    assert 'data-testid="softphone"' not in html and "softphone.js" not in html


def test_the_operator_gets_a_credential_for_their_own_extension_and_never_the_secret(
        app, client):
    _set_extension(app, "operator1", "8001")
    app.config.update(SIP_WS_URL="wss://pbx.example:8443/ws", SIP_DOMAIN="pbx.example",
                      SIP_SECRET=SECRET, SIP_CREDENTIAL_HOURS=12,
                      SIP_ICE_SERVERS=[{"urls": "stun:stun.example:3478"}])
    html, boot = _intake(app, client)
    phone = boot["softphone"]
    assert SECRET not in html
    assert 'data-testid="softphone"' in html and "分机 8001" in html
    assert (phone["ws_url"], phone["uri"], phone["extension"]) == (
        "wss://pbx.example:8443/ws", "sip:8001@pbx.example", "8001")
    assert phone["ice_servers"] == [{"urls": "stun:stun.example:3478"}]
    expiry, _, user = phone["authorization_user"].partition(":")
    assert user == "8001"
    assert 12 * 3600 - 60 < int(expiry) - time.time() <= 12 * 3600 + 1
    expected = base64.b64encode(hmac.new(SECRET.encode(), phone["authorization_user"].encode(),
                                         hashlib.sha1).digest()).decode()
    assert phone["password"] == expected


def test_without_a_secret_the_softphone_registers_without_credentials(app, client):
    _set_extension(app, "operator1", "8001")
    app.config.update(SIP_WS_URL="ws://10.0.0.5:8080", SIP_DOMAIN="10.0.0.5", SIP_SECRET=None)
    _, boot = _intake(app, client)
    assert boot["softphone"]["uri"] == "sip:8001@10.0.0.5"
    assert boot["softphone"]["password"] is None
    assert boot["softphone"]["authorization_user"] is None


def test_an_operator_without_an_extension_is_told_and_gets_no_credential(app, client):
    _set_extension(app, "operator1", None)
    app.config.update(SIP_WS_URL="wss://pbx.example/ws", SIP_DOMAIN="pbx.example",
                      SIP_SECRET=SECRET)
    html, boot = _intake(app, client)
    assert boot["softphone"]["uri"] is None and boot["softphone"]["password"] is None
    assert "未设置分机号" in html


def test_the_domain_defaults_to_the_websocket_servers_host():
    settings = Config.from_environment(
        {"HOTLINE_SIP_WS_URL": "wss://sip.county.gov.cn:7443/ws"}).flask_settings()
    assert settings["SIP_DOMAIN"] == "sip.county.gov.cn"
    assert settings["SIP_ICE_SERVERS"] == []


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("HOTLINE_SIP_WS_URL", "https://pbx.example/ws", "应为 ws:// 或 wss:// 地址"),
    ("HOTLINE_SIP_DOMAIN", "sip:pbx.example", "应为域名或 IP 地址"),
    ("HOTLINE_SIP_ICE_SERVERS", '{"urls": "stun:x"}', "应为 JSON 数组"),
    ("HOTLINE_SIP_ICE_SERVERS", "[{\"url\": \"stun:x\"}]", "应为 JSON 数组"),
    ("HOTLINE_SIP_CREDENTIAL_HOURS", "0", "应为整数（1 至 168）"),
])
def test_a_bad_softphone_setting_stops_start_up_naming_the_variable(variable, value, message):
    with pytest.raises(ConfigError) as refused:
        Config.from_environment({"HOTLINE_SIP_WS_URL": "wss://pbx.example/ws", variable: value})
    assert refused.value.variable == variable
    assert message in refused.value.message


def test_the_secret_is_never_repeated_when_refused_or_shown():
    config = Config.from_environment({"HOTLINE_SIP_SECRET": SECRET})
    assert SECRET not in repr(config)
