"""Core Actions -> Bot API calls. Every outcome is an ActionResult; nothing here sleeps for long.

An action carries everything needed to carry it out (`destination`, `alert`, `ref`, `link`): the
adapter never reads settings or the store. Flood waits longer than a moment are handed back as
`ActionResult(ok=False, retry_after=...)` for the core's outbox to retry; pacing is the rate
limiter's job (telegram_limits).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable, TypeVar

import aiohttp
from telegram import Bot, ChatPermissions, LinkPreviewOptions, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.download import download_capped
from bot.models import Action, ActionResult, Attachment
from bot.platforms.telegram_appeals import appeal_html
from bot.platforms.telegram_appeals import notice_markup as appeal_notice_markup
from bot.platforms.telegram_appeals import notice_text as appeal_notice_text
from bot.platforms.telegram_events import PLATFORM, Lru, Seen
from bot.platforms.telegram_limits import retry_after_seconds
from bot.platforms.telegram_render import esc, render_alert

log = logging.getLogger(__name__)

#: Bots may delete group messages only while they are younger than 48 hours.
DELETE_WINDOW = timedelta(hours=48)
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # a link preview could re-post the flagged image
T = TypeVar("T")
#: What the alert shows when a warned member cannot be messaged privately (Telegram answers 403 to a bot that
#: was never started by the user, or was blocked by them).
NOT_REACHED = "not reached: the member has not started the bot in a private chat, or blocked it"
MAX_PRIVATE_TEXT = 4000
_GONE = ("message to delete not found", "message to edit not found", "message not found", "message_id_invalid")


def _says(exc: TelegramError, *phrases: str) -> bool:
    text = str(exc).lower()
    return any(p in text for p in phrases)


def chat_of(server: str) -> int:
    """`telegram:-100…` -> the group's chat id."""
    platform, _, ident = server.partition(":")
    if platform != PLATFORM:
        raise ValueError(f"not a Telegram server: {server}")
    return int(ident)


class TelegramAdapter:
    """Carries out core Actions with the Bot API; every failure becomes ActionResult(ok=False)."""

    platform = PLATFORM

    def __init__(self, bot: Bot, seen: Seen | None = None, max_download_bytes: int = 10 * 1024 * 1024, retries: int = 2) -> None:
        self.bot = bot
        self.seen = seen or Seen()
        self.max_download_bytes = max_download_bytes
        self.retries = retries
        self.migrated: Lru = Lru(1000)  # old chat id -> new id, for moderators' chats upgraded to supergroups
        self._session: aiohttp.ClientSession | None = None

    async def call(self, what: str, fn: Callable[[], Awaitable[T]], idempotent: bool = True) -> T:
        """Retry network failures briefly; refusals (400/403) and flood waits (429) go to the caller.

        Non-idempotent calls (sending) are not retried after a timeout, which may have delivered.
        """
        delay = 0.5
        for attempt in range(self.retries + 1):
            try:
                return await fn()
            except (BadRequest, Forbidden, RetryAfter, ChatMigrated):
                raise
            except TimedOut:
                if not idempotent or attempt == self.retries:
                    raise
                log.warning("%s timed out, retrying (attempt %d)", what, attempt + 1)
            except NetworkError as exc:
                if attempt == self.retries:
                    raise
                log.warning("%s: network error %s, retrying (attempt %d)", what, exc, attempt + 1)
            await asyncio.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    async def execute(self, action: Action) -> ActionResult:
        handler = {
            "notify": self._notify,
            "ping": self._ping,
            "notice": self._notice,
            "delete": self._delete,
            "timeout": self._timeout,
            "ban": self._ban,
            "unflag": self._unflag,
            "untimeout": self._untimeout,
            "unban": self._unban,
            "appeal_notice": self._member_message,
            "appeal_outcome": self._member_message,
            "appeal_alert": self._appeal_alert,
            "warn": self._warn,
        }.get(action.kind)
        if handler is None:
            return ActionResult(ok=False, detail=f"unsupported action {action.kind!r} on Telegram")
        try:
            return await handler(action)
        except RetryAfter as exc:
            wait = retry_after_seconds(exc)
            log.info("telegram %s for %s flag %s: flood wait %.0f s", action.kind, action.server, action.flag_id, wait)
            return ActionResult(ok=False, detail=f"Telegram asked to wait {wait:.0f} s", retry_after=wait)
        except Forbidden as exc:
            log.warning("telegram %s for %s flag %s refused: %s", action.kind, action.server, action.flag_id, exc)
            return ActionResult(ok=False, detail=f"Forbidden: {exc.message} (was the bot removed from the chat, or does it lack the right?)")
        except TelegramError as exc:
            log.warning("telegram %s for %s flag %s failed: %s", action.kind, action.server, action.flag_id, exc)
            return ActionResult(ok=False, detail=f"{type(exc).__name__}: {exc.message}")

    async def _notify(self, action: Action) -> ActionResult:
        """Post the alert to the moderators' chat, or edit it in place (the core serialises these per group)."""
        alert = action.alert
        if alert is None:
            return ActionResult(ok=False, detail="notify without an alert")
        text, markup = render_alert(alert, group_title=self.seen.titles.get(str(chat_of(action.server))), names=self.seen.names)
        ref = action.ref or alert.ref
        if ref:
            chat_id, _, msg_id = ref.rpartition(":")
            try:
                await self.call(
                    "editMessageText",
                    lambda: self.bot.edit_message_text(
                        text=text, chat_id=int(chat_id), message_id=int(msg_id), parse_mode=ParseMode.HTML, reply_markup=markup, link_preview_options=NO_PREVIEW
                    ),
                )
                return ActionResult(ok=True, detail="edited", ref=ref)
            except BadRequest as exc:
                if _says(exc, "not modified"):
                    return ActionResult(ok=True, detail="unchanged", ref=ref)
                if not _says(exc, "not found", "can't be edited"):
                    raise
                log.info("alert %s is gone (%s); posting a new one", ref, exc)
            except ChatMigrated:
                log.info("alert %s is in a chat that became a supergroup; posting a new one", ref)
        if not action.destination:
            return ActionResult(ok=False, detail="no moderators' chat linked: an admin can run /setup in the group")
        mod_chat = int(self.migrated.get(str(action.destination), action.destination))
        for _ in range(2):
            try:
                sent = await self.call(
                    "sendMessage",
                    lambda: self.bot.send_message(chat_id=mod_chat, text=text, parse_mode=ParseMode.HTML, reply_markup=markup, link_preview_options=NO_PREVIEW),
                    idempotent=False,
                )
                return ActionResult(ok=True, detail="posted", ref=f"{sent.chat_id}:{sent.message_id}")
            except ChatMigrated as exc:  # the moderators' group became a supergroup: follow it
                log.info("moderators' chat of %s moved from %s to %s", action.server, mod_chat, exc.new_chat_id)
                self.migrated[str(action.destination)] = str(exc.new_chat_id)
                mod_chat = exc.new_chat_id
        return ActionResult(ok=False, detail="moderators' chat migrated twice; not posted")

    async def _ping(self, action: Action) -> ActionResult:
        """A separate short message mentioning the escalation admins (an edited alert notifies nobody).

        Only the configured user ids are mentioned; everything else in it is escaped. It replies to the
        alert when the alert is in the same chat, so a tap on it leads there."""
        if not action.destination:
            return ActionResult(ok=False, detail="no moderators' chat linked: an admin can run /setup in the group")
        users = [u for u in action.mentions if u.isdigit()]
        if not users:
            return ActionResult(ok=True, detail="no escalation admins to mention")
        alert = action.alert
        what = esc(alert.title, 300) if alert is not None else "An incident escalated"
        mention = " ".join(f'<a href="tg://user?id={int(u)}">{esc(self.seen.names.get(u) or "admin", 60)}</a>' for u in users)
        mod_chat = int(self.migrated.get(str(action.destination), action.destination))
        ref = action.ref or (alert.ref if alert is not None else None) or ""
        chat, _, mid = ref.rpartition(":")
        reply = ReplyParameters(message_id=int(mid), allow_sending_without_reply=True) if chat == str(mod_chat) and mid.isdigit() else None
        sent = await self.call(
            "sendMessage",
            lambda: self.bot.send_message(
                chat_id=mod_chat, text=f"{mention} {what}", parse_mode=ParseMode.HTML, reply_parameters=reply, link_preview_options=NO_PREVIEW
            ),
            idempotent=False,
        )
        return ActionResult(ok=True, detail="escalation ping posted", ref=f"{sent.chat_id}:{sent.message_id}")

    async def _notice(self, action: Action) -> ActionResult:
        """The bot's own plain text (a daily evidence anchor) in the moderators' chat: no parse mode, no preview."""
        if not action.destination:
            return ActionResult(ok=False, detail="no moderators' chat linked: an admin can run /setup in the group")
        mod_chat = int(self.migrated.get(str(action.destination), action.destination))
        sent = await self.call(
            "sendMessage", lambda: self.bot.send_message(chat_id=mod_chat, text=action.text[:4000], link_preview_options=NO_PREVIEW), idempotent=False
        )
        return ActionResult(ok=True, detail="notice posted", ref=f"{sent.chat_id}:{sent.message_id}")

    async def _delete(self, action: Action) -> ActionResult:
        chat_id = int(action.channel_id or chat_of(action.server))
        if not action.message_id or not action.message_id.lstrip("-").isdigit():
            return ActionResult(ok=False, detail="nothing to delete: no Telegram message id")
        ids = self.seen.albums.get((str(chat_id), action.message_id)) or (action.message_id,)
        gone = 0
        for mid in ids:
            try:
                await self.call("deleteMessage", lambda: self.bot.delete_message(chat_id=chat_id, message_id=int(mid)))
            except BadRequest as exc:
                if _says(exc, *_GONE):
                    gone += 1
                    continue
                return ActionResult(
                    ok=False,
                    detail=f"Telegram refused to delete: {exc.message} (bots need the 'Delete messages' right and can delete only messages younger than 48 h)",
                )
        if gone == len(ids):
            return ActionResult(ok=True, detail="already deleted", gone=True)
        return ActionResult(ok=True, detail=f"deleted {len(ids) - gone} message(s)")

    async def _timeout(self, action: Action) -> ActionResult:
        chat_id, user = chat_of(action.server), int(action.user_id or 0)
        if user <= 0:
            return ActionResult(ok=False, detail="cannot mute: the author is a channel or unknown (ban the channel instead)")
        # Telegram treats < 30 s or > 366 days as "forever"; keep the duration inside that range.
        seconds = min(max(int(action.duration_s or 600), 31), 366 * 86400 - 1)
        until = datetime.now(timezone.utc) + timedelta(seconds=seconds)
        await self.call(
            "restrictChatMember",
            lambda: self.bot.restrict_chat_member(chat_id=chat_id, user_id=user, permissions=ChatPermissions.no_permissions(), until_date=until),
        )
        return ActionResult(ok=True, detail=f"muted until {until:%Y-%m-%d %H:%M} UTC")

    async def _ban(self, action: Action) -> ActionResult:
        chat_id, user = chat_of(action.server), int(action.user_id or 0)
        if user < 0:
            await self.call("banChatSenderChat", lambda: self.bot.ban_chat_sender_chat(chat_id=chat_id, sender_chat_id=user))
            return ActionResult(ok=True, detail="channel banned")
        if user == 0:
            return ActionResult(ok=False, detail="cannot ban: unknown author")
        await self.call("banChatMember", lambda: self.bot.ban_chat_member(chat_id=chat_id, user_id=user))
        return ActionResult(ok=True, detail="banned")

    # ---- appeals (bot/appeals.py, rendered by telegram_appeals) -----------------------------------
    async def _member_message(self, action: Action) -> ActionResult:
        """A private message to the member: the appeal notice (with a button opening the private chat) or the
        outcome. Telegram lets a bot write only to people who started it: otherwise it fails quietly, recorded."""
        notice, user = action.appeal, int(action.user_id or 0)
        if notice is None or user <= 0:
            return ActionResult(ok=False, detail="no member or no text to send")
        text = appeal_notice_text(notice, self.seen.titles.get(str(chat_of(action.server))))
        markup = appeal_notice_markup(notice, self.bot.username if action.kind == "appeal_notice" and self._has_me() else None)
        try:
            await self.call(
                "sendMessage", lambda: self.bot.send_message(chat_id=user, text=text, reply_markup=markup, link_preview_options=NO_PREVIEW), idempotent=False
            )
        except Forbidden as exc:  # "bot was blocked by the user", "bot can't initiate conversation with a user"
            log.info("%s for %s: member %s cannot be reached privately (%s)", action.kind, action.server, user, exc.message)
            return ActionResult(ok=False, detail=f"the member cannot be reached privately: {exc.message}")
        return ActionResult(ok=True, detail="sent privately")

    def _has_me(self) -> bool:
        try:
            return bool(self.bot.username)
        except RuntimeError:  # the bot was never initialized (getMe): no username for a link
            return False

    async def _appeal_alert(self, action: Action) -> ActionResult:
        """Post an appeal in the moderators' chat, or edit it in place."""
        if action.appeal is None:
            return ActionResult(ok=False, detail="appeal alert without content")
        text, markup = appeal_html(action.appeal)
        if action.ref:
            chat_id, _, msg_id = action.ref.rpartition(":")
            try:
                await self.call(
                    "editMessageText",
                    lambda: self.bot.edit_message_text(
                        text=text, chat_id=int(chat_id), message_id=int(msg_id), parse_mode=ParseMode.HTML, reply_markup=markup, link_preview_options=NO_PREVIEW
                    ),
                )
                return ActionResult(ok=True, detail="edited", ref=action.ref)
            except BadRequest as exc:
                if _says(exc, "not modified"):
                    return ActionResult(ok=True, detail="unchanged", ref=action.ref)
                if not _says(exc, "not found", "can't be edited"):
                    raise
        if not action.destination:
            return ActionResult(ok=False, detail="no moderators' chat linked: an admin can run /setup in the group")
        mod_chat = int(self.migrated.get(str(action.destination), action.destination))
        sent = await self.call(
            "sendMessage",
            lambda: self.bot.send_message(chat_id=mod_chat, text=text, parse_mode=ParseMode.HTML, reply_markup=markup, link_preview_options=NO_PREVIEW),
            idempotent=False,
        )
        return ActionResult(ok=True, detail="posted", ref=f"{sent.chat_id}:{sent.message_id}")

    async def _untimeout(self, action: Action) -> ActionResult:
        chat_id, user = chat_of(action.server), int(action.user_id or 0)
        if user <= 0:
            return ActionResult(ok=False, detail="no member to unmute")
        await self.call(
            "restrictChatMember", lambda: self.bot.restrict_chat_member(chat_id=chat_id, user_id=user, permissions=ChatPermissions.all_permissions())
        )
        return ActionResult(ok=True, detail="unmuted")

    async def _unban(self, action: Action) -> ActionResult:
        chat_id, user = chat_of(action.server), int(action.user_id or 0)
        if user < 0:
            await self.call("unbanChatSenderChat", lambda: self.bot.unban_chat_sender_chat(chat_id=chat_id, sender_chat_id=user))
            return ActionResult(ok=True, detail="channel unbanned")
        if user == 0:
            return ActionResult(ok=False, detail="cannot unban: unknown member")
        await self.call("unbanChatMember", lambda: self.bot.unban_chat_member(chat_id=chat_id, user_id=user, only_if_banned=True))
        return ActionResult(ok=True, detail="unbanned")

    async def _warn(self, action: Action) -> ActionResult:
        """The warning the core wrote (`reason`) as a private message to the member, plain text (never markup),
        naming the group and linking the message. Telegram lets a bot write only to users who started it:
        the 403 for everyone else is an ordinary outcome, recorded as not reached."""
        user_id = action.user_id or ""
        user = int(user_id) if user_id.isdigit() else 0
        if user <= 0:
            return ActionResult(ok=False, detail="no member to warn (the author is a channel or unknown)")
        text = warning_text(action, self.seen.titles.get(str(chat_of(action.server))))
        try:
            await self.call("sendMessage", lambda: self.bot.send_message(chat_id=user, text=text, link_preview_options=NO_PREVIEW), idempotent=False)
        except Forbidden as exc:
            log.info("warn in %s: member %s cannot be messaged privately (%s)", action.server, user, exc.message)
            return ActionResult(ok=False, detail=NOT_REACHED)
        except BadRequest as exc:
            if not _says(exc, "chat not found"):
                raise
            log.info("warn in %s: no private chat with member %s", action.server, user)
            return ActionResult(ok=False, detail=NOT_REACHED)
        return ActionResult(ok=True, detail="warning sent privately")

    async def _unflag(self, action: Action) -> ActionResult:
        return ActionResult(ok=True, detail="nothing to undo on Telegram")

    async def fetch(self, attachment: Attachment, max_bytes: int) -> bytes:
        """getFile, then stream the download and stop at the byte cap (the declared size is not trusted)."""
        ref = attachment.ref
        if not ref:
            raise ValueError("attachment has no Telegram file_id")
        cap = min(max_bytes, self.max_download_bytes)
        if attachment.size is not None and attachment.size > cap:
            raise ValueError(f"file is {attachment.size} bytes, cap is {cap}")
        tg_file = await self.call("getFile", lambda: self.bot.get_file(ref))
        if tg_file.file_size is not None and tg_file.file_size > cap:
            raise ValueError(f"file is {tg_file.file_size} bytes, cap is {cap}")
        if not tg_file.file_path:
            raise ValueError("Telegram gave no file path")
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        for attempt in range(self.retries + 1):
            try:
                return await download_capped(self._session, tg_file.file_path, cap)
            except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as exc:
                if attempt == self.retries:
                    raise
                log.warning("file download failed (%s), retrying", type(exc).__name__)  # the URL holds the token: not logged
                await asyncio.sleep(0.5 * (attempt + 1))
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def warning_text(action: Action, group_title: str | None) -> str:
    """The private message: the warning, then the group's name and the message link; plain text within Telegram's limit."""
    tail = "\n".join(x for x in (f"— {group_title}" if group_title else "", action.link or "") if x)
    body = action.reason.strip() or "A moderator warned you about a message you posted."
    room = MAX_PRIVATE_TEXT - len(tail) - 2
    if len(body) > room:
        body = body[: room - 1] + "…"
    return f"{body}\n\n{tail}" if tail else body
