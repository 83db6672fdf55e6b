"""One-time codes that link a moderators' chat to a group, and parsing of `/setup` arguments.

The code is posted in the group, where members can read it; that is safe because `/link`
also checks that the sender is an admin of the group the code belongs to. Codes are kept in
the store (wall-clock expiry), so a restart within their 10 minutes does not void them.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from bot import i18n
from bot.store import Store

log = logging.getLogger(__name__)

CODE_TTL_S = 600
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes get typed by hand


@dataclass(frozen=True)
class PendingLink:
    server: str
    chat_id: int
    issued_by: int
    expires: float
    notice_message_id: int | None = None


class LinkCodes:
    """One-time codes, kept in the store so a restart does not void a code an admin was just given."""

    def __init__(self, store: Store, ttl: float = CODE_TTL_S, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.ttl = ttl
        self.clock = clock

    def issue(self, server: str, chat_id: int, issued_by: int) -> str:
        """A fresh code for the group; any older code of the same group stops working."""
        code = "".join(secrets.choice(_ALPHABET) for _ in range(4)) + "-" + "".join(secrets.choice(_ALPHABET) for _ in range(4))
        now = self.clock()
        self.store.put_link_code(code, server, chat_id, issued_by, now + self.ttl, now)
        return code

    def attach_notice(self, code: str, message_id: int) -> None:
        """Remember the group message showing the code, so it can be deleted once used."""
        self.store.set_link_code_notice(code, message_id)

    def peek(self, code: str) -> PendingLink | None:
        return self._get(code, take=False)

    def redeem(self, code: str) -> PendingLink | None:
        """Use a code once; None when unknown or expired."""
        return self._get(code, take=True)

    def _get(self, code: str, take: bool) -> PendingLink | None:
        row = self.store.link_code(normalize_code(code), self.clock(), take=take)
        if row is None:
            return None
        return PendingLink(row["server"], int(row["chat_id"]), int(row["issued_by"]), float(row["expires_at"]), row["notice_message_id"])


def normalize_code(code: str) -> str:
    raw = "".join(ch for ch in code.upper() if ch.isalnum())
    return f"{raw[:4]}-{raw[4:]}" if len(raw) == 8 else code.strip().upper()


SETUP_HELP = i18n.text("tg.setup.help")  # English; setup_help(lang) for the admin's language


def setup_help(lang: str = "en") -> str:
    """How to use /setup, in `lang`."""
    return i18n.text("tg.setup.help", lang)


class SetupUsage(ValueError):
    """The /setup arguments are not understood; the message says how to use it."""


def parse_setup_args(args: Sequence[str], lang: str = "en") -> dict[str, Any] | None:
    """`/setup` arguments -> settings overrides (None = issue a link code). Values are validated by the core;
    a SetupUsage says (in `lang`) how to use it."""
    if not args:
        return None
    cmd = args[0].lower()
    if cmd == "threshold" and len(args) == 3:
        try:
            value = float(args[2].replace(",", "."))
        except ValueError:
            raise SetupUsage(i18n.text("tg.setup.not_a_number", lang, value=repr(args[2])) + "\n" + setup_help(lang)) from None
        return {"thresholds": {args[1].lower(): value}}
    if cmd in ("dryrun", "dry_run", "dry-run") and len(args) == 2 and args[1].lower() in ("on", "off", "true", "false"):
        return {"dry_run": args[1].lower() in ("on", "true")}
    raise SetupUsage(setup_help(lang))
