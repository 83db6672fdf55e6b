"""Telegram adapter: PTB updates -> core Messages, core Actions -> Bot API calls.

Thin on purpose: no thresholds, no policy, no SQL. Handlers (commands, buttons, intake)
live in `telegram_handlers`; alert formatting in `telegram_render`.
"""
from __future__ import annotations

import asyncio
import logging
import warnings
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable, Collection, Mapping, TypeVar

import aiohttp
from telegram import Bot, ChatPermissions, LinkPreviewOptions, MessageEntity
from telegram import Chat as TgChat
from telegram import Message as TgMessage
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, ApplicationBuilder
from telegram.request import HTTPXRequest

from bot import metrics
from bot.download import download_capped
from bot.config import ConfigError, Settings
from bot.models import Action, ActionResult, Attachment, Message
from bot.platforms.telegram_render import render_alert

log = logging.getLogger(__name__)

PLATFORM = "telegram"
#: Bots may delete group messages only while they are younger than 48 hours.
DELETE_WINDOW = timedelta(hours=48)
#: getMe attempts at start-up (waits 1+2+4+8 s between them) before the runner is told Telegram is unreachable.
STARTUP_ATTEMPTS = 5
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # a link preview could re-post the flagged image
T = TypeVar("T")


# ---- updates -> core ------------------------------------------------------------------
def message_link(chat: TgChat, message_id: int) -> str | None:
    """t.me link where Telegram has one: public groups by username, supergroups via /c/; basic groups none."""
    if chat.username:
        return f"https://t.me/{chat.username}/{message_id}"
    cid = str(chat.id)
    if cid.startswith("-100"):
        return f"https://t.me/c/{cid[4:]}/{message_id}"
    return None


def display_name(user) -> str:
    """`Full Name (@username)`: what moderators recognise."""
    name = getattr(user, "full_name", None) or getattr(user, "title", None) or str(user.id)
    return f"{name} (@{user.username})" if getattr(user, "username", None) else name


def _short_name(user) -> str:
    """@username where there is one, else the name: how incident summaries name the target."""
    return getattr(user, "username", None) or getattr(user, "full_name", None) or getattr(user, "title", None) or str(user.id)


def _attachments(m: TgMessage, link: str | None) -> list[Attachment]:
    out: list[Attachment] = []
    url = link or ""  # never a file URL: those carry the bot token
    if m.photo:
        p = max(m.photo, key=lambda s: (s.width * s.height, s.file_size or 0))
        out.append(Attachment(kind="image", url=url, size=p.file_size, mime="image/jpeg", width=p.width, height=p.height, ref=p.file_id))
    if m.document:
        d = m.document
        kind = "image" if (d.mime_type or "").startswith("image/") else "file"
        out.append(Attachment(kind=kind, url=url, size=d.file_size, mime=d.mime_type, filename=d.file_name, ref=d.file_id))
    for media in (m.video, m.animation):
        if media:
            out.append(Attachment(kind="video", url=url, size=media.file_size, mime=media.mime_type, width=media.width,
                                  height=media.height, ref=media.file_id))
    return out


def to_message(m: TgMessage, *, moderators: Collection[int] = (), usernames: Mapping[str, str] | None = None,
               edited: bool | None = None) -> Message:
    """One PTB message as the core sees it.

    Targets are the replied-to author plus text_mention users (and @mentions whose id we
    have seen, via `usernames`). `moderators` are the group's admin ids, for exemptions.
    """
    chat = m.chat
    if m.sender_chat is not None:  # anonymous admin, linked channel, or a member posting as a channel
        author_id, author_name, is_bot = str(m.sender_chat.id), display_name(m.sender_chat), False
        is_mod = m.sender_chat.id == chat.id or bool(m.is_automatic_forward)
    elif m.from_user is not None:
        u = m.from_user
        author_id, author_name, is_bot, is_mod = str(u.id), display_name(u), u.is_bot, u.id in moderators
    else:
        author_id, author_name, is_bot, is_mod = "unknown", None, False, False
    targets: list[str] = []
    names: dict[str, str] = {}
    reply = m.reply_to_message
    if reply is not None and reply.from_user is not None and reply.forum_topic_created is None:
        who = reply.sender_chat or reply.from_user
        targets.append(str(who.id))
        names[str(who.id)] = _short_name(who)
    entities = m.parse_entities([MessageEntity.TEXT_MENTION, MessageEntity.MENTION]) if m.text else \
        m.parse_caption_entities([MessageEntity.TEXT_MENTION, MessageEntity.MENTION])
    for ent, value in entities.items():
        if ent.type == MessageEntity.TEXT_MENTION and ent.user is not None:
            targets.append(str(ent.user.id))
            names[str(ent.user.id)] = _short_name(ent.user)
        elif ent.type == MessageEntity.MENTION and usernames:
            uid = usernames.get(value.lstrip("@").lower())
            if uid:
                targets.append(uid)
                names.setdefault(uid, value.lstrip("@"))
    targets = [t for i, t in enumerate(targets) if t != author_id and t not in targets[:i]]
    link = message_link(chat, m.message_id)
    is_edit = (m.edit_date is not None) if edited is None else edited
    when = (m.edit_date if is_edit and m.edit_date else m.date) or datetime.now(timezone.utc)
    return Message(
        platform=PLATFORM, server_id=str(chat.id), channel_id=str(chat.id), message_id=str(m.message_id),
        author_id=author_id, text=m.text or m.caption or "", targets=tuple(targets),
        attachments=tuple(_attachments(m, link)), time=when, link=link, author_name=author_name,
        author_is_bot=is_bot, author_is_moderator=is_mod, edited=is_edit,
        target_names=tuple((t, names[t]) for t in targets if names.get(t)),
    )


def merge_album(messages: list[Message]) -> Message:
    """A media group (several updates with one media_group_id) as one post: the first message's id."""
    first = min(messages, key=lambda m: int(m.message_id))
    texts = [m.text for m in sorted(messages, key=lambda m: int(m.message_id)) if m.text]
    targets: list[str] = []
    names: dict[str, str] = {}
    for m in messages:
        targets += [t for t in m.targets if t not in targets]
        names.update(m.target_names)
    atts = tuple(a for m in sorted(messages, key=lambda m: int(m.message_id)) for a in m.attachments)
    return Message(
        platform=first.platform, server_id=first.server_id, channel_id=first.channel_id, message_id=first.message_id,
        author_id=first.author_id, text="\n".join(texts), targets=tuple(targets), attachments=atts, time=first.time,
        link=first.link, author_name=first.author_name, author_is_bot=first.author_is_bot,
        author_is_moderator=first.author_is_moderator, edited=any(m.edited for m in messages),
        target_names=tuple((t, names[t]) for t in targets if t in names),
    )


def _retry_after_seconds(exc: RetryAfter) -> float:
    """PTB 22 returns int or timedelta (and warns about the change); we only need seconds."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class _Lru(OrderedDict):
    """A small bounded map for names/titles/albums we have seen (memory only, not evidence)."""

    def __init__(self, maxsize: int = 5000) -> None:
        super().__init__()
        self.maxsize = maxsize

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.maxsize:
            self.popitem(last=False)


# ---- core -> Bot API --------------------------------------------------------------------
class TelegramAdapter:
    """Carries out core Actions with the Bot API; every failure becomes ActionResult(ok=False)."""

    platform = PLATFORM

    def __init__(self, bot: Bot, pipeline, max_download_bytes: int = 10 * 1024 * 1024, retries: int = 2) -> None:
        self.bot = bot
        self.pipeline = pipeline
        self.max_download_bytes = max_download_bytes
        self.retries = retries
        self.names: _Lru = _Lru()  # user id -> "Name (@user)", to show who pressed a button
        self.usernames: _Lru = _Lru()  # lowercase username -> user id, to resolve @mentions
        self.titles: _Lru = _Lru(1000)  # chat id -> group title
        self.albums: _Lru = _Lru(2000)  # (chat id, first message id) -> every message id of a media group
        self.album_first: _Lru = _Lru(10000)  # (chat id, message id) -> first message id of its media group
        self._session: aiohttp.ClientSession | None = None

    def remember_user(self, user) -> None:
        if user is None:
            return
        self.names[str(user.id)] = display_name(user)
        if getattr(user, "username", None):
            self.usernames[user.username.lower()] = str(user.id)

    async def call(self, what: str, fn: Callable[[], Awaitable[T]], idempotent: bool = True) -> T:
        """Retry network failures and short flood waits; Telegram's refusals (400/403) are not retried.

        Non-idempotent calls (sending) are not retried after a timeout, which may have delivered.
        """
        delay = 0.5
        for attempt in range(self.retries + 1):
            try:
                return await fn()
            except RetryAfter as exc:
                wait = _retry_after_seconds(exc)
                if attempt == self.retries or wait > 30:
                    raise
                log.warning("%s: flood wait %.0fs (attempt %d)", what, wait, attempt + 1)
                await asyncio.sleep(wait)
            except (BadRequest, Forbidden):
                raise
            except TimedOut:
                if not idempotent or attempt == self.retries:
                    raise
                log.warning("%s timed out, retrying (attempt %d)", what, attempt + 1)
                await asyncio.sleep(delay)
                delay *= 2
            except NetworkError as exc:
                if attempt == self.retries:
                    raise
                log.warning("%s: network error %s, retrying (attempt %d)", what, exc, attempt + 1)
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    async def execute(self, action: Action) -> ActionResult:
        handler = {"notify": self._notify, "delete": self._delete, "timeout": self._timeout,
                   "ban": self._ban, "unflag": self._unflag}.get(action.kind)
        if handler is None:
            return ActionResult(ok=False, detail=f"unsupported action {action.kind!r} on Telegram")
        try:
            return await handler(action)
        except TelegramError as exc:
            log.warning("telegram %s for %s flag %s failed: %s", action.kind, action.server, action.flag_id, exc)
            return ActionResult(ok=False, detail=f"{type(exc).__name__}: {exc.message}")

    @staticmethod
    def _chat_of(server: str) -> int:
        platform, _, ident = server.partition(":")
        if platform != PLATFORM:
            raise ValueError(f"not a Telegram server: {server}")
        return int(ident)

    async def _notify(self, action: Action) -> ActionResult:
        """Post the alert to the moderators' chat, or edit it in place (the pipeline serialises these per group)."""
        settings = self.pipeline.server_settings(action.server)
        alert = action.alert  # always built by the core's delivery worker
        text, markup = render_alert(alert, group_title=self.titles.get(str(self._chat_of(action.server))),
                                    names=self.names)
        ref = alert.ref or action.ref
        if ref:
            chat_id, _, msg_id = ref.rpartition(":")
            try:
                await self.call("editMessageText", lambda: self.bot.edit_message_text(
                    text=text, chat_id=int(chat_id), message_id=int(msg_id), parse_mode=ParseMode.HTML,
                    reply_markup=markup, link_preview_options=NO_PREVIEW))
                return ActionResult(ok=True, detail="edited", ref=ref)
            except BadRequest as exc:
                if "not modified" in str(exc).lower():
                    return ActionResult(ok=True, detail="unchanged", ref=ref)
                if "not found" not in str(exc).lower() and "can't be edited" not in str(exc).lower():
                    raise
                log.info("alert %s is gone (%s); posting a new one", ref, exc)
        if not settings.mod_chat:
            return ActionResult(ok=False, detail="no moderators' chat linked: an admin can run /setup in the group")
        mod_chat = int(settings.mod_chat)
        for _ in range(2):
            try:
                sent = await self.call("sendMessage", lambda: self.bot.send_message(
                    chat_id=mod_chat, text=text, parse_mode=ParseMode.HTML, reply_markup=markup,
                    link_preview_options=NO_PREVIEW), idempotent=False)
                return ActionResult(ok=True, detail="posted", ref=f"{sent.chat_id}:{sent.message_id}")
            except ChatMigrated as exc:  # the moderators' group became a supergroup: follow it
                log.info("moderators' chat of %s moved from %s to %s", action.server, mod_chat, exc.new_chat_id)
                self.pipeline.update_server_settings(action.server, {"mod_chat": str(exc.new_chat_id)})
                mod_chat = exc.new_chat_id
        return ActionResult(ok=False, detail="moderators' chat migrated twice; not posted")

    async def _delete(self, action: Action) -> ActionResult:
        chat_id = int(action.channel_id or self._chat_of(action.server))
        if action.flag_id is not None:
            flag = self.pipeline.store.flag(action.server, action.flag_id)
            age = datetime.now(timezone.utc) - flag.message_time
            if age > DELETE_WINDOW:
                return ActionResult(ok=False, detail=f"not deleted: the message is {age.total_seconds() / 3600:.0f} h old and "
                                                     "Telegram lets bots delete only messages younger than 48 h; delete it by hand")
        if not action.message_id or not action.message_id.lstrip("-").isdigit():
            return ActionResult(ok=False, detail="nothing to delete: no Telegram message id")
        ids = self.albums.get((str(chat_id), action.message_id)) or (action.message_id,)
        try:
            for mid in ids:
                await self.call("deleteMessage", lambda mid=mid: self.bot.delete_message(chat_id=chat_id, message_id=int(mid)))
        except BadRequest as exc:
            return ActionResult(ok=False, detail=f"Telegram refused to delete: {exc.message} (bots need the 'Delete messages' "
                                                 "right and can delete only messages younger than 48 h)")
        return ActionResult(ok=True, detail=f"deleted {len(ids)} message(s)")

    async def _timeout(self, action: Action) -> ActionResult:
        chat_id, user = self._chat_of(action.server), int(action.user_id or 0)
        if user <= 0:
            return ActionResult(ok=False, detail="cannot mute: the author is a channel or unknown (ban the channel instead)")
        # Telegram treats < 30 s or > 366 days as "forever"; keep the duration inside that range.
        seconds = min(max(int(action.duration_s or 600), 31), 366 * 86400 - 1)
        until = datetime.now(timezone.utc) + timedelta(seconds=seconds)
        await self.call("restrictChatMember", lambda: self.bot.restrict_chat_member(
            chat_id=chat_id, user_id=user, permissions=ChatPermissions.no_permissions(), until_date=until))
        return ActionResult(ok=True, detail=f"muted until {until:%Y-%m-%d %H:%M} UTC")

    async def _ban(self, action: Action) -> ActionResult:
        chat_id, user = self._chat_of(action.server), int(action.user_id or 0)
        if user < 0:
            await self.call("banChatSenderChat", lambda: self.bot.ban_chat_sender_chat(chat_id=chat_id, sender_chat_id=user))
            return ActionResult(ok=True, detail="channel banned")
        if user == 0:
            return ActionResult(ok=False, detail="cannot ban: unknown author")
        await self.call("banChatMember", lambda: self.bot.ban_chat_member(chat_id=chat_id, user_id=user))
        return ActionResult(ok=True, detail="banned")

    async def _unflag(self, action: Action) -> ActionResult:
        return ActionResult(ok=True, detail="nothing to undo on Telegram")

    async def fetch(self, attachment: Attachment, max_bytes: int) -> bytes:
        """getFile, then stream the download and stop at the byte cap (the declared size is not trusted)."""
        if not attachment.ref:
            raise ValueError("attachment has no Telegram file_id")
        cap = min(max_bytes, self.max_download_bytes)
        if attachment.size is not None and attachment.size > cap:
            raise ValueError(f"file is {attachment.size} bytes, cap is {cap}")
        tg_file = await self.call("getFile", lambda: self.bot.get_file(attachment.ref))
        if tg_file.file_size is not None and tg_file.file_size > cap:
            raise ValueError(f"file is {tg_file.file_size} bytes, cap is {cap}")
        if not tg_file.file_path:
            raise ValueError("Telegram gave no file path")
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        for attempt in range(self.retries + 1):
            try:
                return await self._download(tg_file.file_path, cap)
            except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as exc:
                if attempt == self.retries:
                    raise
                log.warning("file download failed (%s), retrying", type(exc).__name__)  # the URL holds the token: not logged
                await asyncio.sleep(0.5 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _download(self, url: str, cap: int) -> bytes:
        assert self._session is not None
        return await download_capped(self._session, url, cap)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


# ---- wiring -------------------------------------------------------------------------------
def build_application(pipeline, settings: Settings, *, media_group_delay: float = 1.0, admin_ttl: float = 60.0) -> Application:
    """A PTB Application wired to the pipeline; the adapter is registered as pipeline.adapters['telegram'].

    Connection failures are retried by the HTTP transport; our calls add retries for
    other network errors and short flood waits (see TelegramAdapter.call).
    """
    import httpx

    from bot.platforms.telegram_handlers import TelegramHandlers

    tg = settings.telegram
    # httpx logs every request URL at INFO, and Bot API URLs contain the token.
    logging.getLogger("httpx").setLevel(max(logging.getLogger("httpx").getEffectiveLevel(), logging.WARNING))
    if not tg.token:
        raise ConfigError("TELEGRAM_TOKEN: not set (get a token from @BotFather)")

    def request(read_timeout: float) -> HTTPXRequest:
        return HTTPXRequest(connection_pool_size=16, read_timeout=read_timeout, connect_timeout=10.0,
                            httpx_kwargs={"transport": httpx.AsyncHTTPTransport(retries=3)})

    app = (ApplicationBuilder().token(tg.token).base_url(tg.base_url).base_file_url(tg.base_file_url)
           .request(request(15.0)).get_updates_request(request(15.0)).build())
    adapter = TelegramAdapter(app.bot, pipeline, max_download_bytes=tg.max_download_bytes)
    pipeline.adapters[PLATFORM] = adapter
    handlers = TelegramHandlers(app, pipeline, adapter, media_group_delay=media_group_delay, admin_ttl=admin_ttl)
    handlers.register()
    app.bot_data["triagebot"] = handlers
    return app


async def run(pipeline, settings: Settings, stop: asyncio.Event) -> None:
    """Poll Telegram until `stop` is set, then finish queued work and return.

    A network failure at start-up is retried with backoff, :data:`STARTUP_ATTEMPTS` times; a bad token is not.
    """
    app = build_application(pipeline, settings)
    handlers = app.bot_data["triagebot"]
    try:
        started = await _initialize(app, stop)
    except BaseException:
        await handlers.aclose()
        raise
    if not started:
        await handlers.aclose()
        return
    try:
        await app.updater.start_polling(allowed_updates=["message", "edited_message", "callback_query"], bootstrap_retries=3)
        await app.start()
        await handlers.publish_commands()
        metrics.watch_connection("telegram", lambda: app.updater is not None and app.updater.running)
        metrics.watch_queue("telegram", handlers.intake.queue.qsize)
        log.info("telegram bot @%s polling", app.bot.username)
        await stop.wait()
    finally:
        metrics.forget("telegram")
        log.info("telegram bot stopping")
        if app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await handlers.aclose()  # still needs the bot: queued messages may post alerts
        await app.shutdown()


async def _initialize(app: Application, stop: asyncio.Event) -> bool:
    """app.initialize() (getMe) with backoff on network errors; False if `stop` was set meanwhile."""
    delay = 1.0
    for attempt in range(1, STARTUP_ATTEMPTS + 1):
        if stop.is_set():
            break
        try:
            await app.initialize()
            return True
        except InvalidToken:  # its message holds the token: never pass it on
            raise ConfigError("TELEGRAM_TOKEN: Telegram rejected the token (get a new one from @BotFather)") from None
        except NetworkError as exc:
            if attempt == STARTUP_ATTEMPTS:
                raise ConnectionError(f"cannot reach Telegram after {attempt} attempts") from None
            log.warning("cannot reach Telegram (%s); retrying in %.0f s", exc, delay)
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
            except asyncio.TimeoutError:
                pass
            delay = min(delay * 2, 60.0)
    return False
