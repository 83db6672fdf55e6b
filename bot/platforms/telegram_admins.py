"""Who is an admin of a group, asked from Telegram and cached briefly.

Buttons and admin commands check the presser with getChatMember (authoritative for one
user); message authors are checked against getChatAdministrators (one call per group per
TTL, so a flood from many accounts does not become a flood of API calls).
"""
from __future__ import annotations

import logging
import time
from typing import Callable

from telegram import Bot, ChatMember
from telegram.error import TelegramError

log = logging.getLogger(__name__)

ADMIN_STATUSES = (ChatMember.ADMINISTRATOR, ChatMember.OWNER)
#: Telegram's service account that anonymous group admins post as.
GROUP_ANONYMOUS_BOT = 1087968824


class AdminCache:
    def __init__(self, bot: Bot, ttl: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.bot = bot
        self.ttl = ttl
        self.clock = clock
        self._members: dict[tuple[int, int], tuple[float, bool]] = {}
        self._lists: dict[int, tuple[float, frozenset[int]]] = {}

    async def is_admin(self, chat_id: int | str, user_id: int | str) -> bool:
        """getChatMember, cached for `ttl` seconds; an API error counts as 'not admin' (fail closed)."""
        key = (int(chat_id), int(user_id))
        now = self.clock()
        hit = self._members.get(key)
        if hit and now - hit[0] < self.ttl:
            return hit[1]
        try:
            member = await self.bot.get_chat_member(chat_id=key[0], user_id=key[1])
            ok = member.status in ADMIN_STATUSES
        except TelegramError as exc:
            log.warning("getChatMember(%s, %s) failed: %s", key[0], key[1], exc)
            return False
        if len(self._members) > 10000:
            self._members.clear()
        self._members[key] = (now, ok)
        return ok

    async def admin_ids(self, chat_id: int | str) -> frozenset[int]:
        """Ids of a group's admins via getChatAdministrators, cached; empty on error (nobody exempt)."""
        cid = int(chat_id)
        now = self.clock()
        hit = self._lists.get(cid)
        if hit and now - hit[0] < self.ttl:
            return hit[1]
        try:
            admins = await self.bot.get_chat_administrators(chat_id=cid)
            ids = frozenset(m.user.id for m in admins)
        except TelegramError as exc:
            log.warning("getChatAdministrators(%s) failed: %s", cid, exc)
            ids = frozenset()
        self._lists[cid] = (now, ids)
        return ids

    def forget(self, chat_id: int | str | None = None) -> None:
        """Drop cached answers (all, or one group's), e.g. after a chat_member update."""
        if chat_id is None:
            self._members.clear()
            self._lists.clear()
            return
        cid = int(chat_id)
        self._lists.pop(cid, None)
        for key in [k for k in self._members if k[0] == cid]:
            del self._members[key]
