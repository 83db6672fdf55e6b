"""What the bots' stats commands say (Discord `/triage stats`, Telegram `/stats`), in the reader's language.

Plain text lines: each platform escapes them. The counts come from `Store.stats`; status and label words go
through the catalogue, anything else (a detector's source name, an action kind) is shown as stored.
"""

from __future__ import annotations

from typing import Any, Mapping

from bot import i18n


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
