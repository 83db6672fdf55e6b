"""Incident-level buttons under an incident alert, the confirmation modal, and the item pager.

Every button is a persistent `DynamicItem` whose custom_id carries the kind and incident id
(`tbi:delete:42`), so clicks on old alerts work after a restart. Timeout-all and Ban-all open a
modal that asks for a reason before anything happens. The clicker's permission is checked at
click time, and for delete/timeout/ban the role hierarchy decides which authors are left out
(`exclude_users`); the core does the work and logs every per-flag effect with the clicker.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Mapping

import discord
from discord import ui

from bot import i18n
from bot.alerts import Alert
from bot.models import server_key
from bot.platforms import discord_checks as checks
from bot.platforms.discord_i18n import member_lang, say
from bot.platforms.discord_render import TIMEOUT_CHOICES, escape, spoiler
from bot.platforms.discord_views import QueueButton, guarded, queue_view
from bot.store import StoreError

log = logging.getLogger(__name__)

PAGE_SIZE = 4  # four item rows of buttons, plus the navigation row: Discord allows five rows
ASK_REASON = ("timeout", "ban")
#: (kind, catalogue key of its label, style)
INCIDENT_BUTTONS: tuple[tuple[str, str, discord.ButtonStyle], ...] = (
    ("confirm", "button.confirm_all", discord.ButtonStyle.danger),
    ("dismiss", "button.dismiss_all", discord.ButtonStyle.secondary),
    ("delete", "button.delete_all", discord.ButtonStyle.primary),
    ("ban", "button.ban_all", discord.ButtonStyle.danger),
    ("items", "dc.button.items", discord.ButtonStyle.secondary),
)
_DURATIONS = {str(s): label for label, s in TIMEOUT_CHOICES}
NEEDS = {**checks.FOR_ACTION, "items": checks.REVIEW}


def incident_id_for(kind: str, incident_id: int) -> str:
    return f"tbi:{kind}:{incident_id}"


def _server(interaction: discord.Interaction) -> str:
    return server_key("discord", interaction.guild_id or 0)


def _pipeline(interaction: discord.Interaction) -> Any:
    return interaction.client.pipeline  # type: ignore[attr-defined]


async def _denied(interaction: discord.Interaction, kind: str) -> bool:
    denied = checks.missing(interaction, NEEDS[kind])
    if denied:
        log.info("denied incident %s to %s", kind, interaction.user.id)
        await interaction.response.send_message(denied, ephemeral=True)
    return bool(denied)


async def run_incident_action(interaction: discord.Interaction, kind: str, incident_id: int, duration_s: int | None = None, reason: str = "") -> None:
    """Check rights, act on the whole incident through the core, tell the clicker the outcome (ephemeral)."""
    if not interaction.response.is_done():
        await interaction.response.defer(ephemeral=True, thinking=True)
    server, pipeline = _server(interaction), _pipeline(interaction)
    exclude: dict[str, str] = {}
    try:
        if kind in checks.ON_A_MEMBER:
            exclude = await checks.hierarchy_refusals(interaction, pipeline.incident_authors(server, incident_id))
        outcome = await pipeline.moderate_incident(
            server, incident_id, kind, str(interaction.user.id), duration_s=duration_s, reason=reason, exclude_users=exclude
        )
    except StoreError:
        await interaction.followup.send(say(interaction, "dc.incident.not_found"), ephemeral=True)
        return
    lines = [escape(outcome.summary or f"{kind}: {outcome.done} done")]
    if exclude:
        lines.append(say(interaction, "dc.left_out", n=len(exclude)))
        lines += [f"• <@{uid}>: {escape(why)}" for uid, why in list(exclude.items())[:10]]
        if len(exclude) > 10:
            lines.append(say(interaction, "tg.more", n=len(exclude) - 10))
    await interaction.followup.send("\n".join(lines)[:2000], ephemeral=True, allowed_mentions=discord.AllowedMentions.none())


class ReasonModal(ui.Modal):
    """ "Ban all" / "Timeout all" ask before acting: the moderator types a reason to go ahead."""

    def __init__(self, kind: str, incident_id: int, authors: int, duration_s: int | None = None, lang: str = "en") -> None:
        duration = i18n.text(f"dc.duration.{duration_s}", lang) if str(duration_s) in _DURATIONS else f"{duration_s} s"
        title = i18n.text("dc.reason.title.ban" if kind == "ban" else "dc.reason.title.timeout", lang, n=authors, incident=incident_id, duration=duration)
        super().__init__(title=title[:45], timeout=900)
        self.reason: ui.TextInput = ui.TextInput(
            label=i18n.text("dc.reason.label", lang)[:45], style=discord.TextStyle.paragraph, min_length=3, max_length=400, required=True
        )
        self.add_item(self.reason)
        self.kind, self.incident_id, self.duration_s = kind, incident_id, duration_s

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await guarded(
            interaction,
            f"incident {self.kind} #{self.incident_id}",
            lambda: run_incident_action(interaction, self.kind, self.incident_id, self.duration_s, self.reason.value or ""),
        )

    async def on_error(self, interaction: discord.Interaction, error: Exception, /) -> None:  # type: ignore[override]  # discord.ui.Modal's own signature, which narrows BaseView's
        record = getattr(interaction.client, "record_error", None)
        if record is not None:
            record("incident modal", error)


async def _ask_reason(interaction: discord.Interaction, kind: str, incident_id: int, duration_s: int | None) -> None:
    try:
        authors = len(_pipeline(interaction).incident_authors(_server(interaction), incident_id))
    except StoreError:
        await interaction.response.send_message(say(interaction, "dc.incident.not_found"), ephemeral=True)
        return
    await interaction.response.send_modal(ReasonModal(kind, incident_id, authors, duration_s, member_lang(interaction)))


class IncidentButton(ui.DynamicItem[ui.Button], template=r"tbi:(?P<kind>confirm|dismiss|delete|ban|items):(?P<incident>[0-9]+)"):
    """Confirm all / Dismiss all / Delete all / Ban all… / Items on an incident alert."""

    def __init__(self, kind: str, incident_id: int, label: str | None = None, style: discord.ButtonStyle = discord.ButtonStyle.secondary) -> None:
        super().__init__(ui.Button(label=label or kind.title(), style=style, custom_id=incident_id_for(kind, incident_id)))
        self.kind, self.incident_id = kind, incident_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]) -> "IncidentButton":
        if not isinstance(item, ui.Button):  # discord.py hands over the component it got; ours are buttons
            return cls(match["kind"], int(match["incident"]))
        return cls(match["kind"], int(match["incident"]), item.label, item.style)

    async def callback(self, interaction: discord.Interaction) -> None:
        async def go() -> None:
            if await _denied(interaction, self.kind):
                return
            if self.kind == "items":
                await send_page(interaction, self.incident_id, 0, edit=False)
            elif self.kind in ASK_REASON:
                await _ask_reason(interaction, self.kind, self.incident_id, None)
            else:
                await run_incident_action(interaction, self.kind, self.incident_id)

        await guarded(interaction, f"incident {self.kind} #{self.incident_id}", go)


class IncidentTimeoutSelect(ui.DynamicItem[ui.Select], template=r"tbi:timeout:(?P<incident>[0-9]+)"):
    """Timeout all authors, with the duration chosen here and the reason in a modal."""

    def __init__(self, incident_id: int, lang: str = "en") -> None:
        options = [
            discord.SelectOption(label=i18n.text("dc.timeout_all.option", lang, duration=i18n.text(f"dc.duration.{s}", lang)), value=str(s))
            for _, s in TIMEOUT_CHOICES
        ]
        super().__init__(
            ui.Select(placeholder=i18n.text("dc.timeout_all.placeholder", lang), options=options, custom_id=incident_id_for("timeout", incident_id))
        )
        self.incident_id = incident_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]) -> "IncidentTimeoutSelect":
        return cls(int(match["incident"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        data: Mapping[str, Any] = interaction.data or {}  # only a select's payload has "values"
        values = self.item.values or data.get("values", [])
        value = values[0] if values else ""

        async def go() -> None:
            if await _denied(interaction, "timeout"):
                return
            if value not in _DURATIONS:
                await interaction.response.send_message(say(interaction, "dc.unknown_duration"), ephemeral=True)
                return
            await _ask_reason(interaction, "timeout", self.incident_id, int(value))

        await guarded(interaction, f"incident timeout #{self.incident_id}", go)


class PageButton(ui.DynamicItem[ui.Button], template=r"tbi:page:(?P<incident>[0-9]+):(?P<offset>[0-9]+)"):
    """Previous / next page of the item pager."""

    def __init__(self, incident_id: int, offset: int, label: str = "Next", disabled: bool = False) -> None:
        super().__init__(ui.Button(label=label, style=discord.ButtonStyle.secondary, disabled=disabled, custom_id=f"tbi:page:{incident_id}:{offset}"))
        self.incident_id, self.offset = incident_id, offset

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]) -> "PageButton":
        return cls(int(match["incident"]), int(match["offset"]), (item.label if isinstance(item, ui.Button) else None) or "Next")

    async def callback(self, interaction: discord.Interaction) -> None:
        async def go() -> None:
            if await _denied(interaction, "items"):
                return
            await send_page(interaction, self.incident_id, self.offset, edit=True)

        await guarded(interaction, f"incident page #{self.incident_id}", go)


async def send_page(interaction: discord.Interaction, incident_id: int, offset: int, *, edit: bool) -> None:
    """The ephemeral pager: a few items with per-item buttons (Warn included) and jump links, and page buttons."""
    try:
        items, total = _pipeline(interaction).incident_page(_server(interaction), incident_id, offset, PAGE_SIZE)
    except StoreError:
        await interaction.response.send_message(say(interaction, "dc.incident.not_found"), ephemeral=True)
        return
    embed, view = render_page(incident_id, offset, items, total, member_lang(interaction))
    if edit:
        await interaction.response.edit_message(embed=embed, view=view)
    else:
        await interaction.response.send_message(embed=embed, view=view, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())


def render_page(incident_id: int, offset: int, items: list, total: int, lang: str = "en") -> tuple[discord.Embed, ui.View]:
    """One page of an incident's items in the clicker's language; every quoted string escaped, one row of buttons per item."""
    t = lambda key, **v: i18n.text(key, lang, **v)  # noqa: E731
    last = min(offset + len(items), total)
    embed = discord.Embed(title=t("dc.page.title", incident=incident_id, first=offset + 1 if items else 0, last=last, total=total))
    lines = []
    view = ui.View(timeout=None)
    for row, flag in enumerate(items):
        name = f" ({escape(flag.author_name)})" if flag.author_name else ""
        jump = f" · [{t('dc.jump_short')}]({flag.link})" if flag.link else ""
        status = escape(t(f"status.{flag.status}") if f"status.{flag.status}" in i18n.catalogue("en") else flag.status)
        lines.append(
            f"**#{flag.id}** <@{flag.author_id}>{name} · {status}{jump}\n{spoiler(flag.excerpt or '', 150, lang)}"
            if flag.author_id.isdigit()
            else f"**#{flag.id}** {escape(flag.author_id)} · {status}"
        )
        # five buttons fill a row, so the jump link lives in the text above rather than in a sixth button
        for action, key in (
            ("confirm", "button.confirm"),
            ("dismiss", "button.dismiss"),
            ("delete", "button.delete"),
            ("ban", "button.ban"),
            ("warn", "button.warn"),
        ):
            style = discord.ButtonStyle.danger if action in ("confirm", "ban") else discord.ButtonStyle.secondary
            button = QueueButton(action, flag.id, f"{t(key)} #{flag.id}", style)
            button.item.row = row
            view.add_item(button)
    embed.description = "\n\n".join(lines)[:4000] or t("dc.page.empty")
    prev_offset = max(0, offset - PAGE_SIZE)
    view.add_item(_row(PageButton(incident_id, prev_offset, "◀ " + t("dc.previous"), disabled=offset == 0), PAGE_SIZE))
    view.add_item(_row(PageButton(incident_id, offset + PAGE_SIZE, t("button.next") + " ▶", disabled=offset + PAGE_SIZE >= total), PAGE_SIZE))
    return embed, view


def _row(item: ui.DynamicItem[Any], row: int) -> ui.DynamicItem[Any]:
    item.item.row = row
    return item


def incident_view(incident_id: int, lang: str = "en") -> ui.View:
    """The buttons under an incident alert, in the server's language; persistent because every item is a
    registered DynamicItem."""
    view = ui.View(timeout=None)
    for kind, key, style in INCIDENT_BUTTONS:
        view.add_item(IncidentButton(kind, incident_id, i18n.text(key, lang), style))
    view.add_item(IncidentTimeoutSelect(incident_id, lang))
    return view


def alert_view(alert: Alert) -> ui.View:
    """Incident-level buttons for an incident alert, per-flag buttons for a single flag."""
    if alert.incident is not None:
        return incident_view(alert.incident.id, alert.language)
    return queue_view(alert.flag.id, alert.language)


INCIDENT_ITEMS: tuple[type[ui.DynamicItem[Any]], ...] = (IncidentButton, IncidentTimeoutSelect, PageButton)
