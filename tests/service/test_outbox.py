"""The outbox on a real database: idempotent enqueue, delivery with receipts, back-off on
transient failures, dead rows on permanent ones, two deliverers that never send one row twice
(PostgreSQL's SKIP LOCKED), and what the ticket lifecycle owes the 110 desk."""

from __future__ import annotations

import random
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import dispatch.outbound.outbox  # noqa: F401 - the outbox and nonce tables in the test schema
import dispatch.outbound.police  # noqa: F401
from dispatch.outbound.outbox import (
    OutboxMessage,
    PermanentError,
    TransientError,
    backoff,
    claim_due,
    deliver_due,
    enqueue,
    pending,
)
from dispatch.outbound.police import ACK, TRANSFER, remember_nonce
from tests.conftest import START

URBAN = "urban_management"


def _rows(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_a_second_enqueue_with_the_same_key_is_a_no_op(session):
    assert enqueue(session, "t", {"n": 1}, key="k1", ticket_id=None, now=START)
    assert not enqueue(session, "t", {"n": 2}, key="k1", ticket_id=None, now=START)
    session.commit()
    (row,) = _rows(session)
    assert (row.payload, row.attempts, row.due_at, row.dead) == ({"n": 1}, 0, START, False)


def test_delivery_records_the_receipt_and_never_sends_again(session):
    enqueue(session, "t", {"n": 1, "text": "挪车🚗𠀀"}, key="k1", ticket_id=None, now=START)
    session.commit()
    sent: list[dict] = []

    def sender(payload: dict) -> dict:
        sent.append(payload)
        return {"receipt": "received"}

    report = deliver_due(session, {"t": sender}, START)
    assert len(report.delivered) == 1 and not report.retried
    assert deliver_due(session, {"t": sender}, START + timedelta(days=1)).delivered == ()
    (row,) = _rows(session)
    assert sent == [{"n": 1, "text": "挪车🚗𠀀"}]
    assert (row.delivered_at, row.receipt, row.attempts) == (START, {"receipt": "received"}, 1)
    assert pending(session) == []


def test_transient_failures_back_off_and_the_row_waits_until_due(session):
    enqueue(session, "t", {}, key="k1", ticket_id=None, now=START)
    session.commit()
    calls = []

    def down(payload: dict) -> dict:
        calls.append(1)
        raise TransientError("110 is unreachable: refused")

    report = deliver_due(session, {"t": down}, START, rng=random.Random(1))
    (row,) = _rows(session)
    assert len(report.retried) == 1
    assert row.attempts == 1 and row.last_error == "110 is unreachable: refused"
    assert START + timedelta(seconds=8) <= row.due_at <= START + timedelta(seconds=12)
    assert deliver_due(session, {"t": down}, START + timedelta(seconds=5)).retried == ()
    deliver_due(session, {"t": down}, row.due_at)
    (row,) = _rows(session)
    assert row.attempts == 2 and row.due_at >= START + timedelta(seconds=8 + 16)
    assert len(calls) == 2
    report = deliver_due(session, {"t": lambda p: {"ok": True}}, START + timedelta(hours=2))
    (row,) = _rows(session)
    assert len(report.delivered) == 1 and row.delivered_at is not None


def test_backoff_doubles_and_is_capped_at_an_hour():
    rng = random.Random(7)
    assert timedelta(seconds=8) <= backoff(1, rng) <= timedelta(seconds=12)
    assert timedelta(seconds=32) <= backoff(3, rng) <= timedelta(seconds=48)
    assert backoff(40, rng) <= timedelta(hours=1.2)


def test_permanent_failures_are_dead_and_not_retried(session):
    enqueue(session, "t", {}, key="k1", ticket_id=None, now=START)
    enqueue(session, "t", {}, key="k2", ticket_id=None, now=START)
    session.commit()
    answers = iter([PermanentError("110 answered 400: bad"), None])

    def sender(payload: dict) -> dict:
        exc = next(answers)
        if exc:
            raise exc
        return {"receipt": "received"}

    report = deliver_due(session, {"t": sender}, START)
    first, second = _rows(session)
    assert report.dead == (first.id,) and report.delivered == (second.id,)
    assert first.dead and first.last_error == "110 answered 400: bad"
    assert deliver_due(session, {"t": sender}, START + timedelta(days=1)).dead == ()


def test_topics_without_a_sender_wait_and_a_sender_bug_leaves_the_row_as_it_was(session):
    enqueue(session, "other", {}, key="k0", ticket_id=None, now=START)
    enqueue(session, "t", {}, key="k1", ticket_id=None, now=START)
    session.commit()

    def broken(payload: dict) -> dict:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        deliver_due(session, {"t": broken}, START)
    rows = _rows(session)
    assert [(r.attempts, r.delivered_at, r.dead) for r in rows] == [(0, None, False)] * 2
    assert [r.dedupe_key for r in claim_due(session, START, 10, ["other"])] == ["k0"]
    session.rollback()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_deliverers_at_once_never_deliver_the_same_row_twice(engine):
    with Session(engine) as s:
        for n in range(20):
            enqueue(s, "t", {"n": n}, key=f"k{n}", ticket_id=None, now=START)
        s.commit()
    sent: list[tuple[str, int]] = []
    lock = threading.Lock()
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def sender(payload: dict) -> dict:
        time.sleep(0.01)  # hold the row lock a while, as a real POST would
        with lock:
            sent.append((threading.current_thread().name, payload["n"]))
        return {"receipt": "received"}

    def deliverer() -> None:
        try:
            start.wait()
            deliver_due(lambda: Session(engine), {"t": sender}, START)
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=deliverer, name=f"d{i}") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(n for _, n in sent) == list(range(20))
    assert {name for name, _ in sent} == {"d0", "d1"}  # both took part
    with Session(engine) as s:
        assert pending(s) == []


def test_a_nonce_is_refused_within_ten_minutes_and_forgotten_after(session):
    assert remember_nonce(session, "desk-1", "nonce-0001", START)
    assert not remember_nonce(session, "desk-1", "nonce-0001", START + timedelta(minutes=9))
    assert remember_nonce(session, "desk-2", "nonce-0001", START)
    assert remember_nonce(session, "desk-1", "nonce-0001", START + timedelta(minutes=11))
    session.rollback()


# ---------------------------------------------------------------- what the lifecycle owes 110


def _owed(session: Session, topic: str) -> list[OutboxMessage]:
    return [r for r in _rows(session) if r.topic == topic]


def test_a_police_matter_transferred_owes_110_a_transfer_once_per_transfer(desk, session):
    t = desk.intake(text="有人在小区门口打架，有人受伤", urgency="urgent")
    desk.act(t, "transfer_110", "operator1", reason="涉警事项，转110处置")
    (row,) = _owed(session, TRANSFER)
    assert row.dedupe_key == f"{TRANSFER}:{t.number}:1" and row.ticket_id == t.id
    p = row.payload
    assert set(p) == {"ticket_no", "received_at", "caller", "location", "category_hint",
                      "summary", "urgency", "remarks"}
    assert (p["ticket_no"], p["summary"], p["urgency"]) == (t.number, t.text, "urgent")
    assert p["received_at"] == "2026-11-23T10:00:00+08:00"
    assert p["caller"] == {"name": "张三", "phone": "13800138000"}
    assert p["remarks"] == [{"at": "2026-11-23T10:00:00+08:00", "text": "涉警事项，转110处置"}]
    desk.act(t, "police_reject", "police1", reason="非警情")
    # 首接: after a rejection only a supervisor sends it again, with an arbitration.
    desk.act(t, "transfer_110", "supervisor1", arbitration="确有人员受伤，协调后再次转110")
    assert [r.dedupe_key for r in _owed(session, TRANSFER)] == [
        f"{TRANSFER}:{t.number}:1", f"{TRANSFER}:{t.number}:2"]
    assert _owed(session, ACK) == []


def test_a_ticket_from_110_owes_accepted_rejected_and_completed_acks(desk, session):
    from dispatch.intake.pipeline import intake

    def from_110(incident: str):
        result = intake(session, {"channel": "police110", "text": "挪车", "type": "help",
                                  "urgency": "normal",
                                  "category": "urban.appearance.street_vending"},
                        desk.actors["police1"], now=desk.clock.now(), external_ref=incident)
        session.commit()
        return result.ticket

    t = from_110("J1")
    desk.act(t, "dispatch", "dispatcher1", lead=URBAN)
    desk.act(t, "return", "handler1", reason="不属于本部门")
    desk.act(t, "dispatch", "dispatcher1", lead=URBAN)
    desk.act(t, "sign", "handler1")
    desk.act(t, "complete", "handler1", result="已联系车主挪车")
    desk.act(t, "review_accept", "dispatcher1")
    acks = [r.payload for r in _owed(session, ACK)]
    assert [(a["status"], a["incident_no"], a["ticket_no"]) for a in acks] == [
        ("accepted", "J1", t.number), ("completed", "J1", t.number)]
    assert acks[0]["cause"] is None and acks[1]["result"] == "已联系车主挪车"

    u = from_110("J2")
    desk.act(u, "transfer_110", "dispatcher1", reason="涉及人身安全，属警情")
    (rejected,) = [r.payload for r in _owed(session, ACK) if r.payload["incident_no"] == "J2"]
    assert (rejected["status"], rejected["cause"]) == ("rejected", "涉及人身安全，属警情")
    assert _owed(session, TRANSFER) == []
