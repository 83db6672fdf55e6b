"""Which language a Discord member is answered in, and the translator for command descriptions.

The member's own client language (`interaction.locale`) wins when we have a catalogue for it,
else the server's `language` setting (bot.i18n.pick). Command names stay English so moderators
can tell each other what to type; their descriptions come from the catalogues (`command.*` keys).
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from bot import i18n
from bot.models import server_key

log = logging.getLogger(__name__)


def locale_of(interaction: discord.Interaction) -> str | None:
    """The member's client language as Discord sends it ("id", "en-US"), or None."""
    locale = getattr(interaction, "locale", None)
    value = getattr(locale, "value", locale)
    return str(value) if value else None


def member_lang(interaction: discord.Interaction) -> str:
    """The catalogue to answer this member in: theirs if we have it, else the server's."""
    server = server_key("discord", interaction.guild_id or 0)
    try:
        server_language = interaction.client.pipeline.server_settings(server).language  # type: ignore[attr-defined]
    except AttributeError:
        server_language = None
    return i18n.pick(server_language, locale_of(interaction))


def say(interaction: discord.Interaction, key: str, **values: object) -> str:
    """Catalogue message `key` in the member's language."""
    return i18n.text(key, member_lang(interaction), **values)


#: Discord locales we have catalogues for (English is the source text Discord shows otherwise).
DISCORD_LOCALES: dict[discord.Locale, str] = {discord.Locale.indonesian: "id"}


_DESCRIPTIONS = frozenset(
    {
        app_commands.TranslationContextLocation.command_description,
        app_commands.TranslationContextLocation.group_description,
        app_commands.TranslationContextLocation.parameter_description,
    }
)


class CatalogueTranslator(app_commands.Translator):
    """Command and option descriptions (and the "Report message" menu entry) from the catalogues, for the
    languages we have.

    A description is translated when its English text is a catalogue entry (`command.*` keys), so the
    English source of truth stays in en.toml and the code; anything else is left to Discord's default."""

    def __init__(self) -> None:
        self._by_english = {v: k for k, v in i18n.catalogue("en").items() if k.startswith("command.")}

    async def translate(self, string: app_commands.locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes) -> str | None:
        menu = context.location is app_commands.TranslationContextLocation.command_name and isinstance(
            context.data, app_commands.ContextMenu
        )  # a menu entry's name is all members see of it
        if context.location not in _DESCRIPTIONS and not menu:  # command and option names stay English
            return None
        lang = DISCORD_LOCALES.get(locale)
        key = self._by_english.get(string.message)
        if lang is None or key is None:
            return None
        return i18n.text(key, lang)
