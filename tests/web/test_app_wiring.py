"""The app factory wires the parts configuration chooses: the SMS backend."""

from __future__ import annotations

import pytest

from integrations.sms import HttpGatewaySms, LogSms
from web import create_app


def app_with(tmp_path, **config):
    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'w.db'}",
                       "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x", **config})


def test_without_a_gateway_sms_are_logged(tmp_path):
    assert isinstance(app_with(tmp_path).extensions["hotline"].sms, LogSms)


def test_a_configured_gateway_is_used(tmp_path):
    app = app_with(tmp_path, SMS_GATEWAY_URL="http://127.0.0.1:9/sms", SMS_GATEWAY_TOKEN="t")
    assert isinstance(app.extensions["hotline"].sms, HttpGatewaySms)


def test_a_gateway_without_its_token_stops_the_start_with_a_clear_message(tmp_path):
    with pytest.raises(ValueError, match="TOKEN"):
        app_with(tmp_path, SMS_GATEWAY_URL="http://127.0.0.1:9/sms")
