"""Discord adapter: gateway events -> core Messages, core Actions -> Discord API calls.

Thin on purpose: thresholds, exemptions, dry-run and auto-actions are decided by the
core policy; this module only translates and carries out. Classification runs behind
the bounded `Intake`, so a message flood never blocks the gateway.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import sys
from collections import deque
from datetime import timedelta
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot import metrics
from bot.download import download_capped
from bot.config import ConfigError, Settings
from bot.models import Action, ActionResult, Attachment, Message, utcnow
from bot.pipeline import Intake, Pipeline
from bot.platforms import discord_commands
from bot.platforms.discord_render import failure_notice, render_alert
from bot.platforms.discord_views import PERSISTENT_ITEMS, queue_view
from classifiers.base import Verdict

log = logging.getLogger(__name__)
# The bot never joins voice: skip discord.py's start-up warnings about PyNaCl and davey.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False

NO_MENTIONS = discord.AllowedMentions.none()
MAX_TIMEOUT_S = 28 * 86400  # Discord's limit


def _kind(content_type: str | None) -> str:
    major = (content_type or "").split("/", 1)[0]
    return major if major in ("image", "video") else "file"


def to_message(msg: discord.Message, edited: bool = False) -> Message:
    """A guild message as the core sees it: targets are the replied-to author and mentioned members."""
    author_id = str(msg.author.id)
    targets: list[str] = []
    names: dict[str, str] = {}
    resolved = msg.reference.resolved if msg.reference else None
    if isinstance(resolved, discord.Message):
        targets.append(str(resolved.author.id))
        names[str(resolved.author.id)] = resolved.author.display_name
    for user in msg.mentions:
        uid = str(user.id)
        if uid != author_id and uid not in targets:
            targets.append(uid)
            names[uid] = user.display_name
    is_mod = False
    if isinstance(msg.author, discord.Member):
        try:
            is_mod = msg.channel.permissions_for(msg.author).manage_messages  # type: ignore[union-attr]
        except Exception:  # partial channels cannot compute overwrites; fall back to server-wide
            is_mod = msg.author.guild_permissions.manage_messages
    attachments = tuple(
        Attachment(kind=_kind(a.content_type), url=a.url, size=a.size, mime=a.content_type, width=a.width,
                   height=a.height, filename=a.filename, ref=str(a.id))
        for a in msg.attachments)
    return Message(
        platform="discord", server_id=str(msg.guild.id if msg.guild else 0), channel_id=str(msg.channel.id),
        message_id=str(msg.id), author_id=author_id, text=msg.content or "", targets=tuple(targets),
        attachments=attachments, time=msg.created_at, link=msg.jump_url,
        author_name=getattr(msg.author, "display_name", None) or msg.author.name,
        author_is_bot=msg.author.bot, author_is_moderator=is_mod, edited=edited,
        target_names=tuple((t, names[t]) for t in targets if names.get(t)))


class DiscordAdapter:
    """Carries out core Actions with the Discord API; API errors become ActionResults, never exceptions."""

    platform = "discord"

    def __init__(self, client: discord.Client, pipeline: Pipeline) -> None:
        self.client = client
        self.pipeline = pipeline
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def execute(self, action: Action) -> ActionResult:
        handler = {"notify": self._notify, "delete": self._delete, "timeout": self._timeout, "ban": self._ban}.get(action.kind)
        if handler is None:
            return ActionResult(ok=False, detail=f"discord adapter cannot {action.kind}")
        try:
            return await handler(action)
        except discord.NotFound as exc:
            if action.kind == "delete":
                return ActionResult(ok=True, detail="message was already deleted")
            return await self._failed(action, f"404 Not Found: {exc.text or 'unknown target'}")
        except discord.Forbidden as exc:
            return await self._failed(action, f"403 Forbidden: {exc.text or 'missing permissions'}")
        except discord.HTTPException as exc:
            return await self._failed(action, f"{exc.status} {exc.text or 'Discord API error'}")

    async def _failed(self, action: Action, detail: str) -> ActionResult:
        log.warning("discord %s failed in %s (flag %s): %s", action.kind, action.server, action.flag_id, detail)
        if action.kind != "notify":
            await self._post_notice(action, detail)
        return ActionResult(ok=False, detail=detail)

    async def _post_notice(self, action: Action, detail: str) -> None:
        """Tell moderators in the mod channel; best effort, since that may be what is broken."""
        channel = self._mod_channel(action.server)
        if channel is None:
            return
        link = None
        if action.flag_id is not None:
            with contextlib.suppress(Exception):
                link = self.pipeline.store.flag(action.server, action.flag_id).link
        try:
            await channel.send(failure_notice(action.kind, detail, link), allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:
            log.warning("could not post a failure notice in %s: %s", action.server, exc)

    def _mod_channel(self, server: str) -> discord.PartialMessageable | None:
        channel_id = self.pipeline.server_settings(server).mod_channel
        if not channel_id or not channel_id.isdigit():
            return None
        return self.client.get_partial_messageable(int(channel_id), guild_id=_guild_id(server))

    async def _notify(self, action: Action) -> ActionResult:
        """Post the queue entry, or edit it in place when it already exists (the pipeline serialises these)."""
        channel = self._mod_channel(action.server)
        if channel is None:
            log.warning("no mod channel for %s; flag %s stays in the queue", action.server, action.flag_id)
            return ActionResult(ok=False, detail="no mod channel set: run /triage setup mod_channel:#channel")
        alert = action.alert  # always built by the core's delivery worker
        embed, view = render_alert(alert), queue_view(alert.flag.id)
        reporters = alert.reporters
        if reporters:  # moderators may see who reported; the mod channel is theirs alone
            shown = " ".join(f"<@{r}>" if r.isdigit() else "?" for r in reporters[:10])
            embed.add_field(name="Reported by", value=shown + (" …" if len(reporters) > 10 else ""), inline=False)
        if alert.ref and alert.ref.isdigit():
            try:
                await channel.get_partial_message(int(alert.ref)).edit(embed=embed, view=view, allowed_mentions=NO_MENTIONS)
                return ActionResult(ok=True, detail="alert updated", ref=alert.ref)
            except discord.NotFound:
                log.info("alert %s in %s is gone; posting a new one", alert.ref, action.server)
        sent = await channel.send(embed=embed, view=view, allowed_mentions=NO_MENTIONS)
        return ActionResult(ok=True, detail="alert posted", ref=str(sent.id))

    async def _delete(self, action: Action) -> ActionResult:
        if not (action.channel_id or "").isdigit() or not (action.message_id or "").isdigit():
            return ActionResult(ok=False, detail="no Discord message to delete")
        await self.client.http.delete_message(int(action.channel_id), int(action.message_id), reason=_audit(action))
        return ActionResult(ok=True, detail="message deleted")

    async def _timeout(self, action: Action) -> ActionResult:
        if not (action.user_id or "").isdigit():
            return ActionResult(ok=False, detail="no member to time out")
        seconds = min(max(int(action.duration_s or 600), 60), MAX_TIMEOUT_S)
        until = utcnow() + timedelta(seconds=seconds)
        await self.client.http.edit_member(_guild_id(action.server), int(action.user_id), reason=_audit(action),
                                           communication_disabled_until=until.isoformat())
        return ActionResult(ok=True, detail=f"timed out for {seconds} s")

    async def _ban(self, action: Action) -> ActionResult:
        if not (action.user_id or "").isdigit():
            return ActionResult(ok=False, detail="no member to ban")
        await self.client.http.ban(int(action.user_id), _guild_id(action.server), delete_message_seconds=0, reason=_audit(action))
        return ActionResult(ok=True, detail="member banned")

    async def fetch(self, attachment: Attachment, max_bytes: int) -> bytes:
        """Stream the file, stopping as soon as it passes `max_bytes` (declared sizes can lie)."""
        if not attachment.url.startswith(("https://", "http://")):
            raise ValueError(f"refusing to fetch {attachment.url!r}")
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return await download_capped(self._session, attachment.url, max_bytes)


def _guild_id(server: str) -> int:
    return int(server.split(":", 1)[1])


def _audit(action: Action) -> str:
    """The reason shown in Discord's audit log (max 512 characters)."""
    who = "automatic" if action.automatic else f"moderator {action.actor}"
    return f"triagebot ({who}): {action.reason}"[:512]


def automod_message(execution: discord.AutoModAction, rule_name: str | None = None) -> tuple[Message, Verdict]:
    """An AutoMod action event as a core Message plus the verdict that says why.

    One trigger fires one event per configured action (block, alert, timeout); they share
    a content-based id so they collapse into one flag. `rule_name` is the rule's name when the bot
    could read it (needs Manage Server); otherwise the reason shows the rule id.
    """
    content = execution.content or ""
    message_id = execution.message_id
    if message_id is None:
        digest = hashlib.sha256(f"{execution.rule_id}:{execution.user_id}:{content}".encode()).hexdigest()[:16]
        message_id_s = f"automod:{digest}"
    else:
        message_id_s = str(message_id)
    channel_id = str(execution.channel_id or 0)
    link = (f"https://discord.com/channels/{execution.guild_id}/{channel_id}/{message_id}"
            if message_id is not None and execution.channel_id else None)
    message = Message(platform="discord", server_id=str(execution.guild_id), channel_id=channel_id,
                      message_id=message_id_s, author_id=str(execution.user_id), text=content, link=link)
    matched = execution.matched_keyword or execution.matched_content or "?"
    rule = f"'{rule_name}' ({execution.rule_id})" if rule_name else str(execution.rule_id)
    verdict = Verdict(label="automod", score=1.0, reason=f"AutoMod rule {rule} matched '{matched}'",
                      detector="discord_automod")
    return message, verdict


#: How long an AutoMod rule's name is cached (rules are rarely renamed; a trigger fires several events).
RULE_NAME_TTL = 600.0


class TriageBot(commands.Bot):
    """The Discord client: feeds messages to the Intake and exposes the pipeline to commands and buttons."""

    def __init__(self, pipeline: Pipeline, settings: Settings, *, sync_commands: bool = True, force_sync: bool = False,
                 **options: Any) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        intents.guilds = True
        intents.auto_moderation_execution = True
        intents.members = False
        options.setdefault("allowed_mentions", NO_MENTIONS)
        super().__init__(command_prefix=commands.when_mentioned, intents=intents, help_command=None, **options)
        self.pipeline = pipeline
        self.settings = settings
        self.adapter = DiscordAdapter(self, pipeline)
        pipeline.adapters["discord"] = self.adapter
        self.intake = Intake(pipeline, maxsize=settings.queue_size)
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
        self.add_dynamic_items(*PERSISTENT_ITEMS)
        self.intake.start()
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

    async def close(self) -> None:
        await self.intake.stop()
        await self.adapter.close()
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

    async def on_message(self, message: discord.Message) -> None:
        if message.guild is None or (self.user is not None and message.author.id == self.user.id):
            return
        await self.intake.submit(to_message(message))

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
                return
        elif not payload.data.get("edited_timestamp"):
            return
        await self.intake.submit(to_message(after, edited=True))

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
                raise ConfigError("discord: the Message Content intent is off; turn it on under Bot → Privileged "
                                  "Gateway Intents in the Developer Portal (docs/discord.md, step 1)") from None
            except discord.LoginFailure:
                raise ConfigError("DISCORD_TOKEN: Discord rejected the token (reset it on the Bot page)") from None
        else:
            with contextlib.suppress(asyncio.CancelledError):
                await runner
    metrics.forget("discord")
    log.info("discord client stopped")
