"""Embedded mode (no Redis): what the workers will do is done by one thread of the web process.

It processes the WeChat messages held in a burst and delivers the outbox (110 transfers and
acks, SMS) at once after a request that wrote to them
and every `interval` seconds for the retries, and sweeps the ticket clocks every
`sweep_interval` seconds. The statistics' rollups are refreshed in batches, off the requests:
at most every `stats_interval` seconds while changes wait (a refresh takes every ticket changed
since the last one, one upsert per slice), so a burst of intakes costs one refresh, not one
each, and the rollups lag by at most about `stats_interval`. With `HOTLINE_REDIS_URL` the
workers issue moves this to Celery; the domain functions called are the same.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flask import Flask

log = logging.getLogger("hotline.embedded")
# During a WeChat burst, held messages are processed this many at a time, with this pause.
BURST_BATCH = 5
BURST_PAUSE = 0.5


class EmbeddedRunner:
    """A daemon thread delivering the outbox when poked and on a timer."""

    def __init__(self, app: Flask, interval: float = 15.0, sweep_interval: float = 60.0,
                 alarm_interval: float = 5.0, stats_interval: float = 1.0) -> None:
        self.app = app
        self.interval = interval
        self.sweep_interval = sweep_interval
        self.stats_interval = stats_interval
        self._last_stats = float("-inf")
        self._stats_owed = False
        # Alarms escalate 60 s after they are raised: swept every few seconds on their own,
        # while the rest of the round keeps its pace.
        self.alarm_interval = alarm_interval
        self._last_sweep = float("-inf")
        self._last_round = float("-inf")
        self._poked = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0
        # Its heartbeat for /healthz: when the loop last went round (time.monotonic()).
        self.heartbeat: float | None = None

    def start(self) -> EmbeddedRunner:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="hotline-embedded",
                                            daemon=True)
            self._thread.start()
        return self

    def health(self) -> str:
        """"ok" while the loop goes round, "stale" once silent for two sweep intervals,
        "starting" before its first round."""
        if self.heartbeat is None:
            return "starting" if self._thread is not None else "stopped"
        return "ok" if time.monotonic() - self.heartbeat <= 2 * self.sweep_interval else "stale"

    def poke(self) -> None:
        """Run a round now (called after a commit that queued something); the rollups follow
        within `stats_interval`."""
        self._poked = True
        self._stats_owed = True
        self._wake.set()

    def changed(self) -> None:
        """A commit that owes the outbox nothing: only the rollups follow, within
        `stats_interval` (the thread is woken once to time that, not for every commit)."""
        if not self._stats_owed:
            self._stats_owed = True
            self._wake.set()

    def _stats_due_in(self) -> float:
        return self._last_stats + self.stats_interval - time.monotonic()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the current round and stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        from workers.rounds import alarm_round, deliver_round, inbox_round, stats_round, sweep_round

        while not self._stop.is_set():
            timeout = min(self.interval, self.alarm_interval)
            if self._stats_owed:
                timeout = min(timeout, max(self._stats_due_in(), 0.0))
            self._wake.wait(timeout)
            self._wake.clear()
            if self._stop.is_set():
                break
            self.heartbeat = time.monotonic()
            try:
                alarm_round(self.app)
            except Exception:
                log.exception("alarm sweep failed")
            if not self._poked and time.monotonic() - self._last_round < self.interval:
                if self._stats_owed and self._stats_due_in() <= 0:
                    self._refresh_stats(stats_round)
                continue
            self._poked = False
            self._last_round = time.monotonic()
            # Each part on its own: a failing sweep must not hold back deliveries, and no
            # failure may end the thread.
            if time.monotonic() - self._last_sweep >= self.sweep_interval:
                self._last_sweep = time.monotonic()
                try:
                    sweep_round(self.app)
                except Exception:
                    log.exception("clock sweep failed")
            burst = self._wechat_burst_on()
            try:  # WeChat messages held in a burst: their tickets, then their follow-ups
                held = inbox_round(self.app, BURST_BATCH if burst else 100)
                if held.more:  # a backlog: another round soon, in batches
                    self._poked = True
                    self._wake.set()
            except Exception:
                log.exception("WeChat inbox round failed")
                held = None
            try:
                report = deliver_round(self.app)
                if report.delivered or report.retried or report.dead:
                    log.info("outbox: %d delivered, %d to retry, %d failed",
                             len(report.delivered), len(report.retried), len(report.dead))
            except Exception:
                log.exception("outbox delivery failed")
            self._relay_leftovers()
            if self._stats_due_in() <= 0:  # else the batch waits for its turn (woken then)
                self._refresh_stats(stats_round)
            self.rounds += 1
            if burst and held is not None and held.more:
                # While the hook holds pushes, the backlog is worked off slowly: this thread
                # shares the process (and its interpreter lock) with the requests it would slow.
                self._stop.wait(BURST_PAUSE)

    def _wechat_burst_on(self) -> bool:
        """The WeChat hook of this app held a push in the last few seconds."""
        from web.hooks.wechat import PRESSURE_SECONDS

        state = self.app.extensions.get("wechat_burst")
        return state is not None and time.monotonic() - state.last_hold < PRESSURE_SECONDS

    def _refresh_stats(self, stats_round: Any) -> None:
        """One refresh of the rollups: every change committed so far, in one batch."""
        self._stats_owed = False
        self._last_stats = time.monotonic()
        try:
            stats_round(self.app)
        except Exception:
            log.exception("statistics refresh failed")

    def _relay_leftovers(self) -> None:
        """Console events a request committed but did not get to send (a crash between its
        commit and its relay) go out here at the latest."""
        from web.extensions import db
        from web.services import services

        with self.app.app_context():
            try:
                services().console.relay(db.session)
            finally:
                db.session.remove()
