"""How an incident reads in alerts and queues. (Grouping flags into incidents happens as a flag is stored.)"""

from __future__ import annotations

import logging
from typing import Sequence

from bot import i18n
from bot.models import is_channel_subject
from bot.store import IncidentView

log = logging.getLogger(__name__)


#: Order labels are named in, most serious first; `reported` only adds that members reported it.
_LABEL_ORDER = ("sexual", "racial", "reshare", "automod", "reported")


def label_words(labels: Sequence[str], lang: str = "en") -> str:
    """E.g. "sexual/racial" (or "seksual/rasial"), most serious first; `reported` alone only when nothing else."""
    ordered = sorted(labels, key=lambda x: _LABEL_ORDER.index(x) if x in _LABEL_ORDER else len(_LABEL_ORDER))
    words = [_label(x, lang) for x in ordered if x != "reported"]
    return "/".join(words) or i18n.text("label.reported", lang)


def _label(label: str, lang: str) -> str:
    return i18n.text(f"label.{label}", lang) if label in _LABEL_ORDER else label


def _span(minutes: float, lang: str) -> str:
    if minutes < 1:
        return i18n.text("span.under_minute", lang)
    if minutes < 120:
        return i18n.text("span.minutes", lang, n=round(minutes))
    return i18n.text("span.hours", lang, n=f"{minutes / 60:.1f}")


def summary(incident: IncidentView, target_name: str | None = None, lang: str = "en") -> str:
    """E.g. "14 sexual/racial messages from 9 accounts targeting @member in 20 min", or for a burst aimed at no
    one, "… in #general in 3 min" (a raid on a channel)."""
    channel = is_channel_subject(incident.target_id)
    who = target_name or incident.target_name or (incident.target_id[1:] if channel else incident.target_id)
    minutes = (incident.last_at - incident.first_at).total_seconds() / 60
    return i18n.text(
        "incident.summary_channel" if channel else "incident.summary",
        lang,
        count=incident.flag_count,
        labels=label_words(incident.labels, lang),
        messages=i18n.plural("word.message", incident.flag_count, lang),
        accounts=i18n.plural("word.account", incident.author_count, lang),
        authors=incident.author_count,
        who=who,
        span=_span(minutes, lang),
    )
