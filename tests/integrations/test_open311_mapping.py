"""Open311 without a database: the form turned into our intake command, categories into
services, tickets into public service requests, and JSON / XML / error rendering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from defusedxml import ElementTree as SafeET

from dispatch.core.commands import TicketCreate, parse
from integrations.open311 import PermanentError, formats, inbound, mapping
from integrations.open311.fake import parse_xml

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
LEAVES = {"urban.appearance.street_vending", "environment.noise.construction"}
CATEGORIES = [
    {"code": "urban", "name": "城市管理", "parent_code": None, "sort_order": 1, "active": True},
    {"code": "urban.appearance", "name": "市容市貌", "parent_code": "urban", "sort_order": 1,
     "active": True},
    {"code": "urban.appearance.street_vending", "name": "占道经营",
     "parent_code": "urban.appearance", "sort_order": 1, "active": True},
    {"code": "urban.appearance.graffiti", "name": "乱涂乱画", "parent_code": "urban.appearance",
     "sort_order": 2, "active": False},
    {"code": "other", "name": "其他", "parent_code": None, "sort_order": 9, "active": True},
    {"code": "gone", "name": "停用", "parent_code": None, "sort_order": 5, "active": False},
    {"code": "gone.child", "name": "孤儿", "parent_code": "gone", "sort_order": 1,
     "active": True},
]


def form(**fields: str | None) -> dict[str, str]:
    """A filled-in form; a field given as None is left out."""
    base: dict[str, str | None] = {
        "api_key": "k1", "service_code": "urban.appearance.street_vending",
        "description": "门口有人占道经营🚧", "lat": "35.2", "long": "114.67"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def refusal(fn, *args) -> tuple[int, str]:
    with pytest.raises(PermanentError) as caught:
        fn(*args)
    return caught.value.http_status, caught.value.description


# ---------------------------------------------------------------- inbound


def test_api_key_refusals_are_403_and_a_configured_key_passes() -> None:
    assert refusal(inbound.check_api_key, "k1", ())[0] == 403
    assert refusal(inbound.check_api_key, None, ("k1",)) == (403, "api_key: 必填，不能缺少")
    assert refusal(inbound.check_api_key, "k2", ("k1",)) == (403, "api_key: 无效的 API 密钥")
    inbound.check_api_key("k2", inbound.parse_keys(" k1 , k2,,"))


def test_parse_keys_reads_a_comma_list_or_a_collection() -> None:
    assert inbound.parse_keys(None) == ()
    assert inbound.parse_keys("") == ()
    assert inbound.parse_keys("a, b") == ("a", "b")
    assert inbound.parse_keys(("a", " ")) == ("a",)


def test_a_form_becomes_a_valid_intake_command() -> None:
    data = inbound.parse_request(
        form(first_name="三", last_name="张", phone="13800138000", email="z@example.com",
             address_string="蒲东街道宏力大道1号"), LEAVES)
    assert data == {
        "channel": "open311", "text": "门口有人占道经营🚧",
        "category": "urban.appearance.street_vending",
        "citizen": {"name": "张三", "phone": "13800138000", "anonymous": False},
        "address": "蒲东街道宏力大道1号", "lon": 114.67, "lat": 35.2, "crs": "WGS84",
    }
    assert parse(TicketCreate, data).channel == "open311"


def test_a_form_without_name_or_phone_is_anonymous_and_an_address_alone_is_enough() -> None:
    data = inbound.parse_request(form(lat=None, long=None, address_string="宏力大道"), LEAVES)
    assert data["citizen"]["anonymous"] is True
    assert (data["lon"], data["lat"], data["address"]) == (None, None, "宏力大道")


def test_names_follow_their_script() -> None:
    assert inbound.citizen_name("三", "张") == "张三"
    assert inbound.citizen_name("John", "Smith") == "John Smith"
    assert inbound.citizen_name(None, "张") == "张"
    assert inbound.citizen_name(None, None) is None


@pytest.mark.parametrize(("fields", "status", "says"), [
    ({"service_code": ""}, 400, "service_code: 必填"),
    ({"service_code": "urban"}, 404, "service_code: 没有编码为“urban”的服务"),  # a branch
    ({"service_code": "nope"}, 404, "service_code: 没有编码为“nope”的服务"),
    ({"description": "   "}, 400, "description: 必填"),
    ({"description": "长" * 4001}, 400, "description: 不能超过 4000 个字符"),
    ({"lat": "91"}, 400, "lat: 须在 -90 到 90 之间"),
    ({"long": "-180.5"}, 400, "long: 须在 -180 到 180 之间"),
    ({"lat": "nan"}, 400, "lat: 须在 -90 到 90 之间"),
    ({"lat": "north"}, 400, "lat: 须为数字"),
    ({"lat": None}, 400, "lat: lat 和 long 须同时提供"),
    ({"long": None}, 400, "long: lat 和 long 须同时提供"),
    ({"lat": None, "long": None}, 400, "address_string: 须提供位置"),
    ({"phone": "12"}, 400, "phone"),
    ({"first_name": "名" * 70}, 400, "first_name/last_name"),
])
def test_bad_forms_are_refused_with_open311_codes(fields, status, says) -> None:
    got_status, description = refusal(inbound.parse_request, form(**fields), LEAVES)
    assert got_status == status
    assert says in description


def test_media_url_must_be_http() -> None:
    assert inbound.media_url({"media_url": " https://img.example.com/a.jpg "}) == \
        "https://img.example.com/a.jpg"
    assert inbound.media_url({}) is None
    assert refusal(inbound.media_url, {"media_url": "javascript:alert(1)"})[0] == 400


def test_query_defaults_to_the_last_90_days_and_ids_override_the_rest() -> None:
    q = inbound.parse_query({}, NOW)
    assert (q.start, q.end, q.ids) == (NOW - timedelta(days=90), None, ())
    q = inbound.parse_query({"service_request_id": "a, b,a", "status": "bogus"}, NOW)
    assert q.ids == ("a", "b")
    q = inbound.parse_query({"status": "open,closed", "service_code": "x,y",
                             "start_date": "2026-11-01T00:00:00Z",
                             "end_date": "2026-11-30T00:00:00"}, NOW)
    assert q.states == {"open", "closed"} and q.service_codes == ("x", "y")
    assert q.start == datetime(2026, 11, 1, tzinfo=UTC)
    assert q.end == datetime(2026, 11, 30, tzinfo=mapping.LOCAL_TZ)


@pytest.mark.parametrize("args", [
    {"status": "pending"},
    {"start_date": "yesterday"},
    {"start_date": "2026-11-30T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"},
    {"service_request_id": ",".join(str(i) for i in range(inbound.MAX_IDS + 1))},
])
def test_bad_queries_are_400(args) -> None:
    assert refusal(inbound.parse_query, args, NOW)[0] == 400


# ---------------------------------------------------------------- mapping


def test_services_are_the_active_leaves_with_their_group_in_tree_order() -> None:
    out = mapping.services(CATEGORIES)
    assert [s["service_code"] for s in out] == ["urban.appearance.street_vending", "other"]
    assert out[0] == {
        "service_code": "urban.appearance.street_vending", "service_name": "占道经营",
        "description": "城市管理 > 市容市貌 > 占道经营", "metadata": False, "type": "realtime",
        "keywords": "城市管理,市容市貌,占道经营", "group": "城市管理",
    }
    assert mapping.service_definition("other") == {"service_code": "other", "attributes": []}


def ticket_facts(**over) -> dict:
    facts = {
        "number": "12345-20261123-000001", "status": "SIGNED",
        "category_code": "urban.appearance.street_vending", "service_name": "占道经营",
        "text": "占道经营，联系我13800138000 🚧", "confidential": False,
        "police_matter": False, "agency": "长垣市城市管理局",
        "expected": datetime(2026, 11, 26, 15, 59, 59, tzinfo=UTC),
        "created_at": NOW, "updated_at": NOW + timedelta(hours=1),
        "address": "宏力大道1号", "lon": 114.67, "lat": 35.2,
        "media_url": "https://img.example.com/a.jpg",
    }
    facts.update(over)
    return facts


def test_a_ticket_reads_as_an_open311_request_without_the_citizen() -> None:
    r = mapping.service_request(ticket_facts())
    assert r == {
        "service_request_id": "12345-20261123-000001", "status": "open",
        "status_notes": "已签收", "service_name": "占道经营",
        "service_code": "urban.appearance.street_vending",
        "description": "占道经营，联系我138****8000 🚧",
        "agency_responsible": "长垣市城市管理局", "service_notice": None,
        "requested_datetime": "2026-11-23T10:00:00+08:00",
        "updated_datetime": "2026-11-23T11:00:00+08:00",
        "expected_datetime": "2026-11-26T23:59:59+08:00",
        "address": "宏力大道1号", "address_id": None, "zipcode": None,
        "lat": 35.2, "long": 114.67, "media_url": "https://img.example.com/a.jpg",
    }


@pytest.mark.parametrize("status", ["ARCHIVED", "VOID", "MERGED"])
def test_closed_states_read_closed(status) -> None:
    assert mapping.service_request(ticket_facts(status=status))["status"] == "closed"


@pytest.mark.parametrize("private", [{"confidential": True}, {"police_matter": True}])
def test_confidential_and_police_matters_hide_text_and_place(private) -> None:
    r = mapping.service_request(ticket_facts(**private))
    assert r["description"] == mapping.HIDDEN_DESCRIPTION
    assert (r["address"], r["lat"], r["long"], r["media_url"]) == (None, None, None, None)


def test_the_media_note_round_trips() -> None:
    url = "https://img.example.com/照片.jpg"
    assert mapping.media_url_of(["其他备注", mapping.media_note(url)]) == url
    assert mapping.media_url_of(["其他备注"]) is None


def test_the_post_answer_and_token_carry_the_number_as_a_string() -> None:
    assert mapping.created("12345-1") == {
        "service_request_id": "12345-1", "account_id": None,
        "service_notice": mapping.SERVICE_NOTICE.format(number="12345-1")}
    assert mapping.token("12345-1") == {"service_request_id": "12345-1", "token": "12345-1"}


# ---------------------------------------------------------------- formats


def test_xml_is_well_formed_utf8_and_keeps_rare_characters_and_emoji() -> None:
    text = "𠀀𪚥 <b>&amp;</b> 🚧\x01"
    body, content_type = formats.render("xml", "service_requests",
                                        [{"description": text, "lat": 35.2, "flag": False,
                                          "media_url": None}])
    assert content_type == "text/xml; charset=utf-8"
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = SafeET.fromstring(body)
    request = root.find("request")
    assert root.tag == "service_requests" and request is not None
    assert request.findtext("description") == "𠀀𪚥 <b>&amp;</b> 🚧\ufffd"
    assert request.findtext("lat") == "35.2" and request.findtext("flag") == "false"
    assert request.find("media_url") is not None and request.findtext("media_url") == ""


def test_discovery_xml_nests_endpoints_and_formats() -> None:
    doc = mapping.discovery("http://h/open311/v2/", NOW, "12345")
    root, value = parse_xml(formats.render("xml", "discovery", doc)[0])
    assert root == "discovery"
    assert value["endpoints"][0]["formats"] == ["text/xml", "application/json"]
    assert value["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"


def test_json_keeps_chinese_and_emoji_as_they_are() -> None:
    body, content_type = formats.render("json", "services", [{"service_name": "占道经营🚧"}])
    assert content_type == "application/json; charset=utf-8"
    assert "占道经营🚧".encode() in body


def test_errors_in_both_formats_and_json_for_an_unknown_format() -> None:
    body, _ = formats.render_error("xml", 403, "api_key is not valid")
    assert parse_xml(body) == ("errors", [{"code": "403",
                                           "description": "api_key is not valid"}])
    body, content_type = formats.render_error("csv", 404, "unknown format")
    assert content_type.startswith("application/json")
    assert body == b'[{"code": 404, "description": "unknown format"}]'


@pytest.mark.parametrize(("name", "expected"), [
    ("urban.appearance.street_vending.json", ("urban.appearance.street_vending", "json")),
    ("x.XML", ("x", "xml")),
    ("x.csv", ("x", None)),
    ("x", ("x", None)),
    (".json", (".json", None)),
])
def test_split_format(name, expected) -> None:
    assert formats.split_format(name) == expected
