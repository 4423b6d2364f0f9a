"""Intake, inbound contacts and ticket lists on a real database: what intake writes, what it
refuses without writing, the contacts an operator logs, and the filters, paging and scoping of
the ticket list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dispatch.core.commands import parse
from dispatch.core.errors import Conflict, InvalidInput, NotFound
from dispatch.core.models import Contact, Event, TicketCounter
from dispatch.intake.contacts import log_contact
from dispatch.intake.pipeline import intake
from dispatch.tickets.queries import Page, TicketFilter, list_tickets

URBAN = "urban_management"
PUDONG = "street_pudong"


# ---------------------------------------------------------------- intake


def test_intake_opens_a_new_ticket_with_its_event_and_a_new_demand_contact(desk, demand):
    op = desk.actors["operator1"]
    r = intake(desk.session, demand(citizen={"name": " 李四 ", "phone": "+86 139-0013-9000"}),
               op, now=desk.clock.now())
    desk.session.commit()
    t = r.ticket
    assert t.number == "12345-20261123-000001"
    assert (t.status, t.version, t.channel, t.type, t.urgency) == (
        "NEW", 1, "phone", "complaint", "normal")
    assert (t.citizen_name, t.citizen_phone) == ("李四", "13900139000")
    assert t.created_at == desk.clock.now() and t.created_by_id == op.id

    (event,) = desk.events(t)
    assert (event.action, event.from_status, event.to_status) == ("intake", None, "NEW")
    assert (event.actor_id, event.actor_role) == (op.id, "operator")
    assert event.payload["channel"] == "phone"

    (contact,) = desk.session.scalars(select(Contact)).all()
    assert (contact.kind, contact.channel, contact.ticket_id) == ("new_demand", "phone", t.id)
    assert contact.phone == "13900139000"
    assert contact.received_at == desk.clock.now()
    assert contact.recorded_by_id == op.id
    assert r.contact.id == contact.id


def test_intake_from_a_channel_keeps_its_external_references(desk, demand):
    r = intake(desk.session, demand(channel="police110", text="邻居装修噪音扰民"),
               desk.actors["police1"], now=desk.clock.now(), external_ref="110-A-0001",
               contact_external_id="msg-77")
    desk.session.commit()
    assert r.ticket.external_ref == "110-A-0001"
    assert (r.contact.channel, r.contact.external_id) == ("police110", "msg-77")


def test_anonymous_intake_drops_the_name(desk):
    t = desk.intake(citizen={"name": "王五", "phone": "13800138000", "anonymous": True})
    assert (t.anonymous, t.citizen_name, t.citizen_phone) == (True, None, "13800138000")


BAD_INTAKE = [
    ("text_too_long", {"text": "占" * 4001}, "text"),
    ("text_empty", {"text": ""}, "text"),
    ("text_blank", {"text": "   "}, "text"),
    ("bad_phone", {"citizen": {"phone": "12345"}}, "citizen.phone"),
    ("unknown_category", {"category": "urban.no_such_thing"}, "category"),
    ("unknown_channel", {"channel": "fax"}, "channel"),
    ("unknown_type", {"type": "rant"}, "type"),
    ("unknown_urgency", {"urgency": "whenever"}, "urgency"),
    ("lon_without_lat", {"lon": 114.67}, "lat"),
    ("lat_without_lon", {"lat": 35.2}, "lon"),
    ("lat_out_of_range", {"lon": 114.67, "lat": 200.0}, "lat"),
    ("unknown_field", {"colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("fields", "field"), [b[1:] for b in BAD_INTAKE],
                         ids=[b[0] for b in BAD_INTAKE])
def test_bad_intake_names_the_field_and_writes_nothing(desk, demand, fields, field):
    before = desk.counts()
    with pytest.raises(InvalidInput) as caught:
        intake(desk.session, demand(**fields), desk.actors["operator1"], now=desk.clock.now())
    assert caught.value.field == field
    # Refused before anything was added: not even the day's counter moved.
    assert desk.counts() == before
    desk.session.rollback()
    assert desk.counts() == before
    assert desk.intake().number == "12345-20261123-000001"


def test_text_of_exactly_the_limit_is_accepted(desk):
    t = desk.intake(text="占" * 4000)
    assert len(t.text) == 4000


def test_numbers_restart_at_one_on_the_next_local_day(desk):
    assert desk.intake().number == "12345-20261123-000001"
    desk.clock.current = datetime(2026, 11, 23, 15, 59, 59, tzinfo=UTC)  # 23:59:59 local
    assert desk.intake().number == "12345-20261123-000002"
    desk.clock.current = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # midnight local
    assert desk.intake().number == "12345-20261124-000001"
    assert desk.session.get(TicketCounter, "20261123").last == 2
    assert desk.session.get(TicketCounter, "20261124").last == 1


def test_an_open_intake_does_not_hold_the_next_one_of_the_day(desk, demand):
    """PostgreSQL: the day's counter moves in a transaction of its own, so an intake whose
    transaction is still open (its Python at work) does not make the next intake of the day
    wait for its commit; the numbers stay unique, and a failed intake leaves a gap. (SQLite
    has one writer at a time: there the counter moves in the intake's transaction.)"""
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    if desk.session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL: the counter's own transaction")
    now = desk.clock.now()
    first = intake(desk.session, demand(), desk.actors["operator1"], now=now)  # not committed
    with Session(desk.session.get_bind()) as other:
        other.execute(text("SET lock_timeout = '2s'"))  # waiting for the first would fail
        second = intake(other, demand(text="路灯不亮"), desk.actors["operator1"],
                        now=now).ticket.number
        other.commit()
    assert (first.ticket.number, second) == (
        "12345-20261123-000001", "12345-20261123-000002")
    desk.session.rollback()  # the first intake fails: its number is not given again
    assert desk.intake().number == "12345-20261123-000003"


# ---------------------------------------------------------------- contacts


def _log(desk, user: str = "operator1", **data):
    result = log_contact(desk.session, data, actor=desk.actors[user], now=desk.clock.now(),
                         directory=desk.directory)
    desk.session.commit()
    return result


@pytest.mark.parametrize("kind", ["silent", "prank", "hang_up"])
def test_contact_without_a_ticket_is_logged_alone(desk, kind):
    events_before = desk.count(Event)
    contact, ticket = _log(desk, channel="phone", kind=kind, phone="13800138000",
                           note="无人说话")
    assert ticket is None
    assert (contact.kind, contact.ticket_id, contact.phone) == (kind, None, "13800138000")
    assert contact.recorded_by_id == desk.uid("operator1")
    assert contact.received_at == desk.clock.now()
    assert desk.count(Contact) == 1
    assert desk.count(Event) == events_before


def test_follow_up_on_an_open_ticket_is_noted_in_its_history(desk):
    t = desk.dispatched()
    version = t.version
    desk.clock.advance(hours=2)
    contact, ticket = _log(desk, channel="phone", kind="follow_up", ticket=t.number,
                           phone="13800138000", note="问进展")
    assert ticket is t and contact.ticket_id == t.id
    assert t.status == "DISPATCHED" and t.version == version + 1
    note = desk.events(t)[-1]
    assert (note.action, note.from_status, note.to_status) == ("note", "DISPATCHED",
                                                               "DISPATCHED")
    assert note.payload == {"text": "诉求人再次来电：问进展"}
    assert note.actor_id == desk.uid("operator1") and note.at == desk.clock.now()


def _refused_contact(desk, error, **data):
    desk.session.commit()
    before = desk.counts()
    with pytest.raises(error) as caught:
        log_contact(desk.session, data, actor=desk.actors["operator1"], now=desk.clock.now(),
                    directory=desk.directory)
    desk.session.rollback()
    assert desk.counts() == before
    return caught.value


def test_follow_up_on_an_archived_ticket_is_a_conflict(desk):
    t = desk.intake()
    desk.act(t, "answer", "operator1", answer="已答复")
    _refused_contact(desk, Conflict, channel="phone", kind="follow_up", ticket=t.number)


def test_follow_up_must_name_a_known_ticket(desk):
    err = _refused_contact(desk, InvalidInput, channel="phone", kind="follow_up")
    assert err.field == "ticket"
    err = _refused_contact(desk, NotFound, channel="phone", kind="follow_up",
                           ticket="12345-20000101-000001")
    assert err.field == "ticket"


def test_only_a_follow_up_may_name_a_ticket(desk):
    t = desk.intake()
    err = _refused_contact(desk, InvalidInput, channel="phone", kind="silent", ticket=t.number)
    assert err.field == "ticket"


def test_new_demand_is_not_logged_as_a_bare_contact(desk):
    err = _refused_contact(desk, InvalidInput, channel="phone", kind="new_demand")
    assert err.field == "kind"


def test_contact_received_in_the_future_or_without_time_zone_is_refused(desk):
    future = (desk.clock.now() + timedelta(minutes=5)).isoformat()
    err = _refused_contact(desk, InvalidInput, channel="phone", kind="hang_up",
                           received_at=future)
    assert err.field == "received_at"
    err = _refused_contact(desk, InvalidInput, channel="phone", kind="hang_up",
                           received_at="2026-11-23T09:00:00")
    assert err.field == "received_at"
    err = _refused_contact(desk, InvalidInput, channel="phone", kind="hang_up", phone="999")
    assert err.field == "phone"


def test_contact_received_earlier_keeps_its_time(desk):
    contact, _ = _log(desk, channel="wechat", kind="prank",
                      received_at="2026-11-23T09:30:00+08:00")
    assert contact.received_at == datetime(2026, 11, 23, 1, 30, tzinfo=UTC)


# ---------------------------------------------------------------- ticket lists


def listing(desk, user: str = "dispatcher1", **filters) -> Page:
    return list_tickets(desk.session, desk.actors[user], parse(TicketFilter, filters),
                        desk.clock.now())


def numbers(page: Page) -> set[str]:
    return {t.number for t in page.items}


def test_status_channel_and_type_filters(desk):
    a = desk.dispatched()
    b = desk.intake(channel="wechat", type="consult")
    c = desk.intake(channel="web", type="help")
    assert numbers(listing(desk, status=["DISPATCHED"])) == {a.number}
    assert numbers(listing(desk, status=["NEW"])) == {b.number, c.number}
    assert numbers(listing(desk, channel=["wechat", "web"])) == {b.number, c.number}
    assert numbers(listing(desk, type=["help"])) == {c.number}
    assert numbers(listing(desk, channel=["phone"], status=["NEW"])) == set()
    with pytest.raises(InvalidInput) as caught:
        listing(desk, status=["LOST"])
    assert caught.value.field is not None and caught.value.field.startswith("status")


def test_category_filter_matches_the_whole_subtree(desk):
    top = desk.intake(category="urban")
    leaf = desk.intake(category="urban.appearance.street_vending")
    other_branch = desk.intake(category="urban.sanitation")
    noise = desk.intake(category="environment.noise")
    assert numbers(listing(desk, category="urban")) == {top.number, leaf.number,
                                                         other_branch.number}
    assert numbers(listing(desk, category="urban.appearance")) == {leaf.number}
    assert numbers(listing(desk, category="environment")) == {noise.number}
    assert numbers(listing(desk, category="urba")) == set()


def test_department_filter_ignores_cancelled_assignments(desk):
    t1 = desk.dispatched(co=[PUDONG])
    t2 = desk.intake()
    desk.act(t2, "dispatch", "dispatcher1", lead=PUDONG)
    desk.intake()
    assert numbers(listing(desk, department=URBAN)) == {t1.number}
    assert numbers(listing(desk, department=PUDONG)) == {t1.number, t2.number}
    desk.act(t1, "return", "handler1", reason="不属于城管")
    desk.act(t1, "dispatch", "dispatcher1", lead="housing_construction")
    # The co-handler's assignment was cancelled; the returned lead's still counts.
    assert numbers(listing(desk, department=PUDONG)) == {t2.number}
    assert numbers(listing(desk, department=URBAN)) == {t1.number}


def test_overdue_filter_follows_the_clock(desk):
    late_sign = desk.dispatched()
    signed = desk.signed()
    fresh = desk.intake()
    assert numbers(listing(desk, overdue=True)) == set()
    desk.clock.advance(hours=25)  # past the 24 h sign-for limit
    assert numbers(listing(desk, overdue=True)) == {late_sign.number}
    assert numbers(listing(desk, overdue=False)) == {signed.number, fresh.number}
    desk.act(late_sign, "sign", "handler1")
    assert numbers(listing(desk, overdue=True)) == set()
    desk.clock.current = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)  # past 2 Dec 23:59:59 local
    assert numbers(listing(desk, overdue=True)) == {late_sign.number, signed.number}


def test_date_range_uses_local_days_and_aware_datetimes(desk):
    created = {}
    for name, utc in [("mon_morning", datetime(2026, 11, 23, 2, 0, tzinfo=UTC)),
                      ("mon_late", datetime(2026, 11, 23, 15, 30, tzinfo=UTC)),
                      ("tue_early", datetime(2026, 11, 23, 16, 30, tzinfo=UTC)),
                      ("wed", datetime(2026, 11, 25, 1, 0, tzinfo=UTC))]:
        desk.clock.current = utc
        created[name] = desk.intake().number

    def pick(*names: str) -> set[str]:
        return {created[n] for n in names}

    assert numbers(listing(desk, **{"from": "2026-11-23", "to": "2026-11-23"})) == pick(
        "mon_morning", "mon_late")
    assert numbers(listing(desk, **{"from": "2026-11-24"})) == pick("tue_early", "wed")
    assert numbers(listing(desk, to="2026-11-24")) == pick("mon_morning", "mon_late",
                                                            "tue_early")
    assert numbers(listing(desk, **{"from": "2026-11-23T23:00:00+08:00",
                                    "to": "2026-11-24T01:00:00+08:00"})) == pick(
        "mon_late", "tue_early")
    assert numbers(listing(desk, **{"from": "2026-11-23T16:00:00Z"})) == pick(
        "tue_early", "wed")
    with pytest.raises(InvalidInput) as caught:
        listing(desk, **{"from": "2026-11-23T08:00:00"})
    assert caught.value.field == "from"
    with pytest.raises(InvalidInput) as caught:
        listing(desk, **{"from": "2026-11-25", "to": "2026-11-24"})
    assert caught.value.field == "to"


def test_text_search_treats_percent_and_underscore_literally(desk):
    pct = desk.intake(text="商场全场打折100%优惠是虚假宣传")
    plain = desk.intake(text="商场全场打折100元优惠")
    under = desk.intake(text="路灯编号a_b坏了", address="长垣市蒲东街道")
    like = desk.intake(text="路灯编号axb坏了")
    assert numbers(listing(desk, q="100%")) == {pct.number}
    assert numbers(listing(desk, q="打折100")) == {pct.number, plain.number}
    assert numbers(listing(desk, q="a_b")) == {under.number}
    assert numbers(listing(desk, q="%")) == {pct.number}
    assert numbers(listing(desk, q="_")) == {under.number}
    assert numbers(listing(desk, q="蒲东街道")) == {under.number}
    assert numbers(listing(desk, q=like.number)) == {like.number}


def test_phone_filter_normalises_the_number(desk):
    mine = desk.intake(citizen={"phone": "13800138000"})
    desk.intake(citizen={"phone": "13900139000"})
    assert numbers(listing(desk, phone="+86 138 0013 8000")) == {mine.number}
    with pytest.raises(InvalidInput) as caught:
        listing(desk, phone="123")
    assert caught.value.field == "phone"


def test_paging_returns_the_total_and_newest_first(desk):
    made = []
    for _ in range(25):
        made.append(desk.intake().number)
        desk.clock.advance(minutes=1)
    newest_first = list(reversed(made))
    first = listing(desk, per_page=10)
    assert (first.total, first.page, first.per_page) == (25, 1, 10)
    assert [t.number for t in first.items] == newest_first[:10]
    second = listing(desk, per_page=10, page=2)
    assert [t.number for t in second.items] == newest_first[10:20]
    third = listing(desk, per_page=10, page=3)
    assert [t.number for t in third.items] == newest_first[20:]
    beyond = listing(desk, per_page=10, page=4)
    assert (beyond.items, beyond.total) == ([], 25)
    assert len(listing(desk).items) == 20  # default page size
    with pytest.raises(InvalidInput) as caught:
        listing(desk, per_page=101)
    assert caught.value.field == "per_page"


def test_lists_are_scoped_to_what_each_user_may_see(desk):
    urban = desk.dispatched()
    on_site = desk.intake()
    desk.act(on_site, "dispatch", "dispatcher1", lead=PUDONG, grid_worker="worker1")
    new = desk.intake()
    from_110 = desk.intake(channel="police110", text="110转来：挪车")
    to_110 = desk.transferred()
    everything = {urban.number, on_site.number, new.number, from_110.number, to_110.number}

    assert numbers(listing(desk, "dispatcher1")) == everything
    assert numbers(listing(desk, "leader1")) == everything
    assert numbers(listing(desk, "handler1")) == {urban.number}
    assert listing(desk, "handler1").total == 1
    assert numbers(listing(desk, "street1")) == {on_site.number}
    assert numbers(listing(desk, "worker1")) == {on_site.number}
    assert numbers(listing(desk, "police1")) == {from_110.number, to_110.number}
    # Filters narrow within the scope, never widen it.
    assert numbers(listing(desk, "handler1", status=["NEW"])) == set()
    assert numbers(listing(desk, "police1", channel=["phone"])) == {to_110.number}
