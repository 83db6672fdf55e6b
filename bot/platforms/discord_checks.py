"""Named permission checks, evaluated at click/command time from the permissions Discord sends.

`default_member_permissions` only hides commands; server admins can override it, so
every handler checks again here. Buttons have no such default at all.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import discord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Need:
    """A permission an action requires, with the name moderators see in Discord's settings."""

    attr: str
    label: str

    def allowed(self, perms: discord.Permissions) -> bool:
        return perms.administrator or bool(getattr(perms, self.attr))


REVIEW = Need("manage_messages", "Manage Messages")
DELETE = Need("manage_messages", "Manage Messages")
TIMEOUT = Need("moderate_members", "Moderate Members")
BAN = Need("ban_members", "Ban Members")
SETUP = Need("manage_guild", "Manage Server")
EXPORT = Need("administrator", "Administrator")

#: Which permission each button action needs.
FOR_ACTION: dict[str, Need] = {"confirm": REVIEW, "dismiss": REVIEW, "escalate": REVIEW,
                               "delete": DELETE, "timeout": TIMEOUT, "ban": BAN}


def missing(interaction: discord.Interaction, need: Need) -> str | None:
    """None if the member may do it, else a sentence to show them (ephemerally)."""
    if interaction.guild_id is None:
        return "This only works inside a server."
    if need.allowed(interaction.permissions):
        return None
    return f"You need the **{need.label}** permission for this."
