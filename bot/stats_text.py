"""What the bots' stats commands say (Discord `/triage stats`, Telegram `/stats`), in the reader's language.

Plain text lines: each platform escapes them. The counts come from `Store.stats`; status and label words go
through the catalogue, anything else (a detector's source name, an action kind) is shown as stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from bot import i18n

if TYPE_CHECKING:
    from bot.precision import PrecisionReport, Suggestion


def _word(prefix: str, key: str, lang: str) -> str:
    full = f"{prefix}.{key}"
    return i18n.text(full, lang) if full in i18n.catalogue("en") else key


def _items(counts: Mapping[str, int], prefix: str, lang: str) -> str:
    return ", ".join(f"{_word(prefix, str(k), lang)} {v}" for k, v in sorted(counts.items())) or i18n.text("stats.none", lang)


def stats_lines(st: Mapping[str, Any], lang: str = "en") -> list[str]:
    """E.g. "Flags: 12 (pending 3, confirmed 9)", "By label: …", "Reports: 2 · reviews: 9 · incidents: 1", "Actions: …"."""
    return [
        i18n.text("stats.flags", lang, n=st["flags"], items=_items(st["by_status"], "status", lang)),
        i18n.text("stats.by_label", lang, items=_items(st["by_label"], "label", lang)),
        i18n.text("stats.by_source", lang, items=_items(st["by_source"], "source", lang)),
        i18n.text("stats.counts", lang, reports=st["reports"], reviews=st["reviews"], incidents=st["incidents"]),
        i18n.text("stats.actions", lang, items=_items(st["actions"], "action", lang)),
    ]


def precision_lines(r: PrecisionReport, lang: str = "en", newest: int | None = None) -> list[str]:
    """Precision per label from moderators' reviews, and each label's suggested threshold (never applied)."""
    if not r.reviewed:
        return [i18n.text("precision.none", lang)]
    per = ", ".join(
        i18n.text("precision.item", lang, label=_word("label", p.key, lang), pct=f"{p.precision:.0%}", n=p.n) for p in r.by_label if p.precision is not None
    )
    head = "precision.head_latest" if newest is not None and r.reviewed >= newest else "precision.head"
    return [i18n.text(head, lang, n=r.reviewed, items=per)] + [suggestion_line(s, lang) for s in r.suggestions]


def suggestion_line(s: Suggestion, lang: str = "en") -> str:
    label = _word("label", s.label, lang)
    if s.threshold is None and s.best is None:
        return i18n.text("precision.not_enough", lang, label=label, n=s.decisions, need=s.min_decisions)
    if s.threshold is None and s.best is not None:
        t, p, n = s.best
        return i18n.text("precision.unreached", lang, label=label, target=f"{s.target:.2f}", need=s.min_decisions, p=f"{p:.2f}", t=f"{t:.2f}", n=n)
    line = i18n.text("precision.suggested", lang, label=label, t=f"{s.threshold:.2f}", p=f"{s.precision or 0:.2f}", n=s.support, target=f"{s.target:.2f}")
    if s.lowest_seen is not None and s.threshold is not None and s.threshold <= s.lowest_seen:
        line += i18n.text("precision.untested_below", lang, lowest=f"{s.lowest_seen:.2f}")
    return line + i18n.text("precision.apply", lang, command=s.apply_command())
