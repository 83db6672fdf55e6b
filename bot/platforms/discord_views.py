"""Persistent queue buttons and the report modal.

Buttons are `DynamicItem`s: the custom_id carries the action and flag id
(`tb:confirm:123`), so any click on any old alert is understood after a restart
without keeping views in memory. Permissions are checked at click time.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Awaitable, Callable, Mapping

import discord
from discord import ui

from bot import i18n
from bot.models import REVIEW_DECISIONS, Action, Report, Review, server_key
from bot.platforms import discord_checks as checks
from bot.platforms.discord_i18n import member_lang, say
from bot.platforms.discord_render import TIMEOUT_CHOICES, escape
from bot.store import FlagView, StoreError

log = logging.getLogger(__name__)

#: (action, catalogue key of its label, style)
BUTTONS: tuple[tuple[str, str, discord.ButtonStyle], ...] = (
    ("confirm", "button.confirm", discord.ButtonStyle.danger),
    ("dismiss", "button.dismiss", discord.ButtonStyle.secondary),
    ("delete", "button.delete_message", discord.ButtonStyle.primary),
    ("ban", "button.ban", discord.ButtonStyle.danger),
    ("warn", "button.warn", discord.ButtonStyle.secondary),
)
_DURATIONS = {str(s): label for label, s in TIMEOUT_CHOICES}


def custom_id(action: str, flag_id: int) -> str:
    return f"tb:{action}:{flag_id}"


async def guarded(interaction: discord.Interaction, what: str, fn: Callable[[], Awaitable[None]]) -> None:
    """Run a handler; on an exception tell the clicker, and hand it to the bot's error hook."""
    try:
        await fn()
    except Exception as exc:
        record = getattr(interaction.client, "record_error", None)
        if record is not None:
            record(what, exc)
        else:
            log.exception("%s failed", what)
        try:
            msg = say(interaction, "dc.error")
            if interaction.response.is_done():
                await interaction.followup.send(msg, ephemeral=True)
            else:
                await interaction.response.send_message(msg, ephemeral=True)
        except discord.HTTPException:
            pass


def _flag_for(interaction: discord.Interaction, flag_id: int) -> tuple[str, FlagView] | None:
    server = server_key("discord", interaction.guild_id or 0)
    try:
        return server, interaction.client.pipeline.store.flag(server, flag_id)  # type: ignore[attr-defined]
    except StoreError:
        return None


async def act(interaction: discord.Interaction, action: str, flag_id: int, duration_s: int | None = None) -> None:
    """One click: check permission (and for delete/timeout/ban/warn the role hierarchy), then review,
    warn or moderate through the pipeline (which logs and re-renders)."""
    denied = checks.missing(interaction, checks.FOR_ACTION[action])
    if denied:
        log.info("denied %s on flag %s to %s", action, flag_id, interaction.user.id)
        await interaction.response.send_message(denied, ephemeral=True)
        return
    found = _flag_for(interaction, flag_id)
    if found is None:
        await interaction.response.send_message(say(interaction, "dc.act.not_found"), ephemeral=True)
        return
    server, flag = found
    pipeline = interaction.client.pipeline  # type: ignore[attr-defined]
    actor = str(interaction.user.id)
    if action == "delete" and not flag.message_id.isdigit():
        await interaction.response.send_message(say(interaction, "dc.act.no_message"), ephemeral=True)
        return
    await interaction.response.defer(ephemeral=True, thinking=False)
    if action in checks.ON_A_MEMBER:
        refused = await checks.hierarchy_refusals(interaction, [flag.author_id])
        if refused:
            await interaction.followup.send(say(interaction, "dc.act.not_done", reason=refused[flag.author_id]), ephemeral=True)
            return
    if action == "warn":
        result = await pipeline.warn(server, flag_id, actor)
        if result.ok and result.detail == "dry-run":
            text = say(interaction, "reply.warn.dry_run")
        else:
            text = say(interaction, "reply.warn.sent") if result.ok else say(interaction, "reply.warn.not_sent", detail=escape(result.detail))
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())
        return
    if action in REVIEW_DECISIONS:
        view = await pipeline.review(Review(flag_id=flag_id, server=server, decision=action, reviewer=actor))
        lang = member_lang(interaction)
        await interaction.followup.send(i18n.text("dc.act.marked", lang, status=i18n.text(f"status.{view.status}", lang)), ephemeral=True)
        return
    reason = f"triagebot flag #{flag_id}: {action} by moderator {interaction.user} ({actor})"
    result = await pipeline.moderate(
        Action(
            kind=action,
            server=server,
            flag_id=flag_id,
            channel_id=flag.channel_id,
            message_id=flag.message_id,
            user_id=flag.author_id,
            duration_s=duration_s,
            reason=reason,
            actor=actor,
            incident_id=flag.incident_id,
        )
    )
    text = say(interaction, "dc.act.done", action=action) if result.ok else say(interaction, "dc.act.refused", action=action, detail=result.detail)
    await interaction.followup.send(text, ephemeral=True)


class QueueButton(ui.DynamicItem[ui.Button], template=r"tb:(?P<action>confirm|dismiss|delete|ban|warn):(?P<flag>[0-9]+)"):
    """Confirm / Dismiss / Delete message / Ban / Warn on one queue item."""

    def __init__(self, action: str, flag_id: int, label: str | None = None, style: discord.ButtonStyle = discord.ButtonStyle.secondary) -> None:
        super().__init__(ui.Button(label=label or action.title(), style=style, custom_id=custom_id(action, flag_id)))
        self.action = action
        self.flag_id = flag_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]) -> "QueueButton":
        if not isinstance(item, ui.Button):  # discord.py hands over the component it got; ours are buttons
            return cls(match["action"], int(match["flag"]))
        return cls(match["action"], int(match["flag"]), item.label, item.style)

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, f"button {self.action} #{self.flag_id}", lambda: act(interaction, self.action, self.flag_id))


class TimeoutSelect(ui.DynamicItem[ui.Select], template=r"tb:timeout:(?P<flag>[0-9]+)"):
    """Timeout author, with the duration chosen from a short list."""

    def __init__(self, flag_id: int, lang: str = "en") -> None:
        options = [
            discord.SelectOption(label=i18n.text("dc.timeout.option", lang, duration=i18n.text(f"dc.duration.{s}", lang)), value=str(s))
            for _, s in TIMEOUT_CHOICES
        ]
        super().__init__(ui.Select(placeholder=i18n.text("dc.timeout.placeholder", lang), options=options, custom_id=custom_id("timeout", flag_id)))
        self.flag_id = flag_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]) -> "TimeoutSelect":
        return cls(int(match["flag"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        data: Mapping[str, Any] = interaction.data or {}  # only a select's payload has "values"
        values = self.item.values or data.get("values", [])
        value = values[0] if values else ""
        if value not in _DURATIONS:
            await interaction.response.send_message(say(interaction, "dc.unknown_duration"), ephemeral=True)
            return
        await guarded(interaction, f"timeout #{self.flag_id}", lambda: act(interaction, "timeout", self.flag_id, duration_s=int(value)))


def queue_view(flag_id: int, lang: str = "en") -> ui.View:
    """The buttons under one alert, labelled in the server's language; persistent because every item is a
    registered DynamicItem (a click is understood by its custom_id, whatever the label says)."""
    view = ui.View(timeout=None)
    for action, key, style in BUTTONS:
        view.add_item(QueueButton(action, flag_id, i18n.text(key, lang), style))
    view.add_item(TimeoutSelect(flag_id, lang))
    return view


PERSISTENT_ITEMS: tuple[type[ui.DynamicItem[Any]], ...] = (QueueButton, TimeoutSelect)


class ReportModal(ui.Modal, title="Report message"):
    """The reason form behind the "Report message" context menu, in the reporter's language."""

    def __init__(self, build_report: Callable[[str], Report], lang: str = "en") -> None:
        super().__init__(title=i18n.text("discord.report.modal_title", lang)[:45], timeout=900)
        self.reason: ui.TextInput = ui.TextInput(
            label=i18n.text("discord.report.modal_label", lang)[:45], style=discord.TextStyle.paragraph, max_length=500, required=False
        )
        self.add_item(self.reason)
        self.build_report = build_report

    async def on_submit(self, interaction: discord.Interaction) -> None:
        async def go() -> None:
            await interaction.response.defer(ephemeral=True, thinking=True)
            outcome = await interaction.client.pipeline.report(self.build_report(self.reason.value or ""))  # type: ignore[attr-defined]
            await interaction.followup.send(outcome.message, ephemeral=True)

        await guarded(interaction, "report modal", go)

    async def on_error(self, interaction: discord.Interaction, error: Exception, /) -> None:  # type: ignore[override]  # discord.ui.Modal's own signature, which narrows BaseView's
        record = getattr(interaction.client, "record_error", None)
        if record is not None:
            record("report modal", error)
