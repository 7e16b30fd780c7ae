"""A store's background job (re-embedding every record after a change of embedder or dense-text format): run on the
store's loop after `open` returned, asked to stop between steps, and awaited by `close`, so a backend is never
closed under a write in flight."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


class BackgroundJob:
    """At most one task at a time; `work` gets the event that asks it to stop, and checks it between its steps."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, work: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        """Run `work` in a task of the running loop (a failure is logged: what it left undone waits for the next
        open or repair)."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self._stop = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(work, self._stop), name=self.name)

    async def _run(self, work: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event) -> None:
        try:
            await work(stop)
        except Exception as exc:
            logger.warning("%s stopped: %s", self.name, exc)

    async def wait(self) -> None:
        """Until the job has ended (at once when none runs)."""
        task = self._task
        if task is not None and not task.done():
            await asyncio.shield(task)

    async def stop(self) -> None:
        """Ask the job to stop after the step in flight and wait for that step (on the job's own loop; from another
        loop the job is only asked, and stops at its next check)."""
        task, self._task = self._task, None
        if task is None or task.done():
            return
        self._stop.set()
        if task.get_loop() is asyncio.get_running_loop():
            await asyncio.shield(task)
