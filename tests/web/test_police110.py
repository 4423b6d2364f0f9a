"""The 110 desk link over HTTP: every refusal (401/400/413/415/422/503) writing nothing, the
same incident or ack twice changing nothing, and round trips with `FakePoliceDesk` serving
real HTTP on localhost: 110's transfer → ticket → accepted → completed, our police matter →
receipt → rejected back to NEW with the cause, and the desk down a while → delivered once."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text

import dispatch.outbound.outbox  # noqa: F401 - the outbox and nonce tables in the test schema
import dispatch.outbound.police  # noqa: F401
from dispatch.outbound.outbox import OutboxMessage
from integrations.police110.fake import FakePoliceDesk, transfer_body
from tests.web.conftest import counts

KEYS = {"desk-1": "shared-secret-一号"}
URBAN = "urban_management"
TRANSFERS = "/hooks/police110/transfers"
ACKS = "/hooks/police110/acks"


@pytest.fixture
def police_app(app):
    import web.hooks.police110

    app.config.update(POLICE110_KEYS=KEYS)
    if "police110" not in app.blueprints:  # until create_app registers it
        app.register_blueprint(web.hooks.police110.bp)
    return app


@pytest.fixture
def desk(police_app, clock):
    """The fake desk, serving on localhost, signing at the app's (manual) clock."""
    with FakePoliceDesk(KEYS, clock=lambda: clock.now().timestamp()) as fake:
        police_app.config["POLICE110_URL"] = fake.url
        yield fake


def written(app) -> dict[str, int]:
    """Row counts, the outbox and the nonces included."""
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        extra = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                 for t in ("outbox", "police110_nonces")}
    return counts(app) | extra


def view(api, number: str) -> dict:
    r = api.get("dispatcher1", f"/api/v1/tickets/{number}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def deliver(app, clock):
    from workers.rounds import deliver_round

    return deliver_round(app, clock.now())


def outbox_rows(app) -> list[OutboxMessage]:
    from web.extensions import db

    with app.app_context():
        rows = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        db.session.expunge_all()
        return rows


# ---------------------------------------------------------------- refusals


def test_unconfigured_keys_answer_503_and_write_nothing(police_app, client, tokens):
    police_app.config["POLICE110_KEYS"] = None
    fake = FakePoliceDesk(KEYS)  # not serving: only signs
    before = written(police_app)
    r = fake.send(client, "/transfers", transfer_body("J1"))
    assert (r.status, r.body["error"]["code"]) == (503, "unavailable")
    assert written(police_app) == before


def test_every_refusal_has_its_status_and_writes_nothing(police_app, client, desk, clock,
                                                         tokens):
    body = json.dumps(transfer_body("J410728202611230017"), ensure_ascii=False).encode()
    now = clock.now().timestamp()
    first = desk.send(client, "/transfers", raw=body, nonce="replayed-nonce-0001")
    assert first.status == 202, first.body
    before = written(police_app)

    def raw(data: bytes, **sign):
        return desk.send(client, "/transfers", raw=data, **sign)

    def missing(field: str) -> bytes:
        b = transfer_body("J2")
        del b[field]
        return json.dumps(b).encode()

    big = json.dumps(transfer_body("J3", summary="长" * 30_000), ensure_ascii=False).encode()
    cases = [
        ("no signature", lambda: desk.send(client, "/transfers", raw=body,
                                           headers={"X-Hotline-Signature": ""}),
         401, "X-Hotline-Signature"),
        ("wrong signature", lambda: raw(body, secret="guessed"), 401, "X-Hotline-Signature"),
        ("unknown key", lambda: raw(body, key_id="desk-9"), 401, "X-Hotline-Key"),
        ("stale", lambda: raw(body, timestamp=now - 301), 401, "X-Hotline-Timestamp"),
        ("future", lambda: raw(body, timestamp=now + 301), 401, "X-Hotline-Timestamp"),
        ("replayed nonce", lambda: raw(body, nonce="replayed-nonce-0001"), 401,
         "X-Hotline-Nonce"),
        ("malformed", lambda: raw(b'{"incident_no": "J2",'), 400, None),
        ("missing summary", lambda: raw(missing("summary")), 400, "summary"),
        ("missing location", lambda: raw(missing("location")), 400, "location"),
        ("not UTF-8", lambda: raw('{"summary": "挪车"}'.encode("gb18030")), 400, None),
        ("not JSON", lambda: desk.send(client, "/transfers", raw=body,
                                       content_type="text/plain"), 415, None),
        ("out of range", lambda: raw(json.dumps(transfer_body(
            "J2", location={"lon": 114.6, "lat": 135.2})).encode()), 422, "location.lat"),
        ("bad urgency", lambda: raw(json.dumps(transfer_body("J2", urgency="x")).encode()),
         422, "urgency"),
        ("over 64 KiB", lambda: raw(big), 413, None),
    ]
    wrong = []
    for name, send, status, field in cases:
        r = send()
        if r.status != status or (field and (r.body or {}).get("error", {}).get(
                "field") != field):
            wrong.append((name, r.status_code, r.body))
    assert wrong == []
    assert written(police_app) == before
    # An ack is checked the same way: a bad signature or an unknown ticket writes nothing.
    assert desk.send(client, "/acks", {"ticket_no": "x"}, secret="guessed").status == 401
    r = desk.send_ack(client, "12345-20261123-999999", "accepted", incident_no="J9")
    assert (r.status, r.body["error"]["field"]) == (404, "ticket_no")
    assert written(police_app) == before


def test_the_same_incident_twice_gives_the_same_ticket_with_text_intact(police_app, client,
                                                                       desk, api, tokens):
    summary = "车堵门口🚗，车主姓𠀀，电话打不通"
    r1 = desk.send_transfer(client, "J410728202611230017", summary=summary)
    assert r1.status == 202 and r1.body["receipt"] == "received"
    before = written(police_app)
    r2 = desk.send_transfer(client, "J410728202611230017", summary="改过的内容")
    assert (r2.status, r2.body) == (200, r1.body)
    after = written(police_app)
    assert after.pop("police110_nonces") == before.pop("police110_nonces") + 1
    assert after == before
    t = view(api, r1.body["ticket_no"])
    assert t["channel"] == "police110" and t["status"] == "NEW"
    assert t["text"].startswith(summary) and "【110分类】挪车" in t["text"]
    assert t["police"]["incident_no"] == "J410728202611230017"


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_identical_transfers_at_once_make_one_ticket(police_app, desk, tokens):
    results = []
    start = threading.Barrier(4)

    def send() -> None:
        start.wait()
        results.append(desk.send_transfer(police_app.test_client(), "J-RACE-1"))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status for r in results) == [200, 200, 200, 202]
    assert len({r.body["ticket_no"] for r in results}) == 1
    assert written(police_app)["tickets"] == 1


# ---------------------------------------------------------------- round trips over real HTTP


def test_110_transfer_is_accepted_handled_and_completed_back_to_the_desk(
        police_app, client, desk, api, clock, tokens):
    incident = "J410728202611230017"
    ticket_no = desk.send_transfer(client, incident).body["ticket_no"]
    assert deliver(police_app, clock).delivered == ()  # nothing owed before a decision

    r = api.act("dispatcher1", ticket_no, "dispatch", lead=URBAN, type="help",
                category="urban.appearance.street_vending")
    assert r.status_code == 200, r.get_json()
    report = deliver(police_app, clock)
    assert len(report.delivered) == 1
    (accepted,) = desk.acks(incident)
    assert accepted == {"incident_no": incident, "ticket_no": ticket_no, "status": "accepted",
                        "cause": None, "at": "2026-11-23T10:00:00+08:00"}
    assert desk.refused == []

    clock.advance(hours=2)
    for user, action, payload in (("handler1", "sign", {}),
                                  ("handler1", "complete", {"result": "已联系车主挪车🚗"}),
                                  ("dispatcher1", "review_accept", {})):
        r = api.act(user, ticket_no, action, **payload)
        assert r.status_code == 200, (action, r.get_json())
    # The completion ack to 110, and the citizen's callback questionnaire by SMS.
    assert len(deliver(police_app, clock).delivered) == 2
    assert [a["status"] for a in desk.acks(incident)] == ["accepted", "completed"]
    assert desk.acks(incident)[1]["result"] == "已联系车主挪车🚗"
    assert deliver(police_app, clock).delivered == ()
    assert len(desk.acks(incident)) == 2


def test_our_police_matter_goes_to_110_and_a_rejection_returns_it_to_new_with_the_cause(
        police_app, client, desk, api, clock, tokens):
    t = api.create(text="小区里有人持刀威胁邻居", urgency="urgent")
    r = api.act("operator1", t["number"], "transfer_110", reason="涉警事项，转110处置")
    assert r.status_code == 200 and r.get_json()["status"] == "TRANSFERRED_110"
    assert len(deliver(police_app, clock).delivered) == 1
    (sent,) = desk.transfers(t["number"])
    assert sent["summary"] == "小区里有人持刀威胁邻居" and sent["urgency"] == "urgent"
    (row,) = outbox_rows(police_app)
    assert row.receipt["incident_no"] == desk.incident_for(t["number"])

    r = desk.send_ack(client, t["number"], "rejected", cause="经核实非警情，请12345处理😀")
    assert r.status == 202, r.body
    before = written(police_app)
    again = desk.send_ack(client, t["number"], "rejected", cause="经核实非警情，请12345处理😀")
    assert (again.status, again.body["status"]) == (200, "NEW")
    after = written(police_app)
    assert after.pop("police110_nonces") == before.pop("police110_nonces") + 1
    assert after == before
    shown = view(api, t["number"])
    assert shown["status"] == "NEW"
    assert shown["police"]["state"] == "rejected"
    assert shown["police"]["cause"] == "经核实非警情，请12345处理😀"
    # A late "accepted" for a ticket no longer with 110 is a conflict and changes nothing.
    error_of_body = desk.send_ack(client, t["number"], "accepted")
    assert error_of_body.status == 409 and error_of_body.body["error"]["code"] == "conflict"
    assert written(police_app)["events"] == after["events"]


def test_110_accepts_then_completes_our_transfer_and_the_ticket_is_archived(
        police_app, client, desk, api, clock, tokens):
    t = api.create(text="路口发生交通事故，有人受伤", urgency="critical")
    api.act("operator1", t["number"], "transfer_110", reason="交通事故，转110")
    deliver(police_app, clock)
    assert desk.send_ack(client, t["number"], "accepted").status == 202
    assert desk.send_ack(client, t["number"], "accepted").status == 200
    shown = view(api, t["number"])
    assert (shown["status"], shown["police"]["state"]) == ("TRANSFERRED_110", "accepted")
    assert shown["police"]["incident_no"] == desk.incident_for(t["number"])
    r = desk.send_ack(client, t["number"], "completed", result="民警已到场处置")
    assert (r.status, r.body["status"]) == (202, "ARCHIVED")
    assert view(api, t["number"])["outcome"] == "handled_by_110"


@pytest.mark.parametrize("how", ["refuse", "503"])
def test_with_the_desk_down_the_outbox_retries_and_delivers_exactly_once(
        police_app, desk, api, clock, tokens, how):
    desk.down(how)
    t = api.create(text="有人在街上抢包", urgency="urgent")
    api.act("operator1", t["number"], "transfer_110", reason="涉警事项")
    report = deliver(police_app, clock)
    assert len(report.retried) == 1 and report.delivered == ()
    (row,) = outbox_rows(police_app)
    assert row.attempts == 1 and row.due_at > clock.now() and row.delivered_at is None
    assert row.last_error
    assert deliver(police_app, clock).retried == ()  # not due yet: not even tried

    clock.advance(seconds=30)
    assert len(deliver(police_app, clock).retried) == 1
    desk.up()
    assert deliver(police_app, clock).delivered == ()  # still backing off
    clock.advance(minutes=5)
    assert len(deliver(police_app, clock).delivered) == 1
    clock.advance(hours=3)
    assert deliver(police_app, clock).delivered == ()
    assert len(desk.transfers(t["number"])) == 1
    (row,) = outbox_rows(police_app)
    assert row.attempts == 3 and row.receipt["receipt"] == "received"


def test_without_a_desk_url_transfers_wait_in_the_outbox(police_app, api, clock, tokens):
    police_app.config["POLICE110_URL"] = None
    t = api.create(text="有人打架")
    api.act("operator1", t["number"], "transfer_110", reason="涉警")
    assert deliver(police_app, clock).delivered == ()
    (row,) = outbox_rows(police_app)
    assert row.attempts == 0 and row.delivered_at is None
    assert timedelta(0) == row.due_at - clock.now()


def test_in_embedded_mode_a_police_matter_reaches_the_desk_without_anyone_running_a_command(
        police_app, desk, api, tokens):
    import time

    from web.embedded import EmbeddedRunner
    from web.services import services

    with police_app.app_context():
        runner = services().runner = EmbeddedRunner(police_app, interval=60).start()
    try:
        t = api.create(text="有人在楼道里打架，已经见血了", urgency="critical")
        r = api.act("operator1", t["number"], "transfer_110", reason="涉警，转110")
        assert r.status_code == 200
        deadline = time.monotonic() + 10
        while not desk.transfers(t["number"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(desk.transfers(t["number"])) == 1  # poked after commit, not after 60 s
    finally:
        runner.stop()
        with police_app.app_context():
            services().runner = None
