"""Legal holds from the chat: what `/triage hold` (Discord) and `/hold` (Telegram) do, platform-neutral.

A hold keeps a flag's (or a whole incident's) content through purges and retention until it is lifted; both
steps are audited with the moderator's id. Placing one is a moderator's call (a case may go to the police);
lifting one lets content be erased again, so the bots ask for admin rights for that.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from bot import i18n
from bot.store import Store, StoreError

log = logging.getLogger(__name__)

_SUBJECT = re.compile(r"(?:(flag|f|incident|i)\s*)?#?([0-9]{1,12})", re.I)
MAX_LISTED = 20


@dataclass(frozen=True)
class HoldRequest:
    """A parsed command: `place 12 reason…`, `place incident 3 …`, `release 12`, or `list`."""

    verb: str  # "place" | "release" | "list"
    target: str | None = None  # "flag" | "incident"
    target_id: int | None = None
    reason: str = ""


def subject(text: str) -> tuple[str, int] | None:
    """("flag", 12) for "12", "#12", "flag 12"; ("incident", 3) for "incident 3" or "i3"; else None."""
    m = _SUBJECT.fullmatch(text.strip())
    if m is None:
        return None
    kind = "incident" if (m[1] or "").lower() in ("incident", "i") else "flag"
    return kind, int(m[2])


def parse(args: list[str]) -> HoldRequest | None:
    """Telegram's `/hold` arguments: `[place|release|list] <flag or incident> [reason…]` (place is the default)."""
    words = list(args)
    verb = "place"
    if words and words[0].lower() in ("place", "release", "lift", "list"):
        verb = {"lift": "release"}.get(words[0].lower(), words[0].lower())
        words = words[1:]
    if verb == "list":
        return HoldRequest("list")
    for take in (2, 1):  # "incident 3 …" or "12 …"
        if len(words) >= take:
            found = subject(" ".join(words[:take]))
            if found is not None:
                return HoldRequest(verb, found[0], found[1], " ".join(words[take:]).strip())
    return None


def place(store: Store, server: str, target: str, target_id: int, by: str, reason: str, lang: str) -> str:
    """Place the hold and say so (a StoreError for an unknown flag or incident becomes the reply)."""
    try:
        hold_id = store.add_hold(server, target, target_id, by, reason)
    except StoreError as exc:
        return i18n.text("hold.failed", lang, error=str(exc))
    log.info("legal hold #%d on %s %d in %s by %s", hold_id, target, target_id, server, by)
    return i18n.text("hold.placed", lang, what=_what(target, target_id, lang))


def release(store: Store, server: str, target: str, target_id: int, by: str, lang: str) -> str:
    lifted = store.release_hold(server, target, target_id, by)
    if lifted:
        log.info("legal hold on %s %d in %s lifted by %s", target, target_id, server, by)
    return i18n.text("hold.released" if lifted else "hold.not_held", lang, what=_what(target, target_id, lang))


def listing(store: Store, server: str, lang: str) -> list[str]:
    """One line per active hold, oldest first (reasons are people's words: callers escape them)."""
    rows = store.holds(server)
    if not rows:
        return [i18n.text("hold.none", lang)]
    lines = [i18n.text("hold.list_head", lang, n=len(rows))]
    for h in rows[:MAX_LISTED]:
        reason = " ".join(str(h["reason"] or "").split())[:120]
        lines.append(
            i18n.text(
                "hold.list_line",
                lang,
                what=_what(h["target"], h["target_id"], lang),
                by=h["placed_by"],
                at=str(h["placed_at"])[:16].replace("T", " "),
                reason=reason or "-",
            )
        )
    if len(rows) > MAX_LISTED:
        lines.append(i18n.text("hold.list_more", lang, n=len(rows) - MAX_LISTED))
    return lines


def _what(target: str, target_id: int, lang: str) -> str:
    return i18n.text(f"hold.{target}", lang, id=target_id)
