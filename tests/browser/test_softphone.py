"""The softphone of `/intake` against a real SIP server: Kamailio (tests/browser/sip/kamailio.cfg,
registrar + WebSocket proxy, time-limited credentials checked by auth_ephemeral) and baresip
(headless, driven over its ctrl_tcp socket) placing a real call to extension 8001. Chromium
answers with fake media devices.

Skips without the Debian packages (kamailio, kamailio-websocket-modules,
kamailio-autheph-modules, baresip-core; `.ci/run` installs them); fails under
HOTLINE_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer, login, screenshot
from tests.conftest import require_service

SIP_DIR = Path(__file__).parent / "sip"
KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
BARESIP = shutil.which("baresip") or "/usr/bin/baresip"
MODULES = next(Path("/usr/lib").glob("*/kamailio/modules"), Path("/usr/lib/kamailio/modules"))
SECRET = "softphone-test-secret"
CALLER = "13800138000"
FAKE_MEDIA = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _free_sip_port(avoid: int) -> int:
    """A port free for baresip's UDP and TCP, whose next port (its SIP/TLS) is free too."""
    while True:
        port = _free_port(socket.SOCK_STREAM)
        if avoid in (port, port + 1) or port >= 65535:
            continue
        try:
            for kind, p in ((socket.SOCK_DGRAM, port), (socket.SOCK_STREAM, port + 1)):
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{proc.args[0]} exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"{proc.args[0]} did not listen on {port}:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(2)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class Baresip:
    """baresip as the citizen's phone: commands and events over ctrl_tcp (JSON netstrings)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.settimeout(None)  # the reader waits as long as the call lasts
        self.events: list[dict[str, Any]] = []
        self._buffer = b""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            self._buffer += chunk
            while b":" in self._buffer:
                size, _, rest = self._buffer.partition(b":")
                if len(rest) < int(size) + 1:
                    break
                event = json.loads(rest[:int(size)])
                self.events.append(event)
                self._buffer = rest[int(size) + 1:]

    def command(self, command: str, params: str = "") -> None:
        """Send a command (dial, hangup, …)."""
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        self.sock.sendall(b"%d:%s," % (len(body), body))

    def wait_event(self, kind: str, timeout: float = 10) -> dict[str, Any]:
        """The first event of this type (CALL_ESTABLISHED, CALL_CLOSED, …), waited for."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in list(self.events):
                if event.get("type") == kind:
                    return event
            time.sleep(0.02)
        raise AssertionError(f"no {kind} from baresip; got {self.events}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def sip(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Kamailio (credentials required over WebSocket) and a baresip to call from."""
    if not (Path(KAMAILIO).exists() and (MODULES / "websocket.so").exists()
            and (MODULES / "auth_ephemeral.so").exists() and Path(BARESIP).exists()):
        require_service("Kamailio with its websocket and autheph modules, and baresip "
                        "(Debian packages kamailio kamailio-websocket-modules "
                        "kamailio-autheph-modules baresip-core)")
    udp, ws = _free_port(socket.SOCK_DGRAM), _free_port(socket.SOCK_STREAM)
    kam_log = tmp_path / "kamailio.log"
    kam_out = kam_log.open("wb")
    kamailio = subprocess.Popen(
        [KAMAILIO, "-f", str(SIP_DIR / "kamailio.cfg"), "-DD", "-E", "-m", "32", "-M", "4",
         "-A", "WITH_AUTHEPH", "-A", f'AUTHEPH_SECRET="{SECRET}"',
         "-l", f"udp:127.0.0.1:{udp}", "-l", f"tcp:127.0.0.1:{ws}",
         "-P", str(tmp_path / "kamailio.pid"), "-Y", str(tmp_path)],
        stdout=kam_out, stderr=subprocess.STDOUT)
    phone_dir = tmp_path / "baresip"
    phone_dir.mkdir()
    ctrl_port = _free_port(socket.SOCK_STREAM)
    sip_port = _free_sip_port(ctrl_port)
    (phone_dir / "config").write_text(
        (SIP_DIR / "baresip.conf").read_text()
        .replace("@SIP_PORT@", str(sip_port)).replace("@CTRL_PORT@", str(ctrl_port)))
    (phone_dir / "accounts").write_text(
        f'"{CALLER}" <sip:{CALLER}@127.0.0.1>;regint=0;mediaenc=dtls_srtp;medianat=ice;'
        "answermode=manual\n")
    phone_log = tmp_path / "baresip.log"
    phone_out = phone_log.open("wb")
    baresip = subprocess.Popen([BARESIP, "-4", "-f", str(phone_dir)],
                               stdin=subprocess.DEVNULL, stdout=phone_out,
                               stderr=subprocess.STDOUT)
    try:
        _wait_listening(ws, kamailio, kam_log)
        _wait_listening(ctrl_port, baresip, phone_log)
        phone = Baresip(ctrl_port)
        yield {"ws_url": f"ws://127.0.0.1:{ws}", "proxy": f"127.0.0.1:{udp}", "phone": phone,
               "logs": (kam_log, phone_log)}
        phone.close()
    finally:
        baresip.kill()  # a test double: it may still be calling 110 (no one there)
        baresip.wait(5)
        _stop(kamailio)
        phone_out.close()
        kam_out.close()


@contextmanager
def softphone_page(live_server: LiveServer, chromium: Any, sip: dict[str, Any]) -> Iterator[Any]:
    """/intake opened by operator1 (extension 8001) in a Chromium with fake media devices,
    its softphone registered to the test's Kamailio; page errors fail the caller."""
    live_server.call("admin1", "PATCH", "/api/v1/admin/users/operator1", {"extension": "8001"})
    live_server.app.config.update(SIP_WS_URL=sip["ws_url"], SIP_DOMAIN="127.0.0.1",
                                  SIP_SECRET=SECRET, SIP_CREDENTIAL_HOURS=1)
    browser = chromium.browser_type.launch(executable_path=CHROMIUM, headless=True,
                                           args=CHROMIUM_ARGS + FAKE_MEDIA)
    errors: list[str] = []
    try:
        context = browser.new_context(base_url=live_server.url, locale="zh-CN",
                                      viewport={"width": 1440, "height": 900})
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, "operator1")  # lands on /intake
        expect(page.get_by_test_id("softphone-status")).to_have_text("已注册")
        yield page
    except Exception:
        for log in sip["logs"]:
            print(f"--- {log.name}\n{log.read_text()[-4000:]}")
        raise
    finally:
        browser.close()
    assert not errors, errors


def ring(page: Any, sip: dict[str, Any]) -> tuple[float, float]:
    """Call 8001 from baresip and wait for the page to ring: (ms from baresip's dial command,
    ms from the INVITE reaching Kamailio, by its log) to the ring shown in the page."""
    phone = sip["phone"]
    phone.events.clear()
    sent = time.time()
    phone.command("dial", f"sip:8001@{sip['proxy']}")
    panel = page.get_by_test_id("softphone")
    expect(panel).to_have_attribute("data-state", "ringing")
    rang = float(panel.get_attribute("data-rang-at") or 0) / 1000
    invites = re.findall(r"INVITE \S+ at (\d+\.\d+) to sip:", sip["logs"][0].read_text())
    assert invites, "Kamailio logged no INVITE"
    return (rang - sent) * 1000, (rang - float(invites[-1])) * 1000


def test_a_real_call_rings_fills_the_caller_is_answered_held_and_sent_to_110(
        live_server: LiveServer, chromium: Any, sip: dict[str, Any]) -> None:
    phone = sip["phone"]
    with softphone_page(live_server, chromium, sip) as page:
        expect(page.get_by_test_id("softphone-extension")).to_have_text("分机 8001")
        # The page's HTML carries the operator's own time-limited credential, never the secret.
        assert SECRET not in page.content()

        from_dial, from_invite = ring(page, sip)
        print(f"\nsoftphone: INVITE at the proxy → ring shown {from_invite:.0f} ms "
              f"(from baresip's dial command: {from_dial:.0f} ms)")
        assert 0 < from_invite < 5000
        expect(page.get_by_test_id("softphone-phase")).to_have_text("来电")
        expect(page.get_by_test_id("softphone-caller")).to_have_text(CALLER)
        expect(page.get_by_test_id("phone")).to_have_value(CALLER)

        page.get_by_test_id("softphone-answer").click()
        expect(page.get_by_test_id("softphone-phase")).to_have_text("通话中")
        phone.wait_event("CALL_ESTABLISHED")
        expect(page.get_by_test_id("phone")).to_have_value(CALLER)

        # A transfer to something that is not a number is refused in the page; the call stays.
        page.get_by_test_id("softphone-transfer-to").fill("一一零")
        page.get_by_test_id("softphone-transfer").click()
        expect(page.get_by_test_id("softphone-error")).to_have_text(
            "转接号码：只能是数字（如 110）")
        expect(page.get_by_test_id("softphone-phase")).to_have_text("通话中")
        assert not any(e.get("type") == "TRANSFER" for e in phone.events)

        page.get_by_test_id("softphone-hold").click()
        expect(page.get_by_test_id("softphone-phase")).to_have_text("保持")
        expect(page.get_by_test_id("softphone-hold")).to_have_text("恢复")
        page.get_by_test_id("softphone-hold").click()
        expect(page.get_by_test_id("softphone-phase")).to_have_text("通话中")
        expect(page.get_by_test_id("softphone-hold")).to_have_text("保持")
        assert not any(e.get("type") == "CALL_CLOSED" for e in phone.events)  # still on

        screenshot(page, "softphone-in-call")
        page.get_by_test_id("softphone-hangup").click()
        expect(page.get_by_test_id("softphone-phase")).to_have_text("已挂断")
        phone.wait_event("CALL_CLOSED")
        expect(page.get_by_test_id("softphone-status")).to_have_text("已注册")

        # The next call is answered and sent on to 110 (blind transfer: a REFER the caller's
        # phone takes, then the page leaves the call).
        ring(page, sip)
        page.get_by_test_id("softphone-answer").click()
        expect(page.get_by_test_id("softphone-phase")).to_have_text("通话中")
        page.get_by_test_id("softphone-transfer-to").fill("110")
        page.get_by_test_id("softphone-transfer").click()
        expect(page.get_by_test_id("softphone-phase")).to_have_text("已转接")
        expect(page.get_by_test_id("softphone-caller")).to_have_text(f"{CALLER} → 110")
        assert phone.wait_event("TRANSFER")["param"] == "<sip:110@127.0.0.1>"

        # A microphone the browser refuses (here the page's getUserMedia answers as Chromium
        # does when the operator blocks it): the call cannot be answered, and the page says why.
        page.evaluate("""() => { navigator.mediaDevices.getUserMedia = () =>
            Promise.reject(new DOMException("blocked", "NotAllowedError")); }""")
        ring(page, sip)
        page.get_by_test_id("softphone-answer").click()
        expect(page.get_by_test_id("softphone-error")).to_contain_text("麦克风被拒绝")
        expect(page.get_by_test_id("softphone-phase")).to_have_text("已挂断")
        assert phone.wait_event("CALL_CLOSED")
        assert not any(e.get("type") == "CALL_ESTABLISHED" for e in phone.events)

        # Kamailio checks the credential: one made with another secret is refused, in Chinese.
        live_server.app.config["SIP_SECRET"] = "not-the-secret-kamailio-has"
        page.reload()
        expect(page.get_by_test_id("softphone-status")).to_have_text("注册失败")
        expect(page.get_by_test_id("softphone-error")).to_contain_text("分机号或密码错误")
