"""Benchmark: a WeChat burst (issue 19) — 200 concurrent senders for 60 s against `hotline serve`.

The server is `hotline serve` itself (gunicorn, one process of 100 threads, embedded mode) in a
process of its own, on a scratch PostgreSQL database with the demo county and the classifier
rules. 200 sender threads here play the WeChat server: each pushes, in safe mode (encrypted with
wechatpy), a new text demand, waits for the answer, pauses `THINK` seconds (a citizen does not
type a new demand the instant the last is answered) and goes on, until `SECONDS` have passed;
one push in ten is a retry of an earlier MsgId, one in a hundred an emergency. As WeChat does,
a push unanswered after 5 s is given up and retried (3 times at most).

What it prints: answers p50/p99/max, answers past 5 s, messages held (answered "the number
follows") and answered with a number at once; then, once the server's runner has processed
every held message, the stored-once counts: each MsgId one contact (no duplicates), each new
demand one ticket, each held message one customer-service follow-up with its ticket number.

Run: `HOTLINE_BENCH_WECHAT_BURST=1 .venv/bin/pytest -s tests/bench/test_bench_wechat_burst.py`
(HOTLINE_BENCH_WECHAT_BURST_SECONDS, _SENDERS, _THINK to change the load).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import secrets
import statistics
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
import wechatpy
import xmltodict
from sqlalchemy import text
from wechatpy.crypto import WeChatCrypto as PeerCrypto

from integrations.wechat import mapping
from integrations.wechat.fake import message_xml
from tests.bench.conftest import county_database, quantile
from tests.bench.faults_cluster import Process, hotline_command, wait_until
from tests.bench.serving import answers, free_port, serve_env
from tests.bench.test_bench_wechat import ACCOUNT, AES_KEY, APP_ID, DEMANDS, TOKEN, _sign

pytestmark = pytest.mark.skipif(os.environ.get("HOTLINE_BENCH_WECHAT_BURST") != "1",
                                reason="set HOTLINE_BENCH_WECHAT_BURST=1 (about 3–10 minutes)")

DB_NAME = "bench_wechat_burst"
RESULTS = Path(__file__).parent / "results"
SECONDS = float(os.environ.get("HOTLINE_BENCH_WECHAT_BURST_SECONDS", "60"))
SENDERS = int(os.environ.get("HOTLINE_BENCH_WECHAT_BURST_SENDERS", "200"))
THINK = float(os.environ.get("HOTLINE_BENCH_WECHAT_BURST_THINK", "1.0"))
SERVE_THREADS = 100  # `hotline serve`'s default
WECHAT_LIMIT = 5.0  # WeChat gives up after 5 s and retries, 3 times
DRAIN_MAX = 1200.0
NUMBER = re.compile(r"12345-\d{8}-\d{6}")
EMERGENCIES = ("楼下有人拿刀砍人，地上很多血", "小区门口有人持刀抢劫")


@dataclass
class Tally:
    times_s: list[float] = field(default_factory=list)  # every push's answer time
    past_limit: int = 0  # pushes WeChat would have given up on (no answer within 5 s)
    errors: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # MsgIds answered "the number follows"
    numbered: dict[str, str] = field(default_factory=dict)  # MsgId → number answered at once
    emergencies: list[str] = field(default_factory=list)  # MsgIds of emergencies
    emergency_advised: int = 0
    repeats: int = 0
    lost: list[str] = field(default_factory=list)  # MsgIds never answered after 4 pushes


class Sender:
    """One citizen (OpenID) as the WeChat server pushes for it: one message at a time."""

    def __init__(self, port: int, openid: str, msg_base: int, seed: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None
        self.peer = PeerCrypto(TOKEN, AES_KEY, APP_ID)
        self.openid = openid
        self.msg_base = msg_base
        self.rng = random.Random(seed)
        self.tally = Tally()
        self.sent: list[str] = []  # XML of the demands pushed (for retries)

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WECHAT_LIMIT)
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _post(self, xml: str) -> tuple[int, bytes] | None:
        """One push within WeChat's 5 s (None: no answer in time, the connection dropped)."""
        ts = str(int(time.time()))
        nonce = secrets.token_hex(5)
        envelope = self.peer.encrypt_message(xml, nonce, ts)
        query = {"signature": _sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce,
                 "encrypt_type": "aes",
                 "msg_signature": xmltodict.parse(envelope)["xml"]["MsgSignature"]}
        start = time.perf_counter()
        try:
            conn = self._connection()
            conn.request("POST", f"/hooks/wechat?{urlencode(query)}", envelope.encode(),
                         {"Content-Type": "text/xml"})
            response = conn.getresponse()
            data = response.read()
        except (TimeoutError, OSError, http.client.HTTPException):
            self.tally.times_s.append(time.perf_counter() - start)
            self.tally.past_limit += 1
            self.close()
            return None
        elapsed = time.perf_counter() - start
        self.tally.times_s.append(elapsed)
        if elapsed > WECHAT_LIMIT:
            self.tally.past_limit += 1
            return None
        return response.status, data

    def _open(self, data: bytes) -> str:
        body = data.decode()
        env = xmltodict.parse(body)["xml"]
        body = self.peer.decrypt_message(body, env["MsgSignature"], env["TimeStamp"],
                                         env["Nonce"])
        return wechatpy.parse_message(body).content

    def push(self, xml: str, msg_id: str) -> str | None:
        """Push until answered, as WeChat does (the first try and 3 retries)."""
        for _ in range(4):
            got = self._post(xml)
            if got is None:
                continue
            status, data = got
            if status == 200:
                return self._open(data)
            self.tally.errors.append(f"{self.openid} {msg_id}: HTTP {status} {data[:120]!r}")
        self.tally.lost.append(msg_id)
        return None

    def run(self, until: float) -> None:
        t, i = self.tally, 0
        while time.monotonic() < until:
            i += 1
            if self.sent and self.rng.random() < 0.1:  # WeChat retrying an earlier push
                xml = self.rng.choice(self.sent)
                msg_id = xmltodict.parse(xml)["xml"]["MsgId"]
                reply = self.push(xml, msg_id)
                t.repeats += 1
                if reply is not None and reply != mapping.HELD and msg_id in t.numbered \
                        and t.numbered[msg_id] not in reply:
                    t.errors.append(f"{self.openid}: retry of {msg_id} answered {reply!r}")
            else:
                msg_id = str(self.msg_base + i)
                emergency = self.rng.random() < 0.01
                words = (self.rng.choice(EMERGENCIES) if emergency
                         else f"{self.rng.choice(DEMANDS)}（{self.openid[-4:]}-{i}）")
                xml = message_xml(self.openid, "text", account=ACCOUNT,
                                  create_time=int(time.time()), MsgId=msg_id, Content=words)
                reply = self.push(xml, msg_id)
                self.sent.append(xml)
                if emergency:
                    t.emergencies.append(msg_id)
                if reply is None:
                    pass
                elif reply == mapping.HELD:
                    t.held.append(msg_id)
                    if emergency:
                        t.errors.append(f"{self.openid}: emergency {msg_id} was held")
                elif (found := NUMBER.search(reply)) is not None:
                    t.numbered[msg_id] = found.group(0)
                    t.emergency_advised += emergency and "请立即拨打110" in reply
                else:
                    t.errors.append(f"{self.openid}: {msg_id} answered {reply!r}")
            if THINK:
                time.sleep(self.rng.uniform(0.5 * THINK, 1.5 * THINK))


def _count(engine, sql: str, **params) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


@pytest.fixture(scope="module")
def database():
    with county_database(DB_NAME, datetime.now(UTC) - timedelta(days=1), rules=True) as (
            url, _, engine, _):
        yield url, engine


@pytest.mark.timeout(SECONDS + DRAIN_MAX + 600)
def test_bench_wechat_burst_200_senders_60_s_on_hotline_serve(database, tmp_path):
    url, engine = database
    port = free_port()
    env = serve_env(url.render_as_string(hide_password=False), tmp_path, WECHAT_TOKEN=TOKEN,
                    WECHAT_AES_KEY=AES_KEY, WECHAT_APP_ID=APP_ID)
    web = Process("web", hotline_command("serve", "--host", "127.0.0.1", "--port", str(port),
                                         "--threads", str(SERVE_THREADS)), env, tmp_path)
    prefix = "oBURST"
    try:
        wait_until(lambda: answers(port), 90, "hotline serve to answer /healthz")
        crew = [Sender(port, f"{prefix}{n:06d}", 8_100_000_000_000_000_000 + n * 100_000,
                       seed=n) for n in range(SENDERS)]
        barrier = threading.Barrier(SENDERS + 1)
        crashes: list[str] = []

        def work(sender: Sender, until_box: list[float]) -> None:
            try:
                barrier.wait(60)
                sender.run(until_box[0])
            except Exception:  # reported below; a thread must not raise into pytest
                crashes.append(traceback.format_exc())
            finally:
                sender.close()

        until_box = [0.0]
        threads = [threading.Thread(target=work, args=(s, until_box), name=f"sender-{i}")
                   for i, s in enumerate(crew)]
        for th in threads:
            th.start()
        until_box[0] = time.monotonic() + SECONDS
        barrier.wait(60)
        start = time.monotonic()
        for th in threads:
            th.join(SECONDS + 120)
        wall = time.monotonic() - start
        assert not any(th.is_alive() for th in threads), "a sender is stuck"
        assert not crashes, crashes[0]

        times = [x for s in crew for x in s.tally.times_s]
        print(f"\nload done: {len(times)} pushes in {wall:.1f} s, p50 "
              f"{statistics.median(times) * 1000:.0f} ms, p99 "
              f"{quantile(times, 0.99) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms, past 5 s "
              f"{sum(s.tally.past_limit for s in crew)}, held "
              f"{sum(len(s.tally.held) for s in crew)}", flush=True)
        # The server's runner processes what was held; wait for it.
        drain_start = time.monotonic()
        waiting_sql = "SELECT count(*) FROM wechat_inbox WHERE processed_at IS NULL"
        print(f"held messages waiting: {_count(engine, waiting_sql)}", flush=True)
        wait_until(lambda: _count(engine, waiting_sql) == 0, DRAIN_MAX,
                   "the held messages to be processed", every=2.0)
        drain = time.monotonic() - drain_start
    finally:
        web.stop()

    times = [x for s in crew for x in s.tally.times_s]
    held = [m for s in crew for m in s.tally.held]
    numbered = {m: n for s in crew for m, n in s.tally.numbered.items()}
    demands = {m for s in crew for m in (*s.tally.held, *s.tally.numbered)}
    errors = [e for s in crew for e in s.tally.errors]
    lost = [m for s in crew for m in s.tally.lost]
    emergencies = [m for s in crew for m in s.tally.emergencies]
    like = {"p": f"{prefix}%"}
    contacts = _count(engine, "SELECT count(*) FROM contacts WHERE channel = 'wechat' "
                              "AND openid LIKE :p", **like)
    duplicated = _count(engine, "SELECT count(*) FROM (SELECT external_id FROM contacts "
                                "WHERE channel = 'wechat' AND openid LIKE :p "
                                "GROUP BY external_id HAVING count(*) > 1) d", **like)
    tickets = _count(engine, "SELECT count(*) FROM tickets WHERE citizen_openid LIKE :p", **like)
    inbox_rows = _count(engine, "SELECT count(*) FROM wechat_inbox WHERE openid LIKE :p", **like)
    inbox_failed = _count(engine, "SELECT count(*) FROM wechat_inbox WHERE openid LIKE :p "
                                  "AND (processed_at IS NULL OR ticket_number IS NULL)", **like)
    follow_ups = _count(engine, "SELECT count(*) FROM outbox WHERE topic = "
                                "'wechat.customer_service' AND payload->>'touser' LIKE :p "
                                "AND payload->>'ticket_no' IS NOT NULL", **like)
    alarms = _count(engine, "SELECT count(*) FROM tickets WHERE citizen_openid LIKE :p "
                            "AND alarm_raised_at IS NOT NULL", **like)
    result = {
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "server": f"hotline serve (gunicorn gthread, 1 process, {SERVE_THREADS} threads), "
                  "embedded mode, PostgreSQL, safe mode",
        "senders": SENDERS, "seconds": SECONDS, "think_s": THINK, "wall_s": round(wall, 1),
        "pushes": len(times), "pushes_per_s": round(len(times) / wall, 1),
        "p50_ms": round(statistics.median(times) * 1000, 1),
        "p99_ms": round(quantile(times, 0.99) * 1000, 1),
        "max_ms": round(max(times) * 1000, 1),
        "past_5s": sum(s.tally.past_limit for s in crew),
        "demands": len(demands), "held": len(held), "numbered_at_once": len(numbered),
        "emergencies": len(emergencies),
        "emergencies_advised_at_once": sum(s.tally.emergency_advised for s in crew),
        "retries_sent": sum(s.tally.repeats for s in crew), "lost": len(lost),
        "errors": len(errors), "first_errors": errors[:5],
        "drain_s": round(drain, 1),
        "contacts": contacts, "duplicated_msg_ids": duplicated, "tickets": tickets,
        "inbox_rows": inbox_rows, "inbox_unprocessed_or_without_number": inbox_failed,
        "follow_ups_with_number": follow_ups, "alarms": alarms,
    }
    # Issue 19's goal; printed, not asserted (the figures depend on what else runs here).
    result["goal_p99_le_1s_and_none_past_5s"] = (result["p99_ms"] <= 1000
                                                 and result["past_5s"] == 0)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "wechat_burst.json").write_text(json.dumps(result, ensure_ascii=False, indent=2),
                                               encoding="utf-8")
    print("\nWeChat burst:", json.dumps(result, ensure_ascii=False, indent=2))

    assert not errors, errors[:5]
    assert not lost, lost[:5]
    # Stored once: one contact per MsgId answered, one ticket per demand, one inbox row and
    # one follow-up with a number per held message.
    assert duplicated == 0
    assert contacts == len(demands) == tickets
    # (a push answered "held" after its first try timed out may be answered with its number
    # by a retry: held ≤ inbox rows)
    assert len(held) <= inbox_rows == follow_ups
    assert inbox_failed == 0
    assert result["emergencies_advised_at_once"] == len(emergencies) <= alarms

