"""`hotline demo call-centre`: a separate ACD over real HTTP that rings the hotline's agents —
two calls posted to a live hotline, one answered (hung up, recorded), one abandoned (漏接) — and
what it prints."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

from click.testing import CliRunner
from sqlalchemy import select

from dispatch.calls.models import Call
from tests.browser.conftest import start_server
from web.cli.main import main


def test_the_demo_call_centre_rings_the_hotline_over_http(app, clock):
    from web.extensions import db

    clock.current = datetime.now(UTC)  # the centre signs with the real time
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.config.update(CTI_KEYS={"cc-1": "s3cret"}, CTI_URL=f"http://127.0.0.1:{port}")
    server, url = start_server(app)
    try:
        result = CliRunner().invoke(main, [
            "demo", "call-centre", "--port", str(port), "--key", "cc-1:s3cret",
            "--hotline", url, "--agents", "8001", "--calls", "2", "--every", "0",
            "--abandon", "0.5", "--seed", "1", "--speed", "1000"], catch_exceptions=False)
    finally:
        server.shutdown()
    assert result.exit_code == 0, result.output
    assert f"HOTLINE_CTI_URL=http://127.0.0.1:{port}" in result.output
    with app.app_context():
        calls = db.session.scalars(select(Call).order_by(Call.call_id)).all()
        states = sorted(c.state for c in calls)
    assert states == ["abandoned", "ended"], result.output
    answered = next(c for c in calls if c.state == "ended")
    assert answered.recording_url.startswith(f"http://127.0.0.1:{port}/recordings/")
    assert answered.agent_user_id is not None  # operator1 on 8001
    assert "answered" in result.output and "abandoned (漏接)" in result.output
