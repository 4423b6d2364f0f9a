"""No English reaches a person through an error (CONTRACT.md, "Errors, retries and limits"):
every error path walked here — each operation of the OpenAPI document with no credentials, a
broken or wrong-typed body and bad query values, the hooks (110, WeChat, Open311, SMS) with
bad signatures and bodies, the pages' error pages — answers a message with no English word.

The rule is the one tests/browser/test_every_page_in_chinese.py applies to pages, at the web
level: a word of Latin letters is English unless it is a code (it has a digit, an underscore,
a dot, a slash…), an acronym in capitals, a value quoted in the message (‘'phone'’, “abc”),
the error's own field, a field name of the translation table (web/i18n.py), a JSON literal or
one of the few protocol and format names below. `test_errors_zh.py` checks that the messages
are Chinese and name their field; this one that nothing English is left in them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from integrations.open311.fake import encode_form, report_form
from integrations.police110.fake import Answer, FakePoliceDesk, transfer_body
from integrations.wechat.crypto import sign
from integrations.wechat.fake import message_xml
from tests.web.conftest import TICKETS, dispatched
from web.i18n import ZH

# Names of protocols, headers, formats and products a Chinese message writes in Latin letters.
ALLOWED = {
    "Authorization", "Bearer", "KiB", "MiB", "Excel", "GeoJSON", "GeoPackage", "Shapefile",
    "Polygon", "WebP", "Unix", "EncodingAESKey", "AppID", "WeChat", "OpenID", "MsgId",
    "MsgType", "CreateTime", "PicUrl", "Encrypt", "http", "https", "zip", "true", "false",
    "null",
}
FIELD_NAMES = set(ZH["field"])
# Quoted values: '…', “…”, 「…」, <…> (a code the caller sent or may send).
QUOTED = re.compile(r"'[^']*'|“[^”]*”|「[^」]*」|<[^>]*>|\"[^\"]*\"")
# A run of Latin words and codes separated by spaces (CJK text or punctuation ends it).
PHRASE = re.compile(r"[A-Za-z0-9_./:@#+\-]+(?: +[A-Za-z0-9_./:@#+\-]+)*")
CJK = re.compile(r"[\u3400-\u9fff]")
LEADING_FIELD = re.compile(r"([A-Za-z][A-Za-z0-9_.\-]*) ?[：:]")


def _plain(word: str, own: set[str]) -> bool:
    """Whether a word of Latin letters is a plain word (not a code, an acronym or a name)."""
    if not re.search(r"[A-Za-z]", word) or len(word) == 1:
        return False
    if re.search(r"[0-9_/@#+]|[.:\-].", word):  # a code: ticket numbers, cell codes, paths
        return False
    return not (word in ALLOWED or word in own or (word.isupper() and len(word) <= 6))


def english_words(message: str, field: str | None = None) -> list[str]:
    """The words of an error message that are English: a phrase of two plain words or more
    ("has passed"), or a single plain word that is no field name ("rejected")."""
    named = LEADING_FIELD.match(message)  # "signature：…" names its field like `field`
    own = set(f"{field or ''} {named.group(1) if named else ''}".replace(".", " ").split())
    found = []
    for phrase in PHRASE.findall(QUOTED.sub(" ", message)):
        words = [w.rstrip(".:,;") for w in phrase.split()]
        plain = [w for w in words if _plain(w, own)]
        if len(plain) >= 2:
            found += plain
        elif plain and plain[0] not in FIELD_NAMES:
            found += plain
    return found


def test_the_rule_finds_english_and_lets_codes_through():
    assert english_words("当前状态不允许此操作：the deadline has passed") == [
        "the", "deadline", "has", "passed"]
    assert english_words("角色 admin 无权执行“dispatch”操作") == ["admin"]
    assert english_words("channel: 须为以下之一：'phone'、'wechat'", "channel") == []
    assert english_words("Authorization: 须提供有效的短信网关令牌（Bearer）") == []
    assert english_words("lon 和 lat 须同时提供或都不提供；12345-20261207-000001") == []
    assert english_words("Failed to decode JSON object: Expecting value") == [
        "Failed", "to", "decode", "object", "Expecting", "value"]
    assert english_words("to: 须为日期；text 不能为空") == []  # field names
    assert english_words("PicUrl：不是 http(s) 地址；64 KiB") == []


class Walk:
    """The messages of the error answers seen, with what was sent to get each."""

    def __init__(self) -> None:
        self.english: list[tuple[str, int, str]] = []
        self.seen = 0

    def json(self, what: str, r: Any) -> None:
        """An answer of the API or a JSON hook: the house error (or Open311's list)."""
        if isinstance(r, Answer):  # the fake 110 desk's
            status, body, raw = r.status, r.body, json.dumps(r.body, ensure_ascii=False)
        else:
            status, body, raw = r.status_code, r.get_json(silent=True), r.get_data(
                as_text=True)
        if status < 400:
            return
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            self.message(what, status, body["error"].get("message", ""),
                         body["error"].get("field"))
        elif isinstance(body, list) and body and isinstance(body[0], dict):
            self.message(what, status, body[0].get("description", ""))
        else:
            self.message(what, status, raw)

    def text(self, what: str, r: Any) -> None:
        if r.status_code >= 400:
            self.message(what, r.status_code, r.get_data(as_text=True))

    def page(self, what: str, r: Any) -> None:
        html = r.get_data(as_text=True)
        shown = re.search(r'data-testid="error-message">([^<]*)<', html)
        assert shown is not None, (what, r.status_code, html[:300])
        title = re.search(r"<h1>([^<]*)</h1>", html)
        self.message(what, r.status_code, shown.group(1) + " " + (title.group(1) if title
                                                                   else ""))

    def message(self, what: str, status: int, message: str, field: str | None = None) -> None:
        self.seen += 1
        if not CJK.search(message) or english_words(message, field):
            self.english.append((what, status, message))


def _operations(doc: dict[str, Any], number: str) -> Iterator[tuple[str, str, dict]]:
    """Every (method, url, operation) of the OpenAPI document, path parameters filled with a
    real ticket number or an id; operations that end a session or take minutes left out."""
    skipped = ("logout", "password", "/users/{", "train", "activate", "grid/imports")
    for path, ops in doc["paths"].items():
        if any(s in path for s in skipped):
            continue
        url = re.sub(r"\{number\}", number, path)
        url = re.sub(r"\{[a-z_]+\}", "1", url)
        for method, op in ops.items():
            if method in ("get", "post", "put", "delete", "patch"):
                yield method, url, op


def _body_fields(doc: dict[str, Any], op: dict[str, Any]) -> list[str]:
    try:
        schema = op["requestBody"]["content"]["application/json"]["schema"]
    except KeyError:
        return []
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return list(schema.get("properties", {}))


def test_no_error_of_the_api_speaks_english(api, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    number = api.create()["number"]
    walk = Walk()
    for method, url, op in _operations(doc, number):
        call = getattr(client, method)
        walk.json(f"{method} {url} (no credentials)", call(url))
        user = "admin1" if "/admin/" in url else "operator1"
        headers = api.headers(user)
        if method != "get":
            walk.json(f"{method} {url} broken JSON",
                      call(url, headers=headers, data="{no", content_type="application/json"))
            walk.json(f"{method} {url} a list", call(url, headers=headers, json=[1]))
            walk.json(f"{method} {url} plain text",
                      call(url, headers=headers, data="x", content_type="text/plain"))
            for field in _body_fields(doc, op):
                for bad in ([["x"]], "\x00"):
                    walk.json(f"{method} {url} {field}={bad!r}",
                              call(url, headers=headers, json={field: bad, "version": 1}))
        if url.endswith("/kb/search"):
            continue  # any word is a search (200), after loading the segmenter: seconds
        for param in (p["name"] for p in op.get("parameters", []) if p.get("in") == "query"):
            for bad in ("abc", "99999999999"):
                sep = "&" if "?" in url else "?"
                walk.json(f"{method} {url}{sep}{param}={bad}",
                          call(f"{url}{sep}{param}={bad}", headers=headers))
    # The lifecycle's refusals as a person meets them: a role, a state, an action.
    for user, action in (("admin1", "dispatch"), ("operator1", "sign"),
                         ("operator1", "callback"), ("dispatcher1", "fly")):
        walk.json(f"{action} as {user}", api.act(user, number, action))
    assert walk.seen > 500  # the walk really went through the error paths
    assert walk.english == [], "\n".join(map(str, walk.english))


def test_the_lifecycles_refusals_name_roles_states_and_actions_in_chinese(api):
    t = api.create()
    r = api.act("admin1", t["number"], "dispatch", version=t["version"])
    assert r.status_code == 403
    assert r.get_json()["error"]["message"] == "角色“管理员”无权执行“派单”操作"
    r = api.act("operator1", t["number"], "callback", version=t["version"])
    assert r.status_code == 409
    assert r.get_json()["error"]["message"] == "工单当前状态为“待派单”，不能执行“回访”操作"
    d = dispatched(api)
    r = api.act("handler1", d["number"], "complete", version=d["version"], result="已清理")
    assert r.status_code == 409
    assert r.get_json()["error"]["message"] == (
        "长垣市城市管理局的派单状态为“待签收”，请先签收再办结")
    # A role the knowledge base's routes let through to the domain's own rule (the CLI's).
    from dispatch.core.actors import Actor
    from dispatch.core.errors import Forbidden
    from dispatch.core.vocab import Role
    from dispatch.triage.knowledge import articles
    from web.i18n import t

    with pytest.raises(Forbidden) as refused:
        articles._may_write(Actor(7, Role.DISPATCHER, username="dispatcher1"), None)
    assert refused.value.translated(t) == "角色“派单员”无权编写知识库（仅管理员和承办人员可以）"


def test_no_error_of_the_hooks_speaks_english(app, client, clock):
    app.config.update(POLICE110_KEYS={"desk-1": "secret"}, OPEN311_API_KEYS="k1",
                      SMS_GATEWAY_TOKEN="sms-token", WECHAT_TOKEN="wx-token")
    walk = Walk()
    # 110: signatures, bodies, values.
    desk = FakePoliceDesk({"desk-1": "secret"}, clock=lambda: clock.now().timestamp())
    for path in ("/transfers", "/acks"):
        good = json.dumps(transfer_body("J410728202612070001")).encode()
        for what, body, headers, ctype in (
                ("unsigned", good, {}, "application/json"),
                ("wrong secret", good, desk.signed(good, secret="guess"), "application/json"),
                ("old", good, desk.signed(good, timestamp=str(int(
                    clock.now().timestamp()) - 3600)), "application/json"),
                ("broken JSON", b"{no", desk.signed(b"{no"), "application/json"),
                ("a list", b"[1]", desk.signed(b"[1]"), "application/json"),
                ("form", b"a=1", desk.signed(b"a=1"), "application/x-www-form-urlencoded"),
                ("empty object", b"{}", desk.signed(b"{}"), "application/json")):
            walk.json(f"110 {path} {what}", client.post(
                "/hooks/police110" + path, data=body, headers=headers, content_type=ctype))
    for field, bad in (("urgency", "x"), ("summary", ""), ("lon", "east"), ("at", "noon"),
                       ("category", 5)):
        walk.json(f"110 transfer {field}={bad!r}", desk.send(
            client, "/transfers", transfer_body("J410728202612070002", **{field: bad})))
    # WeChat: the address check and pushes.
    stamp = str(int(clock.now().timestamp()))
    walk.text("wechat verify unsigned", client.get("/hooks/wechat?echostr=x"))
    for what, args, body in (
            ("no signature", {"timestamp": stamp, "nonce": "abcdefgh"}, b"<xml/>"),
            ("old", {"timestamp": "1", "nonce": "abcdefgh",
                     "signature": sign("wx-token", "1", "abcdefgh")}, b"<xml/>"),
            ("not xml", {"timestamp": stamp, "nonce": "abcdefgh",
                         "signature": sign("wx-token", stamp, "abcdefgh")}, b"{no"),
            ("no MsgType", {"timestamp": stamp, "nonce": "abcdefgi",
                            "signature": sign("wx-token", stamp, "abcdefgi")},
             b"<xml><ToUserName>gh</ToUserName></xml>"),
            ("bad MsgId", {"timestamp": stamp, "nonce": "abcdefgj",
                           "signature": sign("wx-token", stamp, "abcdefgj")},
             message_xml("oALICE_openid_000000000000001", "text", create_time=int(stamp),
                         Content="路灯不亮", MsgId="x").encode())):
        walk.text(f"wechat {what}", client.post("/hooks/wechat", query_string=args, data=body,
                                                content_type="text/xml"))
    # Open311: keys, forms, reads.
    for what, form in (("no key", report_form(None, "urban", "路灯不亮")),
                       ("wrong key", report_form("nope", "urban", "路灯不亮")),
                       ("unknown service", report_form("k1", "nope", "路灯不亮")),
                       ("no place", report_form("k1", "urban", "路灯不亮")),
                       ("bad media", report_form("k1", "urban", "路灯不亮", lat="35.2",
                                                 long="114.6", media_url="ftp://x")),
                       ("half a place", report_form("k1", "urban", "路灯不亮", lat="35.2"))):
        walk.json(f"open311 {what}", client.post(
            "/open311/v2/requests.json", data=encode_form(form),
            content_type="application/x-www-form-urlencoded"))
    walk.json("open311 json body", client.post("/open311/v2/requests.json", json={}))
    for url in ("/open311/v2/requests.json?status=maybe", "/open311/v2/services/nope.json",
                "/open311/v2/requests/nope.json", "/open311/v2/requests.csv",
                "/open311/v2/nothing.json", "/open311/v2/requests.json?start_date=noon"):
        walk.json(f"open311 {url}", client.get(url))
    # SMS gateway.
    for what, body, headers in (
            ("no token", {}, {}), ("no id", {"from": "13800000000", "text": "1"},
                                   {"Authorization": "Bearer sms-token"}),
            ("bad phone", {"id": "m1", "from": "x", "text": "1"},
             {"Authorization": "Bearer sms-token"})):
        walk.json(f"sms {what}", client.post("/hooks/sms/replies", json=body,
                                             headers=headers))
    walk.json("sms form", client.post("/hooks/sms/replies", data="a=1",
                                      headers={"Authorization": "Bearer sms-token"},
                                      content_type="application/x-www-form-urlencoded"))
    assert walk.seen >= 35
    assert walk.english == [], "\n".join(map(str, walk.english))


def test_no_error_page_speaks_english(app, client):
    walk = Walk()
    walk.page("unknown page", client.get("/no-such-page"))
    walk.page("wrong method", client.delete("/login"))
    walk.page("unknown page under a page", client.get("/console/no/such/thing"))
    walk.page("public page unknown", client.get("/track/nothing/here"))
    walk.page("login without its CSRF token", client.post("/login", data={
        "username": "admin1", "password": "wrong"}))
    assert walk.seen == 5 and walk.english == []
    app.config["WTF_CSRF_ENABLED"] = False
    r = client.post("/login", data={"username": "admin1", "password": "wrong"})
    shown = re.findall(r'class="error" role="alert">([^<]*)<', r.get_data(as_text=True))
    assert shown == ["用户名或密码错误"]
    r = client.get(TICKETS)  # the API next to the pages keeps its JSON, in Chinese
    assert r.status_code == 401 and not english_words(r.get_json()["error"]["message"])
