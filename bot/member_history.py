"""How a member's record reads: a one-line summary for alerts, and the full history for moderators."""

from __future__ import annotations

import logging

from bot import i18n
from bot.store import MemberHistory
from bot.terminal import one_line

log = logging.getLogger(__name__)


def summary(history: MemberHistory, lang: str = "en") -> str:
    """E.g. "3 earlier flags (1 confirmed, 1 dismissed), 1 timeout" — shown on alerts next to the author."""
    if not history.flag_total and not history.action_counts:
        return i18n.text("history.none", lang)
    first = i18n.plural("history.flags", history.flag_total, lang)
    decided = [f"{history.by_status[s]} {i18n.text(f'status.{s}', lang)}" for s in ("confirmed", "dismissed", "escalated") if history.by_status.get(s)]
    if decided:
        first += f" ({', '.join(decided)})"
    parts = [first]
    for kind, n in sorted(history.action_counts.items()):
        key = f"history.action.{kind}"
        parts.append(i18n.plural(key, n, lang) if f"{key}.one" in i18n.catalogue("en") else f"{n} {kind}")
    return ", ".join(parts)


def lines(history: MemberHistory, width: int = 100, lang: str = "en") -> list[str]:
    """The history as plain text, newest first: counts, then each flag and each action (no markup, one line each).
    `lang` words the headings; what moderators and members wrote stays as written."""
    t = lambda key, **v: i18n.text(key, lang, **v)  # noqa: E731
    reports = i18n.plural("history.reports", history.reports_against, lang)
    out = [t("history.head", user=history.user_id, server=history.server, summary=summary(history, lang), reports=reports)]
    if history.flags:
        out.append(t("history.flags_head"))
        for f in history.flags:
            when = f.message_time.strftime("%Y-%m-%d %H:%M")
            labels = ",".join(f.labels) or "-"
            status = t(f"status.{f.status}") if f"status.{f.status}" in i18n.catalogue("en") else f.status
            out.append(one_line(f"  #{f.id} {when} {status:<9} {labels:<16} {f.excerpt or ''}", width))
    if history.actions:
        out.append(t("history.actions_head"))
        for a in history.actions:
            by = t("history.automatic") if a["actor"] == "auto" else t("outcome.by", actor=a["actor"])
            dur = f" {a['duration_s']} s" if a.get("duration_s") else ""
            flag = t("history.on_flag", flag=a["flag_id"])
            out.append(one_line(f"  {a['created_at'][:16]} {a['kind']}{dur} {a['status']} {by} ({flag})", width))
    if history.notes:
        out.append(t("history.notes_head"))
        for n in history.notes:
            out.append(one_line(f"  {n['created_at'][:16]} {n['author_id']}: {n['text']}", width))
    return out
