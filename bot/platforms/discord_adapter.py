"""Core Actions -> Discord API calls (`DiscordAdapter.execute`).

An action carries everything needed to carry it out (`destination`, `link`, `alert`): nothing
here reads the pipeline, the store or settings. API errors become ActionResults, never
exceptions; a 429 the client will not wait out becomes `retry_after`, a vanished target `gone`.
Calls in flight are cancelled on `close()`, so stopping never waits behind a rate limit.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Awaitable, Callable

import aiohttp
import discord

from bot.download import download_capped
from bot.models import Action, ActionResult, Attachment, utcnow
from bot.platforms.discord_appeals import appeal_embed, notice_message
from bot.platforms.discord_render import escape, failure_notice, render_alert
from bot.platforms.discord_incident_views import alert_view

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
MAX_TIMEOUT_S = 28 * 86400  # Discord's limit
NO_DESTINATION = "no mod channel set: run /triage setup mod_channel:#channel"
DMS_CLOSED = "the member does not accept DMs"
CANNOT_DM = 50007  # Discord's "Cannot send messages to this user"


class DiscordAdapter:
    """Carries out core Actions with the Discord API."""

    platform = "discord"

    def __init__(self, client: discord.Client) -> None:
        self.client = client
        self._session: aiohttp.ClientSession | None = None
        self._inflight: set[asyncio.Task[ActionResult]] = set()
        self._closing = False

    async def close(self) -> None:
        """Cancel calls in flight (they may be sleeping out a rate limit) and close the download session."""
        self._closing = True
        for task in list(self._inflight):
            task.cancel()
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=1.0)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def execute(self, action: Action) -> ActionResult:
        handler: Callable[[Action], Awaitable[ActionResult]] | None = {
            "notify": self._notify,
            "ping": self._ping,
            "notice": self._notice,
            "delete": self._delete,
            "timeout": self._timeout,
            "ban": self._ban,
            "warn": self._warn,
            "untimeout": self._untimeout,
            "unban": self._unban,
            "appeal_notice": self._member_message,
            "appeal_outcome": self._member_message,
            "appeal_alert": self._appeal_alert,
        }.get(action.kind)
        if handler is None:
            return ActionResult(ok=False, detail=f"discord adapter cannot {action.kind}")
        if self._closing:
            return ActionResult(ok=False, detail="the Discord client is stopping")
        task = asyncio.ensure_future(self._guarded(handler, action))
        self._inflight.add(task)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.cancel()
            if self._closing:  # cancelled by close(), not by our caller
                return ActionResult(ok=False, detail="the Discord client is stopping")
            raise
        finally:
            self._inflight.discard(task)

    async def _guarded(self, handler: Callable[[Action], Awaitable[ActionResult]], action: Action) -> ActionResult:
        try:
            return await handler(action)
        except discord.RateLimited as exc:
            log.info("discord %s in %s: rate limited for %.1f s", action.kind, action.server, exc.retry_after)
            return ActionResult(ok=False, detail=f"429 rate limited for {exc.retry_after:.1f} s", retry_after=exc.retry_after)
        except discord.NotFound as exc:
            if action.kind == "delete":
                return ActionResult(ok=True, detail="message was already deleted", gone=True)
            return await self._failed(action, f"404 Not Found: {exc.text or 'unknown target'}", gone=action.kind != "notify")
        except discord.Forbidden as exc:
            return await self._failed(action, f"403 Forbidden: {exc.text or 'missing permissions'}")
        except discord.HTTPException as exc:
            retry = _retry_after(exc)
            return await self._failed(action, f"{exc.status} {exc.text or 'Discord API error'}", retry_after=retry)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            return await self._failed(action, f"Discord unreachable: {type(exc).__name__}")

    async def _failed(self, action: Action, detail: str, *, gone: bool = False, retry_after: float | None = None) -> ActionResult:
        log.warning("discord %s failed in %s (flag %s): %s", action.kind, action.server, action.flag_id, detail)
        if action.kind not in ("notify", "appeal_alert", "notice"):  # those are in the mod channel: nowhere else to say it
            await self._post_notice(action, detail)
        return ActionResult(ok=False, detail=detail, gone=gone, retry_after=retry_after)

    async def _post_notice(self, action: Action, detail: str) -> None:
        """Tell moderators in the mod channel; best effort, since that may be what is broken."""
        channel = self._destination(action)
        if channel is None:
            return
        try:
            await channel.send(failure_notice(action.kind, detail, action.link, action.language), allowed_mentions=NO_MENTIONS)
        except (discord.HTTPException, discord.RateLimited) as exc:
            log.warning("could not post a failure notice in %s: %s", action.server, exc)

    def _destination(self, action: Action) -> discord.PartialMessageable | None:
        channel_id = action.destination
        if not channel_id or not channel_id.isdigit():
            return None
        return self.client.get_partial_messageable(int(channel_id), guild_id=_guild_id(action.server))

    async def _notify(self, action: Action) -> ActionResult:
        """Post the queue entry, or edit it in place when it already exists (404 on the edit: post anew)."""
        channel = self._destination(action)
        if channel is None:
            log.warning("no mod channel for %s; flag %s stays in the queue", action.server, action.flag_id)
            return ActionResult(ok=False, detail=NO_DESTINATION)
        alert = action.alert
        if alert is None:
            return ActionResult(ok=False, detail="notify without an alert")
        embed, view = render_alert(alert), alert_view(alert)
        reporters = alert.reporters
        if reporters:  # moderators may see who reported; the mod channel is theirs alone
            shown = " ".join(f"<@{r}>" if r.isdigit() else "?" for r in reporters[:10])
            embed.add_field(name="Reported by", value=shown + (" …" if len(reporters) > 10 else ""), inline=False)
        ref = action.ref or alert.ref
        if ref and ref.isdigit():
            try:
                await channel.get_partial_message(int(ref)).edit(embed=embed, view=view, allowed_mentions=NO_MENTIONS)
                return ActionResult(ok=True, detail="alert updated", ref=ref)
            except discord.NotFound as exc:
                if exc.code == 10003:  # the channel itself is gone, not just the alert message
                    raise
                log.info("alert %s in %s is gone; posting a new one", ref, action.server)
        sent = await channel.send(embed=embed, view=view, allowed_mentions=NO_MENTIONS)
        return ActionResult(ok=True, detail="alert posted", ref=str(sent.id))

    async def _ping(self, action: Action) -> ActionResult:
        """A separate short message mentioning the escalation roles (an edited alert notifies nobody).

        Only the configured roles may be mentioned; everything else in it is escaped."""
        channel = self._destination(action)
        if channel is None:
            return ActionResult(ok=False, detail=NO_DESTINATION)
        roles = [r for r in action.mentions if r.isdigit()]
        if not roles:
            return ActionResult(ok=True, detail="no escalation roles to mention")
        alert = action.alert
        what = escape(alert.title) if alert is not None else "An incident escalated"
        ref = (action.ref or (alert.ref if alert is not None else None)) or ""
        where = f"\nhttps://discord.com/channels/{_guild_id(action.server)}/{action.destination}/{ref}" if ref.isdigit() else ""
        content = f"{' '.join(f'<@&{r}>' for r in roles)} {what}{where}"[:2000]
        sent = await channel.send(
            content, allowed_mentions=discord.AllowedMentions(everyone=False, users=False, replied_user=False, roles=[discord.Object(int(r)) for r in roles])
        )
        return ActionResult(ok=True, detail="escalation ping posted", ref=str(sent.id))

    async def _notice(self, action: Action) -> ActionResult:
        """The bot's own plain text (a daily evidence anchor) in the mod channel; markdown escaped, no mentions."""
        channel = self._destination(action)
        if channel is None:
            return ActionResult(ok=False, detail=NO_DESTINATION)
        sent = await channel.send(escape(action.text)[:2000], allowed_mentions=NO_MENTIONS)
        return ActionResult(ok=True, detail="notice posted", ref=str(sent.id))

    async def _delete(self, action: Action) -> ActionResult:
        channel_id, message_id = action.channel_id or "", action.message_id or ""
        if not channel_id.isdigit() or not message_id.isdigit():
            return ActionResult(ok=False, detail="no Discord message to delete")
        await self.client.http.delete_message(int(channel_id), int(message_id), reason=_audit(action))
        return ActionResult(ok=True, detail="message deleted")

    async def _timeout(self, action: Action) -> ActionResult:
        user_id = action.user_id or ""
        if not user_id.isdigit():
            return ActionResult(ok=False, detail="no member to time out")
        seconds = min(max(int(action.duration_s or 600), 60), MAX_TIMEOUT_S)
        until = utcnow() + timedelta(seconds=seconds)
        await self.client.http.edit_member(_guild_id(action.server), int(user_id), reason=_audit(action), communication_disabled_until=until.isoformat())
        return ActionResult(ok=True, detail=f"timed out for {seconds} s")

    async def _ban(self, action: Action) -> ActionResult:
        user_id = action.user_id or ""
        if not user_id.isdigit():
            return ActionResult(ok=False, detail="no member to ban")
        await self.client.http.ban(int(user_id), _guild_id(action.server), delete_message_seconds=0, reason=_audit(action))
        return ActionResult(ok=True, detail="member banned")

    async def _warn(self, action: Action) -> ActionResult:
        """DM the member the warning the core wrote (`reason`), naming the server and linking the message.

        Mentions are off: the text is the server's template or a moderator's words. A member who does not
        accept DMs (403, code 50007) is an ordinary outcome the alert shows, not a permission problem."""
        user_id = action.user_id or ""
        if not user_id.isdigit():
            return ActionResult(ok=False, detail="no member to warn")
        body = warning_text(action, self._guild_name(action.server))
        try:
            dm = await self.client.http.start_private_message(int(user_id))
            channel = self.client.get_partial_messageable(int(dm["id"]), type=discord.ChannelType.private)
            await channel.send(body, allowed_mentions=NO_MENTIONS)
        except discord.Forbidden as exc:
            if exc.code == CANNOT_DM:
                log.info("warn in %s: member %s does not accept DMs (%s)", action.server, action.user_id, exc.code)
                return ActionResult(ok=False, detail=DMS_CLOSED)
            raise
        return ActionResult(ok=True, detail="warning sent by DM")

    # ---- appeals (bot/appeals.py, rendered by discord_appeals) -----------------------------------
    async def _member_message(self, action: Action) -> ActionResult:
        """DM the member the core's notice (with the persistent Appeal button) or an appeal's outcome.

        Closed DMs (403, code 50007) are an ordinary outcome, recorded on the action, with no notice to moderators."""
        notice, user = action.appeal, action.user_id or ""
        if notice is None or not user.isdigit():
            return ActionResult(ok=False, detail="no member or no text to send")
        content, view = notice_message(notice, self._guild_name(action.server), with_button=action.kind == "appeal_notice")
        try:
            dm = await self.client.http.start_private_message(int(user))
            channel = self.client.get_partial_messageable(int(dm["id"]), type=discord.ChannelType.private)
            if view is not None:
                await channel.send(content, view=view, allowed_mentions=NO_MENTIONS)
            else:
                await channel.send(content, allowed_mentions=NO_MENTIONS)
        except discord.Forbidden as exc:
            if exc.code == CANNOT_DM:
                log.info("%s in %s: member %s does not accept DMs", action.kind, action.server, action.user_id)
                return ActionResult(ok=False, detail=DMS_CLOSED)
            raise
        return ActionResult(ok=True, detail="sent by DM")

    async def _appeal_alert(self, action: Action) -> ActionResult:
        """Post an appeal in the mod channel, or edit it in place (404 on the edit: post anew)."""
        channel = self._destination(action)
        if channel is None:
            return ActionResult(ok=False, detail=NO_DESTINATION)
        if action.appeal is None:
            return ActionResult(ok=False, detail="appeal alert without content")
        embed, view = appeal_embed(action.appeal)
        if view is None:  # (appeal_embed always gives one; an empty view removes the buttons)
            view = discord.ui.View(timeout=None)
        ref = action.ref or ""
        if ref.isdigit():
            try:
                await channel.get_partial_message(int(ref)).edit(embed=embed, view=view, allowed_mentions=NO_MENTIONS)
                return ActionResult(ok=True, detail="appeal updated", ref=ref)
            except discord.NotFound as exc:
                if exc.code == 10003:
                    raise
        sent = await channel.send(embed=embed, view=view, allowed_mentions=NO_MENTIONS)
        return ActionResult(ok=True, detail="appeal posted", ref=str(sent.id))

    async def _untimeout(self, action: Action) -> ActionResult:
        user = action.user_id or ""
        if not user.isdigit():
            return ActionResult(ok=False, detail="no member to lift the timeout of")
        try:
            await self.client.http.edit_member(_guild_id(action.server), int(user), reason=_audit(action), communication_disabled_until=None)
        except discord.NotFound:
            return ActionResult(ok=True, detail="the member has left the server", gone=True)
        return ActionResult(ok=True, detail="timeout lifted")

    async def _unban(self, action: Action) -> ActionResult:
        user = action.user_id or ""
        if not user.isdigit():
            return ActionResult(ok=False, detail="no member to unban")
        try:
            await self.client.http.unban(int(user), _guild_id(action.server), reason=_audit(action))
        except discord.NotFound:  # 10026 Unknown Ban: already lifted by hand
            return ActionResult(ok=True, detail="was not banned any more", gone=True)
        return ActionResult(ok=True, detail="ban lifted")

    def _guild_name(self, server: str) -> str | None:
        guild = self.client.get_guild(_guild_id(server))
        return guild.name if guild is not None else None

    async def fetch(self, attachment: Attachment, max_bytes: int) -> bytes:
        """Stream the file, stopping as soon as it passes `max_bytes` (declared sizes can lie)."""
        if not attachment.url.startswith(("https://", "http://")):
            raise ValueError(f"refusing to fetch {attachment.url!r}")
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return await download_capped(self._session, attachment.url, max_bytes)


def warning_text(action: Action, guild_name: str | None) -> str:
    """The DM: the warning itself, then where it comes from (server name, message link), within 2000 characters."""
    where = [f"— {escape(guild_name)}" if guild_name else "", action.link or ""]
    tail = "\n".join(x for x in where if x)
    body = action.reason.strip() or "A moderator warned you about a message you posted."
    room = 2000 - len(tail) - 2
    if len(body) > room:
        body = body[: room - 1] + "…"
    return f"{body}\n\n{tail}" if tail else body


def _guild_id(server: str) -> int:
    return int(server.split(":", 1)[1])


def _audit(action: Action) -> str:
    """The reason shown in Discord's audit log (max 512 characters)."""
    who = "automatic" if action.automatic else f"moderator {action.actor}"
    return f"triagebot ({who}): {action.reason}"[:512]


def _retry_after(exc: discord.HTTPException) -> float | None:
    """A 429 discord.py did not wait out itself (e.g. no bucket headers): how long Discord asked for."""
    if exc.status != 429:
        return None
    header = exc.response.headers.get("Retry-After") if exc.response is not None else None
    try:
        return float(header) if header else 5.0
    except ValueError:
        return 5.0
