"""/triage rules add|remove|list: a server's own terms, allow-listed phrases and exemptions, on Discord.

Moderators only (Manage Messages, checked again at run time), every answer ephemeral and in the moderator's
language. Patterns are moderators' input and may be anything: they are shown escaped, never as markup or pings.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import discord
from discord import app_commands

from bot import i18n
from bot.errors import TriagebotError
from bot.models import server_key
from bot.platforms import discord_checks as checks
from bot.platforms.discord_i18n import member_lang
from bot.platforms.discord_render import escape
from bot.server_rules import RuleEntry

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
LIST_CHARS = 2000
_MENTIONS = {"exempt_role": "<@&{}>", "exempt_channel": "<#{}>", "exempt_user": "<@{}>"}


def _review(interaction: discord.Interaction) -> bool:
    denied = checks.missing(interaction, checks.REVIEW)
    if denied:
        raise app_commands.CheckFailure(denied)
    return True


def rule_line(e: RuleEntry, lang: str) -> str:
    """One rule for a Discord message: number (or "config file"), kind, label, escaped pattern, score if not 1."""
    where = f"**#{e.id}**" if e.id is not None else i18n.text("rules.from_config", lang)
    parts = [where, i18n.text(f"rules.kind.{e.kind}", lang)]
    if e.label:
        parts.append(i18n.text(f"label.{e.label}", lang) if e.label != "all" else i18n.text("rules.all_labels", lang))
    mention = _MENTIONS.get(e.kind)  # ids show as names; the reply allows no mentions, so nobody is pinged
    parts.append(mention.format(e.pattern) if mention and e.pattern.isdigit() else escape(e.pattern))
    if e.kind == "term" and e.score < 1.0:
        parts.append(f"{e.score:.2f}")
    return " · ".join(parts)


def listing(entries: list[RuleEntry], lang: str) -> str:
    """The whole list, cut at whole lines to fit one message."""
    if not entries:
        return i18n.text("rules.none", lang)
    lines = [i18n.text("rules.head", lang, n=len(entries))]
    for i, e in enumerate(entries):
        line = rule_line(e, lang)
        more = i18n.text("rules.more", lang, n=len(entries) - i)
        if sum(len(x) + 1 for x in lines) + len(line) + len(more) + 2 > LIST_CHARS:
            lines.append(more)
            break
        lines.append(line)
    return "\n".join(lines)


def rules_group() -> app_commands.Group:
    """The `rules` subgroup of /triage (built per bot, so each TriageGroup gets its own)."""
    group = app_commands.Group(name="rules", description="The server's own terms, allow-listed phrases and exemptions")

    @group.command(name="add", description="Add a term or phrase to flag, an allow-listed phrase or an exemption")
    @app_commands.describe(
        kind="term: flag it · allow: drop the model's verdicts · exempt_*: never flag that role/channel/member",
        pattern="The term or phrase (* = any letters in a word, or any one word), or a role, channel or member",
        label="sexual or racial (an allow-listed phrase covers both unless you pick one)",
        score="The score a term gives (below 1: review only, never automatic deletion)",
    )
    @app_commands.check(_review)
    async def add(
        interaction: discord.Interaction,
        kind: Literal["term", "allow", "exempt_role", "exempt_channel", "exempt_user"],
        pattern: app_commands.Range[str, 1, 200],
        label: Literal["sexual", "racial", "all"] | None = None,
        score: app_commands.Range[float, 0.01, 1.0] = 1.0,
    ) -> None:
        lang = member_lang(interaction)
        server = server_key("discord", interaction.guild_id or 0)
        try:
            entry = _pipeline(interaction).add_rule(server, kind, label, pattern, str(interaction.user.id), score)
        except TriagebotError as exc:
            await _reply(interaction, i18n.text("rules.not_saved", lang, why=escape(str(exc))))
            return
        log.info("rule #%s added in %s by %s", entry.id, server, interaction.user.id)
        await _reply(interaction, i18n.text("rules.added", lang, rule=rule_line(entry, lang)))

    @group.command(name="remove", description="Remove a rule added by command, by its number or its pattern")
    @app_commands.describe(rule="The rule's number from /triage rules list (e.g. 3), or its exact pattern", label="When several rules have the same pattern")
    @app_commands.check(_review)
    async def remove(interaction: discord.Interaction, rule: app_commands.Range[str, 1, 200], label: Literal["sexual", "racial", "all"] | None = None) -> None:
        lang = member_lang(interaction)
        server = server_key("discord", interaction.guild_id or 0)
        try:
            entry = _pipeline(interaction).remove_rule(server, rule, str(interaction.user.id), label)
        except TriagebotError as exc:
            await _reply(interaction, i18n.text("rules.not_saved", lang, why=escape(str(exc))))
            return
        log.info("rule #%s removed in %s by %s", entry.id, server, interaction.user.id)
        await _reply(interaction, i18n.text("rules.removed", lang, rule=rule_line(entry, lang)))

    @group.command(name="list", description="This server's own rules (they override the model)")
    @app_commands.check(_review)
    async def list_(interaction: discord.Interaction) -> None:
        server = server_key("discord", interaction.guild_id or 0)
        await _reply(interaction, listing(_pipeline(interaction).rule_entries(server), member_lang(interaction)))

    return group


def _pipeline(interaction: discord.Interaction) -> Any:
    return interaction.client.pipeline  # type: ignore[attr-defined]


async def _reply(interaction: discord.Interaction, text: str) -> None:
    await interaction.response.send_message(text[:LIST_CHARS], ephemeral=True, allowed_mentions=NO_MENTIONS)
