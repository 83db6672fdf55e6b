"""The Discord client wiring: gateway events in (via discord_events), actions out (via discord_adapter).

Thin on purpose: thresholds, exemptions, dry-run and auto-actions are decided by the
core policy. Classification runs behind the bounded `Intake`, so a message flood never
blocks the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import sys
from collections import deque
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot import metrics
from bot.config import ConfigError, Settings
from bot.models import Message
from bot.pipeline import Intake, Pipeline
from bot.platforms import discord_commands
from bot.platforms.discord_adapter import NO_MENTIONS, DiscordAdapter
from bot.platforms.discord_catchup import CatchUp, CatchUpLimits, ChannelCursors
from bot.platforms.discord_events import automod_message, preview_update, to_message
from bot.platforms.discord_i18n import CatalogueTranslator
from bot.platforms.discord_incident_views import INCIDENT_ITEMS
from bot.platforms.discord_unprotect import UNPROTECT_ITEMS
from bot.platforms.discord_appeals import APPEAL_ITEMS
from bot.platforms.discord_views import PERSISTENT_ITEMS

log = logging.getLogger(__name__)
# The bot never joins voice: skip discord.py's start-up warnings about PyNaCl and davey.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False


#: How long an AutoMod rule's name is cached (rules are rarely renamed; a trigger fires several events).
RULE_NAME_TTL = 600.0


class TriageBot(commands.Bot):
    """The Discord client: feeds messages to the Intake and exposes the pipeline to commands and buttons."""

    def __init__(
        self,
        pipeline: Pipeline,
        settings: Settings,
        *,
        sync_commands: bool = True,
        force_sync: bool = False,
        catch_up: CatchUpLimits = CatchUpLimits(),
        **options: Any,
    ) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        intents.guilds = True
        intents.auto_moderation_execution = True
        intents.members = False
        options.setdefault("allowed_mentions", NO_MENTIONS)
        options.setdefault("max_ratelimit_timeout", 30.0)  # longer waits come back as retry_after, for the core to schedule
        super().__init__(command_prefix=commands.when_mentioned, intents=intents, help_command=None, **options)
        self.pipeline = pipeline
        self.settings = settings
        self.adapter = DiscordAdapter(self)
        pipeline.adapters["discord"] = self.adapter
        self.cursors = ChannelCursors(pipeline.store, flush_every_s=catch_up.flush_every_s)
        self.intake = Intake(pipeline, maxsize=settings.queue_size, on_done=self.cursors.handled)
        self.catch_up = CatchUp(self, pipeline.store, self.submit, catch_up)
        self.sync_commands = sync_commands
        self.force_sync = force_sync
        self.errors: deque[tuple[str, BaseException]] = deque(maxlen=100)
        self._rule_names: dict[tuple[int, int], tuple[float, asyncio.Future[str | None]]] = {}
        self.tree.on_error = self._on_tree_error  # type: ignore[method-assign]
        discord_commands.register(self)

    def record_error(self, where: str, exc: BaseException) -> None:
        """Every handler failure ends up here: logged, and kept for tests and /triage stats."""
        log.error("error in %s", where, exc_info=exc)
        self.errors.append((where, exc))

    async def setup_hook(self) -> None:
        self.add_dynamic_items(*PERSISTENT_ITEMS, *INCIDENT_ITEMS, *UNPROTECT_ITEMS, *APPEAL_ITEMS)
        self.intake.start()
        self.cursors.start()
        await self.tree.set_translator(CatalogueTranslator())  # Indonesian command descriptions
        if self.sync_commands:
            await self._sync_commands_if_changed()

    async def _sync_commands_if_changed(self) -> None:
        """Register the command set only when it differs from the last registered one (Discord allows 200
        command creations a day); `triagebot run --sync-commands` forces it."""
        key = f"discord:commands:{self.application_id}"
        digest = command_set_hash(self.tree)
        store = self.pipeline.store
        if not self.force_sync and store.get_state(key) == digest:
            log.info("slash commands unchanged since they were last registered; not syncing (--sync-commands forces it)")
            return
        try:
            await self.tree.sync()
        except Exception as exc:  # the bot still flags and runs buttons without fresh commands
            log.warning("could not register slash commands: %s", exc)
            return
        store.set_state(key, digest)

    async def submit(self, message: Message) -> None:
        """Into the Intake, with the channel cursor held below it until it is handled."""
        self.cursors.submitted(message)
        await self.intake.submit(message)

    async def close(self) -> None:
        await self.catch_up.stop()
        await self.adapter.close()  # first: cancels calls sleeping out a rate limit, so the intake can finish
        await self.intake.stop()
        await self.cursors.stop()
        await super().close()

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        exc = sys.exc_info()[1]
        if exc is not None:
            self.record_error(f"event {event_method}", exc)

    async def _on_tree_error(self, interaction: discord.Interaction, error: discord.app_commands.AppCommandError) -> None:
        if isinstance(error, discord.app_commands.CheckFailure):
            text = str(error) or "You do not have permission to use this command."
        else:
            self.record_error(f"command {interaction.command.qualified_name if interaction.command else '?'}", error)
            text = "Something went wrong; it has been logged."
        with contextlib.suppress(discord.HTTPException):
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)

    async def on_ready(self) -> None:
        log.info("discord: logged in as %s in %d servers", self.user, len(self.guilds))
        self.catch_up.start()

    async def on_resumed(self) -> None:
        """A gateway gap: Discord replays missed events on resume, but re-read to be sure (bounded)."""
        self.catch_up.start()

    async def on_message(self, message: discord.Message) -> None:
        if message.guild is None or (self.user is not None and message.author.id == self.user.id):
            return
        self.catch_up.saw_live(message.channel.id, message.id)
        await self.submit(to_message(message))

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """Re-check edited messages, cached or not: a harasser can edit an old message after a restart.

        Without the cached copy the content cannot be compared, so only updates that carry an edit
        time count; link previews arriving later update a message without one."""
        after = payload.message
        if after.guild is None or after.author.bot or (self.user is not None and after.author.id == self.user.id):
            return
        before = payload.cached_message
        if before is not None:
            if before.content == after.content:
                await self._scan_new_previews(before, after)
                return
        elif not payload.data.get("edited_timestamp"):
            await self._scan_new_previews(None, after)
            return
        await self.intake.submit(to_message(after, edited=True))

    async def _scan_new_previews(self, before: discord.Message | None, after: discord.Message) -> None:
        """Link previews arrive in an update after the message: their pictures and videos are scanned then."""
        update = preview_update(before, after)
        if update is not None:
            await self.intake.submit(update)

    async def on_automod_action(self, execution: discord.AutoModAction) -> None:
        message, verdict = automod_message(execution, await self.automod_rule_name(execution.guild_id, execution.rule_id))
        await self.pipeline.handle(message, extra_verdicts=[verdict], source="automod")

    async def automod_rule_name(self, guild_id: int, rule_id: int) -> str | None:
        """The rule's name, cached for RULE_NAME_TTL s and looked up once even when a trigger's
        block/alert/timeout events arrive together. None without Manage Server or on any API
        error: the alert then shows the id."""
        key = (guild_id, rule_id)
        now = asyncio.get_running_loop().time()
        hit = self._rule_names.get(key)
        if hit is None or now - hit[0] >= RULE_NAME_TTL:
            if len(self._rule_names) > 1000:
                self._rule_names.clear()
            hit = (now, asyncio.ensure_future(self._fetch_rule_name(guild_id, rule_id)))
            self._rule_names[key] = hit
        return await asyncio.shield(hit[1])

    async def _fetch_rule_name(self, guild_id: int, rule_id: int) -> str | None:
        try:
            data = await self.http.get_auto_moderation_rule(guild_id, rule_id)
        except (discord.HTTPException, aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            log.info("AutoMod rule %s in %s: name not readable (%s)", rule_id, guild_id, exc)
            return None
        return str(data.get("name") or "")[:100] or None


def command_set_hash(tree: app_commands.CommandTree) -> str:
    """sha256 of the global command payload Discord would receive from `tree.sync()`."""
    payload = sorted((c.to_dict(tree) for c in tree.get_commands()), key=lambda d: (d.get("type", 1), d["name"]))
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def build_bot(pipeline: Pipeline, settings: Settings, **options: Any) -> TriageBot:
    """The configured client; `options` go to discord.py (tests pass a small `guild_ready_timeout`)."""
    return TriageBot(pipeline, settings, **options)


def point_at(settings: Settings) -> None:
    """Send REST and gateway traffic to the configured addresses (a fake server in tests)."""
    if settings.discord.api_base:
        discord.http.Route.BASE = settings.discord.api_base.rstrip("/")
    if settings.discord.gateway:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord.gateway)


async def run(pipeline: Pipeline, settings: Settings, stop: asyncio.Event, force_sync: bool = False) -> None:
    """Connect and serve until `stop` is set, then close the client; login errors propagate."""
    token = settings.discord.token
    if not token:
        raise ConfigError("DISCORD_TOKEN: not set")
    point_at(settings)
    client = build_bot(pipeline, settings, force_sync=force_sync)
    metrics.watch_connection("discord", lambda: client.is_ready() and not client.is_closed())
    metrics.watch_queue("discord", client.intake.queue.qsize)
    async with client:
        runner = asyncio.create_task(client.start(token), name="discord-client")
        stopper = asyncio.create_task(stop.wait(), name="discord-stop")
        try:
            done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        await client.close()
        if runner in done:
            try:
                runner.result()
            except discord.PrivilegedIntentsRequired:
                raise ConfigError(
                    "discord: the Message Content intent is off; turn it on under Bot → Privileged "
                    "Gateway Intents in the Developer Portal (docs/discord.md, step 1)"
                ) from None
            except discord.LoginFailure:
                raise ConfigError("DISCORD_TOKEN: Discord rejected the token (reset it on the Bot page)") from None
        else:
            with contextlib.suppress(asyncio.CancelledError):
                await runner
    metrics.forget("discord")
    log.info("discord client stopped")
