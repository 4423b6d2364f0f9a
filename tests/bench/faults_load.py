"""The clients of the load-with-faults benchmark (tests/bench/test_bench_faults.py).

Each client thread sends demands on one channel, alternating over the web processes, each
demand carrying a unique marker in its text, and retries as that channel's caller does:

- API intake (`POST /api/v1/tickets` as operator1): the same `Idempotency-Key` on every try,
  on connection errors, timeouts and 5xx, honouring `Retry-After`, for up to 90 s;
- WeChat (`POST /hooks/wechat`, safe mode, signed and encrypted as WeChat does): the same
  MsgId; WeChat waits 5 s for an answer and tries 3 more times (a try that fails sooner waits
  out its 5 s), then gives up;
- the 110 desk (`POST /hooks/police110/transfers`): the same incident number under a fresh
  signature and nonce, for up to 90 s;
- Open311 (`POST /open311/v2/requests.json`): GeoReport v2 has no idempotency, so an app can
  only safely try again when nothing was written: a refused connection or a 503; a timeout or a
  reset leaves the outcome unknown and is not retried.

Every try is recorded (time, channel, web process, outcome), so the errors each fault caused
and for how long can be read afterwards. `Console` is a dispatcher's console page as
web/static/js/console.js keeps it: it reconnects by itself, resumes from its settled floor on
every connect, on a `resync` and every minute, and fills a hole in seq from the lowest missing.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import requests

from integrations.open311.fake import FORM, encode_form, report_form
from integrations.police110.fake import transfer_body
from integrations.police110.signing import signed_headers
from integrations.wechat.fake import FakeWeChatServer, message_xml
from tests.console_client import InOrderClient, SeqWindow

NUMBER = re.compile(r"12345-\d{8}-\d{6}")
TEXTS = ("小区门口路灯不亮，晚上很黑", "楼下烧烤店油烟太大", "路边占道经营，影响通行",
         "人行道破损多日", "夜间施工噪音扰民", "垃圾很多天没人清运", "公交站牌被撞坏了",
         "村道坑洼，雨天积水", "小区绿化带被占用种菜", "共享单车乱停放堵住盲道")
NS = "/console"
WECHAT_ACCOUNT = "gh_hotline12345"


def outcome_of(exc: Exception) -> str:
    """A short name for a failed try."""
    text = repr(exc)
    if isinstance(exc, requests.Timeout):
        return "timeout"
    if "Connection refused" in text or "NewConnectionError" in text:
        return "refused"
    if "reset" in text.lower() or "RemoteDisconnected" in text or "aborted" in text.lower():
        return "reset"
    return type(exc).__name__


@dataclass
class Try:
    at: float  # seconds since the load started
    channel: str
    web: int
    outcome: str  # "ok", "http 503", "refused", "timeout", "reset", …
    ms: float
    marker: str


@dataclass
class Demand:
    channel: str
    marker: str
    started: float
    tries: int = 0
    acked: bool = False
    replayed: bool = False  # the acknowledgement was a stored answer (a retry's)
    given_up: str | None = None  # why it was not acknowledged
    number: str | None = None


class Recorder:
    """Every try and every demand of every client, thread-safe."""

    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.lock = threading.Lock()
        self.tries: list[Try] = []
        self.demands: list[Demand] = []
        self.crashes: list[str] = []
        # Answers no outage should give (5xx other than 503): (s, channel, web, status, body).
        self.odd: list[tuple[float, str, int, int, str]] = []

    def now(self) -> float:
        return time.monotonic() - self.t0

    def note(self, channel: str, web: int, outcome: str, started: float, marker: str) -> None:
        at = self.now()
        with self.lock:
            self.tries.append(Try(at, channel, web, outcome, (at - started) * 1000, marker))

    def odd_answer(self, channel: str, web: int, response: requests.Response) -> None:
        if response.status_code >= 500 and response.status_code != 503:
            with self.lock:
                self.odd.append((round(self.now(), 2), channel, web, response.status_code,
                                 response.text[:300]))

    def add(self, demand: Demand) -> None:
        with self.lock:
            self.demands.append(demand)


class Client(threading.Thread, ABC):
    """One sender thread: `send_one` per demand until `stop` is set."""

    channel = "?"
    pause = 0.02  # between demands

    def __init__(self, index: int, urls: list[str], rec: Recorder, stop: threading.Event,
                 run_id: str, seed: int) -> None:
        super().__init__(name=f"{self.channel}-{index}", daemon=True)
        self.index = index
        self.urls = urls
        self.rec = rec
        self.stop_event = stop
        self.run_id = run_id
        self.rng = random.Random(seed)
        self.count = 0
        self.turn = index  # which web process the next try goes to
        self.session = requests.Session()

    def next_url(self) -> tuple[int, str]:
        i = self.turn % len(self.urls)
        self.turn += 1
        return i, self.urls[i]

    def marker(self) -> str:
        self.count += 1
        return f"FX{self.run_id}-{self.channel}{self.index}-{self.count:05d}"

    def text(self, marker: str) -> str:
        return f"{self.rng.choice(TEXTS)}（编号 {marker}）"

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                demand = Demand(self.channel, self.marker(), self.rec.now())
                self.rec.add(demand)
                self.send_one(demand)
                time.sleep(self.pause)
        except Exception as exc:  # reported by the benchmark; a thread must not raise
            import traceback

            self.rec.crashes.append(f"{self.name}: {exc!r}\n{traceback.format_exc()}")
        finally:
            self.session.close()

    @abstractmethod
    def send_one(self, demand: Demand) -> None:
        """Send one demand as this channel's caller would, retrying as it would."""

    def deliver(self, demand: Demand, post: Callable[[str], requests.Response],
                ok: tuple[int, ...], read: Callable[[requests.Response], tuple[bool, Any]], *,
                wait: float = 1.0, retry: Callable[[int], bool] = lambda status: (
                    status >= 500 or status == 429), retry_unknown: bool = True) -> None:
        """Post one demand to the web processes in turn until it is acknowledged (`ok`
        statuses; `read` says whether the answer was a stored one and the ticket number), a
        refusal that `retry` does not retry, or the deadline; a Retry-After is honoured. With
        `retry_unknown` off, a connection lost after sending ends it (it may have been
        written, and the channel has no key to retry safely with)."""
        while True:
            demand.tries += 1
            web, url = self.next_url()
            started = self.rec.now()
            pause = wait
            try:
                r = post(url)
            except requests.RequestException as exc:
                outcome = outcome_of(exc)
                self.rec.note(self.channel, web, outcome, started, demand.marker)
                if not retry_unknown and outcome != "refused":
                    demand.given_up = f"unknown outcome ({outcome})"
                    return
            else:
                if r.status_code in ok:
                    self.rec.note(self.channel, web, "ok", started, demand.marker)
                    demand.acked = True
                    demand.replayed, demand.number = read(r)
                    return
                self.rec.note(self.channel, web, f"http {r.status_code}", started, demand.marker)
                self.rec.odd_answer(self.channel, web, r)
                if not retry(r.status_code):
                    demand.given_up = f"http {r.status_code}: {r.text[:200]}"
                    return
                pause = _retry_after(r, 1.0)
            if self.rec.now() - demand.started > self.deadline:
                demand.given_up = "deadline"
                return
            self._sleep(pause)

    def _sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


def _retry_after(response: requests.Response, default: float) -> float:
    try:
        return min(10.0, float(response.headers.get("Retry-After", default)))
    except ValueError:
        return default


class ApiClient(Client):
    """An operator's intake screen calling `POST /api/v1/tickets` with an Idempotency-Key."""

    channel = "api"
    deadline = 90.0

    def __init__(self, *args: Any, token: str, points: list[tuple[float, float]],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.points = points

    def send_one(self, demand: Demand) -> None:
        lon, lat = self.rng.choice(self.points)
        body = {"channel": "phone", "text": self.text(demand.marker), "type": "complaint",
                "citizen": {"phone": f"139{self.rng.randrange(10**8):08d}"},
                "lon": round(lon, 6), "lat": round(lat, 6), "crs": "WGS84"}
        headers = self.headers | {"Idempotency-Key": f"fx-{demand.marker}"}
        self.deliver(
            demand, lambda url: self.session.post(url + "/api/v1/tickets", json=body,
                                                  headers=headers, timeout=(3, 20)),
            (200, 201), lambda r: (r.headers.get("Idempotent-Replayed") == "true",
                                   r.json().get("number")), wait=0.5)


class WeChatClient(Client):
    """The WeChat server pushing one citizen's text messages (safe mode)."""

    channel = "wechat"
    timeout = 5.0  # WeChat's wait for an answer
    retries = 3

    def __init__(self, *args: Any, token: str, aes_key: str, app_id: str, **kwargs: Any
                 ) -> None:
        super().__init__(*args, **kwargs)
        self.peer = FakeWeChatServer(token, aes_key, app_id)
        self.openid = f"oFX{self.run_id}wechat{self.index:02d}"
        self.msg_base = (7 * 10**17) + self.index * 10**9 + self.rng.randrange(10**6) * 1000

    def send_one(self, demand: Demand) -> None:
        msg_id = str(self.msg_base + self.count)
        xml = message_xml(self.openid, "text", account=WECHAT_ACCOUNT,
                          create_time=int(time.time()), MsgId=msg_id,
                          Content=self.text(demand.marker))
        for attempt in range(1 + self.retries):
            demand.tries += 1
            web, url = self.next_url()
            started = self.rec.now()
            args, payload = self.peer.push(xml, timestamp=str(int(time.time())), safe=True)
            try:
                r = self.session.post(f"{url}/hooks/wechat?{urlencode(args)}", data=payload,
                                      headers={"Content-Type": "text/xml"},
                                      timeout=(self.timeout, self.timeout))
            except requests.RequestException as exc:
                self.rec.note(self.channel, web, outcome_of(exc), started, demand.marker)
            else:
                if r.status_code == 200:
                    reply = self.peer.open_reply(r.content, safe=True).get("Content", "")
                    found = NUMBER.search(reply)
                    if found is not None:
                        self.rec.note(self.channel, web, "ok", started, demand.marker)
                        demand.acked = True
                        demand.replayed = attempt > 0
                        demand.number = found.group(0)
                        return
                    self.rec.note(self.channel, web, "http 200 without a number", started,
                                  demand.marker)
                    demand.given_up = f"answered {reply[:100]!r}"
                    return
                self.rec.note(self.channel, web, f"http {r.status_code}", started, demand.marker)
                self.rec.odd_answer(self.channel, web, r)
            # The next try comes when WeChat's 5 s for this one are over.
            self._sleep(self.timeout - (self.rec.now() - started))
        demand.given_up = "no answer after 4 tries"


class PoliceClient(Client):
    """The 110 desk handing over non-police matters (signed; retried under a fresh nonce)."""

    channel = "police110"
    deadline = 90.0

    def __init__(self, *args: Any, key_id: str, secret: str,
                 points: list[tuple[float, float]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_id, self.secret = key_id, secret
        self.points = points

    def send_one(self, demand: Demand) -> None:
        lon, lat = self.rng.choice(self.points)
        incident = demand.marker.replace("FX", "J", 1)
        payload = transfer_body(
            incident, summary=self.text(demand.marker),
            received_at=datetime.now(UTC).isoformat(timespec="seconds"),
            caller={"name": "张先生", "phone": f"137{self.rng.randrange(10**8):08d}"},
            location={"address": None, "lon": round(lon, 6), "lat": round(lat, 6),
                      "crs": "WGS84"},
            remarks=[])
        body = json.dumps(payload, ensure_ascii=False).encode()

        def post(url: str) -> requests.Response:  # signed afresh for each try
            headers = {"Content-Type": "application/json; charset=utf-8",
                       **signed_headers(self.key_id, self.secret, body)}
            return self.session.post(url + "/hooks/police110/transfers", data=body,
                                     headers=headers, timeout=(3, 20))

        self.deliver(demand, post, (200, 202),
                     lambda r: (r.status_code == 200, (r.json() or {}).get("ticket_no")))


class Open311Client(Client):
    """A citizen's app posting GeoReport v2 requests (form-encoded, with its API key)."""

    channel = "open311"
    deadline = 60.0

    def __init__(self, *args: Any, api_key: str, services: list[str],
                 points: list[tuple[float, float]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.api_key = api_key
        self.services = services
        self.points = points

    def send_one(self, demand: Demand) -> None:
        lon, lat = self.rng.choice(self.points)
        form = report_form(self.api_key, self.rng.choice(self.services),
                           self.text(demand.marker), lat=f"{lat:.6f}", long=f"{lon:.6f}")
        body = encode_form(form)

        def number(r: requests.Response) -> tuple[bool, Any]:
            answer = r.json()
            return False, answer[0].get("service_request_id") if answer else None

        self.deliver(
            demand, lambda url: self.session.post(url + "/open311/v2/requests.json",
                                                  data=body, headers={"Content-Type": FORM},
                                                  timeout=(3, 20)),
            (200, 201), number, retry=lambda status: status == 503, retry_unknown=False)


class Console:
    """A dispatcher's console page on one web process (its rules: web/static/js/console.js
    and lib/feedseq.js): reconnects by itself; on every connect, on the server's `resync` and
    every minute it resumes after its settled floor; a hole below a held seq is asked for from
    the lowest missing seq half a second later, unless it arrived meanwhile."""

    GAP_WAIT = 0.5
    RESUME_EVERY = 60.0

    def __init__(self, name: str, url: str, token: str, floor: int, rec: Recorder) -> None:
        self.name = name
        self.url = url
        self.token = token
        self.rec = rec
        self.lock = threading.RLock()
        self.window = SeqWindow(floor)
        self.start_floor = floor
        self.events: dict[int, dict[str, Any]] = {}
        self.received = 0  # every `ticket` message, duplicates included
        self.duplicates = 0
        self.out_of_order = 0  # a live event that came after a higher seq
        self.highest = floor
        self.resyncs = 0
        self.resumes = 0
        self.connects = 0
        self.disconnects: list[float] = []
        self.reconnected: list[float] = []
        self.resets = 0
        self._gap_timer: threading.Timer | None = None
        self._stop = threading.Event()
        self.client = InOrderClient(reconnection=True, reconnection_attempts=0,
                                      reconnection_delay=1, reconnection_delay_max=5)
        self.client.on("connect", self._connected, namespace=NS)
        self.client.on("disconnect", self._disconnected, namespace=NS)
        self.client.on("ticket", self._ticket, namespace=NS)
        self.client.on("resumed", self._resumed, namespace=NS)
        self.client.on("resync", self._resync, namespace=NS)
        self._timer = threading.Thread(target=self._every_minute, name=f"{name}-minute",
                                       daemon=True)

    def start(self) -> None:
        self.client.connect(self.url, namespaces=[NS], auth={"token": self.token},
                            transports=["websocket"], wait_timeout=20)
        self._timer.start()

    def close(self) -> None:
        self._stop.set()
        with self.lock:
            if self._gap_timer is not None:
                self._gap_timer.cancel()
        try:
            self.client.disconnect()
        except Exception:  # noqa: BLE001 — closing a client whose server is gone
            pass
        self._timer.join(5)

    def _every_minute(self) -> None:
        while not self._stop.wait(self.RESUME_EVERY):
            self.resume()

    def _connected(self) -> None:
        with self.lock:
            self.connects += 1
            if self.connects > 1:
                self.reconnected.append(self.rec.now())
        self.resume()

    def _disconnected(self, *args: Any) -> None:
        with self.lock:
            self.disconnects.append(self.rec.now())

    def _ticket(self, message: dict[str, Any]) -> None:
        with self.lock:
            self.received += 1
            seq = message.get("seq")
            if not isinstance(seq, int) or not self.window.take(seq):
                self.duplicates += 1
                return
            if seq < self.highest:
                self.out_of_order += 1
            self.highest = max(self.highest, seq)
            self.events[seq] = message
            if self.window.above and self._gap_timer is None:
                self._gap_timer = threading.Timer(self.GAP_WAIT, self._fill_gap)
                self._gap_timer.daemon = True
                self._gap_timer.start()

    def _fill_gap(self) -> None:
        with self.lock:
            self._gap_timer = None
            missing = bool(self.window.above)
        if missing:
            self.resume()

    def _resumed(self, message: dict[str, Any]) -> None:
        with self.lock:
            if message.get("reset"):
                self.resets += 1  # the page would read the board afresh
            self.window.settle(int(message.get("seq") or 0))

    def _resync(self, message: Any = None) -> None:
        with self.lock:
            self.resyncs += 1
        self.resume()

    def resume(self) -> None:
        with self.lock:
            after = self.window.floor
            self.resumes += 1

        def send() -> None:
            try:
                self.client.emit("resume", {"after_seq": after}, namespace=NS)
            except Exception:  # noqa: BLE001 — not connected: the next connect resumes
                pass

        threading.Thread(target=send, daemon=True).start()

    def seqs(self) -> set[int]:
        with self.lock:
            return set(self.events)


def tally(values: list[str]) -> str:
    """"refused 12, http 503 3" from a list of outcomes."""
    return ", ".join(f"{k} {n}" for k, n in Counter(values).most_common()) or "—"


def new_run_id() -> str:
    return uuid.uuid4().hex[:6]


@dataclass
class Fault:
    name: str
    start: float  # seconds since the load started
    restored: float | None = None  # when the service was started again
    ready: float | None = None  # when it answered again
    notes: list[str] = field(default_factory=list)
