"""The call centre over HTTP (CONTRACT.md, Calls (CTI)): the signed event hook (unsigned,
replayed, stale, unconfigured, a recording off the centre's host: refused, nothing written; the
same event twice: nothing changes), the screen pop on /console, the 漏接回拨 queue and its tries,
a recording streamed through the server with the listen logged, 一键转接 while the centre is
down (queued, told at once, delivered later and confirmed), and a demand logged on a call."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from dispatch.outbound.outbox import deliver_due
from integrations.cti.client import centre_client_from_config
from integrations.cti.fake import FakeCallCentre
from tests.web.conftest import counts, error_of

KEYS = {"cc-1": "call-centre-secret"}
HOOK = "/hooks/cti/events"
EXTRA = ("calls", "call_events", "agent_states", "call_callback_attempts", "outbox",
         "police110_nonces")


@pytest.fixture
def centre(app, clock):
    """The fake call centre on localhost, signing at the app's clock, configured in the app."""
    with FakeCallCentre(KEYS, clock=lambda: clock.now().timestamp()) as fake:
        app.config.update(CTI_KEYS=KEYS, CTI_URL=fake.url)
        yield fake


def written(app) -> dict[str, int]:
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        extra = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in EXTRA}
    return counts(app) | extra


def test_refused_events_write_nothing(app, client, centre, clock):
    body = {"event": "ringing", "call_id": "R1", "at": clock.now().isoformat(),
            "caller": "13800138000", "agent": "8001"}
    before = written(app)
    r = client.post(HOOK, json=body)  # unsigned
    error_of(r, 401, "unauthorized", "X-Hotline-Key")
    stale = centre.send(client, body, timestamp=clock.now().timestamp() - 301)
    assert stale.status == 401 and stale.body["error"]["field"] == "X-Hotline-Timestamp"
    forged = centre.send(client, body, secret="not-the-secret")
    assert forged.status == 401 and "签名" in forged.body["error"]["message"]
    elsewhere = centre.send(client, {**body, "event": "recording",
                                     "recording_url": "http://169.254.169.254/latest"})
    assert elsewhere.status == 422 and elsewhere.body["error"]["field"] == "recording_url"
    assert "呼叫中心主机" in elsewhere.body["error"]["message"]
    missing = centre.send(client, {k: v for k, v in body.items() if k != "call_id"})
    assert missing.status == 400 and missing.body["error"]["field"] == "call_id"
    assert written(app) == before
    app.config["CTI_KEYS"] = None
    unconfigured = centre.send(client, body)
    assert unconfigured.status == 503 and unconfigured.body["error"]["code"] == "unavailable"
    assert written(app) == before


def test_a_replayed_event_is_refused_and_the_same_event_changes_nothing(app, client, centre,
                                                                        clock):
    body = {"event": "ringing", "call_id": "R2", "at": clock.now().isoformat(),
            "caller": "13800138000", "agent": "8001", "queue": "12345"}
    first = centre.send(client, body, nonce="nonce-0001")
    assert first.status == 202 and first.body == {"receipt": "received", "state": "ringing"}
    after_first = written(app)
    replay = centre.send(client, body, nonce="nonce-0001")
    assert replay.status == 401 and "重放" in replay.body["error"]["message"]
    assert written(app) == after_first
    again = centre.send(client, body)  # the centre's retry under a fresh signature
    assert again.status == 200 and again.body["receipt"] == "duplicate"
    assert {k: v for k, v in written(app).items() if k != "police110_nonces"} == \
        {k: v for k, v in after_first.items() if k != "police110_nonces"}


def test_the_operator_page_gets_the_screen_pop(app, api, client, centre):
    socketio = app.extensions["socketio"]
    token = api.headers("operator1")["Authorization"].split()[1]
    operator = socketio.test_client(app, namespace="/console", auth={"token": token})
    dispatcher = socketio.test_client(app, namespace="/console",
                                      auth={"token": api.headers("dispatcher1")[
                                          "Authorization"].split()[1]})
    api.create()  # the caller's history
    operator.get_received("/console")
    dispatcher.get_received("/console")
    assert centre.ring(client, "P1", "13800138000", "8001").status == 202
    pops = [m["args"][0] for m in operator.get_received("/console") if m["name"] == "call"]
    assert len(pops) == 1
    pop = pops[0]
    assert (pop["call_id"], pop["state"], pop["caller"]) == ("P1", "ringing", "13800138000")
    assert len(pop["open_tickets"]) == 1 and len(pop["history"]) == 1
    assert not [m for m in dispatcher.get_received("/console") if m["name"] == "call"]
    centre.answer(client, "P1", wait_s=4)
    centre.hangup(client, "P1", duration_s=61)
    updates = [m["args"][0] for m in operator.get_received("/console") if m["name"] == "call"]
    assert [(u["state"], u["duration_s"]) for u in updates] == [("answered", None),
                                                                ("ended", 61)]
    operator.disconnect("/console")
    dispatcher.disconnect("/console")


def test_the_missed_call_queue_and_a_callback_try(app, api, client, centre, clock, tokens):
    centre.ring(client, "M1", "13900139000", None)
    centre.abandon(client, "M1", "13900139000", wait_s=40)
    r = api.get("operator1", "/api/v1/calls?state=missed")
    assert r.status_code == 200
    [item] = r.get_json()["items"]
    assert item["call_id"] == "M1" and item["caller"] == "13900139000"
    assert item["missed_deadline"] == (clock.now() + timedelta(hours=2)).isoformat()
    masked = api.get("dispatcher1", "/api/v1/calls?state=missed").get_json()["items"][0]
    assert masked["caller"] == "139****9000"
    before = written(app)
    error_of(api.post("operator1", "/api/v1/calls/M1/callback_attempts",
                      json={"outcome": "maybe"}), 400, "invalid", "outcome")
    error_of(api.post("handler1", "/api/v1/calls/M1/callback_attempts",
                      json={"outcome": "reached"}), 403, "forbidden")
    error_of(api.post("operator1", "/api/v1/calls/NOPE/callback_attempts",
                      json={"outcome": "reached"}), 404, "not_found", "call_id")
    assert written(app) == before
    r = api.post("operator1", "/api/v1/calls/M1/callback_attempts",
                 json={"outcome": "reached", "note": "已答复"})
    assert r.status_code == 201 and r.get_json()["called_back_at"] is not None
    assert r.get_json()["attempts"][0]["outcome"] == "reached"
    assert api.get("operator1", "/api/v1/calls?state=missed").get_json()["total"] == 0


def test_a_recording_streams_from_the_centre_and_the_listen_is_logged(app, api, client,
                                                                      centre):
    centre.ring(client, "A1", "13800138000", "8001")
    centre.answer(client, "A1", wait_s=3)
    number = api.create(call_id="A1")["number"]
    centre.hangup(client, "A1", duration_s=30)
    assert centre.record(client, "A1").status == 202
    api.headers("handler1")
    before = written(app)
    error_of(api.get("handler1", "/api/v1/calls/A1/recording"), 404, "not_found", "call_id")
    assert written(app) == before  # no listen logged, nothing fetched
    assert centre.recording_fetches == 0
    r = api.get("operator1", "/api/v1/calls/A1/recording")
    assert r.status_code == 200 and r.mimetype == "audio/wav"
    assert r.get_data()[:4] == b"RIFF" and centre.recording_fetches == 1
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        logged = conn.execute(text(
            "SELECT t.number, r.fields FROM personal_data_reads r JOIN tickets t "
            "ON t.id = r.ticket_id WHERE r.fields LIKE 'recording:%'")).all()
    assert [tuple(row) for row in logged] == [(number, "recording:A1")]
    view = api.get("operator1", f"/api/v1/calls?ticket={number}").get_json()["items"][0]
    assert (view["duration_s"], view["recording"]) == (30, True)
    ticket = api.get("dispatcher1", f"/api/v1/tickets/{number}").get_json()
    assert ticket["calls"] == [{"call_id": "A1", "state": "ended", "duration_s": 30,
                                "recording": True, "rang_at": ticket["calls"][0]["rang_at"]}]


def test_a_transfer_while_the_centre_is_down_is_queued_and_told_at_once(app, api, client,
                                                                       centre, clock):
    centre.ring(client, "T1", "13800138000", "8001")
    centre.answer(client, "T1", wait_s=2)
    number = api.create(call_id="T1")["number"]
    centre.down()
    r = api.post("operator1", "/api/v1/calls/T1/transfer", json={"to": "110",
                                                                "mode": "three_way"})
    assert r.status_code == 202, r.get_json()
    command = r.get_json()["command"]
    assert command["state"] == "queued" and "排队" in command["message"]
    ticket = api.get("dispatcher1", f"/api/v1/tickets/{number}").get_json()
    assert ticket["events"][-1]["action"] == "call_transfer"
    before = written(app)
    error_of(api.post("operator1", "/api/v1/calls/T1/transfer", json={}), 409, "conflict",
             "call_id")
    assert written(app) == before
    centre.up()
    centre.hotline = client
    clock.advance(minutes=5)
    from web.extensions import db

    with app.app_context():
        report = deliver_due(db.session, centre_client_from_config(app.config).senders(),
                             clock.now())
    assert len(report.delivered) == 1
    assert centre.transfers == [{"call_id": "T1", "to": "110", "mode": "three_way"}]
    # The centre confirms with a `transferred` event.
    assert centre.transferred(client, "T1").status in (200, 202)
    view = api.get("operator1", "/api/v1/calls/T1").get_json()
    assert (view["state"], view["transfer_to"]) == ("transferred", "110")


def test_the_board_and_the_call_rates(app, api, client, centre):
    centre.ring(client, "B1", "13800138000", "8001")
    centre.answer(client, "B1", wait_s=5)
    centre.ring(client, "B2", "13900139000", None)
    board = api.get("dispatcher1", "/api/v1/calls/board").get_json()
    assert board["waiting"] == 1 and board["agents_by_state"]["on_call"] == 1
    assert board["today"] == {"rate": 0.5, "answered_15s": 1, "entered_queue": 2}
    error_of(api.get("handler1", "/api/v1/calls/board"), 403, "forbidden")
    rates = api.get("leader1", "/api/v1/stats/calls").get_json()
    assert rates["answer_15s_rate"]["rate"] == 0.5
    r = api.put("operator1", "/api/v1/calls/agent_state", json={"state": "idle"})
    assert r.status_code == 200 and r.get_json()["state"] == "idle"
    api.headers("dispatcher1")
    before = written(app)
    error_of(api.put("dispatcher1", "/api/v1/calls/agent_state", json={"state": "idle"}), 403,
             "forbidden")
    error_of(api.put("operator1", "/api/v1/calls/agent_state", json={"state": "on_call"}), 400,
             "invalid", "state")
    assert written(app) == before


def test_the_calls_page_for_operators_and_dispatchers_and_403_for_handlers(app, client):
    from tests.web.test_page_security import sign_in

    sign_in(client, "operator1")
    html = client.get("/calls").get_data(as_text=True)
    assert 'data-testid="calls-page"' in html and "漏接回拨" in html and "js/calls.js" in html
    assert 'data-can-call-back="true"' in html
    client.post("/logout")
    sign_in(client, "handler1")
    r = client.get("/calls")
    assert r.status_code == 403 and "无权" in r.get_data(as_text=True)


def test_a_follow_up_logged_during_a_call_carries_its_id(app, api, client, centre, unchanged):
    number = api.create()["number"]
    centre.ring(client, "F1", "13800138000", "8001")
    centre.answer(client, "F1", wait_s=2)
    with unchanged(number):
        error_of(api.post("operator1", "/api/v1/contacts", json={
            "channel": "phone", "kind": "follow_up", "ticket": number, "call_id": "NOPE"}),
            400, "invalid", "call_id")
    r = api.post("operator1", "/api/v1/contacts", json={
        "channel": "phone", "kind": "follow_up", "ticket": number, "call_id": "F1",
        "phone": "13800138000", "note": "催问进度"})
    assert r.status_code == 201, r.get_json()
    call = api.get("operator1", "/api/v1/calls/F1").get_json()
    assert call["ticket"] == number
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        assert conn.execute(text("SELECT external_id FROM contacts WHERE id = :i"),
                            {"i": r.get_json()["id"]}).scalar_one() == "F1"


def test_a_page_opened_during_a_call_gets_its_pop(api, client, centre):
    assert api.get("operator1", "/api/v1/calls/current").get_json() == {"call": None}
    centre.ring(client, "L1", "13800138000", "8001")
    pop = api.get("operator1", "/api/v1/calls/current").get_json()["call"]
    assert (pop["call_id"], pop["state"], pop["event"]) == ("L1", "ringing", "current")
    assert "open_tickets" in pop and "history" in pop
    error_of(api.get("dispatcher1", "/api/v1/calls/current"), 403, "forbidden")
    centre.answer(client, "L1", wait_s=2)
    assert api.get("operator1", "/api/v1/calls/current").get_json()["call"]["state"] == \
        "answered"
    centre.hangup(client, "L1", duration_s=10)
    assert api.get("operator1", "/api/v1/calls/current").get_json() == {"call": None}
