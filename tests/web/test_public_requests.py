"""The citizens' public API (CONTRACT.md "The citizens' web page"): a demand from the web page
(JSON or multipart with photos) gets a number and a pick-up code stored hashed; the same 404 for
a wrong code and an unknown number; the public view hides staff and internal notes; a rating
once the result is reviewed (once; dissatisfied reopens); emergencies answered "call 110" with
the console's alarm; throttling per address and phone; hostile input refused in Chinese with
nothing written."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select, text
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from tests.web.conftest import counts, error_of

REPORT = "/api/v1/public/requests"
PLACE = {"lon": 114.6702, "lat": 35.2012}
DEMAND = "小区门口路灯坏了好几天，晚上很黑"
NUMBER = re.compile(r"^12345-\d{8}-\d{6}$")


def jpeg(size: tuple[int, int] = (64, 48), exif: bool = True) -> bytes:
    img = Image.new("RGB", size, (200, 30, 30))
    out = io.BytesIO()
    if exif:
        data = Image.Exif()
        data[0x010F] = "SecretCam"  # Make
        data[0x8825] = {2: (35.0, 12.0, 4.0)}  # GPS info
        img.save(out, "JPEG", exif=data)
    else:
        img.save(out, "JPEG")
    return out.getvalue()


def written(app) -> dict[str, int]:
    """Rows of every table a report could write, the citizens' tables and stored files."""
    from web.extensions import db

    found = counts(app)
    with app.app_context(), db.engine.connect() as conn:
        for table in ("attachments", "web_pickup_codes", "outbox"):
            found[table] = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    uploads = Path(app.instance_path) / "uploads"
    found["files"] = sum(1 for p in uploads.rglob("*") if p.is_file()) if uploads.exists() else 0
    return found


def report(client, **fields):
    r = client.post(REPORT, json={"text": DEMAND, **PLACE, "phone": "13800138000", **fields})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def view(client, number: str, code: str):
    return client.get(f"{REPORT}/{number}", query_string={"code": code})


def reviewed(api, number: str, *, photo: bytes | None = None, publish: bool = False) -> None:
    """Dispatched to 城管, signed, completed (with a photo), accepted at review."""
    r = api.act("dispatcher1", number, "dispatch", lead="urban_management", category="urban")
    assert r.status_code == 200, r.get_json()
    assert api.act("handler1", number, "sign").status_code == 200
    ids = []
    if photo is not None:
        up = api.client.post(f"/api/v1/tickets/{number}/attachments",
                             headers=api.headers("handler1"),
                             data={"file": (io.BytesIO(photo), "done.jpg")},
                             content_type="multipart/form-data")
        assert up.status_code == 201, up.get_json()
        ids.append(up.get_json()["id"])
    r = api.act("handler1", number, "complete", result="路灯已更换，恢复照明",
                attachments=ids, publish=publish)
    assert r.status_code == 200, r.get_json()
    r = api.act("dispatcher1", number, "review_accept")
    assert r.status_code == 200, r.get_json()


# ---------------------------------------------------------------- reporting


def test_a_json_demand_gets_its_number_and_a_code_that_is_stored_only_hashed(app, client, api):
    answer = report(client)
    assert NUMBER.match(answer["number"]) and re.fullmatch(r"[A-HJ-NP-Z2-9]{6}", answer["code"])
    assert answer["state"] == "已受理" and answer["emergency"] is False
    assert answer["advice"] is None and answer["phone_verified"] is False
    assert "提取码只在本页显示" in answer["notice"]
    from web.extensions import db

    with app.app_context():
        stored = db.session.execute(text("SELECT code_hash FROM web_pickup_codes")).scalar_one()
    assert answer["code"] not in stored and stored.startswith("pbkdf2_sha256$")
    # Operators see it on the console and the ticket list like any channel's demand.
    ticket = api.get("dispatcher1", f"/api/v1/tickets/{answer['number']}").get_json()
    assert ticket["channel"] == "web" and ticket["status"] == "NEW"
    listed = api.get("dispatcher1", "/api/v1/tickets", query_string={"channel": "web"})
    assert answer["number"] in [t["number"] for t in listed.get_json()["items"]]
    from dispatch.console.feed import ConsoleEvent

    with app.app_context():
        types = db.session.scalars(select(ConsoleEvent.type).order_by(ConsoleEvent.id)).all()
    assert "created" in types


def test_a_multipart_demand_keeps_its_photos_without_exif_and_the_citizen_sees_them(
        app, client, api):
    r = client.post(REPORT, data={
        "text": DEMAND, "lon": str(PLACE["lon"]), "lat": str(PLACE["lat"]), "anonymous": "true",
        "photos": [(io.BytesIO(jpeg()), "a.jpg"), (io.BytesIO(jpeg((30, 30))), "b.jpg")],
    }, content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    answer = r.get_json()
    assert answer["photos"] == 2
    seen = view(client, answer["number"], answer["code"].lower()).get_json()  # case-insensitive
    assert len(seen["own_photos"]) == 2
    photo = client.get(seen["own_photos"][0])
    data = photo.data
    photo.close()
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(data)) as img:
        assert not img.getexif() and "exif" not in img.info
    # Staff see the photos on the ticket's history (a note by the web channel).
    ticket = api.get("dispatcher1", f"/api/v1/tickets/{answer['number']}").get_json()
    notes = [e for e in ticket["events"] if e["action"] == "note"]
    assert notes and len(notes[0]["payload"]["attachments"]) == 2
    assert ticket["citizen"]["anonymous"] is True
    # Another ticket's code does not open these photos.
    other = report(client)
    assert client.get(seen["own_photos"][0].replace(answer["code"], other["code"])
                      ).status_code == 404


def test_an_emergency_is_answered_call_110_with_the_number_and_alarms_the_console(app, client):
    from dispatch.triage.rules import load_classifier_rules
    from web.extensions import db

    with app.app_context():
        load_classifier_rules(db.session)
        db.session.commit()
    answer = report(client, text="楼下有人拿刀砍人，地上很多血")
    assert answer["emergency"] is True
    assert "请立即拨打110" in answer["advice"] and answer["number"] in answer["advice"]
    assert "120" in answer["advice"]
    from dispatch.console.feed import ConsoleEvent
    from dispatch.core.models import Ticket

    with app.app_context():
        tid = db.session.scalar(select(Ticket.id).where(Ticket.number == answer["number"]))
        types = db.session.scalars(select(ConsoleEvent.type)
                                   .where(ConsoleEvent.ticket_id == tid)
                                   .order_by(ConsoleEvent.id)).all()
    assert types == ["created", "alarm"]


# ---------------------------------------------------------------- following it


def test_a_wrong_code_and_an_unknown_number_get_the_same_404(client, api):
    answer = report(client)
    wrong = view(client, answer["number"], "AAAAAA" if answer["code"] != "AAAAAA" else "BBBBBB")
    unknown = view(client, "12345-20991231-999999", answer["code"])
    empty = view(client, answer["number"], "")
    phone_ticket = api.create()  # a ticket of another channel has no code at all
    other = view(client, phone_ticket["number"], answer["code"])
    bodies = [error_of(r, 404, "not_found", "code") for r in (wrong, unknown, empty, other)]
    assert all(b == bodies[0] for b in bodies)
    assert view(client, answer["number"], answer["code"]).status_code == 200


def test_the_public_view_shows_states_and_the_reply_but_no_staff_names_or_internal_notes(
        client, api):
    answer = report(client, name="李四")
    n, code = answer["number"], answer["code"]
    assert api.act("operator1", n, "note", text="内部备注：此人多次来电").status_code == 200
    r = api.act("dispatcher1", n, "dispatch", lead="urban_management", category="urban")
    assert r.status_code == 200, r.get_json()
    seen = view(client, n, code).get_json()
    assert seen["state"] == "已派单" and seen["department"]
    assert [s["label"] for s in seen["steps"]] == ["诉求已受理", "已派单至承办单位"]
    assert api.act("handler1", n, "sign").status_code == 200
    assert view(client, n, code).get_json()["state"] == "办理中"
    raw = view(client, n, code).get_data(as_text=True)
    staff = api.get("handler1", "/api/v1/auth/me").get_json()
    for secret in ("内部备注", "13800138000", "李四", staff["display_name"], "handler1",
                   "dispatcher1"):
        assert secret not in raw


def test_rating_once_after_review_archives_and_a_second_rating_is_refused(app, client, api):
    answer = report(client)
    n, code = answer["number"], answer["code"]
    early = client.post(f"{REPORT}/{n}/rating", query_string={"code": code},
                        json={"satisfaction": "satisfied", "resolved": True})
    error_of(early, 409, "conflict")
    reviewed(api, n, photo=jpeg(), publish=True)
    seen = view(client, n, code).get_json()
    assert seen["state"] == "待评价" and seen["can_rate"] is True
    assert seen["reply"] == "路灯已更换，恢复照明" and len(seen["reply_photos"]) == 1
    photo = client.get(seen["reply_photos"][0])
    photo.close()
    assert photo.status_code == 200
    r = client.post(f"{REPORT}/{n}/rating", query_string={"code": code},
                    json={"satisfaction": "satisfied", "resolved": True})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["state"] == "已办结" and r.get_json()["rating"] == "满意"
    ticket = api.get("dispatcher1", f"/api/v1/tickets/{n}").get_json()
    assert ticket["status"] == "ARCHIVED"
    assert [e["payload"]["via"] for e in ticket["events"] if e["action"] == "callback"] == ["web"]
    before = written(app)
    again = client.post(f"{REPORT}/{n}/rating", query_string={"code": code},
                        json={"satisfaction": "dissatisfied", "resolved": False})
    assert "只能评价一次" in error_of(again, 409, "conflict")["message"]
    assert written(app) == before


def test_an_unpublished_result_photo_stays_internal(client, api):
    answer = report(client)
    reviewed(api, answer["number"], photo=jpeg(), publish=False)
    seen = view(client, answer["number"], answer["code"]).get_json()
    assert seen["reply"] and seen["reply_photos"] == []


def test_a_dissatisfied_rating_reopens_the_ticket_like_any_callback(client, api):
    answer = report(client)
    n, code = answer["number"], answer["code"]
    reviewed(api, n)
    r = client.post(f"{REPORT}/{n}/rating", query_string={"code": code},
                    json={"satisfaction": "dissatisfied", "resolved": False})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["state"] == "重新办理中"
    ticket = api.get("dispatcher1", f"/api/v1/tickets/{n}").get_json()
    assert ticket["status"] == "REOPENED"


def test_a_rating_with_a_wrong_code_or_bad_values_is_refused_and_writes_nothing(app, client, api):
    answer = report(client)
    n, code = answer["number"], answer["code"]
    reviewed(api, n)
    before = written(app)
    wrong = client.post(f"{REPORT}/{n}/rating", query_string={"code": "ZZZZZZ"},
                        json={"satisfaction": "satisfied", "resolved": True})
    error_of(wrong, 404, "not_found")
    bad = client.post(f"{REPORT}/{n}/rating", query_string={"code": code},
                      json={"satisfaction": "great", "resolved": True})
    error_of(bad, 400, "invalid", "satisfaction")
    assert written(app) == before


# ---------------------------------------------------------------- throttling


def test_too_many_reports_from_one_address_get_a_chinese_429_with_retry_after(app, client):
    app.config["PUBLIC_REPORTS_PER_ADDRESS"] = (3, 60)
    for _ in range(3):
        report(client, phone=None, anonymous=True)
    before = written(app)
    refused = []
    for _ in range(5):  # a burst: every one refused, none stored
        r = client.post(REPORT, json={"text": DEMAND, **PLACE, "anonymous": True})
        refused.append(r.status_code)
        assert "过于频繁" in error_of(r, 429, "too_many_requests")["message"]
        assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert refused == [429] * 5 and written(app) == before
    # Another address is not held back.
    r = client.post(REPORT, json={"text": DEMAND, **PLACE, "anonymous": True},
                    environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert r.status_code == 201


def test_too_many_reports_for_one_phone_are_throttled_from_any_address(app, client):
    app.config["PUBLIC_REPORTS_PER_PHONE"] = (2, 3600)
    for i in range(2):
        r = client.post(REPORT, json={"text": DEMAND, **PLACE, "phone": "138 0013 8000"},
                        environ_base={"REMOTE_ADDR": f"10.0.0.{i + 1}"})
        assert r.status_code == 201, r.get_json()
    before = written(app)
    r = client.post(REPORT, json={"text": DEMAND, **PLACE, "phone": "13800138000"},
                    environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert "手机号" in error_of(r, 429, "too_many_requests")["message"]
    assert r.headers["Retry-After"] and written(app) == before


def test_guessing_codes_is_throttled_per_address(app, client):
    app.config["PUBLIC_LOOKUP_FAILURES_PER_ADDRESS"] = (3, 600)
    answer = report(client)
    for guess in ("AAAAAA", "BBBBBB", "CCCCCC"):
        error_of(view(client, answer["number"], guess), 404, "not_found")
    # Even the right code is refused now from this address.
    r = view(client, answer["number"], answer["code"])
    error_of(r, 429, "too_many_requests")
    assert int(r.headers["Retry-After"]) > 0
    ok = client.get(f"{REPORT}/{answer['number']}", query_string={"code": answer["code"]},
                    environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert ok.status_code == 200


# ---------------------------------------------------------------- hostile input


def test_a_script_in_the_text_is_stored_inert_and_never_rendered_as_markup(app, client, api):
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    answer = report(client, text="路灯坏了" + hostile)
    seen = view(client, answer["number"], answer["code"])
    assert seen.mimetype == "application/json"
    assert seen.get_json()["text"] == "路灯坏了" + hostile  # kept as text, as written
    page = client.get("/track", query_string={"number": hostile})
    assert page.status_code == 200 and "<script>alert" not in page.get_data(as_text=True)
    assert "&lt;script&gt;" in page.get_data(as_text=True)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


@pytest.mark.parametrize("name, photos, field, words", [
    ("a 20 MB photo", [(b"\xff\xd8\xff\xe0" + b"\0" * (20 << 20), "big.jpg")], "photos", "MB"),
    ("a PDF renamed .jpg", [(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "scan.jpg")],
     "photos", "不能接受"),
    ("four photos", [(jpeg(), f"{i}.jpg") for i in range(4)], "photos", "最多上传 3 张"),
])
def test_a_bad_photo_is_refused_in_chinese_and_nothing_is_stored(app, client, name, photos,
                                                                  field, words):
    before = written(app)
    # Encoded in memory: the test client would spool a large body to a file it never closes.
    boundary, body = encode_multipart(MultiDict([
        ("text", DEMAND), ("lon", str(PLACE["lon"])), ("lat", str(PLACE["lat"])),
        ("anonymous", "1"),
        *[("photos", FileStorage(io.BytesIO(data), filename)) for data, filename in photos]]))
    r = client.post(REPORT, data=body,
                    content_type=f"multipart/form-data; boundary={boundary}")
    assert words in error_of(r, 400, "invalid", field)["message"], name
    assert written(app) == before


@pytest.mark.parametrize("body, field", [
    ({"text": "  ", **PLACE, "anonymous": True}, "text"),
    ({"text": DEMAND, "anonymous": True}, "address"),
    ({"text": DEMAND, **PLACE, "phone": "12"}, "phone"),
    ({"text": DEMAND, **PLACE, "anonymous": True, "category": "urban"}, "category"),
    ({"text": DEMAND, "lon": 114.6, "anonymous": True}, "lat"),
    ({"text": "x" * 5000, **PLACE, "anonymous": True}, "text"),
])
def test_a_bad_demand_is_refused_naming_the_field_and_writes_nothing(app, client, body, field):
    before = written(app)
    r = client.post(REPORT, json=body)
    error_of(r, 400, "invalid", field)
    assert written(app) == before


# ---------------------------------------------------------------- the map


def test_the_public_map_has_street_and_community_outlines_and_nothing_personal(app, client):
    from tests.conftest import make_test_grid
    from web.extensions import db

    with app.app_context():
        make_test_grid(db.session)
        db.session.commit()
    r = client.get("/api/v1/public/map.geojson")
    assert r.status_code == 200 and r.mimetype == "application/geo+json"
    assert r.headers["Cache-Control"].startswith("public")
    features = r.get_json()["features"]
    assert {f["properties"]["level"] for f in features} == {"street", "community"}
    assert {"蒲东街道", "恼里镇"} <= {f["properties"]["name"] for f in features}
    assert all(set(f["properties"]) == {"name", "level"} for f in features)
    found = client.get("/api/v1/public/locate", query_string={"lon": 114.665, "lat": 35.1925})
    assert found.status_code == 200 and found.get_json()["street"] == "蒲东街道"
    assert set(found.get_json()) == {"found", "lon", "lat", "address", "street", "community",
                                     "outside"}
    error_of(client.get("/api/v1/public/locate"), 400, "invalid", "address")


def test_with_redis_the_report_throttle_is_shared_by_every_web_process(app, client):
    import os

    from tests.conftest import require_service
    from web.api.public import PublicThrottle, PublicThrottled

    url = os.environ.get("HOTLINE_TEST_REDIS_URL")
    if not url:
        require_service("Redis (HOTLINE_TEST_REDIS_URL)")
    import redis

    redis.Redis.from_url(url).flushdb()
    app.config.update(REDIS_URL=url, PUBLIC_REPORTS_PER_ADDRESS=(2, 60))
    for _ in range(2):
        report(client, phone=None, anonymous=True)
    error_of(client.post(REPORT, json={"text": DEMAND, **PLACE, "anonymous": True}), 429,
             "too_many_requests")
    # Another process (a throttle of its own on the same Redis) counts the same address.
    with app.test_request_context():
        with pytest.raises(PublicThrottled):
            PublicThrottle(url).hit("PUBLIC_REPORTS_PER_ADDRESS", "127.0.0.1", "提交诉求")


# ---------------------------------------------------------------- SMS verification


def test_without_an_sms_gateway_no_code_is_sent_and_the_phone_stays_unverified(app, client):
    r = client.post("/api/v1/public/phone-codes", json={"phone": "13800138000"})
    assert "暂未开通短信验证" in error_of(r, 409, "conflict")["message"]
    answer = report(client)
    assert answer["phone_verified"] is False and answer["code_by_sms"] is False
    assert "提取码只在本页显示" in answer["notice"] and "未经短信验证" in answer["notice"]


def test_with_an_sms_gateway_the_phone_is_proved_by_a_code_and_gets_the_pickup_code(
        app, client):
    from integrations.sms.fake import RecordingSms

    sms = RecordingSms()
    app.config["SMS_GATEWAY_URL"] = "http://sms.example.test/send"
    app.extensions["hotline"].sms = sms
    r = client.post("/api/v1/public/phone-codes", json={"phone": "139 1234 5678"})
    assert r.status_code == 201, r.get_json()
    token = r.get_json()["token"]
    [challenge] = sms.texts_to("13912345678")
    sent_code = re.search(r"验证码是(\d{6})", challenge).group(1)
    assert sent_code not in token
    body = {"text": DEMAND, **PLACE, "phone": "13912345678"}
    before = written(app)
    for extra, words in (({}, "请先获取"), ({"sms_code": "000000" if sent_code != "000000"
                                            else "111111", "sms_token": token}, "不正确"),
                         ({"sms_code": sent_code, "sms_token": token + "0"}, "不正确")):
        r = client.post(REPORT, json={**body, **extra})
        assert words in error_of(r, 400, "invalid", "sms_code")["message"]
    assert written(app) == before
    r = client.post(REPORT, json={**body, "sms_code": sent_code, "sms_token": token})
    assert r.status_code == 201, r.get_json()
    answer = r.get_json()
    assert answer["phone_verified"] is True and answer["code_by_sms"] is True
    receipt = sms.texts_to("13912345678")[-1]
    assert answer["number"] in receipt and answer["code"] in receipt
    from web.extensions import db

    with app.app_context():
        assert db.session.execute(text("SELECT phone_verified FROM web_pickup_codes")
                                  ).scalar_one() in (True, 1)
    # A code for another phone proves nothing.
    r = client.post(REPORT, json={**body, "phone": "13812345678", "sms_code": sent_code,
                                  "sms_token": token})
    error_of(r, 400, "invalid", "sms_code")


def test_the_report_page_asks_for_an_sms_code_only_where_a_gateway_is_configured(app, client):
    page = client.get("/report").get_data(as_text=True)
    assert "获取验证码" not in page and "提取码只在本页显示" in page
    assert '<main id="main"' in page and "<header" in page and "<footer" in page
    assert 'capture="environment"' in page and 'accept="image/*"' in page
    assert "pages.logout" not in page and "退出" not in page  # not the staff frame
    app.config["SMS_GATEWAY_URL"] = "http://sms.example.test/send"
    page = client.get("/report").get_data(as_text=True)
    assert "获取验证码" in page and 'for="sms-code"' in page


def test_a_json_demand_keeps_the_small_body_limit(app, client):
    before = written(app)
    r = client.post(REPORT, json={"text": DEMAND, **PLACE, "anonymous": True,
                                  "address": "x" * (100 * 1024)})
    error_of(r, 413, "too_large")
    assert written(app) == before
