"""The WeChat official-account endpoint over HTTP, with wechatpy playing the WeChat server:
verification, demands and their replies (plain and safe mode), repeats of a MsgId, locations
and images added to a demand, 查询, and every refusal writing nothing."""

from __future__ import annotations

import secrets

import pytest
import wechatpy
from sqlalchemy import select
from wechatpy.crypto import WeChatCrypto as PeerCrypto
from wechatpy.utils import WeChatSigner

from grid.coords import from_wgs84
from integrations.wechat.fake import message_xml
from tests.conftest import cell_centre, cell_code, make_test_grid
from tests.web.conftest import counts
from web.services import services

HOOK = "/hooks/wechat"
TOKEN = "hotline-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx1234567890abcdef"
ACCOUNT = "gh_hotline12345"
ALICE, BOB = "oALICE_openid_000000000000001", "oBOB_openid_00000000000000002"
TS = "1795399200"


def _sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


@pytest.fixture
def wechat_app(app):
    import web.hooks.wechat

    app.config.update(WECHAT_TOKEN=TOKEN, WECHAT_AES_KEY=AES_KEY, WECHAT_APP_ID=APP_ID)
    if "wechat" not in app.blueprints:  # until create_app registers it
        app.register_blueprint(web.hooks.wechat.bp)
    return app


@pytest.fixture
def wx(wechat_app):
    return wechat_app.test_client()


class Server:
    """wechatpy as the WeChat server: signs (and encrypts) pushes, opens our replies."""

    def __init__(self, client) -> None:
        self.client = client
        self.peer = PeerCrypto(TOKEN, AES_KEY, APP_ID)
        self.next_id = 6_000_000_000_000_000_000

    def msg_id(self) -> str:
        self.next_id += 1
        return str(self.next_id)

    def post(self, xml: str | bytes, *, safe: bool = False, args: dict | None = None,
             keyed: bool | None = None, **kw):
        app = self.client.application
        # Plain mode is accepted only from an account without the AES key: the double
        # configures the key for safe pushes and removes it for plain ones (unless `keyed`).
        app.config["WECHAT_AES_KEY"] = AES_KEY if (safe if keyed is None else keyed) else None
        with app.app_context():
            ts = str(int(services().clock.now().timestamp()))  # within the 300 s window
        nonce = secrets.token_hex(4)
        query = {"signature": _sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}
        body = xml.encode() if isinstance(xml, str) else xml
        if safe:
            envelope = self.peer.encrypt_message(body.decode(), nonce, ts)
            fields = wechatpy.utils.to_text(envelope)
            import xmltodict

            parsed = xmltodict.parse(fields)["xml"]
            query |= {"encrypt_type": "aes", "msg_signature": parsed["MsgSignature"]}
            body = envelope.encode()
        query |= args or {}
        return self.client.post(HOOK, query_string=query, data=body,
                                content_type="text/xml", **kw)

    def send(self, openid: str, msg_type: str, *, safe: bool = False, msg_id: str | None = None,
             **fields):
        """Push one message; return (response, reply content or None)."""
        if msg_type != "event":
            fields["MsgId"] = msg_id or self.msg_id()
        xml = message_xml(openid, msg_type, account=ACCOUNT, create_time=int(TS), **fields)
        r = self.post(xml, safe=safe)
        assert r.status_code == 200, r.get_data(as_text=True)
        return r, self.reply(r, openid, safe=safe)

    def reply(self, r, openid: str, *, safe: bool = False) -> str | None:
        body = r.get_data(as_text=True)
        if body == "success":
            return None
        if safe:
            import xmltodict

            envelope = xmltodict.parse(body)["xml"]
            body = self.peer.decrypt_message(body, envelope["MsgSignature"],
                                             envelope["TimeStamp"], envelope["Nonce"])
        reply = wechatpy.parse_message(body)
        # wechatpy: source = FromUserName (the account), target = ToUserName (the citizen)
        assert (reply.type, reply.source, reply.target) == ("text", ACCOUNT, openid)
        return reply.content


@pytest.fixture
def server(wx) -> Server:
    return Server(wx)


def _tickets(app, openid: str | None = None) -> list:
    from dispatch.core.models import Ticket
    from web.extensions import db

    with app.app_context():
        stmt = select(Ticket).order_by(Ticket.id)
        if openid:
            stmt = stmt.where(Ticket.citizen_openid == openid)
        rows = db.session.scalars(stmt).all()
        for t in rows:
            _ = [(e.action, e.payload) for e in t.events]
        db.session.expunge_all()
        return rows


def _number_in(reply: str) -> str:
    import re

    match = re.search(r"12345-\d{8}-\d{6}", reply)
    assert match, reply
    return match.group(0)


# ---------------------------------------------------------------- verification and config


def test_get_verification_echoes_echostr_only_with_the_right_signature(wx, wechat_app):
    ok = {"signature": _sign(TOKEN, TS, "abc"), "timestamp": TS, "nonce": "abc",
          "echostr": "8765432101234"}
    r = wx.get(HOOK, query_string=ok)
    assert (r.status_code, r.get_data(as_text=True)) == (200, "8765432101234")
    for bad in ({**ok, "signature": _sign("wrong", TS, "abc")}, {**ok, "signature": ""},
                {k: v for k, v in ok.items() if k != "signature"},
                {**ok, "nonce": "other"}):
        r = wx.get(HOOK, query_string=bad)
        assert r.status_code == 401
        assert "8765432101234" not in r.get_data(as_text=True)


def test_unconfigured_account_answers_503_and_writes_nothing(wechat_app, server,
                                                             monkeypatch):
    app = wechat_app
    app.config.update(WECHAT_TOKEN=None)
    monkeypatch.delenv("HOTLINE_WECHAT_TOKEN", raising=False)
    before = counts(app)
    assert server.client.get(HOOK, query_string={"echostr": "x"}).status_code == 503
    r = server.post(message_xml(ALICE, "text", Content="路灯不亮", MsgId="1"))
    assert r.status_code == 503
    assert counts(app) == before


# ---------------------------------------------------------------- demands


@pytest.mark.parametrize("safe", [False, True], ids=["plain", "safe"])
def test_a_text_opens_a_wechat_ticket_and_the_reply_gives_its_number(server, wechat_app, safe):
    before = counts(wechat_app)
    r, reply = server.send(ALICE, "text", safe=safe, Content="小区门口路灯不亮，晚上很黑")
    number = _number_in(reply)
    assert reply == (f"您的诉求已受理，工单编号 {number}，我们将尽快处理。"
                     "回复“查询”可查看办理进度。")
    [ticket] = _tickets(wechat_app)
    assert (ticket.number, ticket.channel, ticket.status) == (number, "wechat", "NEW")
    assert (ticket.text, ticket.citizen_openid) == ("小区门口路灯不亮，晚上很黑", ALICE)
    after = counts(wechat_app)
    assert (after["tickets"], after["events"], after["contacts"]) == (
        before["tickets"] + 1, before["events"] + 1, before["contacts"] + 1)
    if safe:
        assert "小区" not in r.get_data(as_text=True) and "12345-" not in r.get_data(as_text=True)


def test_a_voice_message_opens_a_ticket_from_its_recognition(server, wechat_app):
    _, reply = server.send(ALICE, "voice", MediaId="media1", Format="amr",
                           Recognition="楼下烧烤店油烟太大")
    [ticket] = _tickets(wechat_app)
    assert ticket.number in reply and ticket.text == "楼下烧烤店油烟太大"
    before = counts(wechat_app)
    _, reply = server.send(ALICE, "voice", MediaId="media2", Format="amr")
    assert "未能识别" in reply
    assert counts(wechat_app) == before


def test_the_same_msg_id_three_times_gives_one_ticket_and_the_same_reply(server, wechat_app):
    xml = message_xml(BOB, "text", account=ACCOUNT, create_time=int(TS),
                      Content="噪音扰民", MsgId="6123456789012345678")
    bodies = []
    for _ in range(3):
        r = server.post(xml)
        assert r.status_code == 200
        bodies.append(r.get_data())
    assert bodies[0] == bodies[1] == bodies[2]
    assert len(_tickets(wechat_app)) == 1
    assert counts(wechat_app)["contacts"] == 1
    # In safe mode, too: the same content each time, though the ciphertext differs.
    replies = {server.send(BOB, "text", safe=True, msg_id="6123456789012345678",
                           Content="噪音扰民")[1] for _ in range(2)}
    assert len(replies) == 1 and _number_in(replies.pop()) == _tickets(wechat_app)[0].number
    assert len(_tickets(wechat_app)) == 1


def test_emoji_and_rare_characters_are_kept_intact(server, wechat_app):
    text = "井盖缺失😀👨‍👩‍👧 𠀀𪚥 危险！"
    _, reply = server.send(ALICE, "text", Content=text)
    [ticket] = _tickets(wechat_app)
    assert ticket.text == text and ticket.number in reply


# ---------------------------------------------------------------- locations and images


@pytest.fixture
def grid(wechat_app) -> int:
    from web.extensions import db

    with wechat_app.app_context():
        version = make_test_grid(db.session)
        db.session.commit()
    return version


def _gcj02(street: int, community: int, cell: int) -> tuple[float, float]:
    lon, lat = cell_centre(street, community, cell)
    return from_wgs84(lon, lat, "GCJ02")


def test_a_location_within_30_minutes_relocates_a_new_ticket(server, wechat_app, grid, clock):
    _, reply = server.send(ALICE, "text", Content="这里的垃圾很多天没人清运")
    number = _number_in(reply)
    clock.advance(minutes=20)
    lon, lat = _gcj02(1, 0, 1)
    _, reply = server.send(ALICE, "location", Location_X=lat, Location_Y=lon, Scale=15,
                           Label="恼里镇某路口")
    assert number in reply and "位置" in reply
    [ticket] = _tickets(wechat_app)
    assert ticket.cell_code == cell_code(1, 0, 1)
    assert ticket.street_code == "town_naoli"
    assert [e.action for e in ticket.events] == ["intake", "relocate"]
    # Converted from GCJ-02: the stored point is the WGS-84 centre, not the pushed one.
    wgs = cell_centre(1, 0, 1)
    assert abs(ticket.lon - wgs[0]) < 1e-5 and abs(ticket.lat - wgs[1]) < 1e-5


def test_a_location_after_30_minutes_starts_nothing_and_asks_for_a_description(
        server, wechat_app, grid, clock):
    server.send(ALICE, "text", Content="垃圾没人清运")
    clock.advance(minutes=31)
    before = counts(wechat_app)
    lon, lat = _gcj02(0, 0, 0)
    _, reply = server.send(ALICE, "location", Location_X=lat, Location_Y=lon, Label="某地")
    assert "描述" in reply
    [ticket] = _tickets(wechat_app)
    assert ticket.cell_code is None and [e.action for e in ticket.events] == ["intake"]
    after = counts(wechat_app)
    assert after["contacts"] == before["contacts"] + 1
    assert {k: v for k, v in after.items() if k != "contacts"} == {
        k: v for k, v in before.items() if k != "contacts"}


def test_a_location_for_a_dispatched_ticket_is_a_note_and_another_citizens_is_ignored(
        server, wechat_app, grid, api):
    _, reply = server.send(ALICE, "text", Content="路边占道经营")
    number = _number_in(reply)
    r = api.act("dispatcher1", number, "dispatch", lead="urban_management",
                type="complaint", category="urban")
    assert r.status_code == 200, r.get_json()
    lon, lat = _gcj02(0, 0, 0)
    _, reply = server.send(ALICE, "location", Location_X=lat, Location_Y=lon, Label="路口")
    assert number in reply
    [ticket] = _tickets(wechat_app)
    assert ticket.cell_code is None
    assert [e.action for e in ticket.events][-1] == "note"
    assert "GCJ-02" in ticket.events[-1].payload["text"]
    # Bob's location does not touch Alice's ticket.
    _, reply = server.send(BOB, "location", Location_X=lat, Location_Y=lon)
    assert "描述" in reply and number not in reply
    assert len(_tickets(wechat_app)[0].events) == len(ticket.events)


def test_an_image_adds_a_note_with_its_url(server, wechat_app):
    _, reply = server.send(ALICE, "text", Content="人行道破损")
    number = _number_in(reply)
    url = "http://mmbiz.qpic.cn/mmbiz_jpg/abc123/0"
    _, reply = server.send(ALICE, "image", PicUrl=url, MediaId="media_img_1")
    assert number in reply and "图片" in reply
    [ticket] = _tickets(wechat_app)
    assert ticket.events[-1].action == "note" and url in ticket.events[-1].payload["text"]


# ---------------------------------------------------------------- 查询, subscribe, others


def test_query_lists_only_this_citizens_open_tickets(server, wechat_app, api):
    a1 = _number_in(server.send(ALICE, "text", Content="路灯不亮")[1])
    a2 = _number_in(server.send(ALICE, "text", Content="井盖缺失")[1])
    b1 = _number_in(server.send(BOB, "text", Content="噪音扰民")[1])
    r = api.act("dispatcher1", a2, "dispatch", lead="urban_management",
                type="complaint", category="urban")
    assert r.status_code == 200, r.get_json()
    a3 = _number_in(server.send(ALICE, "text", Content="测试")[1])
    assert api.act("operator1", a3, "void", reason="测试消息").status_code == 200
    _, reply = server.send(ALICE, "text", Content="查询", safe=True)
    assert f"{a1}：已受理，待派单" in reply and f"{a2}：已派单，待签收" in reply
    assert b1 not in reply and a3 not in reply and "2 件" in reply
    _, reply = server.send("oNOBODY_openid_0000000000003", "text", Content=" 查询 ")
    assert "没有办理中的工单" in reply


def test_subscribe_gets_a_welcome_and_other_events_success(server, wechat_app):
    before = counts(wechat_app)
    _, reply = server.send(ALICE, "event", Event="subscribe")
    assert "欢迎关注" in reply
    r, reply = server.send(ALICE, "event", Event="unsubscribe")
    assert reply is None and r.get_data() == b"success"
    _, reply = server.send(ALICE, "video", MediaId="v1", ThumbMediaId="t1")
    assert "暂不支持" in reply
    assert counts(wechat_app) == before


# ---------------------------------------------------------------- refusals


BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "lol">'
                  + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'
                            for i in range(8))
                  + f']><xml><ToUserName>{ACCOUNT}</ToUserName><FromUserName>{ALICE}'
                    '</FromUserName><MsgType>text</MsgType><Content>&i;</Content>'
                    '<MsgId>1</MsgId></xml>')
XXE = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       f'<xml><ToUserName>{ACCOUNT}</ToUserName><FromUserName>{ALICE}</FromUserName>'
       '<MsgType>text</MsgType><Content>&x;</Content><MsgId>2</MsgId></xml>')
DTD_ONLY = (f'<!DOCTYPE xml SYSTEM "http://example.invalid/a.dtd"><xml><ToUserName>{ACCOUNT}'
            f'</ToUserName><FromUserName>{ALICE}</FromUserName><MsgType>text</MsgType>'
            '<Content>hi</Content><MsgId>3</MsgId></xml>')
PARAM_ENTITY = ('<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://example.invalid/p.dtd"> %p;]>'
                f'<xml><FromUserName>{ALICE}</FromUserName></xml>')


@pytest.mark.parametrize("safe", [False, True], ids=["plain", "safe"])
@pytest.mark.parametrize("body, status", [
    (BILLION_LAUGHS, 400), (XXE, 400), (DTD_ONLY, 400), (PARAM_ENTITY, 400),
    ("<xml><ToUserName>gh</ToUserName><Content>unclosed</xml>", 400),
    ("not xml at all", 400),
    ("<html><FromUserName>x</FromUserName></html>", 400),
    (message_xml(ALICE, "text", Content="无MsgId"), 400),
    (message_xml("bad openid <>", "text", Content="x", MsgId="5"), 400),
    (message_xml(ALICE, "location", Location_X="nan", Location_Y="114", MsgId="6"), 400),
    (message_xml(ALICE, "location", Location_X="95", Location_Y="114", MsgId="7"), 400),
    (message_xml(ALICE, "image", PicUrl="javascript:alert(1)", MsgId="8"), 400),
], ids=["billion-laughs", "xxe", "external-dtd", "parameter-entity", "malformed", "not-xml",
        "not-wechat-root", "no-msgid", "bad-openid", "nan-location", "lat-out-of-range",
        "bad-pic-url"])
def test_bad_xml_is_refused_and_writes_nothing(server, wechat_app, tokens, body, status,
                                               safe):
    before = counts(wechat_app)
    r = server.post(body, safe=safe)
    assert r.status_code == status, r.get_data(as_text=True)
    assert counts(wechat_app) == before


def test_wrong_or_missing_signatures_are_refused_and_write_nothing(server, wechat_app):
    before = counts(wechat_app)
    xml = message_xml(ALICE, "text", Content="路灯不亮", MsgId="9")
    for args in ({"signature": "0" * 40}, {"signature": ""}, {"timestamp": ""},
                 {"signature": _sign("other-token", TS, "n")}):
        assert server.post(xml, args=args).status_code == 401
    for args in ({"msg_signature": "0" * 40}, {"msg_signature": ""},
                 {"signature": "0" * 40}):
        assert server.post(xml, safe=True, args=args).status_code == 401
    # Safe mode named but the body is plain: no Encrypt.
    assert server.post(xml, args={"encrypt_type": "aes", "msg_signature": "x"},
                       keyed=True).status_code == 400
    assert counts(wechat_app) == before


def test_a_non_utf8_body_is_refused_and_writes_nothing(server, wechat_app):
    before = counts(wechat_app)
    xml = message_xml(ALICE, "text", Content="路灯不亮", MsgId="10")
    for raw in (xml.encode("gbk"), xml.encode("utf-16"), b"<xml>\xff\xfe</xml>"):
        r = server.post(raw)
        assert r.status_code == 400, r.get_data(as_text=True)
    gbk_declared = ('<?xml version="1.0" encoding="GBK"?>' + xml).encode("gbk")
    assert server.post(gbk_declared).status_code == 400
    assert counts(wechat_app) == before


def test_a_body_over_64_kib_is_refused_with_413_and_writes_nothing(server, wechat_app):
    before = counts(wechat_app)
    xml = message_xml(ALICE, "text", Content="长" * 30_000, MsgId="11")
    assert len(xml.encode()) > 64 * 1024
    r = server.post(xml)
    assert r.status_code == 413
    assert counts(wechat_app) == before


def test_a_text_too_long_for_a_ticket_gets_a_polite_reply_and_writes_nothing(server,
                                                                            wechat_app):
    before = counts(wechat_app)
    _, reply = server.send(ALICE, "text", Content="长" * 5000)
    assert "过长" in reply
    assert counts(wechat_app) == before


# Concurrent writers: PostgreSQL only (SQLite serialises them), without a skip on SQLite.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_identical_pushes_at_once_give_one_ticket_and_the_same_reply(wechat_app, db_url):
    import threading
    xml = message_xml(ALICE, "text", account=ACCOUNT, create_time=int(TS),
                      Content="同时到达的重复推送", MsgId="6999999999999999999")
    servers = [Server(wechat_app.test_client()) for _ in range(4)]
    barrier = threading.Barrier(len(servers))
    bodies: list[bytes] = []

    def push(server: Server) -> None:
        barrier.wait()
        r = server.post(xml)
        assert r.status_code == 200, r.get_data(as_text=True)
        bodies.append(r.get_data())

    threads = [threading.Thread(target=push, args=(s,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(bodies) == len(servers) and len(set(bodies)) == 1
    assert len(_tickets(wechat_app)) == 1 and counts(wechat_app)["contacts"] == 1
