"""FloodLimiter: paces only messages, hands long waits back instead of sleeping, and lets go at once on stop."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from telegram.error import RetryAfter

from bot.platforms.telegram_limits import FloodLimiter, retry_after_seconds

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

GROUP, OTHER, PRIVATE = -1001, -1002, 42


class Api:
    """Stands in for the HTTP call; can answer 429 a given number of times."""

    def __init__(self, flood: dict[int, list[int]] | None = None) -> None:
        self.calls: list[tuple[str, object]] = []
        self.flood = flood or {}

    def call(self, limiter: FloodLimiter, endpoint: str, chat_id: object):
        async def callback():
            self.calls.append((endpoint, chat_id))
            waits = self.flood.get(chat_id)
            if waits:
                raise RetryAfter(timedelta(seconds=waits.pop(0)))
            return {"ok": True}

        return limiter.process_request(callback, (), {}, endpoint, {"chat_id": chat_id}, None)


def limiter(**kw) -> FloodLimiter:
    kw.setdefault("max_wait", 0.05)  # a second message in a chat would wait ~1-3 s: more than this
    return FloodLimiter(**kw)


@pytest.mark.parametrize(
    "first,second,paced",
    [
        (("sendMessage", GROUP), ("sendMessage", GROUP), True),
        (("sendMessage", GROUP), ("editMessageText", GROUP), True),  # edits are messages too
        (("sendMessage", PRIVATE), ("sendMessage", PRIVATE), True),
        (("sendMessage", GROUP), ("sendMessage", OTHER), False),  # another chat has its own turn
        (("sendMessage", GROUP), ("deleteMessage", GROUP), False),  # deleting is not sending
        (("deleteMessage", GROUP), ("deleteMessage", GROUP), False),
        (("banChatMember", GROUP), ("restrictChatMember", GROUP), False),
        (("getChatMember", GROUP), ("getChatMember", GROUP), False),
        (("getUpdates", None), ("getUpdates", None), False),
    ],
)
async def test_only_messages_in_one_chat_are_paced(first, second, paced):
    lim, api = limiter(), Api()
    await api.call(lim, *first)
    if paced:
        with pytest.raises(RetryAfter):
            await api.call(lim, *second)
        assert api.calls == [first]  # handed back without calling Telegram
    else:
        await api.call(lim, *second)
        assert api.calls == [first, second]


@pytest.mark.parametrize(
    "waits,short,ok,calls",
    [
        ([1], 2.0, True, 2),  # a short flood wait is waited out once
        ([1, 1], 2.0, False, 2),  # but only once
        ([30], 2.0, False, 1),  # a long one goes back to the caller at once
        ([3], 0.0, False, 1),
    ],
)
async def test_flood_waits_short_are_retried_long_are_handed_back(waits, short, ok, calls):
    lim, api = limiter(short_retry=short), Api({GROUP: list(waits)})
    if ok:
        assert await api.call(lim, "banChatMember", GROUP) == {"ok": True}
    else:
        with pytest.raises(RetryAfter) as caught:
            await api.call(lim, "banChatMember", GROUP)
        assert retry_after_seconds(caught.value) == waits[calls - 1]
    assert len(api.calls) == calls


async def test_a_chat_that_answered_429_is_left_alone_until_its_wait_is_over():
    now = [100.0]
    lim, api = limiter(clock=lambda: now[0]), Api({GROUP: [40]})
    with pytest.raises(RetryAfter):
        await api.call(lim, "sendMessage", GROUP)
    with pytest.raises(RetryAfter) as caught:
        await api.call(lim, "sendMessage", GROUP)
    assert len(api.calls) == 1 and 39 <= retry_after_seconds(caught.value) <= 40
    await api.call(lim, "sendMessage", OTHER)  # other chats go on
    await api.call(lim, "deleteMessage", GROUP)  # and so does deleting in that chat
    assert len(api.calls) == 3


async def test_a_caller_may_wait_longer_for_its_turn_than_the_default():
    """A reply a moderator is waiting for passes its own bound (PTB's rate_limit_args) and gets its turn."""
    lim, api = limiter(group_period=0.5), Api()
    await api.call(lim, "sendMessage", GROUP)
    with pytest.raises(RetryAfter):
        await api.call(lim, "sendMessage", GROUP)

    async def callback():
        api.calls.append(("sendMessage", GROUP))
        return {"ok": True}

    assert await lim.process_request(callback, (), {}, "sendMessage", {"chat_id": GROUP}, 5) == {"ok": True}
    assert len(api.calls) == 2


async def test_close_releases_a_waiting_sender_at_once():
    lim, api = FloodLimiter(max_wait=60.0), Api()
    await api.call(lim, "sendMessage", GROUP)
    waiting = asyncio.create_task(api.call(lim, "sendMessage", GROUP))  # its turn would come in ~3 s
    await asyncio.sleep(0.05)
    assert not waiting.done()
    lim.close()
    with pytest.raises(RetryAfter):
        await waiting
    assert api.calls == [("sendMessage", GROUP)]
    with pytest.raises(RetryAfter):
        await api.call(lim, "sendMessage", OTHER)  # closed: no new sends either
    await api.call(lim, "deleteMessage", GROUP)  # the last protective calls still go out


async def test_an_answer_to_a_person_goes_before_queued_alerts_in_the_same_chat():
    """During a raid the outbox waits for every turn of the moderators' chat; a command reply (which passes its
    own bound) takes the next turn ahead of alert edits that were already waiting."""
    lim, order = FloodLimiter(group_period=0.3, max_wait=5.0), []

    def send(name: str, bound: int | None):
        async def callback():
            order.append(name)
            return {"ok": True}

        return lim.process_request(callback, (), {}, "editMessageText" if bound is None else "sendMessage", {"chat_id": GROUP}, bound)

    await send("alert 1", None)
    queued = [asyncio.create_task(send(f"alert {i}", None)) for i in (2, 3)]
    await asyncio.sleep(0.05)  # both alerts are waiting for the chat's next turn
    reply = asyncio.create_task(send("reply to /queue", 15))
    await asyncio.gather(reply, *queued)
    assert order == ["alert 1", "reply to /queue", "alert 2", "alert 3"]


async def test_a_waiter_that_gives_up_lets_the_next_one_move_up():
    lim, order = FloodLimiter(group_period=0.3, max_wait=5.0), []

    def send(name: str, bound: float | None):
        async def callback():
            order.append(name)
            return {"ok": True}

        return lim.process_request(callback, (), {}, "sendMessage", {"chat_id": GROUP}, bound)

    await send("first", None)
    impatient = asyncio.create_task(send("impatient", 0.1))  # first in line, but gives up before the turn
    patient = asyncio.create_task(send("patient", None))
    with pytest.raises(RetryAfter):
        await impatient
    await patient
    assert order == ["first", "patient"]


async def test_other_chats_do_not_wait_for_a_busy_one():
    lim, order = FloodLimiter(group_period=5.0, max_wait=10.0), []

    def send(chat: int):
        async def callback():
            order.append(chat)
            return {"ok": True}

        return lim.process_request(callback, (), {}, "sendMessage", {"chat_id": chat}, None)

    await send(GROUP)
    busy = asyncio.create_task(send(GROUP))  # waits ~5 s for its turn
    await asyncio.wait_for(send(OTHER), timeout=1.0)
    assert order == [GROUP, OTHER] and not busy.done()
    lim.close()
    with pytest.raises(RetryAfter):
        await busy
