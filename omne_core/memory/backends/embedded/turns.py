"""Vector index writes in commit order, without holding SQLite's write lock while chroma works.

A writer takes a ticket while it still holds the write lock (right after its SQLite commit), releases the lock,
and writes its vectors when its turn comes; so a newer version's vector is never overwritten by an older one,
and the next SQLite commit (or a search's access counter) does not wait for chroma's disk writes. The rule that
keeps it deadlock-free: never wait for a turn while holding the write lock (a turn may take the lock).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Turns:
    """Tickets served in the order they were taken (a FIFO turnstile for threads)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._issued = 0
        self._serving = 0

    def take(self) -> int:
        """A ticket: call while holding the write lock, so tickets follow commit order; then use it at once."""
        with self._cond:
            ticket = self._issued
            self._issued += 1
            return ticket

    @contextmanager
    def turn(self, ticket: int) -> Iterator[None]:
        """Wait until every earlier ticket was served, run the block, then serve the next ticket (also on error)."""
        with self._cond:
            while self._serving != ticket:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._serving += 1
                self._cond.notify_all()
