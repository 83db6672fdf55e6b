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
    decided = [f"{history.by_status[s]} {i18n.text(f'status.{s}', lang)}" for s in ("confirmed", "dismissed", "escalated")
               if history.by_status.get(s)]
    if decided:
        first += f" ({', '.join(decided)})"
    parts = [first]
    for kind, n in sorted(history.action_counts.items()):
        key = f"history.action.{kind}"
        parts.append(i18n.plural(key, n, lang) if f"{key}.one" in i18n.catalogue("en") else f"{n} {kind}")
    return ", ".join(parts)


def lines(history: MemberHistory, width: int = 100) -> list[str]:
    """The history as plain text, newest first: counts, then each flag and each action (no markup, one line each)."""
    reports = f"{history.reports_against} report{'' if history.reports_against == 1 else 's'} by members"
    out = [f"{history.user_id} in {history.server}: {summary(history)}; {reports}"]
    if history.flags:
        out.append("Flags (newest first):")
        for f in history.flags:
            when = f.message_time.strftime("%Y-%m-%d %H:%M")
            labels = ",".join(f.labels) or "-"
            out.append(one_line(f"  #{f.id} {when} {f.status:<9} {labels:<16} {f.excerpt or ''}", width))
    if history.actions:
        out.append("Actions (newest first):")
        for a in history.actions:
            by = "automatic" if a["actor"] == "auto" else f"by {a['actor']}"
            dur = f" {a['duration_s']} s" if a.get("duration_s") else ""
            out.append(one_line(f"  {a['created_at'][:16]} {a['kind']}{dur} {a['status']} {by} (flag #{a['flag_id']})", width))
    if history.notes:
        out.append("Notes:")
        for n in history.notes:
            out.append(one_line(f"  {n['created_at'][:16]} {n['author_id']}: {n['text']}", width))
    return out
