"""How a member's record reads: a one-line summary for alerts, and the full history for moderators."""
from __future__ import annotations

import logging

from bot.store import MemberHistory
from bot.terminal import one_line

log = logging.getLogger(__name__)

_ACTION_NOUNS = {"delete": ("deletion", "deletions"), "timeout": ("timeout", "timeouts"), "ban": ("ban", "bans"),
                 "warn": ("warning", "warnings")}


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def summary(history: MemberHistory) -> str:
    """E.g. "3 earlier flags (1 confirmed, 1 dismissed), 1 timeout" — shown on alerts next to the author."""
    if not history.flag_total and not history.action_counts:
        return "no earlier flags"
    parts = [_plural(history.flag_total, "earlier flag", "earlier flags")]
    decided = [f"{history.by_status[s]} {s}" for s in ("confirmed", "dismissed", "escalated") if history.by_status.get(s)]
    if decided:
        parts[0] += f" ({', '.join(decided)})"
    for kind, n in sorted(history.action_counts.items()):
        one, many = _ACTION_NOUNS.get(kind, (kind, kind + "s"))
        parts.append(_plural(n, one, many))
    return ", ".join(parts)


def lines(history: MemberHistory, width: int = 100) -> list[str]:
    """The history as plain text, newest first: counts, then each flag and each action (no markup, one line each)."""
    out = [f"{history.user_id} in {history.server}: {summary(history)}; "
           f"{_plural(history.reports_against, 'report', 'reports')} by members"]
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
    return out
