"""What a moderators' queue entry says, built once here so both bots show the same facts.

Adapters only format an `Alert` (embed, HTML); they never decide its content.
Everything quoted from a message is hostile data: adapters must escape it and
send it with mentions disabled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot import i18n, incidents, member_history
from bot.models import STATUSES, Action
from bot.store import FlagView, IncidentView, Store

log = logging.getLogger(__name__)

EXCERPT_IN_ALERT = 300
#: Actions that are messages (alerts, a member's appeal notices), not something done to the member: not listed.
NOT_SHOWN = ("notify", "appeal_notice", "appeal_outcome")


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
    author_history: str = ""  # the newest flag's author's record, e.g. "3 earlier flags (1 confirmed), 1 timeout"
    notes: tuple[str, ...] = ()  # moderators' notes on the flag or incident, "author: text", oldest first (escape them)
    language: str = "en"  # the server's language: adapters word their labels and buttons in it

    @property
    def open(self) -> bool:
        return self.flag.status in ("pending", "escalated")


def status_line(flag: FlagView, lang: str = "en") -> str:
    status = i18n.text(f"status.{flag.status}", lang) if flag.status in STATUSES else flag.status
    if flag.last_review:
        r = flag.last_review
        note = f" — {r['note']}" if r.get("note") else ""
        return i18n.text("alert.status_by", lang, status=status, reviewer=r["reviewer"]) + note
    return status


def attachment_lines(flag: FlagView, lang: str = "en") -> tuple[str, ...]:
    lines = []
    for a in flag.attachments:
        kind = a.get("mime") or a.get("kind") or "file"
        dims = f" {a['width']}×{a['height']}" if a.get("width") and a.get("height") else ""
        lines.append(i18n.text("alert.attachment", lang, kind=kind, dims=dims))
    return tuple(lines)


def build_alert(store: Store, action: Action, escalate_at: int | None = None, lang: str = "en") -> Alert:
    """The queue entry for a notify action: a single flag, or its incident when it has grown.

    An incident with at least `escalate_at` flags (the server's `incident_escalate_count`) is titled as escalated.
    `lang` is the server's language for the words the bot adds; quoted text stays as it was written.
    """
    if action.flag_id is None:
        raise ValueError("notify action without a flag")
    flag = store.flag(action.server, action.flag_id)
    incident = store.incident(action.server, flag.incident_id) if flag.incident_id else None
    if incident is not None and incident.flag_count >= 2:
        escalated = escalate_at is not None and incident.flag_count >= escalate_at
        title = i18n.text("alert.escalated" if escalated else "alert.incident", lang, summary=incidents.summary(incident, lang=lang))
        # The first flag's alert becomes the incident's alert: one message per pile-on. (Databases from
        # before the outbox may have it only on the first flag.)
        ref = incident.alert_ref
        if ref is None and incident.first_flag_id is not None:
            ref = store.flag(action.server, incident.first_flag_id).alert_ref
    else:
        incident = None
        key = {"report": "alert.reported", "automod": "alert.automod"}.get(flag.source, "alert.flagged")
        words = ", ".join(incidents.label_words([label], lang) for label in flag.labels)
        title = i18n.text(key, lang, labels=words or i18n.text("label.reported", lang))
        ref = flag.alert_ref
    excerpt = (flag.excerpt or "")[:EXCERPT_IN_ALERT]
    if flag.excerpt and len(flag.excerpt) > EXCERPT_IN_ALERT:
        excerpt += "…"
    history = store.member_history(action.server, flag.author_id, limit=0, exclude_flag=flag.id)
    return Alert(
        server=action.server,
        flag=flag,
        incident=incident,
        title=title,
        excerpt=excerpt,
        labels=flag.labels,
        scores=flag.scores,
        reasons=flag.reasons,
        report_count=flag.report_count,
        status_line=status_line(flag, lang),
        attachment_lines=attachment_lines(flag, lang),
        dry_run=flag.dry_run,
        ref=ref,
        reporters=tuple(store.reporters(action.server, flag.id)) if flag.report_count else (),
        actions=tuple(a for a in store.actions_for(action.server, flag.id) if a["kind"] not in NOT_SHOWN and a["status"] != "pending"),
        outcomes=outcome_lines(store.outcome_counts(action.server, incident_id=incident.id), lang) if incident is not None else (),
        author_history=member_history.summary(history, lang),
        notes=tuple(
            f"{n['author_id']}: {n['text']}"
            for n in (store.notes(action.server, "incident", str(incident.id)) if incident is not None else store.notes(action.server, "flag", str(flag.id)))
        ),
        language=lang if lang in i18n.LANGUAGES else i18n.DEFAULT,
    )


def _duration(seconds: int | None, lang: str) -> str:
    if not seconds:
        return ""
    if seconds % 86400 == 0:
        return i18n.text("unit.days", lang, n=seconds // 86400)
    if seconds % 3600 == 0:
        return i18n.text("unit.hours", lang, n=seconds // 3600)
    return i18n.text("unit.minutes", lang, n=max(1, seconds // 60))


def outcome_lines(rows: list[tuple], lang: str = "en") -> tuple[str, ...]:
    """One line per (what, who): "57 deleted, 3 already gone by 123"; "9 authors timed out 1 h by 123".

    `rows` are `Store.outcome_counts` aggregates; actor "auto" reads as "automatically"."""
    grouped: dict[tuple[str, str, int | None], dict[str, int]] = {}
    for what, actor, status, duration, n in rows:
        counts = grouped.setdefault((what, actor, duration), {})
        counts[status] = counts.get(status, 0) + n
    lines = []
    for (what, actor, duration), counts in grouped.items():
        verb = i18n.text(f"verb.{what}", lang) if f"verb.{what}" in i18n.catalogue("en") else what
        noun = i18n.text("outcome.authors", lang) if what in ("timeout", "ban") else ""
        parts = []
        if counts.get("ok"):
            parts.append(i18n.text("outcome.done", lang, n=counts["ok"], noun=noun, verb=verb, duration=_duration(duration, lang)))
        if counts.get("gone"):
            parts.append(i18n.text("outcome.gone", lang, n=counts["gone"]))
        if counts.get("dry-run"):
            parts.append(i18n.text("outcome.dry_run", lang, n=counts["dry-run"], verb=verb))
        if counts.get("error"):
            parts.append(i18n.text("outcome.failed", lang, n=counts["error"]))
        who = i18n.text("outcome.auto", lang) if actor == "auto" else i18n.text("outcome.by", lang, actor=actor)
        lines.append(f"{', '.join(parts)} {who}")
    return tuple(lines)
