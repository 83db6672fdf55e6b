"""Appeals on Telegram: `/appeal <case> <why>` in the private chat (or the deep link `?start=appeal_<case>`),
and Uphold / Reverse on the appeal's entry in the moderators' chat.

A bot can message only members who started it; for the others the notice fails quietly and the failure is
recorded on its action. The core writes every text (bot/appeals.py); this module checks who is asking,
escapes what members wrote and translates. Nothing here names who reported the member.
"""

from __future__ import annotations

import logging
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, filters

from bot import appeals, i18n
from bot.errors import AppealRefused
from bot.platforms.telegram_events import PLATFORM
from bot.platforms.telegram_render import esc
from bot.store import StoreError

log = logging.getLogger(__name__)

#: Button data: `ap:u:<appeal id>` (uphold) or `ap:r:<appeal id>` (reverse); well under Telegram's 64 bytes.
CALLBACK = re.compile(r"^ap:(?P<d>[ur]):(?P<id>[0-9]{1,18})$")
DEEP_LINK = re.compile(r"^appeal_(?P<case>[0-9]{1,18})$")
_DECISION = {"u": "uphold", "r": "reverse"}


# ---- rendering (used by the adapter) ------------------------------------------------------------
def appeal_html(alert: appeals.AppealAlert) -> tuple[str, InlineKeyboardMarkup | None]:
    """The moderators' entry for an appeal (HTML, every value escaped); buttons only while it is open."""
    lines = [f"<b>{esc(alert.title, 200)}</b>"]
    for label, value in alert.fields:
        lines.append(f"<b>{esc(label, 100)}:</b> {esc(value, 1500)}")
    text = "\n".join(lines)[:4000]
    if not alert.open:
        return text, None
    appeal_id = alert.appeal.id
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton(alert.uphold, callback_data=f"ap:u:{appeal_id}"), InlineKeyboardButton(alert.reverse, callback_data=f"ap:r:{appeal_id}")]]
    )
    return text, markup


def notice_text(notice: appeals.MemberNotice, group_title: str | None) -> str:
    """The member's private message, sent as plain text (no markup to escape)."""
    return notice.fill(group_title)[:4000]


def notice_markup(notice: appeals.MemberNotice, bot_username: str | None) -> InlineKeyboardMarkup | None:
    """A button opening the private chat with `/start appeal_<case>`, which answers with the exact command."""
    if not notice.button or not bot_username:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(notice.button, url=f"https://t.me/{bot_username}?start=appeal_{notice.case}")]])


# ---- handlers ---------------------------------------------------------------------------------------
class TelegramAppeals:
    """Registered before the general handlers, so `/start appeal_…` and `ap:` buttons reach it first."""

    def __init__(self, handlers) -> None:
        self.handlers = handlers
        self.pipeline = handlers.pipeline
        self.store = handlers.pipeline.store

    def register(self, app: Application) -> None:
        once = filters.UpdateType.MESSAGE
        private = once & filters.ChatType.PRIVATE
        app.add_handler(CommandHandler("appeal", self.cmd_appeal, filters=private, block=False))
        app.add_handler(CommandHandler("start", self.cmd_start, filters=private & filters.Regex(r"^/start(@\w+)?\s+appeal_"), block=False))
        app.add_handler(CallbackQueryHandler(self.on_decision, pattern=CALLBACK, block=False))

    async def cmd_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The deep link from the notice: tell the member the exact command (an appeal needs their words)."""
        user = update.effective_user
        m = DEEP_LINK.match(context.args[0]) if context.args else None
        lang = self._lang(m and int(m["case"]), user.language_code if user else None)
        text = i18n.text("appeal.start", lang, case=m["case"]) if m else i18n.text("appeal.usage", lang)
        await self.handlers._reply(update, text)

    async def cmd_appeal(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/appeal <case> <why>` in the private chat."""
        user = update.effective_user
        msg = update.effective_message
        if user is None or msg is None:
            return
        locale = user.language_code
        parts = (msg.text or "").split(maxsplit=2)
        case = parts[1] if len(parts) > 1 else ""
        if not case.isdigit() or len(case) > 18:
            await self.handlers._reply(update, i18n.text("appeal.usage", self._lang(None, locale)))
            return
        try:
            appeal = self.pipeline.open_appeal(PLATFORM, int(case), str(user.id), parts[2] if len(parts) > 2 else "", locale=locale)
            reply = i18n.text("appeal.opened", appeal.lang, id=appeal.id)
        except AppealRefused as exc:
            reply = str(exc)
        log.info("appeal by %s on case %s: %s", user.id, case, reply[:60])
        await self.handlers._reply(update, reply)

    async def on_decision(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Uphold / Reverse: only in the group's moderators' chat, only by the group's admins with the rights
        that a reversal exercises (lifting a mute or a ban)."""
        q = update.callback_query
        m = CALLBACK.match(q.data or "") if q is not None else None
        if q is None or m is None:
            return
        decision, appeal_id = _DECISION[m["d"]], int(m["id"])
        server = self.store.appeal_server(appeal_id)
        chat_id = q.message.chat.id if q.message is not None else None
        if server is None or not server.startswith(PLATFORM + ":") or str(self.pipeline.server_settings(server).mod_chat) != str(chat_id):
            await self.handlers._answer(q, "This appeal does not belong to this chat.", alert=True)
            return
        lang = i18n.pick(self.pipeline.server_settings(server).language, q.from_user.language_code)
        group = server.split(":", 1)[1]
        try:
            appeal = self.store.appeal(server, appeal_id)
        except StoreError:
            await self.handlers._answer(q, "This appeal no longer exists.", alert=True)
            return
        kinds: list[str | None] = [None]
        if decision == "reverse":
            done = {a["kind"] for a in appeals.affecting(self.store, server, appeal.flag_id, appeal.appellant_id)}
            kinds += [k for k in ("timeout", "ban") if k in done]
        for kind in kinds:
            refusal = await self.handlers.admins.refusal(int(group), q.from_user.id, kind)
            if refusal:
                log.info("refused appeal %s #%d by %s: %s", decision, appeal_id, q.from_user.id, refusal)
                await self.handlers._answer(q, refusal, alert=True)
                return
        try:
            outcome = await self.pipeline.decide_appeal(server, appeal_id, decision, str(q.from_user.id))
            await self.handlers._answer(q, outcome.summary(lang)[:200], alert=True)
        except AppealRefused as exc:
            await self.handlers._answer(q, exc.text(lang)[:200], alert=True)

    def _lang(self, case: int | None, locale: str | None) -> str:
        server = self.store.flag_server(case) if case is not None else None
        return i18n.pick(self.pipeline.server_settings(server).language if server else None, locale)
