"""What the tests' console clients share with the page (web/static/js/console.js,
lib/feedseq.js): messages taken in the order they arrive, and the window of numbered events
held — every seq up to `floor` settled (held, or not ours), those above it held, a hole below
them owed and asked for by a resume after the floor."""

from __future__ import annotations

from typing import Any

import engineio
import socketio


class _InOrderEngineIO(engineio.Client):
    """Messages taken one at a time in the order they arrive, as the page's single JavaScript
    thread takes them: python-engineio runs each message's handler in a thread of its own, so
    a `resumed` could be taken before the replayed events sent ahead of it, settle the floor
    over them, and drop them as duplicates when they come (tests missed events, now and then).
    The clients' handlers never wait on the server (a resume is emitted from a thread of its
    own), so taking them in the read loop cannot stall it."""

    def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        if event == "message":
            kwargs["run_async"] = False
        return super()._trigger_event(event, *args, **kwargs)


class InOrderClient(socketio.Client):
    """A Socket.IO client whose messages are handled in the order they arrive."""

    def _engineio_client_class(self) -> type[engineio.Client]:
        return _InOrderEngineIO


class SeqWindow:
    """The settled floor and the seqs held above it."""

    def __init__(self, floor: int = 0) -> None:
        self.floor = floor
        self.above: set[int] = set()

    def take(self, seq: int) -> bool:
        """Hold a seq; False for one already held or below the floor (a duplicate)."""
        if seq <= self.floor or seq in self.above:
            return False
        self.above.add(seq)
        self._advance()
        return True

    def settle(self, head: int) -> None:
        """Everything up to `head` is settled (a welcome's or a resume's answer)."""
        if head > self.floor:
            self.floor = head
            self.above = {s for s in self.above if s > head}
            self._advance()

    def _advance(self) -> None:
        while self.floor + 1 in self.above:
            self.above.discard(self.floor + 1)
            self.floor += 1
