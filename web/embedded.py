"""Embedded mode (no Redis): what the workers will do is done by one thread of the web process.

For now that is delivering the outbox (110 transfers and acks): at once after a request that
wrote to it, and every `interval` seconds for the retries. The workers issue moves this to
Celery when `HOTLINE_REDIS_URL` is set; the domain functions called are the same.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

log = logging.getLogger("hotline.embedded")


class EmbeddedRunner:
    """A daemon thread delivering the outbox when poked and on a timer."""

    def __init__(self, app: Flask, interval: float = 15.0) -> None:
        self.app = app
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0

    def start(self) -> EmbeddedRunner:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="hotline-embedded",
                                            daemon=True)
            self._thread.start()
        return self

    def poke(self) -> None:
        """Run a round now (called after a commit that queued something)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the current round and stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        from web.extensions import db
        from web.police110 import deliver_outbox

        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                report = deliver_outbox(self.app)
                if report.delivered or report.retried or report.dead:
                    log.info("outbox: %d delivered, %d to retry, %d failed",
                             len(report.delivered), len(report.retried), len(report.dead))
            except Exception:  # a round that fails must not end the thread
                log.exception("outbox delivery round failed")
            finally:
                with self.app.app_context():
                    db.session.remove()
                self.rounds += 1
