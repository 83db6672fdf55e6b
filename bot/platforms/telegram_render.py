"""Alert -> Telegram HTML text + inline keyboard. Formatting only: the content comes from bot.alerts.

Everything quoted from a message (excerpt, names, reasons, titles) is hostile data and goes
through `html.escape`, so it can never open a tag, a link or an entity.
"""
from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from typing import Mapping

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.alerts import Alert

log = logging.getLogger(__name__)

#: Telegram's message limit is 4096 characters after entity parsing; stay well below it.
MAX_TEXT = 3900
MAX_REASONS = 8
MAX_FIELD = 200

#: Mute durations offered on the buttons: (label, seconds).
MUTE_CHOICES: tuple[tuple[str, int], ...] = (("10 min", 600), ("1 h", 3600), ("1 day", 86400))
VERBS = ("confirm", "dismiss", "delete", "mute", "ban")
CALLBACK_PREFIX = "tb"


@dataclass(frozen=True)
class Press:
    """A decoded button press: what to do to which flag of which group."""

    verb: str
    chat_id: int
    flag_id: int
    seconds: int | None = None


def callback_data(verb: str, chat_id: int | str, flag_id: int, seconds: int | None = None) -> str:
    """Compact button payload (Telegram allows 64 bytes). Carries the group so the admin check needs no lookup."""
    data = f"{CALLBACK_PREFIX}:{verb}:{chat_id}:{flag_id}" + (f":{seconds}" if seconds is not None else "")
    assert len(data.encode()) <= 64, data
    return data


def parse_callback(data: str | None) -> Press | None:
    """Inverse of `callback_data`; None for anything malformed (payloads come from clients)."""
    if not data:
        return None
    parts = data.split(":")
    if len(parts) not in (4, 5) or parts[0] != CALLBACK_PREFIX or parts[1] not in VERBS:
        return None
    try:
        chat_id, flag_id = int(parts[2]), int(parts[3])
        seconds = int(parts[4]) if len(parts) == 5 else None
    except ValueError:
        return None
    if parts[1] == "mute" and (seconds is None or seconds <= 0):
        return None
    return Press(parts[1], chat_id, flag_id, seconds)


def keyboard(chat_id: int | str, flag_id: int) -> InlineKeyboardMarkup:
    """Confirm / Dismiss, Delete / Ban, and one row of mute durations."""
    return InlineKeyboardMarkup([
        [InlineKeyboardButton("✅ Confirm", callback_data=callback_data("confirm", chat_id, flag_id)),
         InlineKeyboardButton("✖️ Dismiss", callback_data=callback_data("dismiss", chat_id, flag_id))],
        [InlineKeyboardButton("🗑 Delete", callback_data=callback_data("delete", chat_id, flag_id)),
         InlineKeyboardButton("⛔ Ban", callback_data=callback_data("ban", chat_id, flag_id))],
        [InlineKeyboardButton(f"🔇 Mute {label}", callback_data=callback_data("mute", chat_id, flag_id, secs))
         for label, secs in MUTE_CHOICES],
    ])


def esc(value: object, limit: int = MAX_FIELD) -> str:
    """Cut (before escaping, so no entity is split) and escape one user-derived value."""
    text = str(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    return html.escape(text, quote=True)


def who(user_id: str | None, names: Mapping[str, str]) -> str:
    """`Name (@user) · id 123` when we have seen the user, else just the id."""
    if not user_id:
        return "unknown"
    name = names.get(str(user_id))
    ident = f"<code>{esc(user_id, 40)}</code>"
    return f"{esc(name, 100)} · id {ident}" if name else f"id {ident}"


def _status(alert: Alert, names: Mapping[str, str]) -> str:
    review = alert.flag.last_review
    if not review:
        return esc(alert.status_line)
    note = f" — {esc(review['note'])}" if review.get("note") else ""
    return f"<b>{esc(alert.flag.status)}</b> by {who(review['reviewer'], names)}{note}"


def render_alert(alert: Alert, *, group_title: str | None = None,
                 names: Mapping[str, str] | None = None) -> tuple[str, InlineKeyboardMarkup]:
    """The moderators' message for an alert, in Telegram HTML, plus its buttons.

    `alert.actions` (the flag's logged moderation actions: kind, actor, status, detail) are shown
    so the edited message says what was done and by whom. Images are never re-posted: only
    `alert.attachment_lines` and the message link are shown.
    """
    names = names or {}
    flag = alert.flag
    chat_id = flag.server.split(":", 1)[1]
    lines = [f"<b>{esc(alert.title, 300)}</b>"]
    if alert.dry_run:
        lines.append("<i>Dry run: the bot takes no automatic action in this group.</i>")
    group = f"{esc(group_title, 100)} · " if group_title else ""
    link = f' · <a href="{html.escape(flag.link, quote=True)}">open message</a>' if flag.link else " · (no link: basic group)"
    lines.append(f"Group: {group}<code>{esc(chat_id, 40)}</code>{link}")
    author = f"{esc(flag.author_name, 100)} · " if flag.author_name else ""
    lines.append(f"Author: {author}id <code>{esc(flag.author_id, 40)}</code>")
    if alert.incident is not None:
        lines.append(f"Incident: {alert.incident.flag_count} flags from {alert.incident.author_count} accounts"
                     f" aimed at id <code>{esc(alert.incident.target_id, 40)}</code>")
    scores = alert.scores
    shown = [label for label in alert.labels] + [k for k in sorted(scores, key=lambda k: -scores[k]) if k not in alert.labels]
    labels = ", ".join(f"{esc(k, 40)} {scores[k]:.2f}" if k in scores else esc(k, 40) for k in shown[:8])
    lines.append(f"Labels: {labels or 'none'}")
    if alert.reasons:
        lines.append("Reasons:")
        lines += [f"• {esc(r)}" for r in alert.reasons[:MAX_REASONS]]
        if len(alert.reasons) > MAX_REASONS:
            lines.append(f"• … and {len(alert.reasons) - MAX_REASONS} more")
    if alert.excerpt:
        lines.append(f"Text: <tg-spoiler>{esc(alert.excerpt, 400)}</tg-spoiler>")
    for att in alert.attachment_lines[:10]:
        lines.append(f"Attachment: {esc(att)}")
    if alert.report_count:
        lines.append(f"Member reports: {alert.report_count}")
    lines.append(f"Status: {_status(alert, names)}")
    for a in list(alert.actions)[-6:]:
        actor = "the bot" if a.get("actor") == "auto" else who(a.get("actor"), names)
        detail = f": {esc(a['detail'])}" if a.get("detail") else ""
        duration = f" {int(a['duration_s']) // 60} min" if a.get("duration_s") else ""
        lines.append(f"Action: {esc(a.get('kind'))}{duration} by {actor} → {esc(a.get('status'))}{detail}")
    lines.append(f"Flag #{flag.id}")
    text = "\n".join(lines)
    if len(text) > MAX_TEXT:  # only reachable with many long actions; drop whole lines so no tag is cut
        while len(text) > MAX_TEXT and len(lines) > 3:
            lines.pop(-2)
            text = "\n".join(lines)
    return text, keyboard(chat_id, flag.id)
