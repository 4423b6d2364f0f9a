"""Errors a person can read are zh-CN (CONTRACT.md, "Errors, retries and limits"): a sample of
refusals from each API area and each hook answers Chinese text naming the field, while `code`
and `field` stay English and the JSON shape stays; the pages (`/login`, `/console`, …) get a
small Chinese HTML error page for 404/405/500/503, the API keeps JSON; the WeChat hook's own
503 carries Retry-After like every other 503."""

from __future__ import annotations

import json
import re

import pytest

from integrations.police110.fake import FakePoliceDesk, transfer_body
from tests.web.conftest import TICKETS, error_of

CJK = re.compile(r"[\u3400-\u9fff]")


def chinese(message: str, *names: str) -> str:
    """Assert the message is Chinese and names each given field; return it."""
    assert CJK.search(message), message
    for name in names:
        assert name in message, (name, message)
    return message


# ---------------------------------------------------------------- the API, one sample per area


@pytest.mark.parametrize(("user", "method", "url", "body", "status", "code", "field"), [
    ("operator1", "post", TICKETS, {"channel": "phone"}, 400, "invalid", "text"),
    ("operator1", "post", TICKETS, {"channel": "fax", "text": "路灯不亮"}, 400, "invalid",
     "channel"),
    ("operator1", "post", TICKETS, {"channel": "phone", "text": "长" * 4001}, 400, "invalid",
     "text"),
    ("operator1", "post", TICKETS, {"channel": "phone", "text": "路灯不亮", "lon": 114.6},
     400, "invalid", "lat"),
    ("operator1", "post", TICKETS, {"channel": "phone", "text": "路灯不亮",
                                    "citizen": {"phone": "12"}}, 400, "invalid",
     "citizen.phone"),
    ("operator1", "post", "/api/v1/classify", {}, 400, "invalid", "text"),
    ("operator1", "get", "/api/v1/grid/locate?lon=114.6", None, 400, "invalid", "lat"),
    ("admin1", "post", "/api/v1/kb/articles", {"title": "办证", "body": "材料", "category": "nope"},
     400, "invalid", "category"),
    ("admin1", "post", "/api/v1/admin/classifier-rules",
     {"field": "urgency", "value": "soon", "phrase": "着火", "weight": 3}, 400, "invalid",
     "value"),
    ("leader1", "get", "/api/v1/stats/summary?from=2026-11-20&to=2026-11-01", None, 400,
     "invalid", "to"),
    ("leader1", "get", "/api/v1/stats/breakdown?from=2026-11-01&to=2026-11-20&by=colour",
     None, 400, "invalid", "by"),
    ("operator1", "get", "/api/v1/kb/search?q=" + "长" * 300, None, 400, "invalid", "q"),
    ("operator1", "get", "/api/v1/tickets?per_page=100000", None, 400, "invalid", "per_page"),
])
def test_api_refusals_are_chinese_and_name_the_field(api, user, method, url, body, status, code,
                                                      field):
    call = getattr(api.client, method)
    kwargs = {"json": body} if body is not None else {}
    r = call(url, headers=api.headers(user), **kwargs)
    error = error_of(r, status, code, field)
    chinese(error["message"], field)


def test_ticket_actions_refuse_in_chinese(api):
    t = api.create()
    r = api.act("dispatcher1", t["number"], "fly", version=t["version"])
    chinese(error_of(r, 404, "not_found", "action")["message"], "fly")
    r = api.act("dispatcher1", t["number"], "dispatch", version=t["version"] + 7)
    chinese(error_of(r, 409, "stale_version", "version")["message"])
    r = api.act("operator1", t["number"], "sign", version=t["version"])
    chinese(error_of(r, 403, "forbidden")["message"])
    r = api.act("dispatcher1", t["number"], "merge", version=t["version"], parent="nope")
    chinese(error_of(r, 400, "invalid", "parent")["message"], "parent")
    r = api.act("dispatcher1", t["number"], "dispatch", version=t["version"], lead="x" * 81)
    chinese(error_of(r, 400, "invalid", "lead")["message"], "lead", "80")


def test_unauthenticated_wrong_method_and_unknown_api_paths_answer_chinese_json(api, client):
    chinese(error_of(client.get(TICKETS), 401, "unauthorized")["message"])
    r = client.delete(TICKETS, headers=api.headers("operator1"))
    message = error_of(r, 405, "method_not_allowed")["message"]
    chinese(message, "DELETE", "GET")
    assert "Allow" in r.headers
    r = client.get("/api/v1/no-such-thing", headers=api.headers("operator1"))
    chinese(error_of(r, 404, "not_found")["message"])
    r = client.post(TICKETS, data="text=x", headers=api.headers("operator1"),
                    content_type="application/x-www-form-urlencoded")
    chinese(error_of(r, 415, "unsupported_media_type")["message"], "application/json")


# ---------------------------------------------------------------- the hooks


@pytest.fixture
def hooks_app(app):
    app.config.update(POLICE110_KEYS={"desk-1": "secret"}, OPEN311_API_KEYS="k1",
                      SMS_GATEWAY_TOKEN="sms-token", WECHAT_TOKEN="wx-token")
    return app


def test_110_refusals_are_chinese_and_name_the_field(hooks_app, client, clock):
    desk = FakePoliceDesk({"desk-1": "secret"}, clock=lambda: clock.now().timestamp())
    body = transfer_body("J410728202612070001")
    del body["summary"]
    r = desk.send(client, "/transfers", body)
    assert r.status == 400 and r.body["error"]["field"] == "summary", r.body
    chinese(r.body["error"]["message"], "summary")
    r = desk.send(client, "/transfers", transfer_body("J410728202612070002", urgency="x"))
    assert r.status == 422 and r.body["error"]["field"] == "urgency", r.body
    chinese(r.body["error"]["message"], "urgency")
    r = desk.send(client, "/transfers", transfer_body("J410728202612070003"), secret="guess")
    assert r.status == 401, r.body
    chinese(r.body["error"]["message"], "X-Hotline-Signature")


def test_open311_refusals_are_chinese_in_its_own_error_list(hooks_app, client):
    r = client.post("/open311/v2/requests.json", data={"service_code": "x"})
    assert r.status_code == 403
    [error] = r.get_json()
    assert set(error) == {"code", "description"}
    chinese(error["description"], "api_key")
    r = client.get("/open311/v2/requests.json?status=maybe")
    assert r.status_code == 400
    chinese(r.get_json()[0]["description"], "status")
    r = client.get("/open311/v2/services/nope.json")
    assert r.status_code == 404
    chinese(r.get_json()[0]["description"], "nope")


def test_sms_and_wechat_refusals_are_chinese(hooks_app, client):
    r = client.post("/hooks/sms/replies", json={"from": "13800000000", "text": "1"},
                    headers={"Authorization": "Bearer sms-token"})
    chinese(error_of(r, 400, "invalid", "id")["message"], "id")
    r = client.post("/hooks/sms/replies", json={}, headers={"Authorization": "Bearer no"})
    chinese(error_of(r, 401, "unauthorized")["message"])
    r = client.post("/hooks/wechat?signature=x&timestamp=1&nonce=abcdefgh", data=b"<xml/>",
                    content_type="text/xml")
    assert r.status_code == 401 and r.mimetype == "text/plain"
    chinese(r.get_data(as_text=True), "signature")


# ---------------------------------------------------------------- pages


def test_an_unknown_page_is_a_chinese_html_404_and_the_api_stays_json(api, client):
    r = client.get("/no-such-page")
    assert (r.status_code, r.mimetype) == (404, "text/html")
    html = r.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "页面不存在" in html
    assert 'href="/"' in html  # the way back
    r = client.get("/api/v1/no-such-thing", headers=api.headers("operator1"))
    error_of(r, 404, "not_found")


def test_a_wrong_method_on_a_page_is_a_chinese_html_405_with_allow(client):
    r = client.delete("/login")
    assert (r.status_code, r.mimetype) == (405, "text/html")
    assert "POST" in r.headers["Allow"]
    html = r.get_data(as_text=True)
    assert "请求方法不允许" in html and "DELETE" in html


def test_a_page_crash_is_a_chinese_html_500(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def crash():
        raise RuntimeError("boom")

    app.add_url_rule("/test-crash", "test_crash", crash)
    r = client.get("/test-crash")
    assert (r.status_code, r.mimetype) == (500, "text/html")
    html = r.get_data(as_text=True)
    assert "服务器出错" in html and "boom" not in html


def test_a_database_outage_on_a_page_is_a_chinese_html_503_with_retry_after(
        unreachable_database_app):
    client = unreachable_database_app.test_client()
    with client.session_transaction() as s:
        s["user_id"] = 1  # a signed-in browser: the page must read the user
    r = client.get("/console")
    assert (r.status_code, r.mimetype) == (503, "text/html"), r.get_data(as_text=True)
    assert int(r.headers["Retry-After"]) > 0
    html = r.get_data(as_text=True)
    assert "服务暂时不可用" in html and "数据库暂时不可用" in html
    # The API under the same outage keeps the JSON error.
    r = client.get(TICKETS, headers={"Authorization": "Bearer " + "x" * 20})
    error_of(r, 503, "unavailable")
    assert int(r.headers["Retry-After"]) > 0


def test_the_wechat_hooks_own_503_carries_retry_after(unreachable_database_app):
    """A signed push while the database is out: the hook's own 503 (busy), plain text in
    Chinese, with Retry-After like the other 503s, so WeChat's retry comes later."""
    from integrations.wechat.crypto import sign
    from integrations.wechat.fake import message_xml
    from web.services import services

    client = unreachable_database_app.test_client()
    with unreachable_database_app.app_context():
        ts = str(int(services().clock.now().timestamp()))  # within the 300 s window
    nonce = "nonce12345"
    signature = sign("wx-token", ts, nonce)
    xml = message_xml("oALICE_openid_000000000000001", "text", account="gh_hotline12345",
                      create_time=int(ts), Content="路灯不亮", MsgId="6000000000000000001")
    r = client.post("/hooks/wechat", query_string={"signature": signature, "timestamp": ts,
                                                     "nonce": nonce},
                    data=xml.encode(), content_type="text/xml")
    assert (r.status_code, r.mimetype) == (503, "text/plain"), r.get_data(as_text=True)
    assert int(r.headers["Retry-After"]) > 0
    chinese(r.get_data(as_text=True))


def test_the_wechat_hook_unconfigured_503_carries_retry_after(app, client):
    app.config["WECHAT_TOKEN"] = None
    r = client.get("/hooks/wechat", query_string={"echostr": "x"})
    assert r.status_code == 503 and int(r.headers["Retry-After"]) > 0
    chinese(r.get_data(as_text=True))


def test_the_error_shape_is_unchanged(api):
    r = api.post("operator1", TICKETS, {"channel": "phone"})
    body = r.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["code"] == "invalid" and body["error"]["field"] == "text"
    assert json.dumps(body, ensure_ascii=False).count("text") >= 2


def test_a_queue_outage_under_the_wechat_hook_is_plain_text_with_retry_after(app, client):
    """The central 503 (here: Redis gone while the push is handled) answers the WeChat hook in
    its protocol, plain text, with Retry-After."""
    import redis

    def failing():
        raise redis.ConnectionError("Error 111 connecting")

    # The same path as the hook, another method: what the central handler makes of it.
    app.add_url_rule("/hooks/wechat", "test_wechat_outage", failing, methods=["PUT"])
    r = client.put("/hooks/wechat")
    assert (r.status_code, r.mimetype) == (503, "text/plain"), r.get_data(as_text=True)
    assert int(r.headers["Retry-After"]) > 0
    chinese(r.get_data(as_text=True), "消息队列")


def test_the_110_and_sms_hooks_unconfigured_503_carry_retry_after(app, client, clock):
    """A hook whose keys are not set answers 503 in Chinese, with Retry-After like every 503
    (the desk's and the gateway's retries come later)."""
    app.config.update(POLICE110_KEYS=None, SMS_GATEWAY_TOKEN=None)
    desk = FakePoliceDesk({"desk-1": "secret"}, clock=lambda: clock.now().timestamp())
    body = json.dumps(transfer_body("J410728202612070009")).encode()
    r = client.post("/hooks/police110/transfers", data=body, headers=desk.signed(body),
                    content_type="application/json")
    chinese(error_of(r, 503, "unavailable")["message"], "HOTLINE_POLICE110_KEYS")
    assert int(r.headers["Retry-After"]) > 0
    r = client.post("/hooks/sms/replies", json={"id": "m1", "from": "13800000000",
                                                "text": "1"})
    chinese(error_of(r, 503, "unavailable")["message"], "HOTLINE_SMS_GATEWAY_TOKEN")
    assert int(r.headers["Retry-After"]) > 0


def test_hooks_under_a_database_outage_answer_503_with_retry_after_in_their_shape(
        unreachable_database_app):
    """The database gone: the 110 hook and the SMS hook answer the house JSON error, Open311
    its own error list in the format the URL asks for (JSON or XML); each a Chinese 503 with
    Retry-After, so the caller tries again later."""
    import time

    app = unreachable_database_app
    app.config.update(POLICE110_KEYS={"desk-1": "secret"}, OPEN311_API_KEYS="k1",
                      SMS_GATEWAY_TOKEN="sms-token")
    client = app.test_client()
    desk = FakePoliceDesk({"desk-1": "secret"}, clock=time.time)
    body = json.dumps(transfer_body("J410728202612070010")).encode()
    r = client.post("/hooks/police110/transfers", data=body, headers=desk.signed(body),
                    content_type="application/json")
    chinese(error_of(r, 503, "unavailable")["message"], "数据库")
    assert int(r.headers["Retry-After"]) > 0
    r = client.post("/hooks/sms/replies", json={"id": "m1", "from": "13800000000",
                                                "text": "1"},
                    headers={"Authorization": "Bearer sms-token"})
    chinese(error_of(r, 503, "unavailable")["message"], "数据库")
    assert int(r.headers["Retry-After"]) > 0
    for url in ("/open311/v2/requests.json", "/open311/v2/services.json"):
        r = client.get(url)
        assert (r.status_code, r.mimetype) == (503, "application/json"), url
        assert int(r.headers["Retry-After"]) > 0
        [error] = r.get_json()
        assert error["code"] == 503
        chinese(error["description"], "数据库")
    r = client.post("/open311/v2/requests.json", data={
        "api_key": "k1", "service_code": "urban", "description": "路灯不亮", "lat": "35.2",
        "long": "114.6"})
    assert r.status_code == 503 and int(r.headers["Retry-After"]) > 0
    chinese(r.get_json()[0]["description"])
    r = client.get("/open311/v2/requests/12345-20261207-000001.xml")
    assert (r.status_code, r.mimetype) == (503, "text/xml"), r.get_data(as_text=True)
    assert int(r.headers["Retry-After"]) > 0
    assert "数据库暂时不可用" in r.get_data(as_text=True)
