"""Telegram's flood limits, kept on our side with PTB's AIORateLimiter, shaped for a bot with an alert outbox.

Telegram allows about one message per second in a chat and 20 per minute in a group, and answers
429 `retry_after` beyond that. PTB's stock limiter paces *every* call that names a group (deletes,
bans and member look-ups too), sleeps through any 429 however long, and halts all chats while it
does. Here:
- only calls that post or edit a message are paced; deleting, restricting and look-ups go at once;
- each chat gets one message per second, and a group one per `group_period` seconds on average
  (20 a minute, without the burst that a sliding minute would then refuse);
- nobody waits more than `max_wait` for a turn (a call may pass its own bound as PTB's
  `rate_limit_args`, e.g. a reply a moderator is waiting for): the caller gets `RetryAfter` instead
  and the alert outbox tries again later (an action never sleeps for minutes);
- a call that passes its own bound is the bot's answer to a person (a command reply, a pager), and
  it takes the chat's next turn ahead of background senders already waiting there: during a raid the
  alert outbox uses every turn of the moderators' chat, and a moderator's `/queue` should not wait
  behind it;
- a 429 of up to `short_retry` seconds is waited out once; a longer one is raised, and that chat
  alone is not sent to again until its wait is over;
- `close()` ends every wait at once, so stopping the bot is not held up by a queue of alerts.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import math
import time
import warnings
from datetime import timedelta
from typing import Any, Callable, Coroutine

from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter

log = logging.getLogger(__name__)

#: Bot API methods that post or edit a message: what the flood limits count.
SENDING = frozenset(
    {
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "editMessageCaption",
        "sendDocument",
        "sendPhoto",
        "sendVideo",
        "sendAnimation",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
        "sendSticker",
        "sendPoll",
    }
)
MAX_LIMITERS = 512


def retry_after_seconds(exc: RetryAfter) -> float:
    """PTB 22 gives int or timedelta (and warns about the change); we only need seconds."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _chat_key(chat_id: Any) -> int | str | None:
    if chat_id is None:
        return None
    with contextlib.suppress(ValueError, TypeError):
        return int(chat_id)
    return str(chat_id)


def _is_group(key: int | str | None) -> bool:
    return isinstance(key, str) or (isinstance(key, int) and key < 0)


class _Late(Exception):
    """No turn before the deadline (or the limiter is closing)."""


class ChatTurns:
    """One chat's turns to send: one per `period` seconds. Waiters are served by priority (0: a person is
    waiting for this answer; 1: background, such as the alert outbox), then in arrival order."""

    def __init__(self, period: float, clock: Callable[[], float]) -> None:
        self.period = period
        self.clock = clock
        self.next_at = -math.inf
        self._queue: list[tuple[int, int]] = []  # heap of (priority, arrival)
        self._arrivals = itertools.count()
        self._changed = asyncio.Event()

    def idle(self) -> bool:
        """Nobody waiting and the next turn free: the entry can be dropped and made again later."""
        return not self._queue and self.clock() >= self.next_at

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def take(self, priority: int, deadline: float, closing: asyncio.Event) -> None:
        """Wait for this chat's turn; raises _Late at `deadline` or when `closing` is set."""
        me = (priority, next(self._arrivals))
        heapq.heappush(self._queue, me)
        try:
            while True:
                now = self.clock()
                if closing.is_set() or now >= deadline:
                    raise _Late
                first = self._queue[0] == me
                if first and now >= self.next_at:
                    heapq.heappop(self._queue)
                    self.next_at = now + self.period
                    self._wake()  # the next in line starts waiting for the new turn time
                    return
                wait = min(deadline, self.next_at) - now if first else deadline - now
                changed = asyncio.ensure_future(self._changed.wait())
                stop = asyncio.ensure_future(closing.wait())
                try:
                    await asyncio.wait({changed, stop}, timeout=max(0.0, wait), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    changed.cancel()
                    stop.cancel()
        except BaseException:
            if me in self._queue:  # gave up (late, closing, cancelled): let the others move up
                self._queue.remove(me)
                heapq.heapify(self._queue)
                self._wake()
            raise


class FloodLimiter(AIORateLimiter):
    """AIORateLimiter (its overall 30 messages/s bucket) plus per-chat pacing, bounded waits and fast close."""

    def __init__(
        self,
        *,
        max_wait: float = 5.0,
        short_retry: float = 2.0,
        chat_period: float = 1.0,
        group_period: float = 3.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(group_max_rate=0, max_retries=0)  # groups are paced per chat below
        self.max_wait = max_wait
        self.short_retry = short_retry
        self.chat_period = chat_period
        self.group_period = group_period
        self.clock = clock
        self._chats: dict[int | str, ChatTurns] = {}
        self._blocked: dict[int | str | None, float] = {}  # chat -> monotonic time its 429 wait ends
        self._closing = asyncio.Event()

    def close(self) -> None:
        """Stop waiting: every paced call from now on (and every one waiting) gets RetryAfter at once."""
        self._closing.set()

    @property
    def closed(self) -> bool:
        return self._closing.is_set()

    async def shutdown(self) -> None:
        self.close()

    def _chat_turns(self, key: int | str) -> ChatTurns:
        turns = self._chats.get(key)
        if turns is None:
            if len(self._chats) > MAX_LIMITERS:
                for k, t in list(self._chats.items()):
                    if t.idle():
                        del self._chats[k]
            period = self.group_period if _is_group(key) else self.chat_period
            turns = self._chats[key] = ChatTurns(period, self.clock)
        return turns

    async def _turn(self, key: int | str | None, priority: int, deadline: float) -> None:
        """The chat's turn, then one of the overall 30/s, before `deadline`; else RetryAfter (also when closing)."""
        try:
            if key is not None:
                await self._chat_turns(key).take(priority, deadline, self._closing)
        except _Late:
            raise RetryAfter(timedelta(seconds=math.ceil(self.group_period))) from None
        if self._base_limiter is None or key is None:
            return
        remaining = deadline - self.clock()
        if self._closing.is_set() or remaining <= 0:
            raise RetryAfter(timedelta(seconds=math.ceil(self.group_period)))
        acquire = asyncio.ensure_future(self._base_limiter.acquire())
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            await asyncio.wait({acquire, closing}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
            if not acquire.done():
                acquire.cancel()
        if not acquire.done() or acquire.cancelled():
            raise RetryAfter(timedelta(seconds=math.ceil(self.group_period)))

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict | list]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict | list:
        key = _chat_key(data.get("chat_id"))
        paced = endpoint in SENDING
        if paced:
            blocked = self._blocked.get(key, 0.0) - self.clock()
            if blocked > 0:
                raise RetryAfter(timedelta(seconds=math.ceil(blocked)))
            self._blocked.pop(key, None)
            bound = float(rate_limit_args) if rate_limit_args else self.max_wait
            await self._turn(key, 0 if rate_limit_args else 1, self.clock() + bound)
        for attempt in range(2):
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = retry_after_seconds(exc)
                if paced:
                    self._blocked[key] = self.clock() + wait
                if attempt or wait > self.short_retry or self._closing.is_set():
                    log.info("%s: Telegram asks to wait %.0f s; handing the wait back to the caller", endpoint, wait)
                    raise
                log.info("%s: flood wait %.1f s, waiting it out once", endpoint, wait)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), timeout=wait + 0.1)
                if self._closing.is_set():
                    raise
        raise AssertionError("unreachable")
