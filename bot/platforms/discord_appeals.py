"""Appeals on Discord: the member's DM with its Appeal button and modal, and the moderators' Uphold / Reverse.

Both buttons are persistent `DynamicItem`s (`tba:open:<case>`, `tba:uphold|reverse:<appeal>`), so a DM or an
alert posted before a restart still works. The core writes every text (bot/appeals.py); this module formats
it, escapes what members wrote and sends it with mentions off. Nothing here names who reported the member.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord
from discord import ui

from bot import appeals, i18n
from bot.errors import AppealRefused
from bot.platforms import discord_checks as checks
from bot.platforms.discord_render import escape
from bot.platforms.discord_views import guarded
from bot.store import StoreError

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
COLOURS = {"open": discord.Colour.gold(), "upheld": discord.Colour.dark_grey(), "reversed": discord.Colour.green()}


# ---- rendering (used by the adapter) ------------------------------------------------------------
def notice_message(notice: appeals.MemberNotice, guild_name: str | None, with_button: bool) -> tuple[str, ui.View | None]:
    """The member's DM: the core's text with the server's name (escaped), and an Appeal button."""
    content = notice.fill(escape(guild_name) if guild_name else None)[:2000]
    if not with_button or not notice.button:
        return content, None
    view = ui.View(timeout=None)
    view.add_item(AppealButton(notice.case, notice.button[:80]))
    return content, view


def appeal_embed(alert: appeals.AppealAlert) -> tuple[discord.Embed, ui.View | None]:
    """The moderators' entry for an appeal; buttons only while it is open."""
    appeal = alert.appeal
    embed = discord.Embed(title=escape(alert.title)[:256], colour=COLOURS.get(appeal.status, discord.Colour.gold()))
    for label, value in alert.fields:
        shown = f"<@{value}> `{value}`" if label == alert.fields[0][0] and value.isdigit() else escape(value)
        embed.add_field(name=escape(label)[:256], value=(shown or "—")[:1024], inline=False)
    embed.set_footer(text=f"appeal #{appeal.id} · case {appeal.flag_id}")
    if not appeal.open:
        return embed, ui.View(timeout=None)  # an empty view removes the buttons on edit
    view = ui.View(timeout=None)
    view.add_item(DecisionButton("uphold", appeal.id, alert.uphold[:80], discord.ButtonStyle.secondary))
    view.add_item(DecisionButton("reverse", appeal.id, alert.reverse[:80], discord.ButtonStyle.success))
    return embed, view


# ---- the member's side -----------------------------------------------------------------------------
class AppealModal(ui.Modal, title="Appeal"):
    """The member's explanation, in their language; submitted to `Pipeline.open_appeal`."""

    def __init__(self, case: int, lang: str) -> None:
        super().__init__(title=i18n.text("appeal.modal.title", lang, case=case)[:45], timeout=1800, custom_id=f"tba:modal:{case}")
        self.case = case
        self.text: ui.TextInput = ui.TextInput(
            label=i18n.text("appeal.modal.label", lang)[:45], style=discord.TextStyle.paragraph, max_length=appeals.TEXT_CHARS, required=True
        )
        self.add_item(self.text)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        async def go() -> None:
            pipeline = interaction.client.pipeline  # type: ignore[attr-defined]
            try:
                appeal = pipeline.open_appeal("discord", self.case, str(interaction.user.id), self.text.value or "", locale=str(interaction.locale))
                reply = i18n.text("appeal.opened", appeal.lang, id=appeal.id)
            except AppealRefused as exc:
                reply = str(exc)
            await interaction.response.send_message(reply, ephemeral=True, allowed_mentions=NO_MENTIONS)

        await guarded(interaction, f"appeal modal #{self.case}", go)  # errors are recorded there


class AppealButton(ui.DynamicItem[ui.Button], template=r"tba:open:(?P<case>[0-9]+)"):
    """The Appeal button under the member's DM: opens the modal for their explanation."""

    def __init__(self, case: int, label: str = "Appeal") -> None:
        super().__init__(ui.Button(label=label, style=discord.ButtonStyle.primary, custom_id=f"tba:open:{case}"))
        self.case = case

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]) -> "AppealButton":
        return cls(int(match["case"]), getattr(item, "label", None) or "Appeal")

    async def callback(self, interaction: discord.Interaction) -> None:
        async def go() -> None:
            pipeline = interaction.client.pipeline  # type: ignore[attr-defined]
            server = pipeline.store.flag_server(self.case)
            language = pipeline.server_settings(server).language if server else None
            await interaction.response.send_modal(AppealModal(self.case, i18n.pick(language, str(interaction.locale))))

        await guarded(interaction, f"appeal button #{self.case}", go)


# ---- the moderators' side ------------------------------------------------------------------------
class DecisionButton(ui.DynamicItem[ui.Button], template=r"tba:(?P<decision>uphold|reverse):(?P<appeal>[0-9]+)"):
    """Uphold / Reverse under an appeal in the mod channel."""

    def __init__(self, decision: str, appeal_id: int, label: str | None = None, style: discord.ButtonStyle = discord.ButtonStyle.secondary) -> None:
        super().__init__(ui.Button(label=label or decision.title(), style=style, custom_id=f"tba:{decision}:{appeal_id}"))
        self.decision = decision
        self.appeal_id = appeal_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]) -> "DecisionButton":
        return cls(match["decision"], int(match["appeal"]), getattr(item, "label", None), getattr(item, "style", discord.ButtonStyle.secondary))

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, f"appeal {self.decision} #{self.appeal_id}", lambda: decide(interaction, self.decision, self.appeal_id))


async def decide(interaction: discord.Interaction, decision: str, appeal_id: int) -> None:
    """Check the clicker's rights (reversing also needs the rights of what it undoes), then decide."""
    pipeline = interaction.client.pipeline  # type: ignore[attr-defined]
    server = f"discord:{interaction.guild_id or 0}"
    lang = i18n.pick(pipeline.server_settings(server).language, str(interaction.locale))
    try:
        appeal = pipeline.store.appeal(server, appeal_id)
    except StoreError:
        await interaction.response.send_message("This appeal is not in this server's records.", ephemeral=True)
        return
    needs = [checks.REVIEW]
    if decision == "reverse":
        done = {a["kind"] for a in appeals.affecting(pipeline.store, server, appeal.flag_id, appeal.appellant_id)}
        needs += [checks.FOR_ACTION[k] for k in ("timeout", "ban") if k in done]
    for need in needs:
        denied = checks.missing(interaction, need)
        if denied:
            log.info("denied appeal %s #%d to %s", decision, appeal_id, interaction.user.id)
            await interaction.response.send_message(denied, ephemeral=True)
            return
    await interaction.response.defer(ephemeral=True, thinking=False)
    try:
        outcome = await pipeline.decide_appeal(server, appeal_id, decision, str(interaction.user.id))
        text = outcome.summary(lang)
    except AppealRefused as exc:
        text = exc.text(lang)
    await interaction.followup.send(escape(text), ephemeral=True, allowed_mentions=NO_MENTIONS)


APPEAL_ITEMS: tuple[type[ui.DynamicItem[Any]], ...] = (AppealButton, DecisionButton)
