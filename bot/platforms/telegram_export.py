"""Telegram /export: a group's evidence log, or one case of it, as a file in a private chat or the moderators' chat.

    /export [csv|json] [<group id>] [incident <n> | member <user id>]

The group itself never gets the file (it holds reported content). Admins of the group only. The export is built
off the event loop and fitted to Telegram's 50 MB upload limit (bot/chat_export.py); the caption carries the
file's SHA-256, and the manifest travels with it (inside the zip when the export had to be zipped).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Sequence

from telegram import InputFile, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import chat_export, i18n
from bot.models import server_key
from bot.store import FlagFilter

log = logging.getLogger(__name__)

PLATFORM = "telegram"


@dataclass(frozen=True)
class ExportRequest:
    fmt: str = "csv"
    group: int | None = None
    incident: int | None = None
    member: str | None = None
    problem: str = ""  # a catalogue key when the arguments make no sense


def parse_export_args(args: Sequence[str]) -> ExportRequest:
    """`csv`/`json`, a group id, `incident 3` (or `i3`, `#3`), `member 123456`; in any order."""
    fmt, group, incident, member = "csv", None, None, None
    words = [a.strip() for a in args if a.strip()]
    i = 0
    while i < len(words):
        w = words[i].lower()
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if w in ("csv", "json"):
            fmt = w
        elif w in ("incident", "insiden") and nxt.lstrip("#").isdigit():
            incident, i = int(nxt.lstrip("#")), i + 1
        elif (w.startswith("i") or w.startswith("#")) and w.lstrip("i#").isdigit() and len(w) > 1:
            incident = int(w.lstrip("i#"))
        elif w in ("member", "anggota") and nxt.isdigit():
            member, i = nxt, i + 1
        elif w.lstrip("-").isdigit():
            group = int(w)
        else:
            return ExportRequest(problem="tg.export.usage")
        i += 1
    if incident is not None and member is not None:
        return ExportRequest(problem="tg.export.usage")
    return ExportRequest(fmt, group, incident, member)


async def cmd_export(h: Any, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The /export command; `h` is the TelegramHandlers (chat checks, replies, the adapter), like /rules'."""
    chat = update.effective_chat
    if chat is None:  # the handler's filters guarantee it; without it there is nowhere to act
        return
    user = update.effective_user
    if chat.type in (ChatType.GROUP, ChatType.SUPERGROUP) and str(chat.id) not in h.mod_chat_servers():
        await h._reply(update, i18n.text("tg.export.not_in_group", h.toolkit.lang(server_key(PLATFORM, chat.id), user)))
        return
    request = parse_export_args(context.args or [])
    if request.problem:
        await h._reply(update, i18n.text(request.problem, h.toolkit.lang(None, user)))
        return
    servers = await h._servers_here(update, request.group, need_admin=True)
    if servers is None:
        return
    if len(servers) > 1:
        await h._reply(update, i18n.text("tg.which_group", h.toolkit.lang(None, user), groups=", ".join(s.split(":", 1)[1] for s in servers)))
        return
    server = servers[0]
    lang = h.toolkit.lang(server, user)
    if request.incident is not None and h.store.incident_server(request.incident) != server:
        await h._reply(update, i18n.text("export.no_incident", lang, id=request.incident))
        return
    which = FlagFilter(server=server, incident=request.incident, target=request.member)
    out = await chat_export.build(h.store, request.fmt, which, chat_export.TELEGRAM_UPLOAD_LIMIT)
    log.info(
        "export of %s (%s, %d rows, %d bytes, incident %s, member %s) to chat %s for %s",
        server,
        request.fmt,
        out.rows,
        out.size,
        request.incident,
        request.member,
        chat.id,
        user.id if user else None,
    )
    if out.too_big:
        limit = chat_export.megabytes(chat_export.TELEGRAM_UPLOAD_LIMIT)
        await h._reply(update, i18n.text("export.too_big", lang, rows=out.rows, mb=chat_export.megabytes(out.size), limit=limit, server=server))
        return
    caption = i18n.text("tg.export.caption", lang, title=h._title(server), server=server, fmt=request.fmt) + f"\nsha256 {out.sha256}"
    if out.zipped:
        caption += "\n" + i18n.text("export.zipped", lang)
    try:
        for k, (name, data) in enumerate(out.files):
            await h.adapter.call("sendDocument", _sender(context, chat.id, name, data, caption[:1000] if k == 0 else None), idempotent=False)
    except TelegramError as exc:
        log.warning("sending the export to %s failed: %s", chat.id, exc)
        await h._reply(update, i18n.text("tg.export.failed", lang, error=exc))


def _sender(context: ContextTypes.DEFAULT_TYPE, chat_id: int, name: str, data: bytes, caption: str | None) -> Callable[[], Awaitable[Any]]:
    """One upload, as the adapter's retrying call wants it (a fresh request on each try)."""
    return lambda: context.bot.send_document(chat_id=chat_id, document=InputFile(data, filename=name), caption=caption)
