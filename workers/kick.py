"""Poke the workers after a commit that queued something for an outside party."""

from __future__ import annotations

import logging

from celery import Celery

from workers.tasks import DELIVER_OUTBOX

log = logging.getLogger("hotline.workers")


class CeleryKicker:
    """`Services.runner` in distributed mode: `poke()` asks a worker for an outbox round now.

    The outbox row is already committed when `poke()` runs, so a broker that is down loses
    nothing: the error is logged and swallowed, and the beat's next round delivers the row.
    """

    def __init__(self, celery: Celery, expires: float = 60.0) -> None:
        self.celery = celery
        self.expires = expires  # an unconsumed kick is stale once a periodic round has run

    def poke(self) -> None:
        """Send `hotline.deliver_outbox` now; never raise."""
        try:
            # Its own connection, tried once: a request must not wait on kombu's reconnect
            # loop (seconds) while Redis is down.
            with self.celery.connection_for_write(
                    transport_options={"max_retries": 0}) as connection:
                self.celery.send_task(DELIVER_OUTBOX, retry=False, expires=self.expires,
                                      ignore_result=True, connection=connection)
        except Exception as exc:  # noqa: BLE001 — any broker fault: the beat covers it
            log.warning("could not kick the workers (%s); the next periodic round delivers",
                        exc)

    def changed(self) -> None:
        """A commit that owes the outbox nothing: no kick (the beat refreshes the rollups)."""

    def stop(self, timeout: float = 10.0) -> None:
        """Nothing runs in this process (the same interface as the embedded runner)."""
