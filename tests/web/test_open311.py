"""Open311 GeoReport v2 over HTTP: discovery, services, service definitions, keyed POSTs that
go through the intake pipeline, public request listings without personal data, JSON and XML,
and every refusal in the protocol's error shape with nothing written."""

from __future__ import annotations

from datetime import datetime

import pytest
from defusedxml import ElementTree as SafeET
from sqlalchemy import select

from integrations.open311.fake import Open311App, parse_xml
from tests.conftest import cell_centre, cell_code, make_test_grid
from tests.web.conftest import counts

KEY = "test-open311-key"
LEAF = "urban.appearance.street_vending"
OTHER = "other.general.other_complaints"
TEXT = "宏力大道有人占道经营，𠀀字招牌挡路🚧"  # a rare character (U+20000) and an emoji
BASE = "/open311/v2"
REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code",
                  "description", "agency_responsible", "service_notice", "requested_datetime",
                  "updated_datetime", "expected_datetime", "address", "address_id", "zipcode",
                  "lat", "long", "media_url"}


@pytest.fixture
def app(app, db_url):  # db_url named so that pytest keeps its backends
    """The test app with the Open311 blueprint (registered here until create_app does it)."""
    from web.hooks import open311

    if "open311" not in app.blueprints:
        app.register_blueprint(open311.bp)
    app.config["OPEN311_API_KEYS"] = (KEY,)
    return app


@pytest.fixture
def grid(app) -> None:
    from grid import catalogue as cat
    from grid.locator import build_index
    from web.extensions import db

    with app.app_context():
        version = make_test_grid(db.session)
        cat.create_rule(db.session, {"category": "urban", "lead": "urban_management"},
                        build_index(db.session, version))
        db.session.commit()


@pytest.fixture
def o311(client) -> Open311App:
    return Open311App(client, KEY)


def ticket_row(app, number: str):
    from dispatch.core.models import Ticket
    from web.extensions import db

    with app.app_context():
        t = db.session.scalar(select(Ticket).where(Ticket.number == number))
        events = [(e.action, e.actor_role, e.payload) for e in t.events]
        db.session.expunge_all()
        return t, events


def report(o311: Open311App, fmt: str = "json", **fields) -> str:
    lon, lat = cell_centre(0, 0, 0)
    fields.setdefault("lat", lat)
    fields.setdefault("long", lon)
    r = o311.report(fields.pop("service_code", LEAF), fields.pop("description", TEXT), fmt,
                    **fields)
    assert r.status_code == 200, r.get_data(as_text=True)
    [created] = o311.body(r)
    return created["service_request_id"]


# ---------------------------------------------------------------- discovery and services


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_discovery_names_the_endpoint_and_its_formats(o311, fmt) -> None:
    r = o311.get(f"discovery.{fmt}")
    assert r.status_code == 200
    body = o311.body(r)
    [endpoint] = body["endpoints"]
    assert endpoint["url"] == "http://localhost/open311/v2/"
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["formats"] == ["text/xml", "application/json"]


def test_services_are_the_leaf_categories_in_json_and_xml(o311) -> None:
    r = o311.get("services.json")
    assert r.status_code == 200 and r.content_type == "application/json; charset=utf-8"
    services = r.get_json()
    by_code = {s["service_code"]: s for s in services}
    assert by_code[LEAF] == {
        "service_code": LEAF, "service_name": "占道经营",
        "description": "城市管理 > 市容市貌 > 占道经营", "metadata": False, "type": "realtime",
        "keywords": "城市管理,市容市貌,占道经营", "group": "城市管理"}
    assert "urban" not in by_code and "urban.appearance" not in by_code

    x = o311.get("services.xml")
    assert x.status_code == 200 and x.content_type == "text/xml; charset=utf-8"
    root, items = parse_xml(x.data)
    assert root == "services"
    assert [s["service_code"] for s in items] == [s["service_code"] for s in services]
    assert {s["service_code"]: s for s in items}[LEAF]["metadata"] == "false"


@pytest.mark.parametrize("path", ["services", "service"])
def test_a_service_definition_answers_on_both_paths(o311, path) -> None:
    r = o311.get(f"{path}/{LEAF}.json")
    assert r.status_code == 200
    assert r.get_json() == {"service_code": LEAF, "attributes": []}
    root, value = parse_xml(o311.get(f"{path}/{LEAF}.xml").data)
    assert root == "service_definition" and value["service_code"] == LEAF


def error(r, status: int, fmt: str = "json") -> str:
    """Assert Open311's error list with one error of this status; its description."""
    assert r.status_code == status, r.get_data(as_text=True)
    if fmt == "json":
        assert r.mimetype == "application/json"
        [e] = r.get_json()
    else:
        assert r.mimetype == "text/xml"
        root, [e] = parse_xml(r.data)
        assert root == "errors"
    assert set(e) == {"code", "description"} and int(e["code"]) == status
    assert e["description"]
    assert any("\u3400" <= ch <= "\u9fff" for ch in e["description"]), e  # zh-CN
    return e["description"]


def test_unknown_services_formats_and_paths_are_open311_404s(o311) -> None:
    error(o311.get("services/nope.json"), 404)
    error(o311.get("services/urban.xml"), 404, "xml")  # a branch is no service
    error(o311.get("services.csv"), 404)
    error(o311.get(f"service/{LEAF}.html"), 404)
    error(o311.get("requests.yaml"), 404)
    error(o311.get("requests/12345-1.txt"), 404)
    error(o311.get("nothing/here.xml"), 404, "xml")
    error(o311.get("requests/12345-20991231-000001.json"), 404)
    error(o311.get("tokens/nope.json"), 404)


# ---------------------------------------------------------------- POST


def test_a_post_logs_a_ticket_through_the_pipeline(app, o311, grid, publisher) -> None:
    number = report(o311, first_name="三", last_name="张", phone="13800138000",
                    email="zhang@example.com", device_id="dev-1", account_id="acc-1",
                    address_string="宏力大道1号", media_url="https://img.example.com/1.jpg")
    t, events = ticket_row(app, number)
    lon, lat = cell_centre(0, 0, 0)
    assert (t.channel, t.category_code, t.status) == ("open311", LEAF, "NEW")
    assert (t.lon, t.lat) == (pytest.approx(lon), pytest.approx(lat))
    assert t.cell_code == cell_code(0, 0, 0) and t.street_code == "street_pudong"
    assert t.routing["lead"] == "urban_management"
    assert (t.citizen_name, t.citizen_phone, t.anonymous) == ("张三", "13800138000", False)
    assert t.text == TEXT
    assert [(a, role) for a, role, _ in events] == [("intake", "system"), ("note", "system")]
    assert events[0][2]["channel"] == "open311"
    assert events[1][2]["text"].endswith("https://img.example.com/1.jpg")
    assert [e.action for e in publisher.published] == ["intake", "note"]


def test_the_post_answer_in_xml(o311, grid) -> None:
    lon, lat = cell_centre(0, 0, 0)
    r = o311.report(LEAF, "占道", "xml", lat=lat, long=lon)
    assert r.status_code == 200 and r.content_type == "text/xml; charset=utf-8"
    root, [created] = parse_xml(r.data)
    assert root == "service_requests"
    assert created["service_request_id"].startswith("12345-")
    assert created["service_notice"] and created["account_id"] is None


def test_a_post_with_an_address_only_and_no_grid_is_still_logged(app, o311) -> None:
    number = report(o311, lat=None, long=None, address_string="蒲东街道宏力大道")
    t, _ = ticket_row(app, number)
    assert (t.lon, t.lat, t.address, t.anonymous) == (None, None, "蒲东街道宏力大道", True)


def _refusals(lat: float, lon: float) -> list[tuple[str, dict, int]]:
    return [
        ("no key", {"api_key": None}, 403),
        ("wrong key", {"api_key": "guess"}, 403),
        ("unknown service", {"service_code": "nope"}, 404),
        ("branch service", {"service_code": "urban"}, 404),
        ("no service", {"service_code": ""}, 400),
        ("no description", {"description": ""}, 400),
        ("lat out of range", {"lat": 95}, 400),
        ("long out of range", {"long": 181}, 400),
        ("lat only", {"long": None}, 400),
        ("long only", {"lat": None}, 400),
        ("no location", {"lat": None, "long": None}, 400),
        ("bad phone", {"phone": "123"}, 400),
        ("bad media url", {"media_url": "file:///etc/passwd"}, 400),
    ]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_every_refused_post_writes_nothing(app, client, o311, grid, fmt) -> None:
    lon, lat = cell_centre(0, 0, 0)
    before = counts(app)
    wrong = []
    for name, fields, status in _refusals(lat, lon):
        form = {"api_key": KEY, "service_code": LEAF, "description": "占道经营",
                "lat": lat, "long": lon, **fields}
        key = form.pop("api_key")
        r = o311.report(form.pop("service_code"), form.pop("description"), fmt,
                        api_key=key, **form)
        try:
            error(r, status, fmt)
        except AssertionError:
            wrong.append((name, r.status_code, r.get_data(as_text=True)))
    # Not a form at all (JSON), and the right key sent as JSON.
    r = client.post(f"{BASE}/requests.json", json={"api_key": KEY, "service_code": LEAF,
                                                    "description": "占道", "lat": lat,
                                                    "long": lon})
    if r.status_code != 400:
        wrong.append(("json body", r.status_code, r.get_data(as_text=True)))
    assert wrong == []
    assert counts(app) == before


def test_posts_are_refused_when_no_key_is_configured(app, o311, grid) -> None:
    app.config["OPEN311_API_KEYS"] = ()
    before = counts(app)
    lon, lat = cell_centre(0, 0, 0)
    assert "未开放" in error(o311.report(LEAF, "占道", lat=lat, long=lon), 403)
    assert counts(app) == before


# ---------------------------------------------------------------- GET requests


def test_one_request_reads_as_a_list_and_follows_the_ticket(app, api, o311, grid) -> None:
    number = report(o311, media_url="https://img.example.com/2.jpg")
    [r] = o311.get(f"requests/{number}.json").get_json()
    lon, lat = cell_centre(0, 0, 0)
    assert r["service_request_id"] == number
    assert (r["status"], r["status_notes"]) == ("open", "待处理")
    assert (r["service_code"], r["service_name"]) == (LEAF, "占道经营")
    assert r["agency_responsible"] == "长垣市城市管理局"  # the routing's proposal
    assert r["expected_datetime"] is None
    assert r["requested_datetime"] == "2026-11-23T10:00:00+08:00"
    assert (r["lat"], r["long"]) == (pytest.approx(lat), pytest.approx(lon))
    assert r["media_url"] == "https://img.example.com/2.jpg"

    d = api.act("dispatcher1", number, "dispatch", lead="urban_management", type="complaint")
    assert d.status_code == 200, d.get_json()
    deadline = d.get_json()["assignments"][0]["complete_deadline"]
    [r] = o311.get(f"requests/{number}.json").get_json()
    assert (r["status"], r["status_notes"]) == ("open", "已派单")
    assert r["agency_responsible"] == "长垣市城市管理局"
    assert r["expected_datetime"].endswith("+08:00")
    assert datetime.fromisoformat(r["expected_datetime"]) == datetime.fromisoformat(deadline)

    [token] = o311.get(f"tokens/{number}.json").get_json()
    assert token == {"service_request_id": number, "token": number}


def test_xml_requests_keep_chinese_and_emoji_intact(o311, grid) -> None:
    number = report(o311)
    r = o311.get(f"requests/{number}.xml")
    assert r.status_code == 200 and r.content_type == "text/xml; charset=utf-8"
    assert r.data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = SafeET.fromstring(r.data)
    assert root.tag == "service_requests"
    [item] = root.findall("request")
    assert item.findtext("description") == TEXT
    assert item.findtext("service_request_id") == number
    assert item.findtext("status_notes") == "待处理"


def test_listing_filters_by_id_service_status_and_dates(app, api, o311, grid) -> None:
    first = report(o311)
    second = report(o311, service_code=OTHER, description="其他问题")
    archived = api.create(category="urban")["number"]
    assert api.act("operator1", archived, "answer", answer="已答复").status_code == 200

    def ids(**params) -> list[str]:
        r = o311.get("requests.json", **params)
        assert r.status_code == 200, r.get_data(as_text=True)
        return [x["service_request_id"] for x in r.get_json()]

    assert set(ids()) == {first, second, archived}
    assert ids(service_request_id=f"{first},{second},nope") in ([first, second],
                                                               [second, first])
    assert ids(service_request_id=first, service_code=OTHER) == [first]  # ids win
    assert ids(service_code=OTHER) == [second]
    assert ids(service_code=f"{OTHER},{LEAF}") in ([first, second], [second, first])
    assert set(ids(status="open")) == {first, second}
    assert ids(status="closed") == [archived]
    assert set(ids(status="open,closed")) == {first, second, archived}
    assert ids(start_date="2026-11-23T11:00:00+08:00") == []
    assert ids(end_date="2026-11-23T09:00:00+08:00") == []
    assert len(ids(start_date="2026-11-23T09:00:00+08:00",
                   end_date="2026-11-23T10:00:00+08:00")) == 3
    assert ids(start_date="2026-01-01T00:00:00Z", end_date="2026-02-01T00:00:00Z") == []
    error(o311.get("requests.json", status="pending"), 400)
    error(o311.get("requests.xml", start_date="soon"), 400, "xml")


def test_listings_show_no_personal_data_and_hide_void_merged_and_confidential(
        app, api, o311, grid) -> None:
    public = report(o311, first_name="三", last_name="张", phone="13800138000",
                    email="zhang@example.com",
                    description="路口占道，有事打我电话13912345678")
    confidential = api.create(text="举报隔壁违建，请保密", address="宏力大道9号",
                              citizen={"name": "李四", "phone": "13700137000",
                                       "confidential": True})["number"]
    void = api.create(text="测试电话")["number"]
    assert api.act("operator1", void, "void", reason="测试").status_code == 200
    child = api.create(text="重复诉求")["number"]
    assert api.act("dispatcher1", child, "merge", parent=public).status_code == 200

    listing = o311.get("requests.json")
    body = listing.get_json()
    assert {x["service_request_id"] for x in body} == {public, confidential}
    assert all(set(x) == REQUEST_FIELDS for x in body)
    by_id = {x["service_request_id"]: x for x in body}
    assert by_id[public]["description"] == "路口占道，有事打我电话139****5678"
    assert by_id[confidential]["description"] == "（保密诉求，内容不公开）"
    assert by_id[confidential]["address"] is None
    error(o311.get(f"requests/{void}.json"), 404)
    error(o311.get(f"requests/{child}.json"), 404)
    assert o311.get("requests.json", service_request_id=f"{void},{child}").get_json() == []

    for fmt in ("json", "xml"):
        text = o311.get(f"requests.{fmt}").get_data(as_text=True)
        text += o311.get(f"requests/{public}.{fmt}").get_data(as_text=True)
        for secret in ("张三", "13800138000", "zhang@example.com", "13912345678", "李四",
                       "13700137000", "请保密", "宏力大道9号"):
            assert secret not in text, (fmt, secret)
