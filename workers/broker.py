"""kombu's Redis transport with one guard, so a worker survives Redis going away.

The failure it guards against (celery 5.7.0, kombu 5.7.0; seen in 2 of 3 runs of the
load-with-faults benchmark, reproduced by tests/workers/test_worker_survives_redis.py): when
the broker connection breaks, Celery's consumer (`on_connection_error_after_connected`) first
`collect()`s the connection, then `close()`s it. `collect()` closes the channels and, at its
end, detaches the transport from the connection (`transport.client = None`). But a channel can
come out of `collect()` still open:

- the default channel (the task consumer's) has a BRPOP outstanding, so its `close()` first
  reads the BRPOP reply, which fails on the dead socket: the channel stays open;
- the transport then closes its channels one by one and stops at the first that raises (the
  remote-control channel deleting its auto-delete fanout queue on the dead server), so the
  default channel is not closed there either.

`close()` then closes the default channel again; it puts its unacknowledged task back
(`restore_unacked`), which asks for a new connection pool, whose parameters are read from
`transport.client` — now None: `AttributeError: 'NoneType' object has no attribute
'hostname'`. Nothing expects an AttributeError there, so it ends the worker ("Unrecoverable
error", exit code 0) instead of starting the reconnect cycle.

The guard: a channel whose transport has been detached raises the Redis connection error
instead, which is what the same restore raises anyway while the server is down, and which
kombu and Celery handle (the channel close ignores it, the consumer reconnects). Nothing is
lost: the unacknowledged message stays in Redis's unacked hash and is delivered again after
the visibility timeout, as for a worker killed mid-task.

Used through Celery's `broker_transport` setting (`make_celery`), for `redis://` broker URLs.
A `rediss://` URL keeps kombu's own transport: kombu decides on TLS from the transport's name
(`rediss`), which naming this class instead would bypass.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

TRANSPORT = "workers.broker:Transport"
SCHEMES = ("redis",)


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> Any:
        if self.connection.client is None:
            raise RedisConnectionError(
                "broker connection already closed (restore left to the visibility timeout)")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel
