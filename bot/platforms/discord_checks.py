"""Named permission checks, evaluated at click/command time from the permissions Discord sends.

`default_member_permissions` only hides commands; server admins can override it, so
every handler checks again here. Buttons have no such default at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import discord

from bot import i18n
from bot.platforms.discord_i18n import member_lang

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
#: Warning is milder than deleting the message, so whoever may review and delete may warn.
WARN = Need("manage_messages", "Manage Messages")
SETUP = Need("manage_guild", "Manage Server")
EXPORT = Need("administrator", "Administrator")

#: Which permission each button action needs.
FOR_ACTION: dict[str, Need] = {"confirm": REVIEW, "dismiss": REVIEW, "escalate": REVIEW, "delete": DELETE, "timeout": TIMEOUT, "ban": BAN, "warn": WARN}


def missing(interaction: discord.Interaction, need: Need) -> str | None:
    """None if the member may do it, else a sentence to show them (ephemerally)."""
    if interaction.guild_id is None:
        return i18n.text("discord.guild_only", member_lang(interaction))
    if need.allowed(interaction.permissions):
        return None
    lang = member_lang(interaction)
    return i18n.text("dc.need_permission", lang, permission=i18n.text(f"dc.perm.{need.attr}", lang))


# ---- role hierarchy ---------------------------------------------------------------------------
#: Actions that land on a member (their message, or the member), so the role hierarchy applies.
ON_A_MEMBER: frozenset[str] = frozenset({"delete", "timeout", "ban", "warn"})


async def member_or_none(guild: discord.Guild, user_id: int) -> discord.Member | None:
    """The member with roles, over REST (the members intent is off, so the cache has almost nobody).

    None when they are not in the server any more (then there are no roles to compare)."""
    cached = guild.get_member(user_id)
    if cached is not None:
        return cached
    try:
        return await guild.fetch_member(user_id)
    except discord.NotFound:
        return None


def outranks(guild: discord.Guild, actor: discord.Member, target: discord.Member) -> bool:
    """Discord's rule: the owner outranks everyone, otherwise the top role must be strictly higher."""
    if actor.id == guild.owner_id:
        return True
    return actor.top_role > target.top_role


def refusal(guild: discord.Guild, moderator: discord.Member, me: discord.Member, target_id: int, target: discord.Member | None, lang: str = "en") -> str | None:
    """None if `moderator` may have the bot act on `target_id`, else why not (shown to the moderator).

    As Red's `is_allowed_by_hierarchy`: the moderator must be above the target, and so must the bot,
    or the bot would lend its rank to someone without it. The owner is never a target."""
    if target_id == guild.owner_id:
        return i18n.text("dc.hierarchy.owner", lang)
    if target_id == moderator.id:
        return i18n.text("dc.hierarchy.self", lang)
    if target_id == me.id:
        return i18n.text("dc.hierarchy.me", lang)
    if target is None:
        return None  # left the server: no roles to compare, nothing to protect
    if not outranks(guild, moderator, target):
        return i18n.text("dc.hierarchy.your_role", lang, name=target.display_name)
    if not outranks(guild, me, target):
        return i18n.text("dc.hierarchy.my_role", lang, name=target.display_name)
    return None


async def hierarchy_refusals(interaction: discord.Interaction, target_ids: list[str]) -> dict[str, str]:
    """For each target the clicker may not have the bot act on: the reason. Fetches members over REST."""
    guild = interaction.guild
    moderator = interaction.user
    lang = member_lang(interaction)
    if guild is None or not isinstance(moderator, discord.Member):
        return {t: i18n.text("discord.guild_only", lang) for t in target_ids}
    me = guild.me or await member_or_none(guild, interaction.client.user.id)  # type: ignore[union-attr]
    if me is None:
        return {t: i18n.text("dc.hierarchy.no_roles", lang) for t in target_ids}
    out: dict[str, str] = {}
    for target_id in dict.fromkeys(target_ids):
        if not target_id.isdigit():
            continue
        uid = int(target_id)
        target = None if uid in (guild.owner_id, moderator.id, me.id) else await member_or_none(guild, uid)
        why = refusal(guild, moderator, me, uid, target, lang)
        if why:
            log.info("hierarchy: %s may not act on %s in %s: %s", moderator.id, uid, guild.id, why)
            out[target_id] = why
    return out
