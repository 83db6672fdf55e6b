"""What a moderators' queue entry says, built once here so both bots show the same facts.

Adapters only format an `Alert` (embed, HTML); they never decide its content.
Everything quoted from a message is hostile data: adapters must escape it and
send it with mentions disabled.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from bot import incidents
from bot.models import Action
from bot.store import FlagView, IncidentView, Store

log = logging.getLogger(__name__)

EXCERPT_IN_ALERT = 300


@dataclass(frozen=True)
class Alert:
    server: str
    flag: FlagView  # the newest flag (the one buttons act on)
    incident: IncidentView | None
    title: str
    excerpt: str  # cut to EXCERPT_IN_ALERT, still raw: escape it
    labels: tuple[str, ...]
    scores: dict[str, float]
    reasons: tuple[str, ...]
    report_count: int
    status_line: str  # "pending", "confirmed by 123", ...
    attachment_lines: tuple[str, ...]  # detector summaries of images, never the image
    dry_run: bool
    ref: str | None  # existing alert message to edit in place
    reporters: tuple[str, ...] = ()  # member ids; the mod queue may show them, nothing the reported member sees may
    actions: tuple[dict, ...] = ()  # finished moderation actions on the flag (kind, actor, status, detail)
    outcomes: tuple[str, ...] = ()  # what was done to the whole incident, e.g. "57 deleted, 3 already gone by 123"

    @property
    def open(self) -> bool:
        return self.flag.status in ("pending", "escalated")


def status_line(flag: FlagView) -> str:
    if flag.last_review:
        r = flag.last_review
        note = f" — {r['note']}" if r.get("note") else ""
        return f"{flag.status} by {r['reviewer']}{note}"
    return flag.status


def attachment_lines(flag: FlagView) -> tuple[str, ...]:
    lines = []
    for a in flag.attachments:
        kind = a.get("mime") or a.get("kind") or "file"
        dims = f" {a['width']}×{a['height']}" if a.get("width") and a.get("height") else ""
        lines.append(f"{kind}{dims} (not re-posted; open the message link to view)")
    return tuple(lines)


def build_alert(store: Store, action: Action, escalate_at: int | None = None) -> Alert:
    """The queue entry for a notify action: a single flag, or its incident when it has grown.

    An incident with at least `escalate_at` flags (the server's `incident_escalate_count`) is titled as escalated.
    """
    if action.flag_id is None:
        raise ValueError("notify action without a flag")
    flag = store.flag(action.server, action.flag_id)
    incident = store.incident(action.server, flag.incident_id) if flag.incident_id else None
    if incident is not None and incident.flag_count >= 2:
        escalated = escalate_at is not None and incident.flag_count >= escalate_at
        title = ("Escalated incident: " if escalated else "Incident: ") + incidents.summary(incident)
        # The first flag's alert becomes the incident's alert: one message per pile-on.
        ref = incident.alert_ref or store.flag(action.server, incident.first_flag_id).alert_ref
    else:
        incident = None
        source = {"report": "Reported by members", "automod": "Discord AutoMod"}.get(flag.source, "Flagged")
        title = f"{source}: {', '.join(flag.labels) or 'reported'}"
        ref = flag.alert_ref
    excerpt = (flag.excerpt or "")[:EXCERPT_IN_ALERT]
    if flag.excerpt and len(flag.excerpt) > EXCERPT_IN_ALERT:
        excerpt += "…"
    return Alert(
        server=action.server, flag=flag, incident=incident, title=title, excerpt=excerpt, labels=flag.labels,
        scores=flag.scores, reasons=flag.reasons, report_count=flag.report_count, status_line=status_line(flag),
        attachment_lines=attachment_lines(flag), dry_run=flag.dry_run, ref=ref,
        reporters=tuple(store.reporters(action.server, flag.id)) if flag.report_count else (),
        actions=tuple(a for a in store.actions_for(action.server, flag.id) if a["kind"] != "notify" and a["status"] != "pending"),
        outcomes=outcome_lines(store.outcome_counts(action.server, incident_id=incident.id)) if incident is not None else (),
    )


_DONE = {"confirm": "confirmed", "dismiss": "dismissed", "escalate": "escalated", "delete": "deleted",
         "timeout": "timed out", "ban": "banned", "unflag": "unflagged"}
_OBJECT = {"delete": "", "timeout": " authors", "ban": " authors"}


def _duration(seconds: int | None) -> str:
    if not seconds:
        return ""
    if seconds % 86400 == 0:
        return f" {seconds // 86400} d"
    if seconds % 3600 == 0:
        return f" {seconds // 3600} h"
    return f" {max(1, seconds // 60)} min"


def outcome_lines(rows: list[tuple]) -> tuple[str, ...]:
    """One line per (what, who): "57 deleted, 3 already gone by 123"; "9 authors timed out 1 h by 123".

    `rows` are `Store.outcome_counts` aggregates; actor "auto" reads as "automatically"."""
    grouped: dict[tuple[str, str, int | None], dict[str, int]] = {}
    for what, actor, status, duration, n in rows:
        counts = grouped.setdefault((what, actor, duration), {})
        counts[status] = counts.get(status, 0) + n
    lines = []
    for (what, actor, duration), counts in grouped.items():
        done = _DONE.get(what, what)
        parts = []
        if counts.get("ok"):
            parts.append(f"{counts['ok']}{_OBJECT.get(what, '')} {done}{_duration(duration)}")
        if counts.get("gone"):
            parts.append(f"{counts['gone']} already gone")
        if counts.get("dry-run"):
            parts.append(f"{counts['dry-run']} would be {done} (dry run)")
        if counts.get("error"):
            parts.append(f"{counts['error']} failed")
        who = "automatically" if actor == "auto" else f"by {actor}"
        lines.append(f"{', '.join(parts)} {who}")
    return tuple(lines)
