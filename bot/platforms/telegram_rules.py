"""Telegram /rules: a group's own terms, allow-listed phrases and exempt members, from its moderators' chat.

    /rules [list]                                 anyone in the moderators' chat
    /rules add sexual|racial <term or phrase>     the group's admins
    /rules allow [sexual|racial] <phrase>
    /rules exempt <member id>                     (or reply to one of their messages)
    /rules remove <number or pattern>

A moderators' chat serving several groups takes the group id first: `/rules -1001234567890 list`. The list is
never shown in the group itself, where members would learn what is filtered. Replies are HTML with every pattern
escaped inside <code>, so a pattern can never render markup or mention anyone.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot import i18n
from bot.errors import TriagebotError
from bot.platforms.telegram_render import esc
from bot.server_rules import RuleEntry

log = logging.getLogger(__name__)

LIST_CHARS = 3500  # Telegram's limit is 4096 characters after entities are parsed
LABELS = ("sexual", "racial")


def rule_line(e: RuleEntry, lang: str) -> str:
    """One rule as HTML: number (or "config file"), kind, label, the pattern as escaped code."""
    where = f"#{e.id}" if e.id is not None else i18n.text("rules.from_config", lang)
    parts = [esc(where), esc(i18n.text(f"rules.kind.{e.kind}", lang))]
    if e.label:
        parts.append(esc(i18n.text("rules.all_labels", lang) if e.label == "all" else i18n.text(f"label.{e.label}", lang)))
    parts.append(f"<code>{esc(e.pattern, 120)}</code>")
    if e.kind == "term" and e.score < 1.0:
        parts.append(f"{e.score:.2f}")
    return " · ".join(parts)


def listing(entries: Sequence[RuleEntry], lang: str, title: str) -> str:
    if not entries:
        return f"<b>{esc(title)}</b>\n" + esc(i18n.text("rules.none", lang))
    lines = [f"<b>{esc(title)}</b>", esc(i18n.text("rules.head", lang, n=len(entries)))]
    used = sum(len(x) + 1 for x in lines)
    for i, e in enumerate(entries):
        line = rule_line(e, lang)
        if used + len(line) + 60 > LIST_CHARS:
            lines.append(esc(i18n.text("rules.more", lang, n=len(entries) - i)))
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)


def parse(args: Sequence[str], reply_author: str | None = None) -> tuple[str, dict[str, Any]] | None:
    """`/rules` arguments -> (verb, fields), or None when they make no sense (the caller shows the usage)."""
    if not args or args[0].lower() == "list":
        return "list", {}
    verb, rest = args[0].lower(), list(args[1:])
    if verb == "add" and len(rest) >= 2 and rest[0].lower() in LABELS:
        return "add", {"kind": "term", "label": rest[0].lower(), "pattern": " ".join(rest[1:])}
    if verb == "allow" and rest:
        label = rest.pop(0).lower() if rest[0].lower() in LABELS and len(rest) > 1 else None
        return "add", {"kind": "allow", "label": label, "pattern": " ".join(rest)}
    if verb == "exempt" and (rest or reply_author):
        return "add", {"kind": "exempt_user", "label": None, "pattern": rest[0] if rest else reply_author}
    if verb == "remove" and rest:
        return "remove", {"which": " ".join(rest)}
    return None


async def cmd_rules(handlers: Any, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The /rules command; `handlers` is the TelegramHandlers (chat checks, replies)."""
    chat, user, m = update.effective_chat, update.effective_user, update.effective_message
    if chat is None:
        return
    args = list(context.args or [])
    group = int(args.pop(0)) if args and args[0].startswith("-") and args[0][1:].isdigit() else None
    lang_code = user.language_code if user else None
    if str(chat.type) in (ChatType.GROUP.value, ChatType.SUPERGROUP.value) and str(chat.id) not in handlers.mod_chat_servers():
        server_lang = handlers.pipeline.server_settings(f"telegram:{chat.id}").language
        await handlers._reply(update, i18n.text("rules.mod_chat_only", i18n.pick(server_lang, lang_code)))
        return
    replied = m.reply_to_message if m is not None else None
    reply_author = str(replied.from_user.id) if replied is not None and replied.from_user else None
    parsed = parse(args, reply_author)
    changing = parsed is not None and parsed[0] != "list"
    servers = await handlers._servers_here(update, group, need_admin=changing)
    if servers is None:
        return
    lang = i18n.pick(handlers.pipeline.server_settings(servers[0]).language, lang_code)
    if parsed is None:
        await handlers._reply(update, i18n.text("rules.usage", lang))
        return
    verb, fields = parsed
    if verb == "list":
        await handlers._reply(update, "\n\n".join(listing(handlers.pipeline.rule_entries(s), lang, handlers._title(s)) for s in servers), html_mode=True)
        return
    if len(servers) > 1:
        await handlers._reply(update, i18n.text("rules.which_group", lang, groups=", ".join(s.split(":", 1)[1] for s in servers)))
        return
    server, by = servers[0], str(user.id if user else 0)
    try:
        if verb == "add":
            entry = handlers.pipeline.add_rule(server, fields["kind"], fields["label"], fields["pattern"], by)
            key = "rules.added"
        else:
            entry = handlers.pipeline.remove_rule(server, fields["which"], by)
            key = "rules.removed"
    except TriagebotError as exc:
        await handlers._reply(
            update, esc(i18n.text("rules.not_saved", lang, why="\0")).replace("\0", f"<code>{esc(str(exc), 300)}</code>"), html_mode=True
        )  # quoted input never mentions anyone
        return
    log.info("rule #%s %s in %s by %s", entry.id, "added" if verb == "add" else "removed", server, by)
    await handlers._reply(update, esc(i18n.text(key, lang, rule="\0")).replace("\0", rule_line(entry, lang)), html_mode=True)
