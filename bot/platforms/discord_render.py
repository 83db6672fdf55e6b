"""Alert -> discord.Embed, plus the escaping every echoed string goes through.

Quoted message text is hostile: it is escaped (markdown, mentions, backslashes) and
pipes are replaced so nothing can close the spoiler early. The embed never carries a
flagged image, only the detector's summary and the jump link.
"""

from __future__ import annotations

import logging
import re

import discord

from bot import i18n
from bot.alerts import Alert

log = logging.getLogger(__name__)

#: Shown instead of `|` so hostile text can never close (or open) a spoiler.
PIPE_STANDIN = "\u2223"
_MARKUP = re.compile(r"<(?=[@#:/at])")

STATUS_COLOURS = {
    "pending": discord.Colour.orange(),
    "escalated": discord.Colour.purple(),
    "confirmed": discord.Colour.red(),
    "dismissed": discord.Colour.light_grey(),
}

TIMEOUT_CHOICES: tuple[tuple[str, int], ...] = (("10 minutes", 600), ("1 hour", 3600), ("1 day", 86400), ("1 week", 604800))


def escape(text: str) -> str:
    """Text safe to show inside Discord markdown: no formatting, no mentions, no spoiler break-out."""
    text = discord.utils.escape_markdown(text.replace("|", PIPE_STANDIN), as_needed=False)
    text = _MARKUP.sub("<\u200b", text)  # <@id>, <#id>, <:emoji:id>, <t:…>, </cmd:id> shown, never rendered
    return discord.utils.escape_mentions(text)


def spoiler(text: str, limit: int = 900, lang: str = "en") -> str:
    """Escaped text in spoiler tags, cut to `limit` characters before escaping."""
    text = text.strip()
    if not text:
        return i18n.text("dc.no_text", lang)
    if len(text) > limit:
        text = text[:limit] + "…"
    return f"||{escape(text)}||"


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _user(user_id: str) -> str:
    return f"<@{user_id}>" if user_id.isdigit() else escape(user_id)


_BY_ID = re.compile(r"\b(by|oleh) ([0-9]{3,20})\b")  # outcome.by in en.toml / id.toml


def mention_ids(escaped: str) -> str:
    """ "… by 123456789012345678" (a moderator's id from the core) shown as a non-pinging mention."""
    return _BY_ID.sub(lambda m: f"{m.group(1)} <@{m.group(2)}>", escaped)


def status_text(alert: Alert) -> str:
    """The core's status line, with the reviewer shown as a (non-pinging) mention."""
    review = alert.flag.last_review
    if review and str(review.get("reviewer", "")).isdigit():
        note = f" — {escape(review['note'])}" if review.get("note") else ""
        status = alert.flag.status
        word = i18n.text(f"status.{status}", alert.language) if f"status.{status}" in i18n.catalogue("en") else status
        return i18n.text("alert.status_by", alert.language, status=f"**{escape(word)}**", reviewer=f"<@{review['reviewer']}>") + note
    return escape(alert.status_line)


def render_alert(alert: Alert) -> discord.Embed:
    """The moderators' queue entry in the server's language; formatting only, every fact comes from the Alert.
    Catalogue texts are ours; every value put into them is escaped."""
    lang = alert.language
    t = lambda key, **v: i18n.text(key, lang, **v)  # noqa: E731
    flag = alert.flag
    embed = discord.Embed(title=_cap(escape(alert.title), 256), colour=STATUS_COLOURS.get(flag.status, discord.Colour.orange()))
    embed.description = spoiler(alert.excerpt or "", 900, lang)
    name = f" ({escape(flag.author_name)})" if flag.author_name else ""
    history = f"\n{escape(alert.author_history)}" if alert.author_history else ""
    embed.add_field(name=t("dc.field.author"), value=_cap(f"{_user(flag.author_id)}{name}\n`{escape(flag.author_id)}`{history}", 1024), inline=True)
    channel = f"<#{flag.channel_id}>" if flag.channel_id.isdigit() else escape(flag.channel_id)
    embed.add_field(name=t("dc.field.channel"), value=channel, inline=True)
    if flag.link:
        embed.add_field(name=t("dc.field.message"), value=f"[{t('dc.jump')}]({flag.link})", inline=True)
    scores = ", ".join(f"{escape(label)} {alert.scores.get(label, 0.0):.2f}" for label in alert.labels) or t("label.reported")
    embed.add_field(name=t("dc.field.labels"), value=_cap(scores, 1024), inline=False)
    if alert.reasons:
        reasons = "\n".join(f"• {spoiler(r, 150, lang)}" for r in alert.reasons[:5])
        embed.add_field(name=t("dc.field.reasons"), value=_cap(reasons, 1024), inline=False)
    if alert.attachment_lines:
        embed.add_field(name=t("dc.field.attachments"), value=_cap("\n".join(escape(x) for x in alert.attachment_lines), 1024), inline=False)
    embed.add_field(name=t("dc.field.reports"), value=str(alert.report_count), inline=True)
    embed.add_field(name=t("dc.field.status"), value=_cap(status_text(alert), 1024), inline=True)
    if alert.incident is not None:
        embed.add_field(
            name=t("dc.field.incident"), value=t("dc.incident_value", flags=alert.incident.flag_count, authors=alert.incident.author_count), inline=True
        )
    if alert.outcomes:  # what moderators did to the whole incident, newest last
        shown = "\n".join(f"• {mention_ids(escape(line))}" for line in alert.outcomes[-8:])
        embed.add_field(name=t("dc.field.outcome"), value=_cap(shown, 1024), inline=False)
    if alert.incident is None and alert.actions:  # what moderators or the bot did to this flag
        embed.add_field(name=t("dc.field.actions"), value=_cap("\n".join(action_line(a, lang) for a in list(alert.actions)[-6:]), 1024), inline=False)
    if alert.notes:
        embed.add_field(name=t("dc.field.notes"), value=_cap("\n".join(f"• {note_line(n, 300)}" for n in alert.notes[-5:]), 1024), inline=False)
    footer = t("dc.footer.flag", flag=flag.id) if alert.incident is None else t("dc.footer.incident", incident=alert.incident.id, flag=flag.id)
    if alert.dry_run:
        footer += " · " + t("dc.footer.dry_run")
    embed.set_footer(text=footer)
    embed.timestamp = flag.message_time
    return embed


def action_line(action: dict, lang: str = "en") -> str:
    """One logged action: "• warn by @mod → ok", with Discord's refusal (escaped) when it failed."""
    actor = i18n.text("tg.the_bot", lang) if action.get("actor") == "auto" else _user(str(action.get("actor", "")))
    duration = f" {int(action['duration_s']) // 60} min" if action.get("duration_s") else ""
    detail = f": {escape(str(action['detail']))[:200]}" if action.get("detail") and action.get("status") != "ok" else ""
    return "• " + i18n.text(
        "dc.action_line", lang, kind=escape(str(action.get("kind", ""))) + duration, actor=actor, status=escape(str(action.get("status", ""))), detail=detail
    )


def note_line(note: str, limit: int = 300) -> str:
    """ "author: text" from the core: the author as a non-pinging mention, the text escaped (moderators' words
    are still untrusted) and cut to `limit`."""
    author, sep, text = note.partition(": ")
    if not sep:
        author, text = "", note
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    who = _user(author) + ": " if author else ""
    return who + escape(text)


def failure_notice(kind: str, detail: str, link: str | None, lang: str = "en") -> str:
    """What moderators read when Discord refused an action (the flag itself is kept), in the server's language."""
    where = i18n.text("failure.where", lang, link=link) if link else ""
    if kind == "warn":
        return i18n.text("failure.warn", lang, where=where, detail=escape(detail))
    need = _NEEDS.get(kind, "")
    verb = i18n.text(f"failure.kind.{kind}", lang) if kind in _NEEDS else kind
    return i18n.text("failure.action", lang, verb=verb, where=where, detail=escape(detail), need=need or i18n.text("failure.need_other", lang))


#: The Discord permission each action needs, named as Discord's settings name it.
_NEEDS = {
    "delete": "Manage Messages",
    "timeout": "Moderate Members",
    "ban": "Ban Members",
    "notify": "View Channel, Send Messages and Embed Links",
}
