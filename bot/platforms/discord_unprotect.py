"""/unprotect: a member lists the pictures she registered with /protect and removes any of them.

The list is ephemeral and in her language. The select menu is a persistent `DynamicItem`
(`tbu:remove`): the chosen value is the entry id, and the core removes it only if she registered
it in this server, so a forged or stale click can never remove someone else's picture.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Mapping

import discord
from discord import app_commands, ui

from bot import i18n
from bot.models import server_key
from bot.platforms.discord_i18n import member_lang, say
from bot.platforms.discord_render import escape
from bot.platforms.discord_views import guarded

log = logging.getLogger(__name__)

MAX_OPTIONS = 25  # Discord's limit for one select menu
NO_MENTIONS = discord.AllowedMentions.none()


def _server(interaction: discord.Interaction) -> str:
    return server_key("discord", interaction.guild_id or 0)


def _date(entry: dict) -> str:
    return str(entry.get("created_at") or "")[:10]


def listing(entries: list[dict], lang_text: dict[str, str]) -> str:
    """The ephemeral text: one line per picture, "#id · date · note" with the note escaped."""
    lines = [lang_text["head"]]
    for e in entries[:MAX_OPTIONS]:
        note = escape(str(e.get("note") or ""))[:120] or lang_text["no_note"]
        lines.append(f"**#{e['id']}** · {_date(e)} · {note}")
    if len(entries) > MAX_OPTIONS:
        lines.append(lang_text["more"])
    return "\n".join(lines)[:2000]


class RemoveSelect(ui.DynamicItem[ui.Select], template=r"tbu:remove"):
    """The menu of her pictures; picking one removes it."""

    def __init__(self, options: list[discord.SelectOption] | None = None, placeholder: str = "…") -> None:
        super().__init__(ui.Select(custom_id="tbu:remove", placeholder=placeholder[:150], options=options or [discord.SelectOption(label="-", value="0")]))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]) -> "RemoveSelect":
        return cls()

    async def callback(self, interaction: discord.Interaction) -> None:
        data: Mapping[str, Any] = interaction.data or {}  # only a select's payload has "values"
        values = data.get("values", [])
        value = values[0] if values else ""

        async def go() -> None:
            if interaction.guild_id is None:
                await interaction.response.send_message(say(interaction, "discord.guild_only"), ephemeral=True)
                return
            removed = value.isdigit() and interaction.client.pipeline.unprotect(  # type: ignore[attr-defined]
                _server(interaction), str(interaction.user.id), int(value)
            )
            await interaction.response.send_message(say(interaction, "protect.removed" if removed else "protect.not_found"), ephemeral=True)

        await guarded(interaction, "unprotect", go)


@app_commands.command(name="unprotect", description="List the pictures you registered with /protect and remove any of them")
@app_commands.guild_only()
async def unprotect_command(interaction: discord.Interaction) -> None:
    async def go() -> None:
        entries = interaction.client.pipeline.protected_images(_server(interaction), str(interaction.user.id))  # type: ignore[attr-defined]
        if not entries:
            await interaction.response.send_message(say(interaction, "discord.unprotect.none"), ephemeral=True)
            return
        lang = member_lang(interaction)
        texts = {
            "head": i18n.text("discord.unprotect.head", lang),
            "no_note": i18n.text("discord.unprotect.no_note", lang),
            "more": i18n.text("discord.unprotect.more", lang, n=len(entries) - MAX_OPTIONS),
        }
        options = [
            discord.SelectOption(label=f"#{e['id']} · {_date(e)}"[:100], value=str(e["id"]), description=(str(e.get("note") or "") or texts["no_note"])[:100])
            for e in entries[:MAX_OPTIONS]
        ]
        view = ui.View(timeout=None)
        view.add_item(RemoveSelect(options, i18n.text("discord.unprotect.placeholder", lang)))
        await interaction.response.send_message(listing(entries, texts), view=view, ephemeral=True, allowed_mentions=NO_MENTIONS)

    await guarded(interaction, "/unprotect", go)


UNPROTECT_ITEMS: tuple[type[ui.DynamicItem[ui.Select]], ...] = (RemoveSelect,)
