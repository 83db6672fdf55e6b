"""Cutting a list of lines to a platform's message limit: whole lines only (a cut line could split an escape
or a mention), then "… N more lines" in the reader's language."""

from __future__ import annotations

from bot import i18n


def fit_lines(lines: list[str], limit: int, lang: str = "en") -> str:
    """Whole lines up to `limit` characters, then "… N more lines"."""
    whole = "\n".join(lines)
    if len(whole) <= limit:
        return whole
    out: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        more = i18n.text("lines.more", lang, n=len(lines) - i)
        if used + len(line) + 1 > limit - len(more) - 1:
            out.append(more)
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)
