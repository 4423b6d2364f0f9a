"""Privacy as one rule on a real database: the citizen's exposure (full, masked, hidden) and
its SQL form agree for every role and kind of ticket; repeat candidates follow the ticket
read's scoping; numbers typed into a text are masked by one helper; console events recorded
before texts were masked are masked when read."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dispatch.console import feed
from dispatch.core.models import Ticket
from dispatch.intake.phones import mask_text, personal_numbers
from dispatch.intake.repeats import find_repeats
from dispatch.tickets.access import FULL, exposure, unmasked_citizen, visible_tickets
from dispatch.tickets.readmodel import list_view, ticket_view, visible_candidates

URBAN = "urban_management"
MARKET = "market_regulation"
PHONE = "13566667777"


# ---------------------------------------------------------------- the masker


@pytest.mark.parametrize(("text", "expected"), [
    ("我的电话13566667777，请回电", "我的电话135****7777，请回电"),
    ("电话：135 6666 7777", "电话：135****7777"),
    ("+86 135-6666-7777 找我", "135****7777 找我"),
    ("座机0373-8888888有事", "座机037****8888有事"),
    ("全角１３５６６６６７７７７也算", "全角135****7777也算"),
    ("身份证410728199001011234号", "身份证410***********1234号"),
    ("身份证41072819900101123X", "身份证410***********123X"),
    ("老身份证410728900101123", "老身份证410********1123"),
    ("电话13566667777和身份证410728199001011234",
     "电话135****7777和身份证410***********1234"),
])
def test_typed_phone_and_id_numbers_are_masked(text, expected):
    assert mask_text(text) == expected
    assert mask_text(expected) == expected  # masking twice changes nothing


@pytest.mark.parametrize("text", [
    "工单12345-20261123-000123已办结", "2026-11-23 08:30 来电", "罚款1000000元",
    "门牌号8888888", "12345热线", "",
])
def test_texts_without_personal_numbers_are_left_alone(text):
    assert personal_numbers(text) == []
    assert mask_text(text) == text


# ---------------------------------------------------------------- one rule, two forms


def test_the_exposure_rule_and_its_sql_form_agree_for_every_role(desk, session, actors):
    kinds = {
        "plain": {},
        "direct": {"citizen": {"name": "张三", "phone": "13800138000",
                               "direct_contact": True}},
        "confidential": {"citizen": {"name": "王五", "phone": "13800138000",
                                     "confidential": True}},
    }
    tickets = {k: desk.dispatched(**fields) for k, fields in kinds.items()}
    ids = {t.id: k for k, t in tickets.items()}
    seen_levels = set()
    for name, actor in actors.items():
        visible = set(session.scalars(select(Ticket.id).where(visible_tickets(actor))))
        unmasked = set(session.scalars(select(Ticket.id).where(
            visible_tickets(actor), unmasked_citizen(actor))))
        for tid in visible & set(ids):
            level = exposure(actor, session.get(Ticket, tid))
            seen_levels.add(level)
            assert (tid in unmasked) == (level == FULL), (name, ids[tid], level)
    assert seen_levels == {"full", "masked", "hidden"}  # every branch was exercised


# ---------------------------------------------------------------- repeat candidates


def test_repeat_candidates_follow_the_ticket_reads_scoping(desk, session, actors, clock):
    secret = desk.intake(category="market", type="report",
                         citizen={"name": "王五", "phone": PHONE, "confidential": True})
    desk.act(secret, "dispatch", "dispatcher1", lead=MARKET)
    plain = desk.intake(category="market", citizen={"name": "赵六", "phone": PHONE})
    desk.act(plain, "dispatch", "dispatcher1", lead=MARKET)

    def found(user: str) -> set[str]:
        return {c.number for c in find_repeats(
            session, category="market", lon=None, lat=None, phone=PHONE, openid=None,
            now=clock.now(), actor=actors[user])}

    assert found("operator1") == {secret.number, plain.number}  # operators see every caller
    assert found("dispatcher1") == {plain.number}  # the confidential caller stays hidden
    for user in ("handler1", "street1", "worker1", "police1"):
        assert found(user) == set(), user  # other departments' tickets: not by a side door
    unscoped = find_repeats(session, category="market", lon=None, lat=None, phone=PHONE,
                            openid=None, now=clock.now())
    assert {c.number for c in unscoped} == {secret.number, plain.number}


def test_stored_candidates_are_shown_only_as_the_reader_may_know_them(desk, session, actors,
                                                                      clock, directory):
    secret = desk.intake(category="market", type="report",
                         citizen={"name": "王五", "phone": PHONE, "confidential": True})
    desk.act(secret, "dispatch", "dispatcher1", lead=MARKET)
    other = desk.intake(category="market", citizen={"name": "赵六", "phone": PHONE})
    desk.act(other, "dispatch", "dispatcher1", lead=MARKET)
    mine = desk.intake(category="market", citizen={"name": "赵六", "phone": PHONE})
    desk.act(mine, "dispatch", "dispatcher1", lead=URBAN)
    stored = {c["number"] for e in desk.events(mine) if e.action == "intake"
              for c in e.payload["repeat_candidates"]}
    assert stored == {secret.number, other.number}  # the intake keeps them all

    def shown(user: str) -> tuple[set[str], set[str]]:
        view = ticket_view(session, mine, actors[user], directory, clock.now())
        in_events = {c["number"] for e in view["events"] if e["action"] == "intake"
                     for c in e["payload"]["repeat_candidates"]}
        return {c["number"] for c in view["repeat_candidates"]}, in_events

    assert shown("operator1") == ({secret.number, other.number},) * 2
    assert shown("dispatcher1") == ({other.number},) * 2
    assert shown("handler1") == (set(), set())
    session.rollback()
    assert visible_candidates(session, actors["handler1"], mine, []) == []


# ---------------------------------------------------------------- texts in lists and consoles


def test_lists_mask_typed_numbers_for_masked_readers_and_log_them_for_others(
        desk, session, actors, clock):
    from dispatch.core.models import PersonalDataRead

    t = desk.dispatched(text=f"占道经营，联系我{PHONE}", citizen={"anonymous": True})
    (handler_item,) = list_view(session, [t], actors["handler1"], clock.now())
    assert PHONE not in handler_item["text"] and "135****7777" in handler_item["text"]
    assert session.scalars(select(PersonalDataRead)).all() == []
    (dispatcher_item,) = list_view(session, [t], actors["dispatcher1"], clock.now())
    assert PHONE in dispatcher_item["text"]
    (read,) = session.scalars(select(PersonalDataRead)).all()
    assert (read.user_id, read.ticket_id, read.fields) == (actors["dispatcher1"].id, t.id,
                                                           "text")
    session.rollback()


def test_console_events_recorded_before_masking_are_masked_when_read(desk, session):
    t = desk.dispatched(text=f"占道经营，联系我{PHONE}")
    rows = list(session.scalars(select(feed.ConsoleEvent)
                                .where(feed.ConsoleEvent.ticket_id == t.id)))
    assert rows and all(PHONE not in r.summary["text"] for r in rows)
    legacy = rows[0]
    legacy.summary = {**legacy.summary, "text": f"占道经营，联系我{PHONE}"}
    assert feed.message(legacy)["ticket"]["text"] == "占道经营，联系我135****7777"
    session.rollback()


def test_a_contact_of_no_ticket_read_unmasked_is_logged_by_contact(desk, session, actors,
                                                                   clock):
    from dispatch.core.models import PersonalDataRead
    from dispatch.intake.contacts import record_contact
    from dispatch.tickets.readmodel import contact_views

    loose = record_contact(session, channel="phone", kind="enquiry", received_at=clock.now(),
                           actor_id=actors["operator1"].id, phone=PHONE, note="问社保，未建单")
    session.flush()
    (masked,) = contact_views(session, [loose], actors["dispatcher1"], clock.now())
    assert masked["phone"] == "135****7777" and masked["ticket"] is None
    assert session.scalars(select(PersonalDataRead)).all() == []  # nothing unmasked, no log
    (full,) = contact_views(session, [loose], actors["operator1"], clock.now())
    assert full["phone"] == PHONE
    (read,) = session.scalars(select(PersonalDataRead)).all()
    assert (read.user_id, read.ticket_id, read.contact_id, read.fields) == (
        actors["operator1"].id, None, loose.id, "contact")
    session.rollback()
