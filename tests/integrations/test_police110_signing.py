"""The 110 desk adapter without a database: the HMAC signature of CONTRACT.md, the header
checks, the JSON schemas with their 400/415/422 answers, and the mapping to our commands."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from integrations.police110.fake import transfer_body
from integrations.police110.inbound import (
    PoliceError,
    load_keys,
    read_ack,
    read_transfer,
    verify,
)
from integrations.police110.mapping import ack_action, already_applied, intake_data
from integrations.police110.signing import signature, signature_ok, signed_headers

KEYS = {"desk-1": "s3cret-一号", "desk-2": "other"}
NOW = 1_795_399_200
JSON = "application/json"


def test_signature_is_hex_hmac_sha256_of_timestamp_nonce_and_raw_body():
    body = '{"summary":"挪车🚗"}'.encode()
    expected = hmac.new("s3cret-一号".encode(), b"1795399200\nabcdef0123\n" + body,
                        hashlib.sha256).hexdigest()
    assert signature("s3cret-一号", "1795399200", "abcdef0123", body) == expected
    assert signature_ok("s3cret-一号", "1795399200", "abcdef0123", body, expected.upper())
    assert not signature_ok("s3cret-一号", "1795399200", "abcdef0123", body + b" ", expected)
    assert not signature_ok("s3cret-一号", "1795399200", "abcdef0123", body, "签名")


def test_signed_headers_verify_and_name_the_signer():
    body = b"{}"
    headers = signed_headers("desk-1", KEYS["desk-1"], body, timestamp=NOW, nonce="n0nce-0001")
    signed = verify(KEYS, headers, body, NOW + 299)
    assert (signed.key_id, signed.nonce, signed.timestamp) == ("desk-1", "n0nce-0001", NOW)


@pytest.mark.parametrize("change, field", [
    (lambda h: h.pop("X-Hotline-Signature"), "X-Hotline-Signature"),
    (lambda h: h.pop("X-Hotline-Key"), "X-Hotline-Key"),
    (lambda h: h.pop("X-Hotline-Nonce"), "X-Hotline-Nonce"),
    (lambda h: h.pop("X-Hotline-Timestamp"), "X-Hotline-Timestamp"),
    (lambda h: h.update({"X-Hotline-Key": "desk-9"}), "X-Hotline-Key"),
    (lambda h: h.update({"X-Hotline-Key": "desk-2"}), "X-Hotline-Signature"),
    (lambda h: h.update({"X-Hotline-Signature": "0" * 64}), "X-Hotline-Signature"),
    (lambda h: h.update({"X-Hotline-Timestamp": "17953992OO"}), "X-Hotline-Timestamp"),
    (lambda h: h.update({"X-Hotline-Nonce": "短"}), "X-Hotline-Nonce"),
])
def test_bad_headers_are_401_naming_the_header(change, field):
    body = b'{"a": 1}'
    headers = signed_headers("desk-1", KEYS["desk-1"], body, timestamp=NOW, nonce="n0nce-0001")
    change(headers)
    with pytest.raises(PoliceError) as caught:
        verify(KEYS, headers, body, NOW)
    assert (caught.value.http_status, caught.value.field) == (401, field)


@pytest.mark.parametrize("skew", [301, -301, 86_400])
def test_timestamps_more_than_300_seconds_off_are_refused(skew):
    headers = signed_headers("desk-1", KEYS["desk-1"], b"", timestamp=NOW + skew)
    with pytest.raises(PoliceError) as caught:
        verify(KEYS, headers, b"", NOW)
    assert caught.value.http_status == 401


def test_keys_load_from_json_text_or_mapping_and_nothing_usable_is_none():
    assert load_keys('{"a": "x"}') == {"a": "x"}
    assert load_keys({"a": "x"}) == {"a": "x"}
    assert load_keys("not json") is None
    assert load_keys("{}") is None
    assert load_keys('["a"]') is None


def _raw(body: dict) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def test_the_contract_example_parses_with_emoji_and_rare_characters_intact():
    body = transfer_body("J410728202611230017", summary="车堵门口🚗，车主姓𠀀", remarks=[])
    t = read_transfer(_raw(body), JSON + "; charset=utf-8")
    assert t.incident_no == "J410728202611230017"
    assert t.summary == "车堵门口🚗，车主姓𠀀"
    assert (t.location.lon, t.location.lat, t.location.crs) == (114.669, 35.201, "WGS84")
    assert t.received_at.utcoffset().total_seconds() == 8 * 3600


def _refusal(body: bytes, content_type: str = JSON) -> tuple[int, str | None]:
    with pytest.raises(PoliceError) as caught:
        read_transfer(body, content_type)
    return caught.value.http_status, caught.value.field


@pytest.mark.parametrize("body, expected", [
    (b"{not json", (400, None)),
    (b"[]", (400, None)),
    (_raw({k: v for k, v in transfer_body("J1").items() if k != "summary"}), (400, "summary")),
    (_raw({k: v for k, v in transfer_body("J1").items() if k != "incident_no"}),
     (400, "incident_no")),
    (_raw(transfer_body("J1", summary=12)), (400, "summary")),
    (_raw(transfer_body("J1", location={"lon": 114.6})), (400, "location.lat")),
    (_raw(transfer_body("J1", location={"crs": "WGS84"})), (400, "location.address")),
    (_raw(transfer_body("J1", location={"lon": 214.6, "lat": 35.2})), (422, "location.lon")),
    (_raw(transfer_body("J1", urgency="very")), (422, "urgency")),
    (_raw(transfer_body("J1", summary="")), (422, "summary")),
    (_raw(transfer_body("J1", summary="x" * 4001)), (422, "summary")),
    (_raw(transfer_body("J1/../x")), (422, "incident_no")),
    (_raw(transfer_body("J1", received_at="2026-11-23T10:15:00")), (422, "received_at")),
    (_raw(transfer_body("J1", summary="a\x00b")), (422, "summary")),
    (b'{"summary": "\\ud800"}', (400, None)),
    ("{\"summary\": \"挪车\"}".encode("gb18030"), (400, None)),
])
def test_body_errors_are_400_for_shape_and_422_for_values(body, expected):
    assert _refusal(body) == expected


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "",
                                          "application/json; charset=gbk"])
def test_anything_but_json_is_415(content_type):
    assert _refusal(_raw(transfer_body("J1")), content_type)[0] == 415


def test_acks_need_a_cause_when_rejected_and_a_result_when_completed():
    base = {"ticket_no": "12345-20261123-000001", "incident_no": "J1",
            "at": "2026-11-23T10:20:00+08:00"}
    with pytest.raises(PoliceError) as caught:
        read_ack(_raw({**base, "status": "rejected"}), JSON)
    assert (caught.value.http_status, caught.value.field) == (400, "cause")
    with pytest.raises(PoliceError) as caught:
        read_ack(_raw({**base, "status": "completed", "result": ""}), JSON)
    assert (caught.value.http_status, caught.value.field) == (400, "result")
    with pytest.raises(PoliceError) as caught:
        read_ack(_raw({**base, "status": "lost"}), JSON)
    assert (caught.value.http_status, caught.value.field) == (422, "status")
    ack = read_ack(_raw({**base, "status": "rejected", "cause": "非警情😀"}), JSON)
    assert ack_action(ack) == ("police_reject", {"reason": "非警情😀"})
    assert already_applied(ack, "rejected", "非警情😀")
    assert not already_applied(ack, "pending", None)


def test_a_transfer_maps_to_a_police110_intake_with_hint_and_remarks_in_the_text():
    t = read_transfer(_raw(transfer_body("J1", caller={"name": "李四", "phone": "12"})), JSON)
    data = intake_data(t)
    assert data["channel"] == "police110"
    assert data["citizen"] == {"name": "李四", "phone": None, "anonymous": False}
    assert data["text"].splitlines() == ["小区门口车辆堵住出口，联系不上车主", "【110分类】挪车",
                                         "【110备注 11-23 10:16】报警人情绪平稳",
                                         "【110报警电话】12"]
    assert (data["lon"], data["lat"], data["crs"]) == (114.669, 35.201, "WGS84")
