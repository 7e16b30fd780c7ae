"""Group commit: writes that arrive while one is being committed are committed together, as the next group.

Under concurrent load (a server's requests) many small adds then cost one transaction, one embedding batch and
one vector write per user instead of one each. Every caller still gets its own answer only after the group's
commit returned (its records are durable), and a group that fails is committed again one item at a time, so a
bad item fails only its own caller.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Queue(Generic[Item, Result]):
    """The items one event loop has pending, and the task committing them."""

    def __init__(self) -> None:
        self.pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self.drainer: asyncio.Task[None] | None = None


class GroupCommit(Generic[Item, Result]):
    """Commits submitted items in groups: one group at a time, each everything (of one `key`) pending meanwhile.

    `commit_group(items)` commits several items at once and returns one result per item, in order; when it
    raises, each item of the group is committed again alone with `commit_one`, so only a bad item's caller gets
    an error. `size(item)` and `max_size` bound a group (a bigger item is a group of its own). With no
    concurrency every group is the one item submitted, committed by `commit_one`. Each event loop has its own
    queue (a store may be used from several threads, each running a loop); their groups commit side by side.
    """

    def __init__(
        self,
        commit_group: Callable[[list[Item]], Awaitable[list[Result]]],
        commit_one: Callable[[Item], Awaitable[Result]],
        *,
        key: Callable[[Item], Hashable] = lambda item: None,
        size: Callable[[Item], int] = lambda item: 1,
        max_size: int = 256,
    ) -> None:
        self._commit_group, self._commit_one = commit_group, commit_one
        self._key, self._size, self._max_size = key, size, max_size
        self._queues: dict[int, _Queue[Item, Result]] = {}  # id(event loop) -> its queue, while it has work
        self._lock = threading.Lock()
        self.groups = 0  # groups committed so far (items submitted / groups: how much was coalesced)

    async def submit(self, item: Item) -> Result:
        """Commit `item` with whatever else is pending; its result (or its error) once the commit returned.

        A caller that is cancelled only stops waiting: its item is still committed with its group.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        with self._lock:
            queue = self._queues.setdefault(id(loop), _Queue())
        queue.pending.append((item, future))
        if queue.drainer is None:
            queue.drainer = loop.create_task(self._drain(id(loop), queue))
        return await future

    def _next_group(self, queue: _Queue[Item, Result]) -> list[tuple[Item, asyncio.Future[Result]]]:
        """The oldest pending item and the later ones of its key, up to `max_size` in all."""
        first_key = self._key(queue.pending[0][0])
        group: list[tuple[Item, asyncio.Future[Result]]] = []
        rest: list[tuple[Item, asyncio.Future[Result]]] = []
        total = 0
        for entry in queue.pending:
            size = self._size(entry[0])
            if self._key(entry[0]) == first_key and (not group or total + size <= self._max_size):
                group.append(entry)
                total += size
            else:
                rest.append(entry)
        queue.pending = rest
        return group

    async def _outcomes(self, items: list[Item]) -> list[Result | Exception]:
        if len(items) > 1:
            try:
                return list(await self._commit_group(items))
            except Exception as exc:
                logger.debug("a group of %d failed (%s): committing each alone", len(items), exc)
        out: list[Result | Exception] = []
        for item in items:
            try:
                out.append(await self._commit_one(item))
            except Exception as exc:
                out.append(exc)
        return out

    async def _drain(self, loop_id: int, queue: _Queue[Item, Result]) -> None:
        group: list[tuple[Item, asyncio.Future[Result]]] = []
        try:
            while queue.pending:
                group = self._next_group(queue)
                self.groups += 1
                outcomes = await self._outcomes([item for item, _ in group])
                for (_, future), outcome in zip(group, outcomes, strict=True):
                    if future.done():  # its caller stopped waiting
                        continue
                    if isinstance(outcome, Exception):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:  # done, or cancelled (the loop is closing): nobody is left to answer callers still waiting
            for _, future in [*group, *queue.pending]:
                if not future.done():
                    future.cancel()
            queue.pending = []
            with self._lock:
                self._queues.pop(loop_id, None)
