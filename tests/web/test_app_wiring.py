"""The app factory wires the parts configuration chooses: the SMS backend."""

from __future__ import annotations

import pytest

from integrations.sms import HttpGatewaySms, LogSms
from web.app import create_app


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


def test_a_sweep_urges_an_unsigned_ticket_and_the_sms_reaches_the_handler(app, api, clock,
                                                                           publisher):
    from sqlalchemy import update

    from dispatch.core.models import User
    from integrations.sms.fake import RecordingSms
    from web.extensions import db
    from workers.rounds import deliver_round, sweep_round

    sms = app.extensions["hotline"].sms = RecordingSms(clock=clock)
    with app.app_context():
        db.session.execute(update(User).where(User.username == "handler1")
                           .values(phone="13900000001"))
        db.session.commit()
    t = api.create()
    assert api.act("dispatcher1", t["number"], "dispatch", lead="urban_management"
                   ).status_code == 200
    assert sweep_round(app).events == ()  # nothing due yet
    clock.advance(hours=19)  # past 75 % of the 24-hour sign-for clock
    swept = sweep_round(app)
    assert [e.action for e in swept.events] == ["urge"]
    assert any(e.action == "urge" for e in publisher.published)
    report = deliver_round(app)
    assert len(report.delivered) == 1
    (text,) = sms.texts_to("13900000001")
    assert t["number"] in text and len(text) <= 70
    assert sweep_round(app).events == () and deliver_round(app).delivered == ()  # once
