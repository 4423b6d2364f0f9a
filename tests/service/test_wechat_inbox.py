"""The WeChat inbox and the hook's one-statement nonce claim: a held MsgId is stored once, a
recorded one not at all; a nonce is refused within ten minutes and taken again after."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from dispatch.core.vocab import Channel, ContactKind
from dispatch.intake.contacts import record_contact
from dispatch.outbound.police import SeenNonce, claim_nonce, purge_nonces
from integrations.wechat import inbox
from integrations.wechat.inbound import Message
from tests.conftest import START


def _message(msg_id: str) -> Message:
    return Message(to_user="gh_hotline12345", from_user="oALICE", create_time=1,
                   msg_type="text", content="路灯不亮", msg_id=msg_id)


def _held(session) -> int:
    return session.scalar(select(func.count()).select_from(inbox.HeldMessage))


def test_a_msg_id_is_held_once_and_a_recorded_one_not_at_all(session):
    assert inbox.hold_unless_recorded(session, _message("100"), START)
    assert not inbox.hold_unless_recorded(session, _message("100"), START)
    assert _held(session) == 1
    [row] = session.scalars(select(inbox.HeldMessage)).all()
    assert inbox.message_of(row) == _message("100") and row.received_at == START
    assert inbox.claim_next(session).id == row.id
    record_contact(session, channel=Channel.WECHAT, kind=ContactKind.ENQUIRY, received_at=START,
                   actor_id=None, openid="oALICE", external_id="200", note="查询办理进度")
    session.flush()
    assert not inbox.hold_unless_recorded(session, _message("200"), START)
    assert _held(session) == 1
    session.rollback()


def test_a_claimed_nonce_is_refused_within_ten_minutes_and_taken_again_after(session):
    assert claim_nonce(session, "wechat:x", "n1", START)
    assert not claim_nonce(session, "wechat:x", "n1", START + timedelta(minutes=9))
    assert claim_nonce(session, "wechat:y", "n1", START)
    assert claim_nonce(session, "wechat:x", "n1", START + timedelta(minutes=11))
    assert not claim_nonce(session, "wechat:x", "n1", START + timedelta(minutes=12))
    purge_nonces(session, START + timedelta(minutes=30))
    assert session.scalar(select(func.count()).select_from(SeenNonce)) == 0
    session.rollback()
