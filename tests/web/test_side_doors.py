"""No side doors to personal data (issue 16, items 1, 2 and 12, and the doors of the same
kind): each attack is sent over HTTP as it came in, and each test checks that nothing leaked
and nothing was written (beyond the audit rows of a legitimate unmasked read)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from tests.conftest import cell_centre, cell_code, make_test_grid
from tests.web.conftest import TICKETS, counts, dispatched, personal_reads

LOCATE = "/api/v1/grid/locate"
CONTACTS = "/api/v1/contacts"
BOARD = "/api/v1/console/board"
PHONE = "13566667777"
ID_CARD = "410728199001011234"
MASKED_PHONE = "135****7777"
MASKED_ID = "410***********1234"


def confidential_report(api, phone: str = PHONE, lead: str = "market_regulation",
                        **fields) -> str:
    """Another department's confidential 举报, dispatched: its number."""
    body = {"category": "market", "type": "report",
            "text": "举报某超市销售过期食品，请为我保密",
            "citizen": {"name": "王五", "phone": phone, "confidential": True}, **fields}
    return dispatched(api, lead=lead, **body)["number"]


def leaked(body, *secrets: str) -> list[str]:
    """Which of these strings appear anywhere in a JSON answer."""
    dumped = json.dumps(body, ensure_ascii=False)
    return [s for s in secrets if s in dumped]


def audit_fields(app) -> list[tuple[str, str, str]]:
    """The audit of unmasked reads with its fields: (username, ticket number, fields)."""
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT u.username, t.number, r.fields FROM personal_data_reads r "
            "JOIN users u ON u.id = r.user_id JOIN tickets t ON t.id = r.ticket_id "
            "ORDER BY r.id"))]


# ---------------------------------------------------------------- 1. repeat candidates


def test_repeat_candidates_do_not_leak_another_departments_confidential_report(
        api, app, tokens):
    secret = confidential_report(api)
    assert api.get("handler1", f"{TICKETS}/{secret}").status_code == 404  # the direct read
    query = {"address": "长垣市", "category": "market", "phone": PHONE}
    before = counts(app)
    for user in ("handler1", "street1", "worker1", "dispatcher1", "supervisor1"):
        r = api.get(user, LOCATE, query_string=query)
        assert r.status_code == 200, (user, r.get_json())
        assert r.get_json()["repeat_candidates"] == [], user
        assert leaked(r.get_json(), secret) == [], user
    assert counts(app) == before  # a preview writes nothing, not even an audit row
    # The operator taking the call does see it: the test could fail.
    r = api.get("operator1", LOCATE, query_string=query)
    assert [c["number"] for c in r.get_json()["repeat_candidates"]] == [secret]


def test_a_caller_match_does_not_unmask_ones_own_departments_ticket(api, app, tokens):
    # handler1 may read this ticket, masked: asking by phone must not say whose it is.
    mine = dispatched(api, category="urban",
                      citizen={"name": "赵六", "phone": PHONE})["number"]
    assert api.get("handler1", f"{TICKETS}/{mine}").get_json()["citizen"]["phone"] == (
        MASKED_PHONE)
    before = counts(app)
    r = api.get("handler1", LOCATE, query_string={"address": "长垣市", "category": "urban",
                                                  "phone": PHONE})
    assert r.status_code == 200 and r.get_json()["repeat_candidates"] == []
    assert counts(app) == before
    r = api.get("dispatcher1", LOCATE, query_string={"address": "长垣市",
                                                     "category": "urban", "phone": PHONE})
    assert [c["number"] for c in r.get_json()["repeat_candidates"]] == [mine]


@pytest.fixture
def grid(app) -> int:
    from grid import catalogue as cat
    from grid.locator import build_index
    from web.extensions import db

    with app.app_context():
        version = make_test_grid(db.session)
        index = build_index(db.session, version)
        cat.create_rule(db.session, {"category": "urban", "lead": "urban_management"}, index)
        db.session.commit()
    return version


def test_nearby_candidates_are_scoped_too(api, app, grid, tokens):
    lon, lat = cell_centre(0, 0, 0)
    secret = confidential_report(api, lon=lon, lat=lat)
    before = counts(app)
    for user in ("handler1", "worker1"):
        r = api.get(user, LOCATE, query_string={"lon": lon, "lat": lat, "category": "market"})
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["location"]["cell"] == cell_code(0, 0, 0)
        assert leaked(r.get_json(), secret) == [], user
    assert counts(app) == before
    r = api.get("dispatcher1", LOCATE, query_string={"lon": lon, "lat": lat,
                                                     "category": "market"})
    assert [c["number"] for c in r.get_json()["repeat_candidates"]] == [secret]


def test_a_tickets_stored_candidates_and_history_follow_the_same_rule(api, app, tokens):
    secret = confidential_report(api)
    mine = dispatched(api, lead="urban_management", category="market",
                      citizen={"name": "赵六", "phone": PHONE})["number"]
    reads = personal_reads(app)
    view = api.get("handler1", f"{TICKETS}/{mine}").get_json()
    assert view["repeat_candidates"] == []
    assert leaked(view, secret) == []  # neither the candidates nor the intake event's payload
    assert personal_reads(app) == reads  # a masked read logs nothing
    full = api.get("operator1", f"{TICKETS}/{mine}").get_json()
    assert [c["number"] for c in full["repeat_candidates"]] == [secret]


# ---------------------------------------------------------------- 2. contacts


def test_contacts_of_a_confidential_ticket_hide_the_caller(api, app, tokens):
    secret = confidential_report(api)
    reads = personal_reads(app)
    before = counts(app)
    for user in ("leader1", "dispatcher1", "admin1"):
        r = api.get(user, CONTACTS, query_string={"ticket": secret})
        assert r.status_code == 200, r.get_json()
        items = r.get_json()["items"]
        assert [(c["ticket"], c["phone"], c["hidden"]) for c in items] == [
            (secret, None, True)], user
        assert leaked(r.get_json(), PHONE, MASKED_PHONE) == [], user
        listed = api.get(user, CONTACTS).get_json()["items"]
        assert leaked(listed, PHONE, MASKED_PHONE) == [], user
    assert counts(app) == before  # nothing shown, nothing logged
    # The operator sees the caller, and that read is logged.
    r = api.get("operator1", CONTACTS, query_string={"ticket": secret})
    assert [c["phone"] for c in r.get_json()["items"]] == [PHONE]
    assert personal_reads(app) == reads + [("operator1", secret)]


def test_contacts_of_an_ordinary_ticket_are_shown_and_logged(api, app, tokens):
    n = dispatched(api, citizen={"name": "张三", "phone": "13800138000"})["number"]
    reads = audit_fields(app)
    r = api.get("leader1", CONTACTS, query_string={"ticket": n})
    assert [c["phone"] for c in r.get_json()["items"]] == ["13800138000"]
    assert audit_fields(app) == reads + [("leader1", n, "contact")]


def test_contacts_of_a_ticket_one_may_not_see_are_not_found_and_write_nothing(
        api, app, tokens):
    before = counts(app)
    r = api.get("leader1", CONTACTS, query_string={"ticket": "12345-20991231-999999"})
    assert r.status_code == 404 and r.get_json()["error"]["field"] == "ticket"
    assert api.get("handler1", CONTACTS).status_code == 403
    assert counts(app) == before


def test_a_contact_without_a_ticket_shows_its_caller_to_operators_only(api, app, tokens):
    r = api.post("operator1", CONTACTS, json={"channel": "phone", "kind": "prank",
                                               "phone": PHONE})
    assert r.status_code == 201, r.get_json()
    before = counts(app)
    for user, phone in (("leader1", MASKED_PHONE), ("dispatcher1", MASKED_PHONE),
                        ("operator1", PHONE)):
        (item,) = api.get(user, CONTACTS, query_string={"kind": "prank"}).get_json()["items"]
        assert item["phone"] == phone, user
    # only the operator's unmasked read is audited (by contact: there is no ticket)
    assert counts(app) == before | {"personal_data_reads": before["personal_data_reads"] + 1}


def test_reading_a_contact_without_a_ticket_is_audited_by_contact_and_a_refusal_writes_nothing(
        api, app, tokens):
    """DOMAIN.md (privacy): every read of unmasked personal data is logged, also for a contact
    that belongs to no ticket: the row names the reader, the contact and what was shown; a
    refused read (no right to list contacts, a ticket one may not see) and a masked one write
    nothing."""
    from web.extensions import db

    r = api.post("operator1", CONTACTS, json={"channel": "phone", "kind": "silent",
                                               "phone": PHONE})
    assert r.status_code == 201, r.get_json()
    contact = r.get_json()["id"]
    before = counts(app)
    for user in ("handler1", "worker1", "supervisor1", "police1"):
        assert api.get(user, CONTACTS).status_code == 403, user
    r = api.get("dispatcher1", CONTACTS, query_string={"ticket": "12345-20991231-999999"})
    assert r.status_code == 404
    (item,) = api.get("leader1", CONTACTS, query_string={"kind": "silent"}).get_json()["items"]
    assert (item["id"], item["phone"]) == (contact, MASKED_PHONE)
    assert counts(app) == before
    (item,) = api.get("operator1", CONTACTS, query_string={"kind": "silent"}).get_json()[
        "items"]
    assert (item["id"], item["phone"], item["ticket"]) == (contact, PHONE, None)
    with app.app_context(), db.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT u.username, r.ticket_id, r.contact_id, r.fields FROM personal_data_reads r "
            "JOIN users u ON u.id = r.user_id ORDER BY r.id")).all()
    assert [tuple(row) for row in rows] == [("operator1", None, contact, "contact")]


# ---------------------------------------------------------------- 12. numbers typed into texts


TYPED = f"小区门口有人占道经营，我的电话{PHONE}，身份证{ID_CARD}"


def test_numbers_typed_into_the_text_are_masked_wherever_the_citizen_is(api, app, tokens):
    n = dispatched(api, text=TYPED, citizen={"anonymous": True})["number"]
    note = api.act("handler1", n, "note", text=f"已联系{PHONE}")
    assert note.status_code == 200, note.get_json()
    reads = audit_fields(app)
    before = counts(app)
    for user in ("handler1", "street1", "worker1"):
        r = api.get(user, f"{TICKETS}/{n}")
        if r.status_code == 404:  # not this user's ticket
            continue
        body = r.get_json()
        assert body["text"].startswith("小区门口") and MASKED_PHONE in body["text"], user
        assert MASKED_ID in body["text"]
        assert leaked(body, PHONE, ID_CARD) == [], user
        listed = api.get(user, TICKETS).get_json()["items"]
        assert [t["number"] for t in listed] == [n]
        assert leaked(listed, PHONE, ID_CARD) == [], user
    for user in ("handler1", "dispatcher1", "leader1"):
        board = api.get(user, BOARD).get_json()["tickets"]
        assert [t["number"] for t in board] == [n], user
        assert MASKED_PHONE in board[0]["text"], user
        assert leaked(board, PHONE, ID_CARD) == [], user
    masked = api.get("dispatcher1", f"{TICKETS}/{n}?masked=true").get_json()
    assert leaked(masked, PHONE, ID_CARD) == []
    assert counts(app) == before  # masked reads log nothing
    # Those who see the citizen see the text as typed: a logged read of the text.
    full = api.get("dispatcher1", f"{TICKETS}/{n}").get_json()
    assert full["text"] == TYPED
    assert audit_fields(app) == reads + [("dispatcher1", n, "text")]


def test_a_search_does_not_find_what_the_masking_hides(api, app, tokens):
    n = dispatched(api, text=TYPED)["number"]
    before = counts(app)
    for query in ({"q": PHONE}, {"q": "6666"}, {"q": ID_CARD[6:14]},
                  {"phone": "13800138000"}):
        r = api.get("handler1", TICKETS, query_string=query)
        assert r.status_code == 200 and r.get_json()["total"] == 0, query
    assert api.get("handler1", TICKETS, query_string={"q": "占道"}).get_json()["total"] == 1
    assert api.get("handler1", TICKETS, query_string={"q": n[-6:]}).get_json()["total"] == 1
    assert counts(app) == before
    # Those who see the citizen unmasked find it by phone or by the typed number.
    for query in ({"q": PHONE}, {"phone": "13800138000"}):
        r = api.get("dispatcher1", TICKETS, query_string=query)
        assert [t["number"] for t in r.get_json()["items"]] == [n], query


def test_a_confidential_ticket_is_not_found_by_its_callers_phone(api, app, tokens):
    secret = confidential_report(api, text=f"举报，回电{PHONE}")
    for user in ("dispatcher1", "leader1"):
        for query in ({"phone": PHONE}, {"q": PHONE}):
            r = api.get(user, TICKETS, query_string=query)
            assert r.get_json()["total"] == 0, (user, query)
    r = api.get("operator1", TICKETS, query_string={"phone": PHONE})
    assert [t["number"] for t in r.get_json()["items"]] == [secret]


def test_open311_masks_landlines_and_id_numbers_too(api, client, tokens):
    n = api.create(text=f"路灯坏了，座机0373-8888888，身份证{ID_CARD}")["number"]
    body = client.get(f"/open311/v2/requests/{n}.json").get_json()
    assert body[0]["description"] == f"路灯坏了，座机037****8888，身份证{MASKED_ID}"


# ---------------------------------------------------------------- linked tickets


def test_merged_repeats_numbers_follow_the_same_rule(api, app, tokens):
    parent = dispatched(api, lead="urban_management")["number"]
    child = api.create(citizen={"name": "王五", "phone": PHONE, "confidential": True})
    r = api.act("dispatcher1", child["number"], "merge", version=child["version"],
                parent=parent)
    assert r.status_code == 200, r.get_json()
    before = counts(app)
    assert api.get("handler1", f"{TICKETS}/{child['number']}").status_code == 404
    view = api.get("handler1", f"{TICKETS}/{parent}").get_json()
    assert view["children"] == [] and leaked(view, child["number"]) == []
    assert counts(app) == before
    assert api.get("dispatcher1", f"{TICKETS}/{parent}").get_json()["children"] == [
        child["number"]]


# ---------------------------------------------------------------- the live console


@pytest.fixture
def console_url(app):
    from tests.browser.conftest import start_server

    http, url = start_server(app)
    yield url
    http.shutdown()


def test_live_console_events_and_replays_mask_typed_numbers(api, app, console_url):
    import threading

    from tests.web.test_console_socket import Console

    def console(user: str) -> Console:
        token = api.headers(user)["Authorization"].split()[1]
        return Console(console_url, auth={"token": token}).connect()

    dispatcher, handler = console("dispatcher1"), console("handler1")
    try:
        n = dispatched(api, text=TYPED)["number"]
        dispatcher.wait(lambda: len(dispatcher.events) == 2)  # intake, dispatch
        handler.wait(lambda: len(handler.events) == 1)  # the dispatch to its department
        before = counts(app)
        assert handler.resume(0)["replayed"] == 1  # the events it may see, from the database
        handler.wait(lambda: len(handler.events) == 2)
        for c in (dispatcher, handler):
            assert {e["ticket"]["number"] for e in c.events} == {n}
            assert all(MASKED_PHONE in e["ticket"]["text"] and MASKED_ID in e["ticket"]["text"]
                       for e in c.events)
            assert leaked(c.events, PHONE, ID_CARD) == []
        assert counts(app) == before
    finally:
        for c in (dispatcher, handler):
            threading.Thread(target=c.client.disconnect, daemon=True).start()
