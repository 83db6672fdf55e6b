"""The bounded queue between the platform adapters and the pipeline: backpressure instead of unbounded memory."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Callable

from bot.models import Decision, Message

if TYPE_CHECKING:
    from bot.pipeline import Pipeline

log = logging.getLogger(__name__)


class Intake:
    """Adapters `submit` messages; workers run `Pipeline.handle`. Adapters wait when the queue is full.

    Handling ends at the store (alerts and actions are handed to background workers), so a queue of a
    thousand messages drains in well under a second even when the platform is slow or down."""

    def __init__(self, pipeline: "Pipeline", maxsize: int = 1000, workers: int = 4, on_done: Callable[[Message, Decision | None], None] | None = None) -> None:
        self.pipeline = pipeline
        self.queue: asyncio.Queue[Message | None] = asyncio.Queue(maxsize=maxsize)
        self.workers = workers
        self.on_done = on_done
        self._tasks: list[asyncio.Task] = []
        self.handled = 0
        self.failed = 0

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work(), name=f"intake-{i}") for i in range(self.workers)]

    async def submit(self, message: Message) -> None:
        await self.queue.put(message)

    async def _work(self) -> None:
        while True:
            message = await self.queue.get()
            try:
                if message is None:
                    return
                try:
                    decision = await self.pipeline.handle(message)
                    self.handled += 1
                except Exception:
                    self.failed += 1
                    decision = None
                    log.exception("failed to handle %s/%s", message.server, message.message_id)
                if self.on_done is not None:
                    self.on_done(message, decision)
            finally:
                self.queue.task_done()

    async def drain(self) -> None:
        await self.queue.join()

    async def stop(self) -> None:
        """Store everything already accepted, then stop the workers."""
        if not self._tasks:
            return
        for _ in self._tasks:
            await self.queue.put(None)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
