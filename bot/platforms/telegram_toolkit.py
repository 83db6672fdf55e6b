"""The moderator's toolkit on Telegram: Warn on alerts, /member, /note, and a victim's /unprotect.

The core does the work (`Pipeline.warn`, `Store.member_history`, `Pipeline.note`, `Pipeline.unprotect`);
this module checks who is asking, finds what a command is about, and answers in the asker's language
(their Telegram `language_code` where we have a catalogue for it, else the group's `language` setting).
/member and /note work only in a moderators' chat, for admins of the group it serves; /unprotect only in
the private chat, where a member sees and removes only the pictures she registered herself.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, ContextTypes, filters

from bot import i18n, member_history
from bot.models import server_key
from bot.platforms.telegram_adapter import NO_PREVIEW
from bot.platforms.telegram_events import PLATFORM
from bot.platforms.telegram_render import esc
from bot.store import FlagView, StoreError
from bot.text_fit import fit_lines

log = logging.getLogger(__name__)

#: Commands this module adds; their Indonesian descriptions are `tg.command.<name>` in the catalogues.
TOOLKIT_COMMANDS = [
    BotCommand("member", "moderators: a member's flags, actions and notes (reply or id)"),
    BotCommand("note", "moderators: add a note to a flag, an incident or a member"),
    BotCommand("unprotect", "list the pictures you registered with /protect and remove any"),
]
UNPROTECT_PREFIX = "tu"
MAX_LISTED = 25
HISTORY_LIMIT = 25
MAX_REPLY = 4000  # Telegram's limit is 4096 characters
MAX_NOTE = 1000
_REMOVE = re.compile(r"tu:rm:(-?[0-9]{1,20}):([0-9]{1,12})")
_ALERT_REF = re.compile(r"#([0-9]{1,12})(?![0-9])")
_SUBJECT_WORDS = {"flag": "flag", "tanda": "flag", "incident": "incident", "insiden": "incident", "member": "member", "anggota": "member"}
_SHORT = re.compile(r"(?:(?P<inc>i)#?|#)(?P<n>[0-9]{1,12})", re.I)


def localized_commands(commands: list[BotCommand], lang: str) -> list[BotCommand]:
    """The command list for `setMyCommands(language_code=lang)`: each description from `tg.command.<name>`,
    the English one where the catalogue has none (names stay the same in every language)."""
    messages = i18n.catalogue(lang)
    return [BotCommand(c.command, messages.get(f"tg.command.{c.command}", c.description)[:256]) for c in commands]


def remove_data(chat_id: int | str, entry_id: int) -> str:
    """Payload of a /unprotect button: the group and the bank entry (within Telegram's 64 bytes)."""
    data = f"{UNPROTECT_PREFIX}:rm:{chat_id}:{entry_id}"
    assert len(data.encode()) <= 64, data
    return data


def parse_remove(data: str | None) -> tuple[int, int] | None:
    """Inverse of `remove_data`; None for anything malformed (payloads come from clients)."""
    m = _REMOVE.fullmatch(data or "")
    return (int(m[1]), int(m[2])) if m else None


def alert_subject(text: str | None) -> tuple[str, int] | None:
    """What an alert is about, from its last line: ("incident", I) for "Incident #I · newest flag #N",
    ("flag", N) for "Flag #N" (the numbers, not the words, so it works in every language)."""
    last = (text or "").strip().rsplit("\n", 1)[-1]
    numbers = [int(n) for n in _ALERT_REF.findall(last)]
    if len(numbers) == 2:
        return "incident", numbers[0]
    if len(numbers) == 1:
        return "flag", numbers[0]
    return None


def note_target(words: list[str]) -> tuple[str, str, list[str]] | None:
    """`/note` arguments -> (kind, id, the rest): "#12 …" / "12 …" / "flag 12 …" (tanda), "i3 …" /
    "incident 3 …" (insiden), "member 4567 …" (anggota). None when the first words name nothing."""
    if not words:
        return None
    first = words[0].lower()
    if first in _SUBJECT_WORDS and len(words) >= 2 and words[1].lstrip("#").isdigit() and words[1].lstrip("#").isascii():
        return _SUBJECT_WORDS[first], str(int(words[1].lstrip("#"))), words[2:]
    m = _SHORT.fullmatch(first)
    if m:
        return ("incident" if m["inc"] else "flag"), str(int(m["n"])), words[1:]
    if first.isdigit() and first.isascii() and len(first) <= 12:
        return "flag", str(int(first)), words[1:]
    return None


class TelegramToolkit:
    """Warn, /member, /note and /unprotect; uses the handlers' admin cache, reply helpers and chat map."""

    def __init__(self, handlers: Any) -> None:
        self.h = handlers
        self.pipeline = handlers.pipeline
        self.store = handlers.pipeline.store

    def register(self) -> None:
        """Added before the general button handler, so /unprotect presses never reach it."""
        once = filters.UpdateType.MESSAGE
        app = self.h.app
        app.add_handler(CommandHandler("member", self.cmd_member, filters=once, block=False))
        app.add_handler(CommandHandler("note", self.cmd_note, filters=once, block=False))
        app.add_handler(CommandHandler("unprotect", self.cmd_unprotect, filters=once, block=False))
        app.add_handler(CallbackQueryHandler(self.on_remove, pattern=rf"^{UNPROTECT_PREFIX}:", block=False))

    # ---- language ----------------------------------------------------------------------
    def lang(self, server: str | None, user: Any) -> str:
        """The asker's Telegram language where we have it, else the group's setting."""
        setting = self.pipeline.server_settings(server).language if server else None
        return i18n.pick(setting, getattr(user, "language_code", None))

    async def say(self, update: Update, key: str, lang: str, **values: object) -> None:
        await self.h._reply(update, i18n.text(key, lang, **values))

    # ---- Warn (a button on alerts and pager items) ----------------------------------------
    async def warn_pressed(self, q: Any, server: str, flag: FlagView) -> None:
        """A moderator pressed Warn: the core sends the member the group's template privately and records it."""
        user = q.from_user
        lang = self.lang(server, user)
        result = await self.pipeline.warn(server, flag.id, str(user.id))
        if result.ok and result.detail == "dry-run":
            text = i18n.text("reply.warn.dry_run", lang)
        elif result.ok:
            text = i18n.text("reply.warn.sent", lang)
        else:
            text = i18n.text("reply.warn.not_sent", lang, detail=result.detail)
        log.info("warn on %s flag %s by %s: %s", server, flag.id, user.id, "ok" if result.ok else result.detail)
        await self.h._answer(q, text, alert=not result.ok)
        await self.h._refresh_pager(q)

    # ---- /member and /note: moderators' chat ------------------------------------------------
    async def _mod_server(self, update: Update, group: int | None) -> tuple[str, str] | None:
        """(server, language) a moderators' chat command is about, after checking the sender is an admin of that
        group; None after saying why not."""
        chat, user = update.effective_chat, update.effective_user
        if chat is None or user is None:
            return None
        servers = self.h.mod_chat_servers().get(str(chat.id), [])
        if not servers:
            await self.say(update, "tg.mod_chat_only", self.lang(None, user))
            return None
        if group is not None:
            servers = [s for s in servers if s == server_key(PLATFORM, group)]
        if len(servers) != 1:
            lang = self.lang(None, user)
            await self.say(
                update,
                "tg.which_group",
                lang,
                groups=", ".join(f"{self.h._title(s)} ({s.split(':', 1)[1]})" for s in self.h.mod_chat_servers().get(str(chat.id), [])),
            )
            return None
        server = servers[0]
        lang = self.lang(server, user)
        if not await self.h.admins.is_admin(int(server.split(":", 1)[1]), user.id):
            await self.say(update, "tg.admins_only", lang)
            return None
        return server, lang

    def _replied_subject(self, update: Update, server: str) -> tuple[str, str] | None:
        """What a command sent as a reply points at: a bot alert's incident or flag, or a forwarded message's author."""
        reply = update.effective_message.reply_to_message if update.effective_message else None
        if reply is None:
            return None
        origin = getattr(reply, "forward_origin", None)
        sender = getattr(origin, "sender_user", None)
        if sender is not None:
            return "member", str(sender.id)
        if reply.from_user is not None and reply.from_user.id == self.h.app.bot.id:
            found = alert_subject(reply.text or reply.caption)
            return (found[0], str(found[1])) if found else None
        if reply.from_user is not None and not reply.from_user.is_bot:
            return "member", str(reply.from_user.id)
        return None

    async def cmd_member(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/member as a reply (to an alert or a forwarded message) or /member <user id> [group id]."""
        args = context.args or []
        group = next((int(a) for a in args if a.startswith("-") and a[1:].isdigit() and a.isascii()), None)
        found = await self._mod_server(update, group)
        if found is None:
            return
        server, lang = found
        user_id = next((a for a in args if a.isdigit() and a.isascii()), None)
        if user_id is None:
            subject = self._replied_subject(update, server)
            if subject is not None and subject[0] == "member":
                user_id = subject[1]
            elif subject is not None:
                user_id = self._author_of(server, *subject)
        if user_id is None:
            await self.say(update, "tg.member.usage", lang)
            return
        history = self.store.member_history(server, user_id, limit=HISTORY_LIMIT)
        name = self.h.seen.names.get(user_id)
        lines = ([name] if name else []) + member_history.lines(history, lang=lang)
        log.info("member history of %s in %s for %s", user_id, server, getattr(update.effective_user, "id", None))
        await self.h._reply(update, fit_lines(lines, MAX_REPLY, lang))  # plain text: no markup at all

    def _author_of(self, server: str, kind: str, ident: str) -> str | None:
        """The member an alert is about: the flag's author (an incident's newest flag's)."""
        try:
            if kind == "incident":
                flags = self.store.incident_flags(server, int(ident), offset=0, limit=1)
                return flags[0].author_id if flags else None
            return self.store.flag(server, int(ident)).author_id
        except StoreError:
            return None

    async def cmd_note(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/note <#flag | i<incident> | member <id>> <text>, or a reply to an alert or a forwarded message with /note <text>."""
        words = list(context.args or [])
        group = None
        if words and words[0].startswith("-") and words[0][1:].isdigit() and words[0].isascii():
            group = int(words.pop(0))
        found = await self._mod_server(update, group)
        if found is None:
            return
        server, lang = found
        target = self._replied_subject(update, server)
        if target is None:
            parsed = note_target(words)
            if parsed is None:
                await self.say(update, "tg.note.usage", lang)
                return
            kind, subject_id, words = parsed
        else:
            kind, subject_id = target
        text = " ".join(words).strip()[:MAX_NOTE]
        if not text:
            await self.say(update, "tg.note.usage", lang)
            return
        author = str(getattr(update.effective_user, "id", ""))
        try:
            self.pipeline.note(server, kind, subject_id, author, text)
        except StoreError as exc:
            await self.say(update, "tg.note.not_saved", lang, reason=str(exc))
            return
        log.info("note on %s %s in %s by %s", kind, subject_id, server, author)
        await self.say(update, f"tg.note.added.{kind}", lang, id=subject_id)

    # ---- /unprotect: the private chat ------------------------------------------------------
    def _her_pictures(self, user_id: str) -> list[tuple[str, dict]]:
        """(group, entry) for every picture she registered in any of our groups, newest first, each once."""
        keys = set(self.store.servers()) | set(self.pipeline.settings.servers)
        seen: set[int] = set()
        out: list[tuple[str, dict]] = []
        for server in sorted(k for k in keys if k.startswith(PLATFORM + ":")):
            for entry in self.pipeline.protected_images(server, user_id):
                if entry["id"] not in seen:
                    seen.add(entry["id"])
                    out.append((server, entry))
        out.sort(key=lambda se: (str(se[1].get("created_at") or ""), se[1]["id"]), reverse=True)
        return out

    def listing(self, user_id: str, lang: str) -> tuple[str, InlineKeyboardMarkup | None]:
        """The list of her pictures (HTML, every note and title escaped) and a remove button for each."""
        pictures = self._her_pictures(user_id)
        if not pictures:
            return esc(i18n.text("tg.unprotect.none", lang), 500), None
        lines = [esc(i18n.text("tg.unprotect.head", lang), 500)]
        rows = []
        for server, e in pictures[:MAX_LISTED]:
            date = str(e.get("created_at") or "")[:10]
            note = esc(str(e.get("note") or ""), 120) or esc(i18n.text("tg.unprotect.no_note", lang))
            lines.append(f"<b>#{e['id']}</b> · {esc(date)} · {esc(self.h._title(server), 60)} · {note}")
            rows.append(
                [
                    InlineKeyboardButton(
                        "🗑 " + i18n.text("tg.unprotect.remove", lang, id=e["id"], date=date)[:60], callback_data=remove_data(server.split(":", 1)[1], e["id"])
                    )
                ]
            )
        if len(pictures) > MAX_LISTED:
            lines.append(esc(i18n.text("tg.unprotect.more", lang, n=len(pictures) - MAX_LISTED)))
        return "\n".join(lines), InlineKeyboardMarkup(rows)

    async def _send_listing(self, chat_id: int, user_id: str, lang: str) -> None:
        text, markup = self.listing(user_id, lang)
        try:
            await self.h.adapter.call(
                "sendMessage",
                lambda: self.h.app.bot.send_message(
                    chat_id=chat_id, text=text, parse_mode=ParseMode.HTML, reply_markup=markup, link_preview_options=NO_PREVIEW
                ),
                idempotent=False,
            )
        except TelegramError as exc:
            log.warning("unprotect list to %s failed: %s", chat_id, exc)

    async def cmd_unprotect(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, user = update.effective_chat, update.effective_user
        if chat is None or user is None:
            return
        if chat.type != ChatType.PRIVATE:
            server = server_key(PLATFORM, chat.id) if chat.type in (ChatType.GROUP, ChatType.SUPERGROUP) else None
            await self.say(update, "tg.unprotect.private_only", self.lang(server, user))
            return
        pictures = self._her_pictures(str(user.id))
        lang = self.lang(pictures[0][0] if pictures else None, user)
        await self._send_listing(chat.id, str(user.id), lang)

    async def on_remove(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A remove button: the core removes the entry only if this member registered it for that group."""
        q = update.callback_query
        if q is None:
            return
        parsed = parse_remove(q.data)
        server = server_key(PLATFORM, parsed[0]) if parsed else None
        lang = self.lang(server, q.from_user)
        message = q.message
        if server is None or parsed is None or message is None or message.chat.type != ChatType.PRIVATE:
            await self.h._answer(q, i18n.text("protect.not_found", lang), alert=True)
            return
        removed = self.pipeline.unprotect(server, str(q.from_user.id), parsed[1])
        await self.h._answer(q, i18n.text("protect.removed" if removed else "protect.not_found", lang), alert=not removed)
        text, markup = self.listing(str(q.from_user.id), lang)
        chat_id, message_id = message.chat.id, message.message_id
        try:
            await self.h.adapter.call(
                "editMessageText",
                lambda: self.h.app.bot.edit_message_text(
                    chat_id=chat_id, message_id=message_id, text=text, parse_mode=ParseMode.HTML, reply_markup=markup, link_preview_options=NO_PREVIEW
                ),
            )
        except TelegramError as exc:
            log.info("could not refresh the unprotect list: %s", exc)
