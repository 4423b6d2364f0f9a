"""Heartbeats of the Celery workers and beats, in Redis, for `/healthz`: each worker writes
one at every periodic round it runs, each beat at every tick. A heartbeat older than two sweep
intervals is stale. Writing one never fails a round (Redis down: `/healthz` says the queue is
down anyway)."""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

from celery import beat

log = logging.getLogger("hotline.workers")

KEY = "hotline:heartbeats"  # a hash: "<kind>:<name>" -> unix time of the last heartbeat
FORGOTTEN_AFTER = 24 * 3600.0  # a process silent this long is no longer listed
_clients: dict[str, Any] = {}


def _client(url: str) -> Any:
    import redis

    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    return _clients[url]


def write(url: str | None, kind: str, name: str, now: float | None = None) -> None:
    """Record that `kind` ("worker" or "beat") `name` is alive now; never raise."""
    if not url or not url.startswith(("redis://", "rediss://", "unix://")):
        return
    try:
        _client(url).hset(KEY, f"{kind}:{name}", now if now is not None else time.time())
    except Exception as exc:  # noqa: BLE001 - a heartbeat never fails the work it reports
        log.debug("could not write the %s heartbeat: %s", kind, exc)


def read(url: str, stale_after: float, now: float | None = None) -> dict[str, Any]:
    """`{"workers": "ok"|"stale"|"none", "beat": …, "heartbeats": {"<kind>:<name>": age_s}}`:
    "ok" when at least one of the kind beat within `stale_after` seconds. Raises the Redis
    error when Redis cannot be read."""
    now = now if now is not None else time.time()
    client = _client(url)
    raw = client.hgetall(KEY)
    ages: dict[str, float] = {}
    gone = []
    for field, value in raw.items():
        name = field.decode() if isinstance(field, bytes) else str(field)
        age = max(0.0, now - float(value))
        if age > FORGOTTEN_AFTER:
            gone.append(field)
        else:
            ages[name] = round(age, 1)
    if gone:
        client.hdel(KEY, *gone)
    out: dict[str, Any] = {}
    for kind, label in (("worker", "workers"), ("beat", "beat")):
        mine = [age for name, age in ages.items() if name.startswith(kind + ":")]
        out[label] = ("none" if not mine else "ok" if min(mine) <= stale_after else "stale")
    out["heartbeats"] = dict(sorted(ages.items()))
    return out


class HeartbeatScheduler(beat.Scheduler):
    """Celery beat's in-memory scheduler, writing the beat's heartbeat at each tick (at most
    once a second)."""

    _last_heartbeat = 0.0

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """One tick of the schedule, and the heartbeat."""
        now = time.time()
        if now - self._last_heartbeat >= 1.0:
            self._last_heartbeat = now
            write(self.app.conf.broker_url, "beat", socket.gethostname(), now)
        return super().tick(*args, **kwargs)
