"""How an incident reads in alerts and queues. (Grouping flags into incidents happens as a flag is stored.)"""
from __future__ import annotations

import logging

from bot.store import IncidentView

log = logging.getLogger(__name__)


#: Order labels are named in, most serious first; `reported` only adds that members reported it.
_LABEL_ORDER = ("sexual", "racial", "reshare", "automod", "reported")
_LABEL_WORDS = {"reshare": "re-shared image", "automod": "AutoMod", "reported": "reported"}


def _span(minutes: float) -> str:
    if minutes < 1:
        return "under a minute"
    if minutes < 120:
        return f"{round(minutes)} min"
    return f"{minutes / 60:.1f} h"


def summary(incident: IncidentView, target_name: str | None = None) -> str:
    """E.g. "14 sexual/racial messages from 9 accounts targeting @member in 20 min"."""
    who = target_name or incident.target_name or incident.target_id
    ordered = sorted(incident.labels, key=lambda x: _LABEL_ORDER.index(x) if x in _LABEL_ORDER else len(_LABEL_ORDER))
    labels = "/".join(_LABEL_WORDS.get(x, x) for x in ordered if x != "reported") or "reported"
    msgs = "message" if incident.flag_count == 1 else "messages"
    accts = "account" if incident.author_count == 1 else "accounts"
    minutes = (incident.last_at - incident.first_at).total_seconds() / 60
    return f"{incident.flag_count} {labels} {msgs} from {incident.author_count} {accts} targeting @{who} in {_span(minutes)}"

