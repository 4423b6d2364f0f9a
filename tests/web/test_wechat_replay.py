"""WeChat pushes cannot be replayed (issue 16 item 3): a logged signature/timestamp/nonce triple
is refused after 300 s and, within them, once its nonce was used; plain mode is refused once the
AES key is configured; the access log shows no hook query string; and WeChat's own retries of a
push (same MsgId, with a fresh or the same nonce) still get the same passive reply."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from integrations.wechat.fake import FakeWeChatServer, message_xml
from tests.web.conftest import counts

HOOK = "/hooks/wechat"
TOKEN = "replay-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx00replay0000test"
ACCOUNT = "gh_hotline12345"
CITIZEN = "oREPLAY_citizen_00000000001"
MADE_UP = "oMADE_UP_openid_000000000099"
NUMBER = re.compile(r"12345-\d{8}-\d{6}")


@pytest.fixture
def wechat_app(app):
    app.config.update(WECHAT_TOKEN=TOKEN, WECHAT_APP_ID=APP_ID, WECHAT_AES_KEY=None)
    return app


class WeChat:
    """The WeChat server: signs pushes with the app's clock as the timestamp."""

    def __init__(self, app, clock) -> None:
        self.app, self.clock = app, clock
        self.client = app.test_client()
        self.server = FakeWeChatServer(TOKEN, AES_KEY, APP_ID)

    def stamp(self) -> str:
        return str(int(self.clock.now().timestamp()))

    def xml(self, text: str, openid: str = CITIZEN, msg_id: str | None = None) -> str:
        return message_xml(openid, "text", account=ACCOUNT, create_time=int(self.stamp()),
                           Content=text, MsgId=msg_id or self.server.next_msg_id())

    def signed(self, xml: str, *, safe: bool = False) -> tuple[dict[str, str], bytes]:
        """What one genuine push sends: its query string (the logged triple) and body."""
        return self.server.push(xml, timestamp=self.stamp(), safe=safe)

    def post(self, args: dict[str, str], body: bytes):
        return self.client.post(HOOK, query_string=args, data=body, content_type="text/xml")

    def content(self, r, *, safe: bool = False) -> str:
        assert r.status_code == 200, r.get_data(as_text=True)
        return self.server.open_reply(r.data, safe=safe)["Content"]


@pytest.fixture
def wx(wechat_app, clock) -> WeChat:
    return WeChat(wechat_app, clock)


def _tickets_of(app, openid: str) -> int:
    from dispatch.core.models import Ticket
    from web.extensions import db

    with app.app_context():
        return len(db.session.scalars(select(Ticket.id).where(Ticket.citizen_openid == openid))
                   .all())


def _nonces(app) -> list[tuple[str, str]]:
    from dispatch.outbound.police import SeenNonce
    from web.extensions import db

    with app.app_context():
        return [(n.key_id, n.nonce) for n in db.session.scalars(select(SeenNonce)).all()]


def test_a_logged_triple_replayed_after_300_s_is_refused_and_writes_nothing(wx, wechat_app,
                                                                          clock):
    args, body = wx.signed(wx.xml("小区门口路灯不亮，晚上很黑"))
    assert NUMBER.search(wx.content(wx.post(args, body)))
    before = counts(wechat_app)
    # The attack of the issue: 494 s later, the triple with a made-up OpenID, then 查询.
    clock.advance(seconds=494)
    for text in ("有人在小区里乱扔垃圾", "查询"):
        forged = wx.xml(text, openid=MADE_UP).encode()
        r = wx.post(args, forged)
        assert r.status_code == 401, r.get_data(as_text=True)
        assert "timestamp" in r.get_data(as_text=True)
    # After the nonce has left the 10-minute memory, the window still refuses it.
    clock.advance(minutes=10)
    assert wx.post(args, wx.xml("又一条伪造的诉求", openid=MADE_UP).encode()).status_code == 401
    assert counts(wechat_app) == before
    assert _tickets_of(wechat_app, MADE_UP) == 0
    # 301 s is already too old; 299 s is not (a fresh push signed then).
    old = wx.stamp()
    clock.advance(seconds=301)
    stale = wx.server.query(old, "n301")
    assert wx.post(stale, wx.xml("迟到的推送").encode()).status_code == 401
    fresh = wx.server.query(str(int(old) + 2), "n299")
    assert NUMBER.search(wx.content(wx.post(fresh, wx.xml("及时的推送").encode())))


def test_a_timestamp_from_the_future_is_refused_too(wx, wechat_app):
    before = counts(wechat_app)
    args = wx.server.query(str(int(wx.stamp()) + 301), "future")
    assert wx.post(args, wx.xml("来自未来的推送").encode()).status_code == 401
    for bad in ("", "12ab", "9" * 13):
        r = wx.post(wx.server.query(bad, "malformed"), wx.xml("时间戳有误").encode())
        assert r.status_code == 401
    assert counts(wechat_app) == before


def test_a_used_nonce_with_another_body_within_10_minutes_is_refused(wx, wechat_app, clock):
    args, body = wx.signed(wx.xml("楼下烧烤店油烟太大"))
    assert NUMBER.search(wx.content(wx.post(args, body)))
    assert (f"wechat:{APP_ID}", args["nonce"]) in _nonces(wechat_app)
    before = counts(wechat_app)
    clock.advance(seconds=60)  # well inside the 300 s window
    for text in ("有人在小区里乱扔垃圾", "查询"):
        r = wx.post(args, wx.xml(text, openid=MADE_UP).encode())
        assert r.status_code == 401 and "nonce" in r.get_data(as_text=True)
    # The same MsgId as the genuine push, another citizen: not a retry either.
    genuine_id = re.search(r"<MsgId>(\d+)</MsgId>", body.decode()).group(1)
    r = wx.post(args, wx.xml("查询", openid=MADE_UP, msg_id=genuine_id).encode())
    assert r.status_code == 401
    assert counts(wechat_app) == before and _tickets_of(wechat_app, MADE_UP) == 0


def test_a_push_that_writes_nothing_still_uses_up_its_nonce(wx, wechat_app):
    event = message_xml(CITIZEN, "event", account=ACCOUNT, create_time=int(wx.stamp()),
                        Event="subscribe")
    args, body = wx.signed(event)
    assert "欢迎" in wx.content(wx.post(args, body))
    before = counts(wechat_app)
    r = wx.post(args, wx.xml("借欢迎消息的签名创建工单", openid=MADE_UP).encode())
    assert r.status_code == 401
    assert counts(wechat_app) == before


def test_plain_mode_is_refused_when_the_aes_key_is_set(wx, wechat_app):
    wechat_app.config["WECHAT_AES_KEY"] = AES_KEY
    before = counts(wechat_app)
    for text in ("小区门口路灯不亮", "查询"):
        args, body = wx.signed(wx.xml(text, openid=MADE_UP))
        for extra in ({}, {"encrypt_type": "raw"}):
            r = wx.post(args | extra, body)
            assert r.status_code == 401 and "encrypt_type" in r.get_data(as_text=True)
    assert counts(wechat_app) == before
    # Safe mode works, and so does compatible mode (plain fields beside the <Encrypt>).
    args, body = wx.signed(wx.xml("安全模式的诉求"), safe=True)
    assert NUMBER.search(wx.content(wx.post(args, body), safe=True))
    xml = wx.xml("兼容模式的诉求")
    args, body = wx.signed(xml, safe=True)
    compatible = body.replace(b"</xml>", xml.encode()[len("<xml>"):])
    assert compatible.count(b"<Content>") == 1 and b"<Encrypt>" in compatible
    assert NUMBER.search(wx.content(wx.post(args, compatible), safe=True))
    assert _tickets_of(wechat_app, CITIZEN) == 2


@pytest.mark.parametrize("safe", [False, True], ids=["plain", "safe"])
def test_retries_of_a_genuine_push_get_the_same_reply_and_write_nothing(wx, wechat_app, clock,
                                                                        safe):
    if safe:
        wechat_app.config["WECHAT_AES_KEY"] = AES_KEY
    msg_id = wx.server.next_msg_id()
    xml = wx.xml("小区门口路灯不亮，晚上很黑", msg_id=msg_id)
    args, body = wx.signed(xml, safe=safe)
    first = wx.content(wx.post(args, body), safe=safe)
    assert NUMBER.search(first)
    after_first = counts(wechat_app)
    # A retry with the very same query string and body, 5 s later.
    clock.advance(seconds=5)
    assert wx.content(wx.post(args, body), safe=safe) == first
    # A retry signed afresh (new timestamp and nonce), 5 s later again.
    clock.advance(seconds=5)
    again_args, again_body = wx.signed(xml, safe=safe)
    assert again_args["nonce"] != args["nonce"]
    assert wx.content(wx.post(again_args, again_body), safe=safe) == first
    assert counts(wechat_app) == after_first
    assert _tickets_of(wechat_app, CITIZEN) == 1


# Concurrent writers: PostgreSQL only (SQLite serialises them).
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_retry_with_the_same_nonce_while_the_first_is_running_gets_the_same_reply(
        wx, wechat_app):
    import threading

    args, body = wx.signed(wx.xml("同时到达的同一推送（同一 nonce）"))
    clients = [wechat_app.test_client() for _ in range(4)]
    barrier = threading.Barrier(len(clients))
    answers: list[tuple[int, bytes]] = []

    def push(client) -> None:
        barrier.wait()
        r = client.post(HOOK, query_string=args, data=body, content_type="text/xml")
        answers.append((r.status_code, r.get_data()))

    threads = [threading.Thread(target=push, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert [status for status, _ in answers] == [200] * len(clients), answers
    assert len({data for _, data in answers}) == 1
    assert _tickets_of(wechat_app, CITIZEN) == 1 and counts(wechat_app)["contacts"] == 1


def test_get_verification_refuses_a_stale_timestamp(wx, clock):
    args = wx.server.query(wx.stamp(), "echo") | {"echostr": "hello"}
    r = wx.client.get(HOOK, query_string=args)
    assert (r.status_code, r.get_data(as_text=True)) == (200, "hello")
    clock.advance(seconds=301)
    assert wx.client.get(HOOK, query_string=args).status_code == 401


# ---------------------------------------------------------------- the access log


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVE = """
import sys
from flask import Flask
from web.server import Server, options

app = Flask("probe")

@app.route("/hooks/wechat", methods=["GET", "POST"])
@app.route("/api/v1/tickets")
def probe():
    return "success"

settings = options(app, "127.0.0.1", int(sys.argv[1]), 2)
settings |= {"accesslog": sys.argv[2], "post_worker_init": lambda worker: None}
Server(app, settings).run()
"""


def test_the_access_log_of_hotline_serve_shows_no_hook_query_string(tmp_path: Path):
    port, log = _free_port(), tmp_path / "access.log"
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", SERVE, str(port), str(log)], cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        secret = ("signature=5d1c0ffee0ddba11deadbeefcafef00d12345678&timestamp=1795399200"
                  "&nonce=839201754&openid=oSECRET_openid_0001&encrypt_type=aes"
                  "&msg_signature=0badc0de0badc0de0badc0de0badc0de0badc0de")
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/v1/tickets?page=2", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        urllib.request.urlopen(f"{base}/hooks/wechat?{secret}", timeout=5).read()
        urllib.request.urlopen(urllib.request.Request(
            f"{base}/hooks/wechat?{secret}", data=b"<xml/>", method="POST"), timeout=5).read()
        deadline = time.monotonic() + 5
        while log.read_text().count("/hooks/wechat") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(10)
    lines = log.read_text().splitlines()
    hooks = [line for line in lines if "/hooks/wechat" in line]
    assert len(hooks) == 2, lines
    for line in hooks:
        assert "/hooks/wechat?[redacted]" in line
        for value in ("5d1c0ffee0ddba11", "1795399200", "839201754", "oSECRET", "0badc0de",
                      "signature", "nonce", "timestamp"):
            assert value not in line, line
    # Other queries are kept: the redaction is for the hooks only.
    assert any("/api/v1/tickets?page=2" in line for line in lines), lines


def test_the_error_log_of_hotline_serve_redacts_a_failed_hook_request(tmp_path: Path):
    from gunicorn.config import Config

    from web.access_log import RedactingLogger

    cfg = Config()
    cfg.set("errorlog", str(tmp_path / "error.log"))
    cfg.set("loglevel", "info")
    logger = RedactingLogger(cfg)
    try:
        raise RuntimeError("worker failed")
    except RuntimeError:
        # What gunicorn's worker writes when a request fails outside the app.
        logger.exception("Error handling request %s",
                         "/hooks/wechat?signature=feedface0001&timestamp=1795399200&nonce=77")
    logger.info("Error handling request %s", "/api/v1/tickets?page=3")
    text = (tmp_path / "error.log").read_text()
    assert "Error handling request /hooks/wechat?[redacted]" in text
    assert "feedface0001" not in text and "1795399200" not in text and "nonce=77" not in text
    assert "/api/v1/tickets?page=3" in text
