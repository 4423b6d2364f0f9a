"""The serving half of the fakes of outside systems (the 110 desk, the call centre): a real
HTTP server on 127.0.0.1 in a thread, on a free port the first time and the same port after
`up`, that can go down (connections refused, or 503) and come back."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from werkzeug.serving import BaseWSGIServer, make_server


@dataclass
class ServedFake:
    """Serve `_wsgi` (a subclass's WSGI app); `_mode` is "503" while down answering 503."""

    thread_name: ClassVar[str] = "fake-server"
    threaded: ClassVar[bool] = False  # one request at a time unless the fake says otherwise
    _port: int = field(default=0, kw_only=True)
    _mode: str = field(default="up", init=False)
    _server: BaseWSGIServer | None = field(default=None, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    def _wsgi(self, environ: dict[str, Any],
              start_response: Callable[..., Any]) -> Iterable[bytes]:
        raise NotImplementedError

    def start(self, port: int | None = None, host: str = "127.0.0.1") -> Self:
        """Serve (a free port the first time, the same port after `up`)."""
        self._server = make_server(host, port if port is not None else self._port, self._wsgi,
                                   threaded=self.threaded)
        self._port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (connections are then refused)."""
        if self._server is not None:
            self._server.shutdown()
            assert self._thread is not None
            self._thread.join(timeout=5)
            self._server.server_close()
            self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL it serves at."""
        return f"http://127.0.0.1:{self._port}"

    def down(self, how: str = "refuse") -> None:
        """Go down: `refuse` closes the socket, `503` answers Service Unavailable."""
        if how == "refuse":
            self.stop()
        else:
            self._mode = "503"

    def up(self) -> None:
        """Come back on the same port."""
        self._mode = "up"
        if self._server is None:
            self.start()
