"""Who is an admin of a group and with which rights, asked from Telegram and cached briefly.

Buttons and admin commands check the presser with getChatMember (authoritative for one user),
including the specific right an action needs (`can_delete_messages`, `can_restrict_members`; the
creator has every right); the bot's own rights are checked the same way. Message authors are
checked against getChatAdministrators (one call per group per TTL, so a flood from many accounts
does not become a flood of API calls). `chat_member`/`my_chat_member` updates replace cached
entries at once, so a right granted or taken away counts from the next press, not after the TTL.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from telegram import Bot, ChatMember
from telegram.error import TelegramError

from bot import i18n

log = logging.getLogger(__name__)

ADMIN_STATUSES = (ChatMember.ADMINISTRATOR, ChatMember.OWNER)
#: Telegram's service account that anonymous group admins post as.
GROUP_ANONYMOUS_BOT = 1087968824
#: The right each moderation needs, and how Telegram's admin settings name it.
RIGHT_FOR = {"delete": "can_delete_messages", "timeout": "can_restrict_members", "ban": "can_restrict_members"}


def is_admin_member(member: ChatMember | None) -> bool:
    return member is not None and member.status in ADMIN_STATUSES


def has_right(member: ChatMember | None, right: str | None) -> bool:
    """Admin with `right` (None: any admin); the creator has every right."""
    if member is None or member.status not in ADMIN_STATUSES:
        return False
    if right is None or member.status == ChatMember.OWNER:
        return True
    return bool(getattr(member, right, False))


class AdminCache:
    def __init__(self, bot: Bot, ttl: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.bot = bot
        self.ttl = ttl
        self.clock = clock
        self._members: dict[tuple[int, int], tuple[float, ChatMember | None]] = {}
        self._lists: dict[int, tuple[float, frozenset[int]]] = {}

    async def member(self, chat_id: int | str, user_id: int | str) -> ChatMember | None:
        """getChatMember, cached for `ttl` seconds; None on an API error (callers fail closed)."""
        key = (int(chat_id), int(user_id))
        now = self.clock()
        hit = self._members.get(key)
        if hit and now - hit[0] < self.ttl:
            return hit[1]
        try:
            member = await self.bot.get_chat_member(chat_id=key[0], user_id=key[1])
        except TelegramError as exc:
            log.warning("getChatMember(%s, %s) failed: %s", key[0], key[1], exc)
            return None
        self._put(key, member)
        return member

    async def is_admin(self, chat_id: int | str, user_id: int | str) -> bool:
        """Admin or creator of the chat; an API error counts as 'not admin' (fail closed)."""
        return is_admin_member(await self.member(chat_id, user_id))

    async def refusal(self, chat_id: int | str, user_id: int | str, kind: str | None, lang: str = "en") -> str | None:
        """Why `user_id` may not do `kind` (None: any admin action) in the chat, checking the bot's rights too,
        in `lang`; None when allowed."""
        right = RIGHT_FOR.get(kind or "")
        member = await self.member(chat_id, user_id)
        if not is_admin_member(member):
            return i18n.text("tg.refusal.not_admin", lang)
        if right is not None and not has_right(member, right):  # (None: being an admin is enough)
            return i18n.text("tg.refusal.you_need", lang, right=i18n.text(f"tg.right.{right}", lang))
        if right is not None:
            me = await self.member(chat_id, self.bot.id)
            if not has_right(me, right):
                return i18n.text("tg.refusal.i_need", lang, right=i18n.text(f"tg.right.{right}", lang))
        return None

    def _put(self, key: tuple[int, int], member: ChatMember | None) -> None:
        if len(self._members) > 10000:
            self._members.clear()
        self._members[key] = (self.clock(), member)

    def update(self, chat_id: int | str, member: ChatMember) -> None:
        """A chat_member/my_chat_member update: the new state is authoritative, so it replaces the cache."""
        self._put((int(chat_id), member.user.id), member)
        self._lists.pop(int(chat_id), None)

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
        """Drop cached answers (all, or one group's)."""
        if chat_id is None:
            self._members.clear()
            self._lists.clear()
            return
        cid = int(chat_id)
        self._lists.pop(cid, None)
        for key in [k for k in self._members if k[0] == cid]:
            del self._members[key]
