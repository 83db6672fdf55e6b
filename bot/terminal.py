"""Plain-text rendering of the queue, incidents and stats for the CLI (one line per item, no markup)."""

from __future__ import annotations

import logging
import unicodedata
from typing import Sequence

from bot import incidents
from bot.store import FlagView, IncidentView

log = logging.getLogger(__name__)


def one_line(text: str | None, width: int) -> str:
    """Printable, single-line, cut to `width`: controls shown as �, format/bidi characters dropped, zalgo tamed."""
    out: list[str] = []
    marks = 0
    for ch in text or "":
        cat = unicodedata.category(ch)
        if ch in "\r\n\t":
            out.append(" ")
        elif cat == "Cf":
            continue  # zero-width and bidi overrides would reorder or hide the terminal line
        elif cat in ("Cc", "Cs", "Co", "Cn"):
            out.append("\ufffd")
        elif cat.startswith("M"):
            marks += 1
            if marks <= 2:
                out.append(ch)
            continue
        else:
            out.append(ch)
        marks = 0
    s = " ".join("".join(out).split())
    return s if len(s) <= width else s[: width - 1] + "…"


def _pad(s: str, width: int) -> str:
    return s + " " * max(0, width - len(s))


def queue_table(items: Sequence[FlagView]) -> str:
    if not items:
        return "The review queue is empty."
    headers = ["#", "when (UTC)", "author", "labels (score)", "reports", "message", "why"]
    rows = []
    for f in items:
        labels = ", ".join(f"{label} {f.scores.get(label, 0):.2f}" for label in f.labels)
        rows.append(
            [
                str(f.id),
                f.message_time.strftime("%m-%d %H:%M"),
                one_line(f.author_name or f.author_id, 14),
                labels,
                str(f.report_count or ""),
                one_line(f.excerpt, 38),
                one_line("; ".join(f.reasons), 48) + (" [incident #%d]" % f.incident_id if f.incident_id else ""),
            ]
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(_pad(h, w) for h, w in zip(headers, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(_pad(c, w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def incident_lines(items: Sequence[IncidentView]) -> str:
    if not items:
        return "No incidents."

    def flags(i: IncidentView) -> str:
        shown = ", ".join(map(str, i.flag_ids[:12]))
        return shown + (f", … ({len(i.flag_ids)} in all)" if len(i.flag_ids) > 12 else "")

    return "\n".join(f"incident #{i.id} ({i.status}): {incidents.summary(i)} — flags {flags(i)}" for i in items)


def flag_detail(f: FlagView) -> str:
    lines = [
        f"Flag #{f.id} in {f.server} — {f.status}" + (" (dry-run)" if f.dry_run else ""),
        f"  author:   {one_line(f.author_name or '', 40)} (id {f.author_id})",
        f"  where:    channel {f.channel_id}, message {f.message_id}" + (f", {f.link}" if f.link else ""),
        f"  when:     sent {f.message_time:%Y-%m-%d %H:%M} UTC, flagged {f.created_at:%Y-%m-%d %H:%M} UTC",
        "  labels:   " + ", ".join(f"{label} {f.scores.get(label, 0):.2f}" for label in f.labels),
        f"  message:  {one_line(f.excerpt, 200)}",
    ]
    for r in f.reasons:
        lines.append(f"  reason:   {one_line(r, 200)}")
    for a in f.attachments:
        lines.append(f"  image:    {a.get('mime') or a.get('kind')} (not shown; open the link deliberately)")
    if f.report_count:
        lines.append(f"  reports:  {f.report_count}" + (": " + one_line("; ".join(f.report_reasons), 150) if f.report_reasons else ""))
    if f.incident_id:
        lines.append(f"  incident: #{f.incident_id}")
    if f.last_review:
        last = f.last_review
        lines.append(
            "  last review: "
            + one_line(
                f"{last['decision']} by {last['reviewer']} at {str(last.get('at', ''))[:16].replace('T', ' ')}"
                + (f": {last['note']}" if last.get("note") else ""),
                200,
            )
        )
    return "\n".join(lines)


def stats_text(stats: dict) -> str:
    lines = [f"flags: {stats['flags']}"]
    for key in ("by_status", "by_label", "by_source", "actions"):
        if stats.get(key):
            lines.append(f"  {key.replace('by_', 'by ')}: " + ", ".join(f"{k} {v}" for k, v in sorted(stats[key].items())))
    lines.append(f"reports: {stats['reports']}  reviews: {stats['reviews']}  incidents: {stats['incidents']}  bank entries: {stats['bank_entries']}")
    return "\n".join(lines)
