"""The call centre's inbound adapter: the 110 desk's signature checks with the centre's keys,
the event schema (required fields by event, ranges), the recording host rule, and the client's
error classes."""

from __future__ import annotations

import json
import time

import pytest

from dispatch.outbound.outbox import PermanentError, TransientError
from integrations.cti.client import CentreClient, centre_client_from_config
from integrations.cti.fake import FakeCallCentre
from integrations.cti.inbound import CtiError, load_keys, read_event, verify
from integrations.police110.signing import signed_headers

KEYS = {"cc-1": "secret"}
CENTRE = "http://cc.example:8080"
JSON = "application/json"


def body(**fields) -> bytes:
    event = {"event": "ringing", "call_id": "C-1", "at": "2026-11-23T10:00:00+08:00",
             "caller": "13800138000", "agent": "8001"}
    event.update(fields)
    return json.dumps({k: v for k, v in event.items() if v is not None}).encode()


def test_a_signed_event_verifies_and_a_stale_or_forged_one_does_not():
    raw, now = body(), time.time()
    assert verify(KEYS, signed_headers("cc-1", "secret", raw, timestamp=now), raw, now).key_id \
        == "cc-1"
    with pytest.raises(CtiError) as stale:
        verify(KEYS, signed_headers("cc-1", "secret", raw, timestamp=now - 400), raw, now)
    assert stale.value.http_status == 401 and stale.value.field == "X-Hotline-Timestamp"
    with pytest.raises(CtiError) as forged:
        verify(KEYS, signed_headers("cc-1", "wrong", raw, timestamp=now), raw, now)
    assert forged.value.field == "X-Hotline-Signature"
    with pytest.raises(CtiError) as unsigned:
        verify(KEYS, {}, raw, now)
    assert unsigned.value.field == "X-Hotline-Key"


def test_keys_come_from_json_and_nothing_usable_is_none():
    assert load_keys('{"a": "b"}') == {"a": "b"}
    assert load_keys("") is None and load_keys("not json") is None


def test_events_parse_with_their_required_fields():
    e = read_event(body(wait_s=3.5), JSON, CENTRE)
    assert (e.event, e.call_id, e.agent, e.wait_s) == ("ringing", "C-1", "8001", 3.5)
    cases = [(body(event="recording"), 400, "recording_url"),
             (body(event="transferred"), 400, "transfer_to"),
             (body(event="dialled"), 422, "event"),
             (body(wait_s=-1), 422, "wait_s"),
             (body(at="2026-11-23T10:00:00"), 422, "at"),
             (body(call_id="a b"), 422, "call_id")]
    for raw, status, field in cases:
        with pytest.raises(CtiError) as refused:
            read_event(raw, JSON, CENTRE)
        assert (refused.value.http_status, refused.value.field) == (status, field), raw
    with pytest.raises(CtiError) as wrong_type:
        read_event(body(), "text/plain", CENTRE)
    assert wrong_type.value.http_status == 415


@pytest.mark.parametrize("url", ["http://169.254.169.254/meta", "http://cc.example:9090/r.wav",
                                 "https://cc.example:8080/r.wav", "file:///etc/passwd",
                                 "http://cc.example:8080@evil.example/r.wav"])
def test_a_recording_off_the_centres_host_is_refused(url):
    with pytest.raises(CtiError) as refused:
        read_event(body(event="recording", recording_url=url), JSON, CENTRE)
    assert refused.value.http_status == 422 and refused.value.field == "recording_url"
    ok = read_event(body(event="recording", recording_url=CENTRE + "/r/C-1.wav"), JSON, CENTRE)
    assert ok.recording_url == CENTRE + "/r/C-1.wav"
    with pytest.raises(CtiError):  # no centre configured: no recording is taken
        read_event(body(event="recording", recording_url=CENTRE + "/r.wav"), JSON, None)


def test_the_client_transfers_and_classifies_failures():
    with FakeCallCentre(KEYS) as centre:
        client = centre_client_from_config({"CTI_URL": centre.url, "CTI_KEYS": KEYS})
        assert client is not None
        receipt = client.transfer({"call_id": "C-1", "to": "110", "mode": "blind"})
        assert receipt["http_status"] == 202 and centre.transfers[0]["to"] == "110"
        with pytest.raises(PermanentError):  # another host: refused before connecting
            client.recording("http://127.0.0.2:1/x.wav")
        audio = client.recording(centre.recording_url("C-1"))
        assert b"".join(audio.chunks)[:4] == b"RIFF"
        centre.down("503")
        with pytest.raises(TransientError):
            client.transfer({"call_id": "C-1", "to": "110"})
        centre.down()
        with pytest.raises(TransientError):
            client.transfer({"call_id": "C-1", "to": "110"})
    with pytest.raises(PermanentError):
        CentreClient("http://127.0.0.1:9").recording("http://evil.example/x")
