"""Slash commands and the "Report message" context menu.

Moderator commands carry `default_member_permissions` (which only hides them; admins can
change it) and check permissions again when run. Every answer is ephemeral.
"""

from __future__ import annotations

import io
import logging
import re
import time
from typing import Any, Literal

import discord
from discord import app_commands

from bot import anchors, stats_text, i18n, incidents, legal_holds, member_history
from bot.config import ConfigError
from bot.precision import precision_summary
from bot.models import Report, server_key
from bot.platforms import discord_checks as checks
from bot.platforms.discord_events import to_message
from bot.platforms.discord_i18n import locale_of, member_lang, say
from bot.platforms.discord_render import escape, mention_ids
from bot.platforms.discord_rules import rules_group
from bot.platforms.discord_unprotect import unprotect_command
from bot.platforms.discord_views import ReportModal
from bot.store import FlagFilter, StoreError
from bot.text_fit import fit_lines


log = logging.getLogger(__name__)

LINK = re.compile(r"https?://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/channels/(\d+)/(\d+)/(\d+)")
NO_MENTIONS = discord.AllowedMentions.none()
SCAN_PROGRESS_EVERY = 25
HISTORY_LIMIT = 25  # flags and actions fetched for /triage member (the counts cover everything; lines are cut to fit)
_MENTION = re.compile(r"<@!?([0-9]{1,20})>")
_FLAG = re.compile(r"(?:flag\s*)?#?([0-9]{1,12})", re.I)
_INCIDENT = re.compile(r"(?:incident|i)\s*#?([0-9]{1,12})", re.I)
_SNOWFLAKE = re.compile(r"[0-9]{15,20}")


def require(need: checks.Need):
    """Runtime permission check for a command (the default permissions can be overridden by admins)."""

    def predicate(interaction: discord.Interaction) -> bool:
        denied = checks.missing(interaction, need)
        if denied:
            raise app_commands.CheckFailure(denied)
        return True

    return app_commands.check(predicate)


def _server(interaction: discord.Interaction) -> str:
    return server_key("discord", interaction.guild_id or 0)


def _bot(interaction: discord.Interaction) -> Any:
    """The TriageBot (typed loosely: importing discord_bot here would make an import circle)."""
    return interaction.client


class TriageGroup(app_commands.Group):
    """/triage …: moderator tools, hidden from members by default."""

    def __init__(self) -> None:
        super().__init__(
            name="triage", description="Harassment triage tools for moderators", default_permissions=discord.Permissions(manage_messages=True), guild_only=True
        )
        self.add_command(rules_group())  # /triage rules add|remove|list (bot/platforms/discord_rules.py)

    @app_commands.command(description="Set the mod-queue channel, thresholds, dry-run and automatic actions")
    @app_commands.describe(
        mod_channel="Where queue entries are posted (moderators only)",
        sexual="Flag sexual abuse at or above this score (0-1)",
        racial="Flag racial abuse at or above this score (0-1)",
        dry_run="Only log what automatic actions would do",
        auto_delete="Delete messages automatically at very high confidence",
        auto_timeout="Time out repeat offenders automatically",
    )
    @require(checks.SETUP)
    async def setup(
        self,
        interaction: discord.Interaction,
        mod_channel: discord.TextChannel | None = None,
        sexual: app_commands.Range[float, 0.0, 1.0] | None = None,
        racial: app_commands.Range[float, 0.0, 1.0] | None = None,
        dry_run: bool | None = None,
        auto_delete: bool | None = None,
        auto_timeout: bool | None = None,
    ) -> None:
        pipeline = _bot(interaction).pipeline
        server = _server(interaction)
        overrides: dict[str, Any] = {}
        if mod_channel is not None:
            overrides["mod_channel"] = str(mod_channel.id)
        thresholds = {k: v for k, v in (("sexual", sexual), ("racial", racial)) if v is not None}
        if thresholds:
            overrides["thresholds"] = thresholds
        for key, value in (("dry_run", dry_run), ("auto_delete", auto_delete), ("auto_timeout", auto_timeout)):
            if value is not None:
                overrides[key] = value
        try:
            s = pipeline.update_server_settings(server, overrides) if overrides else pipeline.server_settings(server)
        except ConfigError as exc:
            await interaction.response.send_message(say(interaction, "dc.not_saved", reason=escape(str(exc))), ephemeral=True)
            return
        log.info("settings of %s changed by %s: %s", server, interaction.user.id, sorted(overrides))
        lang = member_lang(interaction)
        on = {True: i18n.text("tg.on", lang), False: i18n.text("tg.off", lang)}
        lines = [
            i18n.text("dc.setup.saved" if overrides else "dc.setup.current", lang),
            i18n.text("dc.setup.mod_channel", lang, channel=f"<#{s.mod_channel}>" if s.mod_channel else i18n.text("dc.setup.not_set", lang)),
            i18n.text("dc.setup.thresholds", lang, thresholds=", ".join(f"{k} {v:.2f}" for k, v in pipeline.thresholds(server).items())),
            i18n.text("dc.setup.switches", lang, dry_run=on[bool(s.dry_run)], auto_delete=on[bool(s.auto_delete)], auto_timeout=on[bool(s.auto_timeout)]),
        ]
        warning = _cannot_post(interaction, s.mod_channel)
        if warning:
            lines.append(warning)
        await interaction.response.send_message("\n".join(lines), ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(description="Pending queue items, oldest first")
    @require(checks.REVIEW)
    async def queue(self, interaction: discord.Interaction) -> None:
        store = _bot(interaction).pipeline.store
        server = _server(interaction)
        pending = store.pending_count(server)
        lines = [i18n.plural("dc.queue.waiting", pending, member_lang(interaction))]
        for inc in store.incidents(server, limit=5):
            lines.append(f"Incident #{inc.id}: {escape(incidents.summary(inc))}")
        for f in store.queue(server, limit=10):
            where = f"[message]({f.link})" if f.link else escape(f.message_id)
            lines.append(
                f"#{f.id} · {escape(', '.join(f.labels))} · <t:{int(f.created_at.timestamp())}:R> · "
                f"{where} · {f.report_count} report{'s' if f.report_count != 1 else ''}"
            )
        await interaction.response.send_message("\n".join(lines)[:2000], ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(description="Counts of flags, reports, reviews and actions in this server")
    @require(checks.REVIEW)
    async def stats(self, interaction: discord.Interaction) -> None:
        st = _bot(interaction).pipeline.store.stats(_server(interaction))
        lines = stats_text.stats_lines(st, member_lang(interaction)) + [_bot(interaction).pipeline.status()]
        text = "\n".join(escape(line) for line in lines)
        store, lang = _bot(interaction).pipeline.store, member_lang(interaction)
        text += "\n" + "\n".join(escape(line) for line in precision_summary(store, _server(interaction), lang))  # decisions
        await interaction.response.send_message(text[:2000], ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(description="Post the evidence log's current head here, so it is witnessed outside the database")
    @require(checks.REVIEW)
    async def anchor(self, interaction: discord.Interaction) -> None:
        # not ephemeral: a witness needs a message others can see and keep
        text = anchors.anchor_text(_bot(interaction).pipeline.store, _server(interaction), member_lang(interaction))
        await interaction.response.send_message(escape(text)[:2000], allowed_mentions=NO_MENTIONS)

    @app_commands.command(description="Re-check recent messages in a channel")
    @app_commands.describe(channel="Channel to re-check", limit="How many recent messages (max 1000)")
    @require(checks.REVIEW)
    async def scan(self, interaction: discord.Interaction, channel: discord.TextChannel, limit: app_commands.Range[int, 1, 1000] = 100) -> None:

        await interaction.response.defer(ephemeral=True, thinking=True)
        pipeline = _bot(interaction).pipeline
        source = interaction.guild.get_channel(channel.id) if interaction.guild else None
        target = source if isinstance(source, discord.TextChannel) else _bot(interaction).get_partial_messageable(channel.id, guild_id=interaction.guild_id)
        checked = flagged = 0
        last_edit = time.monotonic()
        try:
            async for msg in target.history(limit=limit):
                if msg.author.bot:
                    continue
                if msg.guild is None:  # partial channel: history messages lack the guild
                    msg.guild = interaction.guild
                decision = await pipeline.handle(to_message(msg), source="scan")
                checked += 1
                flagged += bool(decision.flagged)
                if checked % SCAN_PROGRESS_EVERY == 0 or time.monotonic() - last_edit > 2:
                    last_edit = time.monotonic()
                    await interaction.edit_original_response(
                        content=say(interaction, "scan.progress", channel=f"<#{channel.id}>", checked=checked, flagged=flagged)
                    )
        except discord.Forbidden:
            await interaction.edit_original_response(content=say(interaction, "scan.forbidden", channel=f"<#{channel.id}>", checked=checked, flagged=flagged))
            return
        await interaction.edit_original_response(content=say(interaction, "scan.done", channel=f"<#{channel.id}>", checked=checked, flagged=flagged))

    @app_commands.command(description="A member's flags, actions and notes in this server, newest first")
    @app_commands.describe(user="The member (they need not be in the server any more)")
    @require(checks.REVIEW)
    async def member(self, interaction: discord.Interaction, user: discord.User) -> None:
        history = _bot(interaction).pipeline.store.member_history(_server(interaction), str(user.id), limit=HISTORY_LIMIT)
        # moderators' ids ("by 123…") become mentions, which never ping here
        lang = member_lang(interaction)
        text = fit_lines([mention_ids(escape(line)) for line in member_history.lines(history, lang=lang)], 2000, lang)
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(description="Add a moderators' note to a flag, an incident or a member")
    @app_commands.describe(
        target="A flag (12 or #12), an incident (incident 3) or a member (@name or their id)",
        text="The note (moderators see it on the alert, in the member's history and in exports)",
    )
    @require(checks.REVIEW)
    async def note(self, interaction: discord.Interaction, target: app_commands.Range[str, 1, 100], text: app_commands.Range[str, 1, 1000]) -> None:
        subject = note_subject(target)
        if subject is None:
            await interaction.response.send_message(say(interaction, "dc.note.usage"), ephemeral=True)
            return
        kind, subject_id = subject
        try:
            _bot(interaction).pipeline.note(_server(interaction), kind, subject_id, str(interaction.user.id), text)
        except StoreError as exc:
            await interaction.response.send_message(say(interaction, "dc.not_saved", reason=escape(str(exc))), ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        log.info("note on %s %s in %s by %s", kind, subject_id, _server(interaction), interaction.user.id)
        shown = f"<@{subject_id}>" if kind == "member" else f"#{subject_id}"
        await interaction.response.send_message(say(interaction, f"tg.note.added.{kind}", id=shown.lstrip("#")), ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(description="Place, lift or list legal holds that keep a case's content through purges")
    @app_commands.describe(
        action="place (default), release or list",
        target="A flag (12 or #12) or an incident (incident 3)",
        reason="Why, e.g. a police case number (kept in the audit log)",
    )
    @require(checks.REVIEW)
    async def hold(
        self,
        interaction: discord.Interaction,
        action: Literal["place", "release", "list"] = "place",
        target: app_commands.Range[str, 0, 40] = "",
        reason: app_commands.Range[str, 0, 500] = "",
    ) -> None:
        store, server, lang = _bot(interaction).pipeline.store, _server(interaction), member_lang(interaction)
        if action == "list":
            text = fit_lines([escape(line) for line in legal_holds.listing(store, server, lang)], 2000, lang)
        elif (found := legal_holds.subject(target)) is None:
            text = say(interaction, "hold.usage")
        elif action == "release":
            if checks.missing(interaction, checks.EXPORT):  # lifting lets content be erased: administrators only
                text = say(interaction, "hold.release_admin_only")
            else:
                text = legal_holds.release(store, server, found[0], found[1], str(interaction.user.id), lang)
        else:
            text = legal_holds.place(store, server, found[0], found[1], str(interaction.user.id), reason, lang)
        await interaction.response.send_message(escape(text)[:2000] if action != "list" else text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(description="Download this server's records (administrators only)")
    @app_commands.describe(
        format="File format",
        incident="One case: only this incident's flags (its number, as on the alert)",
        member="One case: only flags aimed at this member",
    )
    @require(checks.EXPORT)
    async def export(
        self, interaction: discord.Interaction, format: Literal["csv", "json"] = "csv", incident: int | None = None, member: discord.User | None = None
    ) -> None:
        from bot import chat_export

        store, server = _bot(interaction).pipeline.store, _server(interaction)
        if incident is not None and store.incident_server(incident) != server:
            await interaction.response.send_message(say(interaction, "export.no_incident", id=incident), ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        limit = interaction.filesize_limit  # what Discord announces for this interaction (`attachment_size_limit`)
        target = str(member.id) if member is not None else None
        out = await chat_export.build(store, format, FlagFilter(server=server, incident=incident, target=target), limit)
        log.info(
            "export of %s (%s, %d rows, %d bytes, incident %s, member %s) by %s", server, format, out.rows, out.size, incident, target, interaction.user.id
        )
        if out.too_big:
            text = say(interaction, "export.too_big", rows=out.rows, mb=chat_export.megabytes(out.size), limit=chat_export.megabytes(limit), server=server)
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        files = [discord.File(io.BytesIO(data), filename=name) for name, data in out.files]
        text = say(interaction, "dc.export.sent") + ("\n" + say(interaction, "export.zipped") if out.zipped else "")
        await interaction.followup.send(text, files=files, ephemeral=True)


def note_subject(target: str) -> tuple[str, str] | None:
    """What `/triage note target:` names: ("member", id) for a mention or a user id (15-20 digits),
    ("incident", n) for "incident 3" / "i3", ("flag", n) for "12" / "#12" / "flag 12"; None otherwise."""
    target = target.strip()
    for pattern, kind in ((_MENTION, "member"), (_INCIDENT, "incident")):
        m = pattern.fullmatch(target)
        if m:
            return kind, str(int(m[1])) if kind != "member" else m[1]
    if _SNOWFLAKE.fullmatch(target):
        return "member", target
    m = _FLAG.fullmatch(target)
    return ("flag", str(int(m[1]))) if m else None


def _cannot_post(interaction: discord.Interaction, channel_id: str | None) -> str | None:
    """A warning when the bot visibly lacks what it needs in the mod channel."""
    guild = interaction.guild
    if not channel_id or guild is None or guild.me is None:
        return None
    channel = guild.get_channel(int(channel_id))
    if channel is None:
        return None
    perms = channel.permissions_for(guild.me)
    lacking = [n for n, ok in (("View Channel", perms.view_channel), ("Send Messages", perms.send_messages), ("Embed Links", perms.embed_links)) if not ok]
    return f"\u26a0\ufe0f I lack {', '.join(lacking)} in <#{channel_id}>; queue entries will fail." if lacking else None


@app_commands.command(name="report", description="Privately report a message or a member to the moderators")
@app_commands.describe(
    reason="What is wrong", message_link="Link to the message (Copy Message Link)", member="The member, if you are reporting a person rather than one message"
)
@app_commands.guild_only()
async def report_command(
    interaction: discord.Interaction, reason: app_commands.Range[str, 1, 500], message_link: str | None = None, member: discord.User | None = None
) -> None:

    if not message_link and member is None:
        await interaction.response.send_message(say(interaction, "discord.report.need_target"), ephemeral=True)
        return
    channel_id = message_id = None
    if message_link:
        m = LINK.search(message_link)
        if m is None or int(m[1]) != interaction.guild_id:
            await interaction.response.send_message(say(interaction, "discord.report.bad_link"), ephemeral=True)
            return
        channel_id, message_id = m[2], m[3]
    await interaction.response.defer(ephemeral=True, thinking=True)
    message = None
    if channel_id and message_id:
        try:
            channel = _bot(interaction).get_partial_messageable(int(channel_id), guild_id=interaction.guild_id)
            found = await channel.fetch_message(int(message_id))
            if found.guild is None:
                found.guild = interaction.guild
            message = to_message(found)
        except discord.HTTPException as exc:  # deleted or unreadable: report by id only
            log.info("reported message %s not fetched: %s", message_id, exc)
    outcome = await _bot(interaction).pipeline.report(
        Report(
            platform="discord",
            server_id=str(interaction.guild_id),
            reporter_id=str(interaction.user.id),
            reason=reason,
            message=message,
            target_user_id=str(member.id) if member else None,
            channel_id=channel_id,
            message_id=message_id,
            locale=locale_of(interaction),
        )
    )
    await interaction.followup.send(outcome.message, ephemeral=True)


@app_commands.command(name="protect", description="Privately register an image of you, so re-shares of it are flagged")
@app_commands.describe(image="The image (only a fingerprint is kept; the image itself is not stored or shown to anyone)", note="Optional note for moderators")
@app_commands.guild_only()
async def protect_command(interaction: discord.Interaction, image: discord.Attachment, note: app_commands.Range[str, 0, 200] | None = None) -> None:
    from bot.models import Attachment

    bot = _bot(interaction)
    cap = bot.settings.max_attachment_bytes
    if not (image.content_type or "").startswith("image/"):
        await interaction.response.send_message(say(interaction, "discord.protect.not_image"), ephemeral=True)
        return
    if image.size > cap:
        await interaction.response.send_message(say(interaction, "discord.protect.too_large", mb=cap // (1024 * 1024)), ephemeral=True)
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        data = await bot.adapter.fetch(Attachment(kind="image", url=image.url, size=image.size, mime=image.content_type), cap)
    except Exception as exc:
        log.info("protect: could not download the image in %s: %s", _server(interaction), exc)
        await interaction.followup.send(say(interaction, "discord.protect.download_failed"), ephemeral=True)
        return
    outcome = await bot.pipeline.protect(_server(interaction), data, registered_by=str(interaction.user.id), note=note or "", locale=locale_of(interaction))
    del data
    await interaction.followup.send(outcome.message, ephemeral=True)


@app_commands.guild_only()
async def report_message_menu(interaction: discord.Interaction, message: discord.Message) -> None:
    """Right-click → Apps → Report message: ask for a reason, then report."""

    if message.guild is None:
        message.guild = interaction.guild
    core_message = to_message(message)

    def build(reason: str) -> Report:
        return Report(
            platform="discord",
            server_id=str(interaction.guild_id),
            reporter_id=str(interaction.user.id),
            reason=reason,
            message=core_message,
            channel_id=core_message.channel_id,
            message_id=core_message.message_id,
            locale=locale_of(interaction),
        )

    await interaction.response.send_modal(ReportModal(build, member_lang(interaction)))


def register(bot: Any) -> None:
    bot.tree.add_command(TriageGroup())
    bot.tree.add_command(report_command)
    bot.tree.add_command(protect_command)
    bot.tree.add_command(unprotect_command)
    bot.tree.add_command(app_commands.ContextMenu(name="Report message", callback=report_message_menu))
