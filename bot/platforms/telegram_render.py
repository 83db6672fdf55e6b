"""Alert -> Telegram HTML text + inline keyboard. Formatting only: the content comes from bot.alerts.

Everything quoted from a message (excerpt, names, reasons, titles) is hostile data and goes
through `html.escape`, so it can never open a tag, a link or an entity.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import i18n
from bot.alerts import Alert
from bot.models import is_channel_subject

log = logging.getLogger(__name__)

#: Telegram's message limit is 4096 characters after entity parsing; stay well below it.
MAX_TEXT = 3900
MAX_REASONS = 8
MAX_FIELD = 200

#: Mute durations offered on the buttons: (catalogue key under `duration.`, seconds).
MUTE_CHOICES: tuple[tuple[str, int], ...] = (("10m", 600), ("1h", 3600), ("1d", 86400))
VERBS = ("confirm", "dismiss", "delete", "mute", "ban", "warn")
CALLBACK_PREFIX = "tb"
_ASCII_INT = re.compile(r"-?[0-9]{1,20}")  # payloads come from clients: no Unicode digits, no huge numbers
#: Incident-level buttons. mute/ban only ask for confirmation; yesmute/yesban carry it out.
INCIDENT_VERBS = ("confirm", "dismiss", "delete", "mute", "ban", "yesmute", "yesban", "cancel", "items")
INCIDENT_PREFIX = "ti"
PAGE_SIZE = 5


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
    if not all(_ASCII_INT.fullmatch(p) for p in parts[2:]):
        return None
    chat_id, flag_id = int(parts[2]), int(parts[3])
    seconds = int(parts[4]) if len(parts) == 5 else None
    if parts[1] == "mute" and (seconds is None or seconds <= 0):
        return None
    return Press(parts[1], chat_id, flag_id, seconds)


@dataclass(frozen=True)
class IncidentPress:
    """A decoded incident-level button press. `arg`: mute seconds, or the pager's offset."""

    verb: str
    chat_id: int
    incident_id: int
    arg: int | None = None


def incident_data(verb: str, chat_id: int | str, incident_id: int, arg: int | None = None) -> str:
    """Payload of an incident button; within Telegram's 64 bytes for any chat and incident id."""
    data = f"{INCIDENT_PREFIX}:{verb}:{chat_id}:{incident_id}" + (f":{arg}" if arg is not None else "")
    assert len(data.encode()) <= 64, data
    return data


def parse_incident_data(data: str | None) -> IncidentPress | None:
    """Inverse of `incident_data`; None for anything malformed."""
    if not data:
        return None
    parts = data.split(":")
    if len(parts) not in (4, 5) or parts[0] != INCIDENT_PREFIX or parts[1] not in INCIDENT_VERBS:
        return None
    if not all(_ASCII_INT.fullmatch(p) for p in parts[2:]):
        return None
    chat_id, incident_id = int(parts[2]), int(parts[3])
    arg = int(parts[4]) if len(parts) == 5 else None
    if parts[1] in ("mute", "yesmute") and (arg is None or arg <= 0):
        return None
    if parts[1] == "items" and (arg is None or arg < 0):
        return None
    return IncidentPress(parts[1], chat_id, incident_id, arg)


def incident_keyboard(chat_id: int | str, incident_id: int, lang: str = "en") -> InlineKeyboardMarkup:
    """Buttons acting on every item of an incident, and the pager that goes through them one by one."""
    d = lambda verb, arg=None: incident_data(verb, chat_id, incident_id, arg)  # noqa: E731
    t = lambda key, **v: i18n.text(key, lang, **v)  # noqa: E731
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("✅ " + t("button.confirm_all"), callback_data=d("confirm")),
                InlineKeyboardButton("✖️ " + t("button.dismiss_all"), callback_data=d("dismiss")),
            ],
            [
                InlineKeyboardButton("🗑 " + t("button.delete_all"), callback_data=d("delete")),
                InlineKeyboardButton("⛔ " + t("button.ban_all"), callback_data=d("ban")),
            ],
            [
                InlineKeyboardButton("🔇 " + t("button.mute_all", duration=duration_label(secs, lang)), callback_data=d("mute", secs))
                for _, secs in MUTE_CHOICES
            ],
            [InlineKeyboardButton("📋 " + t("button.items"), callback_data=d("items", 0))],
        ]
    )


def duration_label(seconds: int, lang: str = "en") -> str:
    """ "1 h" / "1 jam" for the durations on the buttons, minutes for anything else."""
    for key, secs in MUTE_CHOICES:
        if secs == seconds:
            return i18n.text(f"duration.{key}", lang)
    return i18n.text("unit.minutes", lang, n=seconds // 60).strip()


def confirm_text(
    verb: str, authors: int, excluded: Mapping[str, str], group_title: str | None, incident_id: int, seconds: int | None = None, lang: str = "en"
) -> str:
    """The question asked before muting or banning every author of an incident."""
    group = esc(group_title or i18n.text("tg.the_group", lang), 100)
    key = "tg.confirm.mute" if verb == "mute" else "tg.confirm.ban"
    question = i18n.text(key, lang, duration=duration_label(seconds or 0, lang), n=authors, incident=incident_id, group=group)
    lines = [f"<b>{question}</b>", i18n.text("tg.confirm.reason_hint", lang)]
    if excluded:
        lines.append(i18n.text("tg.confirm.left_out", lang, n=len(excluded)))
        lines += [f"• id <code>{esc(uid, 40)}</code>: {esc(why)}" for uid, why in list(excluded.items())[:10]]
    return "\n".join(lines)


def confirm_keyboard(verb: str, chat_id: int | str, incident_id: int, authors: int, seconds: int | None = None, lang: str = "en") -> InlineKeyboardMarkup:
    yes = (
        i18n.text("button.yes_mute", lang, n=authors, duration=duration_label(seconds or 0, lang))
        if verb == "mute"
        else i18n.text("button.yes_ban", lang, n=authors)
    )
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(yes, callback_data=incident_data("yes" + verb, chat_id, incident_id, seconds)),
                InlineKeyboardButton(i18n.text("button.cancel", lang), callback_data=incident_data("cancel", chat_id, incident_id)),
            ]
        ]
    )


def render_page(
    flags: Sequence, total: int, offset: int, chat_id: int | str, incident_id: int, *, group_title: str | None = None, lang: str = "en"
) -> tuple[str, InlineKeyboardMarkup]:
    """One page of an incident's items: a line per item with its link, per-item buttons, prev/next."""
    first = offset + 1 if flags else 0
    head = i18n.text("tg.page.head", lang, incident=incident_id, group=esc(group_title or chat_id, 100), first=first, last=offset + len(flags), total=total)
    lines = [head]
    rows = []
    for f in flags:
        link = f' · <a href="{html.escape(f.link, quote=True)}">{i18n.text("tg.message", lang)}</a>' if f.link else ""
        labels = ", ".join(f.labels) or i18n.text("label.reported", lang)
        status = i18n.text(f"status.{f.status}", lang) if f"status.{f.status}" in i18n.catalogue("en") else f.status
        lines.append(f"#{f.id} · {esc(labels, 60)} · {esc(status)} · {esc(f.author_name or f.author_id, 60)}{link}")
        if f.excerpt:
            lines.append(f"   <tg-spoiler>{esc(f.excerpt, 120)}</tg-spoiler>")
        rows.append(
            [
                InlineKeyboardButton(f"✅ #{f.id}", callback_data=callback_data("confirm", chat_id, f.id)),
                InlineKeyboardButton("✖️", callback_data=callback_data("dismiss", chat_id, f.id)),
                InlineKeyboardButton("🗑", callback_data=callback_data("delete", chat_id, f.id)),
                InlineKeyboardButton("🔇 " + duration_label(3600, lang), callback_data=callback_data("mute", chat_id, f.id, 3600)),
                InlineKeyboardButton("⛔", callback_data=callback_data("ban", chat_id, f.id)),
                InlineKeyboardButton("⚠️", callback_data=callback_data("warn", chat_id, f.id)),
            ]
        )
    nav = []
    if offset > 0:
        nav.append(
            InlineKeyboardButton("◀ " + i18n.text("button.prev", lang), callback_data=incident_data("items", chat_id, incident_id, max(0, offset - PAGE_SIZE)))
        )
    if offset + len(flags) < total:
        nav.append(InlineKeyboardButton(i18n.text("button.next", lang) + " ▶", callback_data=incident_data("items", chat_id, incident_id, offset + PAGE_SIZE)))
    if nav:
        rows.append(nav)
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def keyboard(chat_id: int | str, flag_id: int, lang: str = "en") -> InlineKeyboardMarkup:
    """Confirm / Dismiss, Delete / Ban / Warn, and one row of mute durations, in the group's language."""
    t = lambda key, **v: i18n.text(key, lang, **v)  # noqa: E731
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("✅ " + t("button.confirm"), callback_data=callback_data("confirm", chat_id, flag_id)),
                InlineKeyboardButton("✖️ " + t("button.dismiss"), callback_data=callback_data("dismiss", chat_id, flag_id)),
            ],
            [
                InlineKeyboardButton("🗑 " + t("button.delete"), callback_data=callback_data("delete", chat_id, flag_id)),
                InlineKeyboardButton("⛔ " + t("button.ban"), callback_data=callback_data("ban", chat_id, flag_id)),
                InlineKeyboardButton("⚠️ " + t("button.warn"), callback_data=callback_data("warn", chat_id, flag_id)),
            ],
            [
                InlineKeyboardButton("🔇 " + t("button.mute", duration=duration_label(secs, lang)), callback_data=callback_data("mute", chat_id, flag_id, secs))
                for _, secs in MUTE_CHOICES
            ],
        ]
    )


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
    status = alert.flag.status
    word = i18n.text(f"status.{status}", alert.language) if f"status.{status}" in i18n.catalogue("en") else status
    return i18n.text("alert.status_by", alert.language, status=f"<b>{esc(word)}</b>", reviewer=who(review["reviewer"], names)) + note


def render_alert(alert: Alert, *, group_title: str | None = None, names: Mapping[str, str] | None = None) -> tuple[str, InlineKeyboardMarkup]:
    """The moderators' message for an alert, in Telegram HTML, plus its buttons, in the group's language.

    `alert.actions` (the flag's logged moderation actions: kind, actor, status, detail) are shown
    so the edited message says what was done and by whom. Images are never re-posted: only
    `alert.attachment_lines` and the message link are shown. Catalogue texts are ours (not escaped);
    every value put into them is.
    """
    names = names or {}
    lang = alert.language
    t = lambda key, **v: i18n.text(key, lang, **v)  # noqa: E731
    flag = alert.flag
    chat_id = flag.server.split(":", 1)[1]
    lines = [f"<b>{esc(alert.title, 300)}</b>"]
    if alert.dry_run:
        lines.append(f"<i>{t('tg.dry_run')}</i>")
    group = f"{esc(group_title, 100)} · " if group_title else ""
    link = f' · <a href="{html.escape(flag.link, quote=True)}">{t("tg.open_message")}</a>' if flag.link else f" · {t('tg.no_link')}"
    lines.append(f"{t('tg.group')}: {group}<code>{esc(chat_id, 40)}</code>{link}")
    author = f"{esc(flag.author_name, 100)} · " if flag.author_name else ""
    lines.append(f"{t('tg.author')}: {author}id <code>{esc(flag.author_id, 40)}</code>")
    if alert.author_history:
        lines.append(f"{t('tg.history')}: {esc(alert.author_history)}")
    if alert.incident is not None:
        if is_channel_subject(alert.incident.target_id):
            lines.append(t("tg.incident_line_group", flags=alert.incident.flag_count, authors=alert.incident.author_count))
        else:
            lines.append(
                t(
                    "tg.incident_line",
                    flags=alert.incident.flag_count,
                    authors=alert.incident.author_count,
                    target=f"<code>{esc(alert.incident.target_id, 40)}</code>",
                )
            )
    scores = alert.scores
    shown = [label for label in alert.labels] + [k for k in sorted(scores, key=lambda k: -scores[k]) if k not in alert.labels]
    labels = ", ".join(f"{esc(k, 40)} {scores[k]:.2f}" if k in scores else esc(k, 40) for k in shown[:8])
    lines.append(f"{t('tg.labels')}: {labels or t('tg.none')}")
    if alert.reasons:
        lines.append(f"{t('tg.reasons')}:")
        lines += [f"• {esc(r)}" for r in alert.reasons[:MAX_REASONS]]
        if len(alert.reasons) > MAX_REASONS:
            lines.append("• " + t("tg.more", n=len(alert.reasons) - MAX_REASONS))
    if alert.excerpt:
        lines.append(f"{t('tg.text')}: <tg-spoiler>{esc(alert.excerpt, 400)}</tg-spoiler>")
    for att in alert.attachment_lines[:10]:
        lines.append(f"{t('tg.attachment')}: {esc(att)}")
    if alert.report_count:
        lines.append(f"{t('tg.reports')}: {alert.report_count}")
    lines.append(f"{t('tg.status')}: {_status(alert, names)}")
    for outcome in alert.outcomes[:8]:
        lines.append(f"{t('tg.done')}: {_named(outcome, names)}")
    for note in alert.notes[-5:]:
        lines.append(f"{t('tg.note')}: {esc(note, 300)}")
    for a in list(alert.actions)[-6:]:
        actor = t("tg.the_bot") if a.get("actor") == "auto" else who(a.get("actor"), names)
        detail = f": {esc(a['detail'])}" if a.get("detail") else ""
        duration = f" {int(a['duration_s']) // 60} min" if a.get("duration_s") else ""
        lines.append(t("tg.action_line", kind=esc(a.get("kind")) + duration, actor=actor, status=esc(a.get("status")), detail=detail))
    lines.append(t("tg.footer.incident", incident=alert.incident.id, flag=flag.id) if alert.incident is not None else t("tg.footer.flag", flag=flag.id))
    text = "\n".join(lines)
    if len(text) > MAX_TEXT:  # only reachable with many long actions; drop whole lines so no tag is cut
        while len(text) > MAX_TEXT and len(lines) > 3:
            lines.pop(-2)
            text = "\n".join(lines)
    if alert.incident is not None:
        return text, incident_keyboard(chat_id, alert.incident.id, lang)
    return text, keyboard(chat_id, flag.id, lang)


_BY_ID = re.compile(r" (by|oleh) (\d+)$")  # outcome.by in en.toml / id.toml


def _named(outcome: str, names: Mapping[str, str]) -> str:
    """An outcome line ("57 deleted by 123") escaped, with the moderator's name where we know it."""
    m = _BY_ID.search(outcome)
    if m is None:
        return esc(outcome)
    return f"{esc(outcome[: m.start()])} {m.group(1)} {who(m.group(2), names)}"
