"""PTB handlers: group messages into the intake, member reports, moderator buttons and commands.

Every decision (thresholds, duplicates, rate limits, what an alert says) is the core's;
handlers only check who is asking (Telegram admin status) and translate.
"""

from __future__ import annotations

import asyncio
import html
import logging
from dataclasses import replace

from telegram import BotCommand, InlineKeyboardMarkup, Update
from telegram import Message as TgMessage
from telegram.constants import ChatType, ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import Application, CallbackQueryHandler, ChatMemberHandler, CommandHandler, ContextTypes, MessageHandler, filters

from bot import anchors, i18n, incidents, legal_holds, stats_text
from bot.config import ConfigError
from bot.precision import precision_summary
from bot.models import Action, Message, Report, Review, server_key, utcnow
from bot.pipeline import Intake
from bot.platforms.telegram_admins import AdminCache
from bot.platforms.telegram_appeals import TelegramAppeals
from bot.platforms.telegram_adapter import DELETE_WINDOW, NO_PREVIEW, TelegramAdapter
from bot.platforms.telegram_events import PLATFORM, Lru, merge_album, to_message
from bot.platforms.telegram_render import PAGE_SIZE, confirm_keyboard, confirm_text, esc, parse_callback, parse_incident_data, render_page
from bot.platforms.telegram_setup import LinkCodes, SetupUsage, parse_setup_args, setup_help
from bot.platforms.telegram_toolkit import TOOLKIT_COMMANDS, TelegramToolkit, localized_commands
from bot.store import StoreError

log = logging.getLogger(__name__)

COMMANDS = [
    BotCommand("report", "reply to a message to report it to the moderators"),
    BotCommand("setup", "admins: link the moderators' chat, thresholds, dry run"),
    BotCommand("link", "link this chat as a group's moderators' chat"),
    BotCommand("queue", "open items for the moderators"),
    BotCommand("stats", "counts for the moderators"),
    BotCommand("export", "admins: the group's log as CSV or JSON"),
    BotCommand("anchor", "moderators: post the evidence log's current head, to witness it"),
    BotCommand("rules", "moderators' chat: the group's own terms, allow-listed phrases, exemptions"),
    BotCommand("hold", "moderators: keep a flag's or incident's content through purges (legal hold)"),
    BotCommand("protect", "privately register an image of you so re-shares are flagged"),
    BotCommand("appeal", "in this private chat: appeal a decision about you (/appeal CASE why)"),
]
CONTENT = filters.TEXT | filters.CAPTION | filters.PHOTO | filters.Document.ALL | filters.VIDEO | filters.ANIMATION
CONTENT = CONTENT | filters.Sticker.ALL | filters.VIDEO_NOTE  # images-media: stickers and round videos are scanned too
MOD_CHAT_CACHE_S = 30.0
#: How long a reply a moderator is waiting for may wait for its turn in a busy chat (alerts wait at most 5 s).
UI_WAIT_S = 15


class TelegramHandlers:
    def __init__(self, app: Application, pipeline, adapter: TelegramAdapter, *, media_group_delay: float = 1.0, admin_ttl: float = 60.0) -> None:
        self.app = app
        self.pipeline = pipeline
        self.store = pipeline.store
        self.adapter = adapter
        self.seen = adapter.seen
        self.admins = AdminCache(app.bot, ttl=admin_ttl)
        self.codes = LinkCodes(self.store)
        self.media_group_delay = media_group_delay
        self.intake = Intake(pipeline, maxsize=pipeline.settings.queue_size)
        self._intake_started = False
        self._albums: dict[tuple[str, str], list[Message]] = {}
        self._album_tasks: dict[tuple[str, str], asyncio.Task] = {}
        self._mod_chats: tuple[float, dict[str, list[str]]] | None = None
        self._confirmations: Lru = Lru(500)  # (chat, question message) -> incident id
        self._reasons: Lru = Lru(500)  # (chat, question message) -> reason given by reply
        self._pagers: Lru = Lru(500)  # (chat, pager message) -> (server, incident, offset)
        handlers = self

        class _InModChat(filters.MessageFilter):
            def filter(self, message) -> bool:
                return str(message.chat_id) in handlers.mod_chat_servers()

        self._in_mod_chat = _InModChat()
        self.toolkit = TelegramToolkit(self)  # Warn, /member, /note, /unprotect

    # ---- wiring ----------------------------------------------------------------------
    def register(self) -> None:
        """Group messages are handled in order and only reach the intake, so they never wait on a reply.

        Commands and buttons run as tasks (`block=False`): a reply waiting for its turn in a busy
        moderators' chat, or a whole-incident action, must not hold up the group messages behind it.
        Member updates stay in order, so a right granted before a press counts for that press."""
        once = filters.UpdateType.MESSAGE  # commands are not re-run when edited
        app = self.app
        TelegramAppeals(self).register(app)  # appeals (telegram_appeals): before /start and the general buttons
        for name, fn in (
            ("setup", self.cmd_setup),
            ("link", self.cmd_link),
            ("queue", self.cmd_queue),
            ("stats", self.cmd_stats),
            ("export", self.cmd_export),
            ("anchor", self.cmd_anchor),
            ("hold", self.cmd_hold),
            ("report", self.cmd_report),
            ("start", self.cmd_help),
            ("help", self.cmd_help),
            ("rules", self.cmd_rules),
        ):
            app.add_handler(CommandHandler(name, fn, filters=once, block=False))
        self.toolkit.register()  # before group messages (its commands) and before on_button (its /unprotect buttons)
        app.add_handler(CommandHandler("protect", self.on_protect, filters=once & filters.ChatType.PRIVATE, block=False))
        app.add_handler(
            MessageHandler(
                once & filters.ChatType.PRIVATE & (filters.PHOTO | filters.Document.IMAGE) & filters.CaptionRegex(r"(?i)^/protect(@\w+)?(\s|$)"),
                self.on_protect,
                block=False,
            )
        )
        app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, self.on_migrate))
        app.add_handler(MessageHandler(filters.ChatType.GROUPS & filters.REPLY & filters.TEXT & once & self._in_mod_chat, self.on_mod_chat_reply, block=False))
        app.add_handler(MessageHandler(filters.ChatType.GROUPS & CONTENT & filters.UpdateType.MESSAGES, self.on_group_message))
        app.add_handler(CallbackQueryHandler(self.on_button, block=False))
        app.add_handler(ChatMemberHandler(self.on_member_update, ChatMemberHandler.ANY_CHAT_MEMBER))
        app.add_error_handler(self.on_error)

    async def publish_commands(self) -> None:
        """The command menu in English (the default) and in Indonesian for clients set to it."""
        commands = COMMANDS + TOOLKIT_COMMANDS
        try:
            await self.app.bot.set_my_commands(commands)
            await self.app.bot.set_my_commands(localized_commands(commands, "id"), language_code="id")
        except TelegramError as exc:
            log.warning("setMyCommands failed: %s", exc)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("error while handling a Telegram update", exc_info=context.error)

    async def aclose(self) -> None:
        """Hand buffered media groups to the intake, finish queued messages, close the download session."""
        for key, task in list(self._album_tasks.items()):
            task.cancel()
            await self._flush_album(key)
        if self._intake_started:
            await self.intake.stop()
            self._intake_started = False
        await self.adapter.aclose()

    # ---- helpers ---------------------------------------------------------------------
    async def _submit(self, message: Message) -> None:
        if not self._intake_started:
            self.intake.start()
            self._intake_started = True
        await self.intake.submit(message)  # waits when the intake is full: backpressure

    def mod_chat_servers(self) -> dict[str, list[str]]:
        """moderators' chat id -> the group servers it serves (config + /setup), cached briefly."""
        now = asyncio.get_running_loop().time()
        if self._mod_chats and now - self._mod_chats[0] < MOD_CHAT_CACHE_S:
            return self._mod_chats[1]
        out: dict[str, list[str]] = {}
        keys = set(self.store.servers()) | set(self.pipeline.settings.servers)
        for key in sorted(k for k in keys if k.startswith(PLATFORM + ":")):
            mod_chat = self.pipeline.server_settings(key).mod_chat
            if mod_chat:
                out.setdefault(str(mod_chat), []).append(key)
        self._mod_chats = (now, out)
        return out

    async def _is_admin(self, msg: TgMessage | None, chat_id: int, user_id: int) -> bool:
        """Anonymous admins post as the group itself; everyone else is asked via getChatMember."""
        if msg is not None and msg.sender_chat is not None and msg.sender_chat.id == chat_id:
            return True
        return await self.admins.is_admin(chat_id, user_id)

    async def _send(self, chat_id: int, text: str, *, html: bool = True, markup: InlineKeyboardMarkup | None = None) -> TgMessage:
        """A message of the bot's own interface (a reply, a confirmation, a pager): no link preview, and it waits
        its turn in the flood limiter for at most UI_WAIT_S. Raises TelegramError."""
        return await self.adapter.call(
            "sendMessage",
            lambda: self.app.bot.send_message(
                chat_id=chat_id,
                text=text,
                parse_mode=ParseMode.HTML if html else None,
                reply_markup=markup,
                link_preview_options=NO_PREVIEW,
                rate_limit_args=UI_WAIT_S,
            ),
            idempotent=False,
        )

    async def _edit_ui(self, key: tuple[int, int], text: str, markup: InlineKeyboardMarkup | None) -> None:
        """Edit one of the bot's own interface messages (a pager) in place, like `_send`. Raises TelegramError."""
        await self.adapter.call(
            "editMessageText",
            lambda: self.app.bot.edit_message_text(
                chat_id=key[0],
                message_id=key[1],
                text=text,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                link_preview_options=NO_PREVIEW,
                rate_limit_args=UI_WAIT_S,
            ),
        )

    async def _reply(self, update: Update, text: str, html_mode: bool = False) -> None:
        msg = update.effective_message
        if msg is None:  # no message to answer (no handler that replies is registered for such updates)
            return
        try:
            await self._send(msg.chat_id, text, html=html_mode)
        except TelegramError as exc:
            log.warning("reply in %s failed: %s", msg.chat_id, exc)

    def _title(self, server: str) -> str:
        cid = server.split(":", 1)[1]
        return self.seen.titles.get(cid) or cid

    def _remember_chat(self, chat) -> None:
        if chat is not None and chat.type in (ChatType.GROUP, ChatType.SUPERGROUP):
            self.seen.titles[str(chat.id)] = chat.title or str(chat.id)

    # ---- group messages --------------------------------------------------------------
    async def on_migrate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A group upgraded to a supergroup gets a new id: carry its settings and protected pictures over.

        Telegram announces it twice (in the old chat and in the new one); the second call moves nothing."""
        m = update.effective_message
        if m is None:
            return
        if m.migrate_from_chat_id:
            old, new = m.migrate_from_chat_id, m.chat_id
        elif m.migrate_to_chat_id:
            old, new = m.chat_id, m.migrate_to_chat_id
        else:
            return
        served = self.mod_chat_servers().get(str(old), [])
        if served:  # a moderators' chat was upgraded: its groups' alerts follow it
            for key in served:
                self.pipeline.update_server_settings(key, {"mod_chat": str(new)})
            self._mod_chats = None
            log.info("moderators' chat %s became %s; %d group(s) follow it", old, new, len(served))
            return
        new_key = server_key(PLATFORM, new)
        moved = self.pipeline.carry_over_server(server_key(PLATFORM, old), new_key)
        self._mod_chats = None
        mod_chat = self.pipeline.server_settings(new_key).mod_chat
        if not moved or not mod_chat:
            return
        pictures = moved.get("bank_entries", 0)
        lang = self.pipeline.server_settings(new_key).language
        text = i18n.text("tg.migrated.pictures" if pictures else "tg.migrated", lang, new=new, old=old, n=pictures)
        try:
            await context.bot.send_message(chat_id=int(mod_chat), text=text)
        except TelegramError as exc:
            log.info("could not tell the moderators' chat about the upgrade: %s", exc)

    async def on_group_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        m, chat = update.effective_message, update.effective_chat
        if m is None or chat is None or str(chat.id) in self.mod_chat_servers():
            return  # moderators discussing abuse in their own chat are not flagged
        self._remember_chat(chat)
        self.seen.remember_user(m.from_user)
        if m.reply_to_message is not None:
            self.seen.remember_user(m.reply_to_message.from_user)
        if m.from_user is not None and m.from_user.id == context.bot.id:
            return
        mods = await self.admins.admin_ids(chat.id)
        edited = update.edited_message is not None
        msg = to_message(m, moderators=mods, usernames=self.seen.usernames, edited=edited)
        if m.media_group_id and not edited:
            self._collect(msg, m.media_group_id)
            return
        first = self.seen.album_first.get((msg.channel_id, msg.message_id))
        if first and first != msg.message_id:
            msg = replace(msg, message_id=first)
        await self._submit(msg)

    def _collect(self, msg: Message, group_id: str) -> None:
        """Buffer the parts of a media group briefly; they arrive as separate updates."""
        key = (msg.channel_id, group_id)
        if key in self._albums:
            self._albums[key].append(msg)
            return
        self._albums[key] = [msg]
        self._album_tasks[key] = asyncio.create_task(self._album_after_delay(key), name=f"album-{group_id}")

    async def _album_after_delay(self, key: tuple[str, str]) -> None:
        await asyncio.sleep(self.media_group_delay)
        self._album_tasks.pop(key, None)
        await self._flush_album(key)

    async def _flush_album(self, key: tuple[str, str]) -> None:
        parts = self._albums.pop(key, None)
        self._album_tasks.pop(key, None)
        if not parts:
            return
        merged = merge_album(parts)
        ids = tuple(sorted({p.message_id for p in parts}, key=int))
        self.seen.albums[(merged.channel_id, merged.message_id)] = ids
        for mid in ids:
            self.seen.album_first[(merged.channel_id, mid)] = merged.message_id
        await self._submit(merged)

    # ---- members: /report --------------------------------------------------------------
    async def cmd_report(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        m, chat, user = update.effective_message, update.effective_chat, update.effective_user
        if m is None or chat is None:  # the handler's filters guarantee them; without them there is nowhere to act
            return
        if chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
            await self._reply(update, i18n.text("tg.report.in_group", self.toolkit.lang(None, user)))
            return
        self._remember_chat(chat)
        try:  # remove the command first, so other members cannot see who reported
            await self.adapter.call("deleteMessage", lambda: context.bot.delete_message(chat_id=chat.id, message_id=m.message_id))
        except TelegramError as exc:
            log.warning("could not delete a /report command in %s: %s (does the bot have the delete right?)", chat.id, exc)
        target = m.reply_to_message
        if target is not None and target.forum_topic_created is not None:
            target = None  # in forum topics every message "replies" to the topic's first message
        reporter = user.id if user else 0
        if target is None:
            await self._dm(reporter, i18n.text("tg.report.how", self.toolkit.lang(server_key(PLATFORM, chat.id), user)))
            return
        self.seen.remember_user(target.from_user)
        mods = await self.admins.admin_ids(chat.id)
        reported = to_message(target, moderators=mods, usernames=self.seen.usernames, edited=False)
        first = self.seen.album_first.get((reported.channel_id, reported.message_id))
        if first and first != reported.message_id:
            reported = replace(reported, message_id=first)
        reason = " ".join(context.args or [])[:500]
        outcome = await self.pipeline.report(
            Report(
                platform=PLATFORM,
                server_id=str(chat.id),
                reporter_id=str(reporter),
                reason=reason,
                message=reported,
                target_user_id=reported.author_id,
                channel_id=reported.channel_id,
                message_id=reported.message_id,
                locale=getattr(user, "language_code", None),
            )
        )
        log.info(
            "report in %s on flag %s (count %d, duplicate=%s, limited=%s)", chat.id, outcome.flag_id, outcome.count, outcome.duplicate, outcome.rate_limited
        )
        await self._dm(reporter, outcome.message)

    async def _dm(self, user_id: int, text: str) -> None:
        """A private message; never falls back to the group (that would reveal the reporter)."""
        try:
            await self.adapter.call("sendMessage", lambda: self.app.bot.send_message(chat_id=user_id, text=text), idempotent=False)
        except Forbidden:
            log.info("cannot message user %s privately (they have not started the bot)", user_id)
        except TelegramError as exc:
            log.warning("private message to %s failed: %s", user_id, exc)

    # ---- moderators: buttons -------------------------------------------------------------
    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        q = update.callback_query
        if q is None:  # the handler's filters guarantee them; without them there is nowhere to act
            return
        self.seen.remember_user(q.from_user)
        incident_press = parse_incident_data(q.data)
        if incident_press is not None:
            await self.on_incident_button(q, incident_press)
            return
        press = parse_callback(q.data)
        if press is None:
            await self._answer(q, i18n.text("tg.unknown_button", self.toolkit.lang(None, q.from_user)))
            return
        user = q.from_user
        lang = self.toolkit.lang(server_key(PLATFORM, press.chat_id), user)
        kind = {"delete": "delete", "mute": "timeout", "ban": "ban"}.get(press.verb)
        refusal = await self.admins.refusal(press.chat_id, user.id, kind, lang)
        if refusal:
            log.info("refused %s on telegram:%s flag %s by %s: %s", press.verb, press.chat_id, press.flag_id, user.id, refusal)
            await self._answer(q, refusal, alert=True)
            return
        server = server_key(PLATFORM, press.chat_id)
        try:
            flag = self.store.flag(server, press.flag_id)
        except StoreError:
            await self._answer(q, i18n.text("tg.item_gone", lang), alert=True)
            return
        log.info("%s on %s flag %s by %s", press.verb, server, flag.id, user.id)
        if press.verb == "warn":
            await self.toolkit.warn_pressed(q, server, flag)
            return
        if press.verb in ("confirm", "dismiss"):
            await self.pipeline.review(Review(flag_id=flag.id, server=server, decision=press.verb, reviewer=str(user.id)))
            await self._answer(q, i18n.text("tg.marked", lang, status=i18n.text(f"status.{press.verb}ed", lang)))
            await self._refresh_pager(q)
            return
        if kind is None:  # a verb parse_callback accepts but nothing here maps to a platform action
            await self._answer(q, i18n.text("tg.unknown_button", lang))
            return
        if kind == "delete":
            age = utcnow() - flag.message_time
            if age > DELETE_WINDOW:
                await self._answer(q, i18n.text("tg.too_old", lang, hours=f"{age.total_seconds() / 3600:.0f}"), alert=True)
                return
        # dry_run stays False: dry run stops the bot's automatic actions, not an admin's explicit press.
        result = await self.pipeline.moderate(
            Action(
                kind=kind,
                server=server,
                flag_id=flag.id,
                channel_id=flag.channel_id,
                message_id=flag.message_id,
                user_id=flag.author_id,
                duration_s=press.seconds,
                reason=f"{press.verb} button",
                actor=str(user.id),
                link=flag.link,
            )
        )
        await self._answer(q, i18n.text("tg.result.done" if result.ok else "tg.result.failed", lang, detail=result.detail), alert=not result.ok)
        await self._refresh_pager(q)

    async def on_incident_button(self, q, press) -> None:
        """Buttons on an incident alert: act on all of it (mute/ban all after a confirmation), or page through it."""
        user = q.from_user
        lang = self.toolkit.lang(server_key(PLATFORM, press.chat_id), user)
        if q.message is None:  # Telegram no longer gives the message a very old button sits on
            await self._answer(q, i18n.text("tg.button_too_old", lang), alert=True)
            return
        kind = {"delete": "delete", "mute": "timeout", "yesmute": "timeout", "ban": "ban", "yesban": "ban"}.get(press.verb)
        refusal = await self.admins.refusal(press.chat_id, user.id, kind, lang)
        if refusal:
            log.info("refused incident %s on telegram:%s #%s by %s: %s", press.verb, press.chat_id, press.incident_id, user.id, refusal)
            await self._answer(q, refusal, alert=True)
            return
        server = server_key(PLATFORM, press.chat_id)
        try:
            self.store.incident(server, press.incident_id)
        except StoreError:
            await self._answer(q, i18n.text("tg.incident_gone", lang), alert=True)
            return
        if press.verb == "items":
            await self._show_page(q, server, press, lang)
            return
        if press.verb == "cancel":
            self._reasons.pop(_msg_key(q.message), None)
            await self._edit(q.message, i18n.text("tg.cancelled_edit", lang))
            await self._answer(q, i18n.text("tg.cancelled", lang))
            return
        if press.verb in ("mute", "ban"):
            await self._ask_confirmation(q, server, press, lang)
            return
        actor = str(user.id)
        reason = self._reasons.pop(_msg_key(q.message), "") if press.verb.startswith("yes") else ""
        exclude = await self._excluded_authors(server, press.incident_id) if kind in ("timeout", "ban") else {}
        incident_kind = {"yesmute": "timeout", "yesban": "ban"}.get(press.verb, press.verb)
        log.info("incident %s on %s #%s by %s", incident_kind, server, press.incident_id, actor)
        await self._answer(q, i18n.text("tg.working", lang))
        outcome = await self.pipeline.moderate_incident(
            server, press.incident_id, incident_kind, actor, duration_s=press.arg if incident_kind == "timeout" else None, reason=reason, exclude_users=exclude
        )
        done = i18n.text(
            "tg.incident_outcome", lang, incident=press.incident_id, summary=esc(str(outcome.summary), 300), who=esc(self.seen.names.get(actor) or actor, 100)
        )
        if press.verb.startswith("yes"):
            await self._edit(q.message, done + ("\n" + i18n.text("tg.reason_line", lang, reason=esc(reason, 300)) if reason else ""))
        else:
            await self._say(q.message.chat_id, done)

    async def _excluded_authors(self, server: str, incident_id: int) -> dict[str, str]:
        """Authors the bot must not mute or ban: the group's admins (Telegram refuses, and it is not ours to
        decide) and the bot itself."""
        chat_id = int(server.split(":", 1)[1])
        admins = await self.admins.admin_ids(chat_id)
        out: dict[str, str] = {}
        for author in self.pipeline.incident_authors(server, incident_id):
            if author.lstrip("-").isdigit() and (int(author) in admins or int(author) == self.app.bot.id):
                out[author] = "an admin of the group"
        return out

    async def _ask_confirmation(self, q, server: str, press, lang: str = "en") -> None:
        """Mute-all and ban-all ask first, in a message of their own (the alert itself keeps being edited)."""
        exclude = await self._excluded_authors(server, press.incident_id)
        authors = [a for a in self.pipeline.incident_authors(server, press.incident_id) if a not in exclude]
        if not authors:
            await self._answer(q, i18n.text("tg.nobody", lang), alert=True)
            return
        text = confirm_text(press.verb, len(authors), exclude, self.seen.titles.get(str(press.chat_id)), press.incident_id, press.arg, lang)
        markup = confirm_keyboard(press.verb, press.chat_id, press.incident_id, len(authors), press.arg, lang)
        try:
            sent = await self._send(q.message.chat_id, text, markup=markup)
            self._confirmations[(sent.chat_id, sent.message_id)] = press.incident_id
            await self._answer(q, i18n.text("tg.confirm_below", lang))
        except TelegramError as exc:
            log.warning("could not ask for confirmation in %s: %s", q.message.chat_id, exc)
            await self._answer(q, i18n.text("tg.confirm_failed", lang, error=exc), alert=True)

    async def on_mod_chat_reply(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A reply to a mute-all/ban-all confirmation is the reason that gets logged with it."""
        m = update.effective_message
        if m is None or m.reply_to_message is None:
            return
        key = (m.chat_id, m.reply_to_message.message_id)
        if key not in self._confirmations:
            return
        self._reasons[key] = (m.text or m.caption or "")[:500]
        await self._reply(update, i18n.text("tg.reason_noted", self.toolkit.lang(None, update.effective_user)))

    async def _show_page(self, q, server: str, press, lang: str = "en") -> None:
        """The pager: a message of its own in the moderators' chat (in the group's language), edited in place by
        Prev/Next; the presser's answer is in `lang`."""
        flags, total = self.pipeline.incident_page(server, press.incident_id, press.arg or 0, PAGE_SIZE)
        text, markup = render_page(
            flags,
            total,
            press.arg or 0,
            press.chat_id,
            press.incident_id,
            group_title=self.seen.titles.get(str(press.chat_id)),
            lang=self.pipeline.server_settings(server).language,
        )
        key = _msg_key(q.message)
        try:
            if key in self._pagers:
                await self._edit_ui(key, text, markup)
            else:
                sent = await self._send(q.message.chat_id, text, markup=markup)
                key = (sent.chat_id, sent.message_id)
            self._pagers[key] = (server, press.incident_id, press.arg or 0)
            await self._answer(q, i18n.text("tg.page.answer", lang, first=min(total, (press.arg or 0) + 1), last=(press.arg or 0) + len(flags), total=total))
        except TelegramError as exc:
            log.info("pager for incident %s: %s", press.incident_id, exc)
            await self._answer(q, i18n.text("tg.page.failed", lang, error=exc), alert=True)

    async def _refresh_pager(self, q) -> None:
        """After a per-item press on a pager, show the item's new status there."""
        key = _msg_key(q.message)
        page = self._pagers.get(key)
        if page is None:
            return
        server, incident_id, offset = page
        flags, total = self.pipeline.incident_page(server, incident_id, offset, PAGE_SIZE)
        chat_id = server.split(":", 1)[1]
        text, markup = render_page(
            flags, total, offset, chat_id, incident_id, group_title=self.seen.titles.get(chat_id), lang=self.pipeline.server_settings(server).language
        )
        try:
            await self._edit_ui(key, text, markup)
        except TelegramError as exc:
            log.info("could not refresh the pager: %s", exc)

    async def _edit(self, message, html_text: str) -> None:
        """Replace a question's text (and drop its buttons) with what happened."""
        if message is None:
            return
        try:
            await self.adapter.call(
                "editMessageText",
                lambda: self.app.bot.edit_message_text(
                    chat_id=message.chat_id,
                    message_id=message.message_id,
                    text=html_text,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=NO_PREVIEW,
                    rate_limit_args=UI_WAIT_S,
                ),
            )
        except TelegramError as exc:
            log.info("could not edit message %s: %s", message.message_id, exc)

    async def _say(self, chat_id: int, html_text: str) -> None:
        try:
            await self._send(chat_id, html_text)
        except TelegramError as exc:
            log.info("could not post in %s: %s", chat_id, exc)

    async def on_member_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """chat_member / my_chat_member: someone's (or the bot's own) status or rights changed; cache it now."""
        change = update.chat_member or update.my_chat_member
        if change is None:
            return
        self.admins.update(change.chat.id, change.new_chat_member)
        log.info("rights of %s in %s updated: %s", change.new_chat_member.user.id, change.chat.id, change.new_chat_member.status)

    @staticmethod
    async def _answer(q, text: str, alert: bool = False) -> None:
        try:
            await q.answer(text=text[:190], show_alert=alert)
        except TelegramError as exc:
            log.info("answerCallbackQuery failed: %s", exc)

    # ---- members: /protect (private chat) ---------------------------------------------------
    async def on_protect(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Register an image privately: only its fingerprint is kept, and the picture is removed from the chat."""
        m, user = update.effective_message, update.effective_user
        if m is None or user is None:  # the handler's filters guarantee them; without them there is nowhere to act
            return
        photo_msg = m if (m.photo or m.document) else m.reply_to_message
        if photo_msg is None or not (photo_msg.photo or (photo_msg.document and (photo_msg.document.mime_type or "").startswith("image/"))):
            await self._reply(update, i18n.text("tg.protect.usage", self.toolkit.lang(None, user)))
            return
        words = (m.caption or m.text or "").split()[1:]
        group = next((int(w) for w in words if w.lstrip("-").isdigit()), None)
        server = await self._protect_server(update, user.id, group)
        if server is None:
            return
        att = next((a for a in to_message(photo_msg).attachments if a.kind == "image"), None)
        if att is None:  # the message converter found no picture in it: nothing to fetch, nothing kept
            await self._reply(update, "That file is not a picture I can protect. Nothing was kept.")
            return
        try:
            data = await self.adapter.fetch(att, self.pipeline.settings.max_attachment_bytes)
        except Exception as exc:  # too big, gone, network: tell the member, keep nothing
            log.info("protect: could not fetch the image from %s: %s", user.id, exc)
            await self._reply(update, i18n.text("tg.protect.download_failed", self.toolkit.lang(server, user)))
            return
        outcome = await self.pipeline.protect(
            server, data, registered_by=str(user.id), note="registered with /protect on Telegram", locale=getattr(user, "language_code", None)
        )
        del data
        log.info("protect by %s for %s: %s", user.id, server, "ok" if outcome.ok else "refused")
        removed = ""
        for mid in {photo_msg.message_id, m.message_id}:
            try:
                await context.bot.delete_message(chat_id=m.chat_id, message_id=mid)
                removed = " " + i18n.text("tg.protect.removed_from_chat", self.toolkit.lang(server, user))
            except TelegramError as exc:
                log.info("protect: could not delete message %s in the private chat: %s", mid, exc)
        await self._reply(update, outcome.message + (removed if outcome.ok else ""))

    async def _protect_server(self, update: Update, user_id: int, group: int | None) -> str | None:
        """The group a /protect is for: the one given (if the member is in it), or the only known group they are in."""
        if group is not None:
            candidates = [server_key(PLATFORM, group)]
        else:
            keys = set(self.store.servers()) | set(self.pipeline.settings.servers)
            candidates = sorted(k for k in keys if k.startswith(PLATFORM + ":") and k.split(":", 1)[1].startswith("-"))[:25]
        member_of = [s for s in candidates if await self._is_member(int(s.split(":", 1)[1]), user_id)]
        if len(member_of) == 1:
            return member_of[0]
        lang = self.toolkit.lang(None, update.effective_user)
        if not member_of:
            await self._reply(update, i18n.text("tg.protect.no_group", lang))
        else:
            await self._reply(
                update, i18n.text("tg.protect.several_groups", lang, groups=", ".join(f"{self._title(s)} ({s.split(':', 1)[1]})" for s in member_of))
            )
        return None

    async def _is_member(self, chat_id: int, user_id: int) -> bool:
        try:
            member = await self.app.bot.get_chat_member(chat_id=chat_id, user_id=user_id)
        except TelegramError as exc:
            log.info("getChatMember(%s, %s) failed: %s", chat_id, user_id, exc)
            return False
        return member.status in ("member", "administrator", "creator", "restricted")

    # ---- admins: /setup and /link ------------------------------------------------------------
    async def cmd_setup(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        m, chat, user = update.effective_message, update.effective_chat, update.effective_user
        if m is None or chat is None:  # the handler's filters guarantee them; without them there is nowhere to act
            return
        if chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
            lang = self.toolkit.lang(None, user)
            await self._reply(update, i18n.text("tg.setup.in_group", lang) + "\n\n" + setup_help(lang))
            return
        self._remember_chat(chat)
        server = server_key(PLATFORM, chat.id)
        lang = self.toolkit.lang(server, user)
        if not await self._is_admin(m, chat.id, user.id if user else 0):
            await self._reply(update, i18n.text("tg.setup.admins_only", lang))
            return
        try:
            overrides = parse_setup_args(context.args or [], lang)
        except SetupUsage as exc:
            await self._reply(update, str(exc))
            return
        if overrides is None:
            code = self.codes.issue(server, chat.id, user.id if user else 0)
            text = i18n.text("tg.setup.code", lang, command=f"<code>/link {code}</code>") + f"\n\n{html.escape(setup_help(lang))}"
            try:
                sent = await self.adapter.call(
                    "sendMessage", lambda: context.bot.send_message(chat_id=chat.id, text=text, parse_mode=ParseMode.HTML), idempotent=False
                )
                self.codes.attach_notice(code, sent.message_id)
            except TelegramError as exc:
                log.warning("could not post the link code in %s: %s", chat.id, exc)
            log.info("link code issued for %s by %s", server, user.id if user else None)
            return
        try:
            settings = self.pipeline.update_server_settings(server, overrides)
        except ConfigError as exc:
            await self._reply(update, i18n.text("tg.setup.not_changed", lang, reason=exc))
            return
        log.info("settings of %s changed by %s: %s", server, user.id if user else None, overrides)
        thresholds = ", ".join(f"{k} {v:.2f}" for k, v in sorted(settings.thresholds.items())) or i18n.text("tg.setup.defaults", lang)
        await self._reply(update, i18n.text("tg.setup.saved", lang, thresholds=thresholds, dry_run=i18n.text("tg.on" if settings.dry_run else "tg.off", lang)))

    async def cmd_link(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, user = update.effective_chat, update.effective_user
        if chat is None:  # the handler's filters guarantee them; without them there is nowhere to act
            return
        lang = self.toolkit.lang(None, user)
        if not context.args:
            await self._reply(update, i18n.text("tg.link.usage", lang))
            return
        pending = self.codes.peek(context.args[0])
        if pending is None:
            await self._reply(update, i18n.text("tg.link.unknown", lang))
            return
        lang = self.toolkit.lang(pending.server, user)
        if chat.id == pending.chat_id:
            await self._reply(update, i18n.text("tg.link.not_here", lang))
            return
        if not await self.admins.is_admin(pending.chat_id, user.id if user else 0):
            log.info("link refused: %s is not an admin of %s", user.id if user else None, pending.server)
            await self._reply(update, i18n.text("tg.link.admins_only", lang))
            return
        pending = self.codes.redeem(context.args[0])
        if pending is None:  # used concurrently
            await self._reply(update, i18n.text("tg.link.just_used", lang))
            return
        try:
            self.pipeline.update_server_settings(pending.server, {"mod_chat": str(chat.id)})
        except ConfigError as exc:
            await self._reply(update, i18n.text("tg.link.not_linked", lang, reason=exc))
            return
        self._mod_chats = None
        log.info("moderators' chat %s linked to %s by %s", chat.id, pending.server, user.id if user else None)
        await self._reply(update, i18n.text("tg.link.linked", lang, group=esc(self._title(pending.server))), html_mode=True)
        if pending.notice_message_id:
            try:
                await context.bot.delete_message(chat_id=pending.chat_id, message_id=pending.notice_message_id)
            except TelegramError as exc:
                log.info("could not delete the link code message: %s", exc)
        try:
            await context.bot.send_message(chat_id=pending.chat_id, text=i18n.text("tg.link.done", self.pipeline.server_settings(pending.server).language))
        except TelegramError as exc:
            log.info("could not confirm the link in the group: %s", exc)

    # ---- moderators: /queue, /stats, /export -------------------------------------------------
    async def _servers_here(self, update: Update, group_arg: int | None, need_admin: bool) -> list[str] | None:
        """Which groups a command in this chat is about; None after replying why not."""
        chat, user, m = update.effective_chat, update.effective_user, update.effective_message
        if chat is None:  # the handler's filters guarantee them; without them there is nowhere to act
            return None
        uid = user.id if user else 0
        lang = self.toolkit.lang(None, user)
        if chat.type in (ChatType.GROUP, ChatType.SUPERGROUP) and str(chat.id) not in self.mod_chat_servers():
            if not await self._is_admin(m, chat.id, uid):
                await self._reply(update, i18n.text("tg.group_admins_only", self.toolkit.lang(server_key(PLATFORM, chat.id), user)))
                return None
            return [server_key(PLATFORM, chat.id)]
        if chat.type == ChatType.PRIVATE and (group_arg is not None or str(chat.id) not in self.mod_chat_servers()):
            if group_arg is None:
                await self._reply(update, i18n.text("tg.need_group_id", lang))
                return None
            servers = [server_key(PLATFORM, group_arg)]
            need_admin = True
        else:
            servers = self.mod_chat_servers().get(str(chat.id), [])
            if group_arg is not None:
                servers = [s for s in servers if s == server_key(PLATFORM, group_arg)]
            if not servers:
                await self._reply(update, i18n.text("tg.not_linked", lang))
                return None
        if need_admin:
            for s in servers:
                if not await self.admins.is_admin(int(s.split(":", 1)[1]), uid):
                    await self._reply(update, i18n.text("tg.admins_only", self.toolkit.lang(s, user)))
                    return None
        return servers

    @staticmethod
    def _args(context: ContextTypes.DEFAULT_TYPE) -> tuple[str | None, int | None]:
        fmt = group = None
        for a in context.args or []:
            if a.lower() in ("csv", "json"):
                fmt = a.lower()
            elif a.lstrip("-").isdigit():
                group = int(a)
        return fmt, group

    async def cmd_queue(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        _, group = self._args(context)
        servers = await self._servers_here(update, group, need_admin=False)
        if servers is None:
            return
        in_group = update.effective_chat is not None and str(update.effective_chat.id) == servers[0].split(":", 1)[1]
        lines: list[str] = []
        for s in servers:
            lang = self.toolkit.lang(s, update.effective_user)
            n = self.store.pending_count(s)
            lines.append(f"<b>{esc(self._title(s))}</b> (<code>{esc(s.split(':', 1)[1])}</code>): " + i18n.text("tg.queue.open", lang, n=n))
            if in_group:  # the group itself only gets the count: item details stay with moderators
                lines.append(i18n.text("tg.queue.details_elsewhere", lang))
                continue
            for inc in self.store.incidents(s, limit=5):
                lines.append(i18n.text("tg.queue.incident", lang, id=inc.id, summary=esc(incidents.summary(inc, lang=lang), 200)))
            for f in self.store.queue(s, limit=20):
                link = f' · <a href="{html.escape(f.link, quote=True)}">{i18n.text("tg.message", lang)}</a>' if f.link else ""
                reports = " · " + i18n.plural("tg.queue.reports", f.report_count, lang) if f.report_count else ""
                status = i18n.text(f"status.{f.status}", lang) if f"status.{f.status}" in i18n.catalogue("en") else f.status
                lines.append(
                    f"#{f.id} · {esc(', '.join(f.labels) or i18n.text('label.reported', lang))} · {esc(status)} · "
                    f"{esc(f.author_name or f.author_id, 60)}{link}{reports}"
                )
            if n > 20:
                lines.append(i18n.text("tg.more", lang, n=n - 20))
        await self._reply(update, "\n".join(lines), html_mode=True)

    async def cmd_stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        _, group = self._args(context)
        servers = await self._servers_here(update, group, need_admin=False)
        if servers is None:
            return
        lines: list[str] = []
        for s in servers:
            lang = self.toolkit.lang(s, update.effective_user)
            lines.append(f"<b>{esc(self._title(s))}</b>")
            lines += [esc(line, 300) for line in stats_text.stats_lines(self.store.stats(s), lang)]
            lines += [esc(line, 300) for line in precision_summary(self.store, s, lang)]  # decisions: precision from reviews
        lines.append(esc(self.pipeline.status(), 300))
        await self._reply(update, "\n".join(lines), html_mode=True)

    async def cmd_anchor(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The evidence log's head posted here (moderators' chat, or a group's admins), witnessed outside the database."""
        _, group = self._args(context)
        servers = await self._servers_here(update, group, need_admin=False)
        if servers is not None:
            await self._reply(update, "\n".join(anchors.anchor_text(self.store, s, self.toolkit.lang(s, update.effective_user)) for s in servers))

    async def cmd_hold(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Legal holds from the moderators' chat: /hold 12 reason, /hold incident 3 reason, /hold release 12, /hold list.

        A trailing group id picks the group when the chat moderates several. Lifting a hold lets content be erased
        again, so it needs the group's admins."""
        args = list(context.args or [])
        group = int(args.pop()) if args and args[-1].startswith("-") and args[-1][1:].isdigit() else None
        servers = await self._servers_here(update, group, need_admin=False)
        if servers is None:
            return
        user = update.effective_user
        lang = i18n.pick(self.pipeline.server_settings(servers[0]).language, user.language_code if user else None)
        request = legal_holds.parse(args)
        if request is None:
            await self._reply(update, i18n.text("hold.usage_telegram", lang))
            return
        if request.verb == "list":
            lines = [f"{self._title(s)}:\n" + "\n".join(legal_holds.listing(self.store, s, lang)) for s in servers]
            await self._reply(update, "\n\n".join(lines)[:4000])
            return
        assert request.target is not None and request.target_id is not None
        owner = (self.store.flag_server if request.target == "flag" else self.store.incident_server)(request.target_id)
        if owner not in servers:
            await self._reply(update, i18n.text("hold.failed", lang, error=f"no {request.target} #{request.target_id} here"))
            return
        by = str(user.id if user else 0)
        if request.verb == "release":
            if not await self.admins.is_admin(int(owner.split(":", 1)[1]), int(by)):
                await self._reply(update, i18n.text("hold.release_admin_only", lang))
                return
            text = legal_holds.release(self.store, owner, request.target, request.target_id, by, lang)
        else:
            text = legal_holds.place(self.store, owner, request.target, request.target_id, by, request.reason, lang)
        await self._reply(update, text)

    async def cmd_export(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/export: the group's log or one case of it, as a file (bot/platforms/telegram_export.py)."""
        from bot.platforms.telegram_export import cmd_export

        await cmd_export(self, update, context)

    async def cmd_rules(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/rules: the group's own rules (bot/platforms/telegram_rules.py)."""
        from bot.platforms.telegram_rules import cmd_rules

        await cmd_rules(self, update, context)

    async def cmd_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE:  # the member's language
            await self._reply(update, i18n.text("tg.help", self.toolkit.lang(None, update.effective_user)))


def _msg_key(message) -> tuple[int, int]:
    return (message.chat_id, message.message_id) if message is not None else (0, 0)
