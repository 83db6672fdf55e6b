"""Catch-up after downtime: channel cursors, and re-reading what was posted while the bot was away.

The Intake holds seconds of traffic, not minutes. So the client remembers, per channel, the newest
message it has handled (in memory, flushed to the store every few seconds and on stop: never a
write per message), and after a (re)connect re-reads each recently active channel from there,
bounded in channels and messages, feeding what it finds to the Intake like live traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable

import discord

from bot.models import Message, utcnow
from bot.platforms.discord_events import to_message

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CatchUpLimits:
    """How far back catch-up reaches: a bounded amount of work, whatever the downtime was."""

    active_within: timedelta = timedelta(hours=24)
    max_channels: int = 50
    per_channel: int = 200
    flush_every_s: float = 5.0


class ChannelCursors:
    """Per channel, the newest message id that is safe to resume after.

    Safe means every message up to it has gone through the Intake: while a message is still
    queued, the cursor stays below it, so a crash re-reads it rather than skipping it."""

    def __init__(self, store: Any, flush_every_s: float = 5.0) -> None:
        self.store = store
        self.flush_every_s = flush_every_s
        self._done: dict[tuple[str, str], tuple[int, datetime]] = {}
        self._pending: dict[tuple[str, str], set[int]] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._task: asyncio.Task | None = None
        self.flushes = 0

    def submitted(self, message: Message) -> None:
        if message.edited or not message.message_id.isdigit():
            return
        self._pending.setdefault((message.server, message.channel_id), set()).add(int(message.message_id))

    def handled(self, message: Message, _decision: object = None) -> None:
        """Intake callback: the message is stored (or judged clean); the cursor may pass it."""
        if message.edited or not message.message_id.isdigit():
            return
        key, mid = (message.server, message.channel_id), int(message.message_id)
        self._pending.get(key, set()).discard(mid)
        last = self._done.get(key)
        if last is None or mid > last[0]:
            self._done[key] = (mid, utcnow())  # when we last saw the channel active
        self._dirty.add(key)

    def safe_rows(self) -> list[tuple[str, str, int, datetime]]:
        rows = []
        for key in self._dirty:
            mid, seen = self._done[key]
            pending = self._pending.get(key)
            if pending:
                mid = min(mid, min(pending) - 1)
            rows.append((key[0], key[1], mid, seen))
        return rows

    def flush(self) -> int:
        """Write the changed cursors in one transaction; returns how many."""
        rows = self.safe_rows()
        if not rows:
            return 0
        try:
            self.store.save_channel_cursors(rows)
        except Exception:  # a locked or full disk must not stop flagging; retried on the next tick
            log.exception("could not save %d channel cursors", len(rows))
            return 0
        self.flushes += 1
        self._dirty.clear()
        return len(rows)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="discord-cursor-flush")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_every_s)
            self.flush()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.flush()


class CatchUp:
    """Re-reads channels after a (re)connect. One run at a time; live messages are not read twice."""

    def __init__(self, client: discord.Client, store: Any, submit: Callable[[Message], Awaitable[None]], limits: CatchUpLimits = CatchUpLimits()) -> None:
        self.client = client
        self.store = store
        self.submit = submit
        self.limits = limits
        self.live_floor: dict[int, int] = {}  # channel -> first message id seen live since the connect
        self._task: asyncio.Task | None = None
        self.submitted = 0
        self.runs = 0

    def saw_live(self, channel_id: int, message_id: int) -> None:
        if channel_id not in self.live_floor or message_id < self.live_floor[channel_id]:
            self.live_floor[channel_id] = message_id

    def start(self) -> asyncio.Task | None:
        """Begin a run in the background unless one is going (called on ready and on resume)."""
        if self._task is not None and not self._task.done():
            return self._task
        self.live_floor = {}
        self._task = asyncio.create_task(self.run(), name="discord-catch-up")
        return self._task

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def run(self) -> int:
        since = utcnow() - self.limits.active_within
        cursors = self.store.channel_cursors("discord", since, self.limits.max_channels)
        if not cursors:
            return 0
        self.runs += 1
        log.info("catch-up: re-reading %d channel(s) active in the last %s", len(cursors), self.limits.active_within)
        total = 0
        for i, cursor in enumerate(cursors, 1):
            try:
                found = await self._channel(cursor)
            except (discord.HTTPException, discord.RateLimited) as exc:
                log.warning("catch-up: channel %s in %s not readable: %s", cursor["channel_id"], cursor["server"], exc)
                continue
            total += found
            log.info("catch-up: %d/%d channels, %d message(s) from channel %s", i, len(cursors), found, cursor["channel_id"])
        log.info("catch-up done: %d message(s) missed while away went to the intake", total)
        return total

    async def _channel(self, cursor: dict) -> int:
        channel_id = int(cursor["channel_id"])
        guild_id = int(cursor["server"].split(":", 1)[1])
        cached = self.client.get_channel(channel_id)
        # not cached, or a kind without history (category, forum): ask the API, which answers or refuses
        channel = cached if isinstance(cached, discord.abc.Messageable) else self.client.get_partial_messageable(channel_id, guild_id=guild_id)
        found = 0
        me = self.client.user.id if self.client.user else None
        async for msg in channel.history(limit=self.limits.per_channel, after=discord.Object(id=cursor["last_message_id"]), oldest_first=True):
            floor = self.live_floor.get(channel_id)
            if floor is not None and msg.id >= floor:
                break  # from here on the gateway delivered it live
            if msg.author.bot or msg.author.id == me or msg.guild is None:
                continue
            await self.submit(to_message(msg))
            found += 1
            self.submitted += 1
        return found
