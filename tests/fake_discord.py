"""A fake Discord (gateway websocket + REST) on 127.0.0.1 so the real discord.py client runs in tests.

It knows one guild with a few members and channels, records every REST call, serves
attachment bytes, and lets a test dispatch gateway events (messages, interactions,
AutoMod actions). Pitfalls it respects (measured on discord.py 2.7): JSON is served as
exactly `application/json`; unknown routes answer 404 (5xx would be retried with sleeps);
interaction payloads carry `attachment_size_limit`; members carry `flags`; the guild's
`member_count` equals the members sent.

Discord's limits, when switched on (`limit_messages()`): message create and edit share one bucket
per channel (5 per 5 s), answered with a 429 as Discord sends it (`retry_after` JSON, `Via` and
`X-RateLimit-*` headers incl. `X-RateLimit-Bucket`); successful calls carry the bucket headers too,
so discord.py waits pre-emptively as it does against the real API. `channel_status()` makes one
channel answer 403/404, `outage()` answers 5xx for a while. Uploads larger than `upload_limit` (what
interactions announce as `attachment_size_limit`) get 413, code 40005.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import discord
from aiohttp import web

log = logging.getLogger(__name__)

APP_ID = 900
GUILD = 100
GUILD2, GENERAL2, MODQ2 = 110, 210, 211  # a second server, when FakeDiscord(guilds=2)
GENERAL, MODQ, OTHER = 200, 201, 202
ALICE, BOB, CAROL, MALLORY, DAVE = 301, 302, 303, 304, 305  # member, moderator, admin (owner), abuser, member
ERIN, FRANK = 306, 307  # a senior member above the moderators; a member whose role is above the bot's
ROLE_MOD, ROLE_ADMIN, ROLE_BOT, ROLE_SENIOR, ROLE_HIGH = 400, 401, 402, 403, 404

P = discord.Permissions
EVERYONE_PERMS = P(view_channel=True, send_messages=True, read_message_history=True, use_application_commands=True)
ROLE_PERMS = {
    GUILD: EVERYONE_PERMS,
    ROLE_MOD: P(manage_messages=True, moderate_members=True, ban_members=True),
    ROLE_ADMIN: P(administrator=True),
    ROLE_BOT: P(
        view_channel=True,
        send_messages=True,
        embed_links=True,
        attach_files=True,
        read_message_history=True,
        manage_messages=True,
        moderate_members=True,
        ban_members=True,
    ),
    ROLE_SENIOR: P(),
    ROLE_HIGH: P(),
}
#: Role order (higher is above): moderators < senior members < the bot < high < admins.
ROLE_POSITIONS = {GUILD: 0, ROLE_MOD: 1, ROLE_SENIOR: 2, ROLE_BOT: 3, ROLE_HIGH: 4, ROLE_ADMIN: 5}
USERS = {
    APP_ID: ("triagebot", True, [ROLE_BOT]),
    ALICE: ("alice", False, []),
    BOB: ("bob_mod", False, [ROLE_MOD]),
    CAROL: ("carol_admin", False, [ROLE_ADMIN]),
    MALLORY: ("mallory", False, []),
    DAVE: ("dave", False, []),
    ERIN: ("erin_senior", False, [ROLE_SENIOR]),
    FRANK: ("frank_high", False, [ROLE_HIGH]),
}


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def _known(uid: int) -> tuple[str, bool, list[int]]:
    """Named test users, or a plain member `user<id>` (pile-on accounts) with no roles."""
    return USERS.get(uid, (f"user{uid}", False, []))


def user(uid: int) -> dict:
    name, is_bot, _ = _known(uid)
    return {"id": str(uid), "username": name, "global_name": name, "discriminator": "0", "avatar": None, "bot": is_bot, "public_flags": 0, "flags": 0}


def member(uid: int, with_user: bool = True) -> dict:
    d = {
        "roles": [str(r) for r in _known(uid)[2]],
        "joined_at": "2025-01-01T00:00:00+00:00",
        "deaf": False,
        "mute": False,
        "flags": 0,
        "nick": None,
        "avatar": None,
        "pending": False,
        "premium_since": None,
        "communication_disabled_until": None,
    }
    if with_user:
        d["user"] = user(uid)
    return d


def permissions_of(uid: int) -> discord.Permissions:
    value = ROLE_PERMS[GUILD].value
    for r in _known(uid)[2]:
        value |= ROLE_PERMS[r].value
    perms = P(value)
    return P.all() if perms.administrator else perms


def channel(cid: int, name: str) -> dict:
    return {
        "id": str(cid),
        "type": 0,
        "name": name,
        "position": cid % 10,
        "guild_id": str(CHANNEL_GUILD[cid]),
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
    }


CHANNELS = {GENERAL: "general", MODQ: "mod-queue", OTHER: "random", GENERAL2: "lobby", MODQ2: "mods"}
CHANNEL_GUILD = {GENERAL: GUILD, MODQ: GUILD, OTHER: GUILD, GENERAL2: GUILD2, MODQ2: GUILD2}


def role(rid: int, name: str, permissions: int, position: int) -> dict:
    """A role payload as Discord sends it."""
    return {
        "id": str(rid),
        "name": name,
        "permissions": str(permissions),
        "position": position,
        "color": 0,
        "colors": {"primary_color": 0},
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "flags": 0,
        "icon": None,
        "unicode_emoji": None,
    }


def roles(gid: int = GUILD) -> list[dict]:
    if gid != GUILD:  # the second server: just @everyone (the fake does not check the bot's rights)
        return [role(gid, "@everyone", EVERYONE_PERMS.value, 0)]
    return [role(rid, "@everyone" if rid == GUILD else f"role{rid}", p.value, ROLE_POSITIONS[rid]) for rid, p in ROLE_PERMS.items()]


def guild(gid: int = GUILD) -> dict:
    members = [member(uid) for uid in USERS] if gid == GUILD else [{**member(APP_ID), "roles": []}, member(MALLORY)]
    return {
        "id": str(gid),
        "name": "Creator community" if gid == GUILD else "Second server",
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "owner_id": str(CAROL),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": roles(gid),
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "max_members": 1000,
        "vanity_url_code": None,
        "description": None,
        "banner": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": None,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
        "unavailable": False,
        "large": False,
        "joined_at": now_iso(),
        "member_count": len(members),
        "members": members,
        "channels": [channel(c, n) for c, n in CHANNELS.items() if CHANNEL_GUILD[c] == gid],
        "threads": [],
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    json: Any = None
    files: dict[str, bytes] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200


def _json(data: Any, status: int = 200) -> web.Response:
    # exactly application/json: discord.py does not parse JSON served with a charset suffix
    return web.Response(status=status, body=json.dumps(data).encode(), headers={"Content-Type": "application/json"})


class FakeDiscord:
    def __init__(self, guilds: int = 1) -> None:
        self.guild_ids = (GUILD, GUILD2)[:guilds]
        self.calls: list[Call] = []
        self.messages: dict[int, dict] = {}  # every message either side sent, by id
        self.attachments: dict[int, bytes] = {}
        self.served: list[int] = []  # attachment/media ids downloaded, in order
        self.stickers: dict[int, bytes] = {}
        self.failures: list[tuple[str, re.Pattern[str], int, str]] = []
        self.sockets: list[web.WebSocketResponse] = []
        self.identified = asyncio.Event()
        self._ids = itertools.count(10_000)
        self._seq = itertools.count(1)
        self.port = 0
        self._runner: web.AppRunner | None = None
        self.commands: list[dict] = []
        self.automod_rules: dict[int, str] = {}  # rule id -> name, for GET .../auto-moderation/rules/{id}
        self.identify_close_code: int | None = None  # e.g. 4014: privileged intent not enabled
        self.accepted_token: str | None = None  # set: REST calls with another bot token get 401, as Discord does
        self.message_limit: tuple[int, float] | None = None  # (count, seconds) per channel, off by default
        self._windows: dict[int, tuple[float, int]] = {}  # channel -> (window start, requests in it)
        self.rate_limited: list[Call] = []  # every 429 the fake answered
        self.channel_errors: dict[int, int] = {}  # channel -> 403 or 404 for every call about it
        self.outage_until = 0.0  # monotonic time until which matching calls answer `outage_status`
        self.outage_status = 503
        self.outage_pattern = re.compile(r"^/channels/")
        self.extra_members: dict[int, dict] = {}  # uid -> member payload served by GET .../members/{uid}
        self.pile_on_accounts: set[int] = set()  # extra plain members (see `_known`), served like the named ones
        self.dm_channels: dict[int, int] = {}  # user id -> DM channel id, opened by POST /users/@me/channels
        self.closed_dms: set[int] = set()  # users who do not accept DMs from server members (403, code 50007)
        self.bans: set[int] = set()  # banned user ids: PUT .../bans/{u} adds, DELETE removes (404 / 10026 if not banned)
        self.timeouts: dict[int, str | None] = {}  # uid -> communication_disabled_until as last PATCHed (None: lifted)
        self.upload_limit = 25 * 1024 * 1024  # bytes of files per request; sent as `attachment_size_limit`, larger uploads get 413

    # ---- lifecycle -------------------------------------------------------------------
    async def start(self) -> "FakeDiscord":
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{id}/{name}", self._attachment)
        app.router.add_get("/stickers/{id}.{ext}", self._sticker)  # tests point discord.Asset.BASE here
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        for ws in self.sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def new_id(self) -> int:
        return next(self._ids)

    def fail(self, method: str, path_regex: str, status: int = 403, message: str = "Missing Permissions") -> None:
        """Make matching REST calls fail (e.g. 403 on delete) from now on."""
        self.failures.append((method, re.compile(path_regex), status, message))

    def limit_messages(self, count: int = 5, per: float = 5.0) -> None:
        """Enforce Discord's per-channel limit on message create/edit from now on."""
        self.message_limit = (count, per)

    def channel_status(self, channel_id: int, status: int | None) -> None:
        """Every call about `channel_id` answers `status` (403 lost access, 404 channel deleted); None heals it."""
        if status is None:
            self.channel_errors.pop(channel_id, None)
        else:
            self.channel_errors[channel_id] = status

    def refuse_dms(self, user_id: int) -> None:
        """`user_id` has DMs from server members switched off: sending to their DM channel answers 403 / 50007."""
        self.closed_dms.add(user_id)

    def dms_to(self, user_id: int) -> list[Call]:
        """Messages the bot sent into `user_id`'s DM channel (refused ones included, with their status)."""
        cid = self.dm_channels.get(user_id)
        return [] if cid is None else self.find("POST", rf"^/channels/{cid}/messages$")

    def outage(self, seconds: float, status: int = 503, path_regex: str = r"^/channels/") -> None:
        """Answer `status` to matching calls for the next `seconds` (Discord having a bad minute)."""
        self.outage_until = time.monotonic() + seconds
        self.outage_status = status
        self.outage_pattern = re.compile(path_regex)

    # ---- gateway ---------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None}))
        async for msg in ws:
            data = json.loads(msg.data)
            op = data.get("op")
            if op == 1:
                await ws.send_str(json.dumps({"op": 11, "d": None}))
            elif op == 2 and self.identify_close_code is not None:
                await ws.close(code=self.identify_close_code)
            elif op == 2:
                ready = {
                    "v": 10,
                    "user": user(APP_ID),
                    "guilds": [{"id": str(g), "unavailable": True} for g in self.guild_ids],
                    "session_id": "fake-session",
                    "resume_gateway_url": self.gateway,
                    "shard": [0, 1],
                    "application": {"id": str(APP_ID), "flags": 0},
                    "private_channels": [],
                    "relationships": [],
                }
                await self._send(ws, "READY", ready)
                for g in self.guild_ids:
                    await self._send(ws, "GUILD_CREATE", guild(g))
                self.identified.set()
        return ws

    async def _send(self, ws: web.WebSocketResponse, event: str, data: dict) -> None:
        await ws.send_str(json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": data}))

    async def dispatch(self, event: str, data: dict) -> None:
        """Send an event to the newest connected client."""
        live = [ws for ws in self.sockets if not ws.closed]
        assert live, "no client connected"
        await self._send(live[-1], event, data)

    # ---- events a test sends ---------------------------------------------------------
    def _attachment_dicts(self, attachments: tuple[tuple[str, str, bytes], ...]) -> list[dict]:
        atts = []
        for filename, ctype, data in attachments:
            aid = self.new_id()
            self.attachments[aid] = data
            url = f"http://127.0.0.1:{self.port}/attachments/{aid}/{filename}"
            atts.append(
                {
                    "id": str(aid),
                    "filename": filename,
                    "size": len(data),
                    "url": url,
                    "proxy_url": url,
                    "content_type": ctype or None,
                    "width": 64,
                    "height": 48,
                }
            )
        return atts

    def serve(self, filename: str, data: bytes) -> str:
        """Serve bytes at a media-proxy-like URL (what Discord puts in an embed's `proxy_url`)."""
        aid = self.new_id()
        self.attachments[aid] = data
        return f"http://127.0.0.1:{self.port}/attachments/{aid}/{filename}"

    def link_embed(self, kind: str, data: bytes, filename: str = "x.png", origin: str = "https://example.org/x") -> dict:
        """A link preview as Discord sends it: `image` (a picture link: thumbnail only), `gifv` (a GIF
        site: MP4 video + thumbnail), `article` (a page with a large image). The original URLs point
        at the outside world; only `proxy_url`s are served by the fake."""
        media = {"url": origin + "/" + filename, "proxy_url": self.serve(filename, data), "width": 64, "height": 48}
        if kind == "image":
            return {"type": "image", "url": origin, "thumbnail": media}
        if kind == "gifv":
            return {"type": "gifv", "url": origin, "video": media, "thumbnail": {**media, "proxy_url": self.serve("still.png", b"SAFE thumbnail")}}
        return {"type": "article", "url": origin, "title": "an article", "image": media}

    def message_payload(
        self,
        author: int,
        content: str,
        channel_id: int = GENERAL,
        mentions: tuple[int, ...] = (),
        reply_to: int | None = None,
        attachments: tuple[tuple[str, str, bytes], ...] = (),
        embeds: tuple[dict, ...] = (),
        forwarded: dict | None = None,
        stickers: tuple[dict, ...] = (),
    ) -> dict:
        """`forwarded`: {"content", "attachments": ((name, type, bytes), ...), "embeds": (...)} of a
        forwarded message, sent as Discord does (a message reference of type 1 plus a snapshot)."""
        mid = self.new_id()
        atts = self._attachment_dicts(attachments)
        payload = {
            "id": str(mid),
            "channel_id": str(channel_id),
            "guild_id": str(CHANNEL_GUILD[channel_id]),
            "author": user(author),
            "member": member(author, with_user=False),
            "content": content,
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [{**user(u), "member": member(u, with_user=False)} for u in mentions],
            "mention_roles": [],
            "attachments": atts,
            "embeds": list(embeds),
            "pinned": False,
            "type": 0,
            "flags": 0,
            "components": [],
            "sticker_items": list(stickers),
        }
        if forwarded is not None:
            payload["flags"] = 1 << 14  # HAS_SNAPSHOT
            payload["message_reference"] = {"type": 1, "message_id": str(self.new_id()), "channel_id": str(OTHER), "guild_id": str(GUILD)}
            payload["message_snapshots"] = [
                {
                    "message": {
                        "type": 0,
                        "content": forwarded.get("content", ""),
                        "embeds": list(forwarded.get("embeds", ())),
                        "attachments": self._attachment_dicts(tuple(forwarded.get("attachments", ()))),
                        "timestamp": now_iso(),
                        "edited_timestamp": None,
                        "flags": 0,
                        "mentions": [],
                        "mention_roles": [],
                        "components": [],
                    }
                }
            ]
        if reply_to is not None:
            payload["type"] = 19
            payload["message_reference"] = {"message_id": str(reply_to), "channel_id": str(channel_id), "guild_id": str(GUILD)}
            payload["referenced_message"] = self.messages.get(reply_to)
        self.messages[mid] = payload
        return payload

    def upload(self, filename: str, content_type: str, data: bytes) -> dict:
        """An attachment as a slash command option's resolved data; its bytes are served."""
        aid = self.new_id()
        self.attachments[aid] = data
        url = f"http://127.0.0.1:{self.port}/attachments/{aid}/{filename}"
        return {
            "id": str(aid),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
            "width": 64,
            "height": 48,
            "ephemeral": True,
        }

    async def send_message(self, author: int, content: str, **kw: Any) -> dict:
        payload = self.message_payload(author, content, **kw)
        await self.dispatch("MESSAGE_CREATE", payload)
        return payload

    async def add_embeds(self, payload: dict, embeds: tuple[dict, ...]) -> dict:
        """Discord fetched the message's links: a MESSAGE_UPDATE with the previews and no edit time."""
        updated = dict(payload, embeds=list(payload["embeds"]) + list(embeds))
        self.messages[int(payload["id"])] = updated
        await self.dispatch("MESSAGE_UPDATE", updated)
        return updated

    async def interact(self, kind: int, data: dict, who: int, channel_id: int = GENERAL, message: dict | None = None, locale: str = "en-US") -> dict:
        """Dispatch INTERACTION_CREATE (2 command, 3 component, 5 modal submit); returns the payload.

        In a DM channel (one the bot opened with `who`) it is what Discord sends there: no guild, no member,
        the `user` object instead, and context 1 (the bot's DM)."""
        iid = self.new_id()
        dm = channel_id in self.dm_channels.values()
        payload = {
            "id": str(iid),
            "application_id": str(APP_ID),
            "type": kind,
            "data": data,
            "guild_id": str(GUILD),
            "channel_id": str(channel_id),
            "channel": None if dm else channel(channel_id, CHANNELS[channel_id]),
            "member": {**member(who), "permissions": str(permissions_of(who).value)},
            "token": f"tok{iid}",
            "version": 1,
            "app_permissions": str(permissions_of(APP_ID).value),
            "locale": locale,
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(GUILD)},
            "context": 0,
            "attachment_size_limit": self.upload_limit,
        }
        if dm:
            for key in ("guild_id", "member", "guild_locale"):
                del payload[key]
            payload.update(
                user=user(who),
                context=1,
                authorizing_integration_owners={"0": str(GUILD)},
                channel={"id": str(channel_id), "type": 1, "last_message_id": None, "flags": 0, "recipients": [user(who)]},
                app_permissions=str(discord.Permissions(send_messages=True, embed_links=True, attach_files=True, read_message_history=True).value),
            )
        if message is not None:
            payload["message"] = message
        await self.dispatch("INTERACTION_CREATE", payload)
        return payload

    async def slash(
        self, who: int, name: str, sub: str | None = None, options: dict[str, Any] | None = None, resolved: dict | None = None, locale: str = "en-US"
    ) -> dict:
        opts = [_option(k, v) for k, v in (options or {}).items()]
        if sub is not None:
            opts = [{"name": sub, "type": 1, "options": opts}]
        data = {"id": str(self.new_id()), "name": name, "type": 1, "options": opts}
        if resolved:
            data["resolved"] = resolved
        return await self.interact(2, data, who, locale=locale)

    async def context_menu(self, who: int, message_id: int, locale: str = "en-US") -> dict:
        data = {
            "id": str(self.new_id()),
            "name": "Report message",
            "type": 3,
            "target_id": str(message_id),
            "resolved": {"messages": {str(message_id): self.messages[message_id]}},
        }
        return await self.interact(2, data, who, locale=locale)

    async def click(self, who: int, message_id: int, custom_id: str, values: list[str] | None = None, locale: str = "en-US") -> dict:
        msg = self.messages[message_id]
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": 3 if values is not None else 2}
        if values is not None:
            data["values"] = values
        return await self.interact(3, data, who, channel_id=int(msg["channel_id"]), message=msg, locale=locale)

    async def submit_modal(self, who: int, modal: dict, values: dict[str, str] | str, locale: str = "en-US", channel_id: int = GENERAL) -> dict:
        """Submit a modal the bot opened (`modal` = the callback's data); a str fills every text input.
        `channel_id` is where it was opened (a DM channel for a modal opened from a DM)."""
        rows = []
        for comp in _walk(modal.get("components", [])):
            if comp.get("type") == 4:
                value = values if isinstance(values, str) else values.get(comp["custom_id"], "")
                rows.append({"type": 1, "components": [{"type": 4, "custom_id": comp["custom_id"], "value": value}]})
        return await self.interact(5, {"custom_id": modal["custom_id"], "components": rows}, who, channel_id=channel_id, locale=locale)

    # ---- waiting on what the bot did -------------------------------------------------
    async def wait_call(self, method: str, path_regex: str, start: int = 0, timeout: float = 5.0) -> Call:
        pattern = re.compile(path_regex)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for call in self.calls[start:]:
                if call.method == method and pattern.search(call.path):
                    return call
            if asyncio.get_running_loop().time() > deadline:
                seen = "\n".join(f"{c.method} {c.path}" for c in self.calls[start:])
                raise AssertionError(f"no {method} {path_regex} within {timeout}s; calls seen:\n{seen}")
            await asyncio.sleep(0.02)

    async def callback(self, interaction: dict, timeout: float = 5.0) -> Call:
        return await self.wait_call("POST", rf"/interactions/{interaction['id']}/{interaction['token']}/callback", timeout=timeout)

    async def followup(self, interaction: dict, timeout: float = 5.0) -> Call:
        return await self.wait_call("POST", rf"/webhooks/{APP_ID}/{interaction['token']}$", timeout=timeout)

    def find(self, method: str, path_regex: str) -> list[Call]:
        pattern = re.compile(path_regex)
        return [c for c in self.calls if c.method == method and pattern.search(c.path)]

    # ---- REST ------------------------------------------------------------------------
    def sticker(self, data: bytes, format_type: int = 1, name: str = "sticker") -> dict:
        """A sticker item for `message_payload(stickers=...)` (1 PNG, 2 APNG, 3 Lottie, 4 GIF); PNG/APNG bytes
        are served at /stickers/<id>.png once the test points `discord.asset.Asset.BASE` at the fake."""
        sid = self.new_id()
        self.stickers[sid] = data
        return {"id": str(sid), "name": name, "format_type": format_type}

    async def _sticker(self, request: web.Request) -> web.Response:
        self.served.append(int(request.match_info["id"]))
        data = self.stickers.get(int(request.match_info["id"]))
        return web.Response(status=404) if data is None else web.Response(body=data, headers={"Content-Type": "image/png"})

    async def _attachment(self, request: web.Request) -> web.Response:
        self.served.append(int(request.match_info["id"]))
        data = self.attachments.get(int(request.match_info["id"]))
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, headers={"Content-Type": "image/png"})

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body, files = await _read_body(request)
        call = Call(request.method, path, dict(request.query), body, files, {k: v for k, v in request.headers.items() if k.lower().startswith("x-audit")})
        self.calls.append(call)
        if self.accepted_token is not None and request.headers.get("Authorization") != f"Bot {self.accepted_token}":
            call.status = 401
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        if files and sum(len(f) for f in files.values()) > self.upload_limit:
            call.status = 413
            return _json({"message": "Request entity too large", "code": 40005}, 413)
        for method, pattern, status, message in self.failures:
            if method == request.method and pattern.search(path):
                call.status = status
                return _json({"message": message, "code": 50013 if status == 403 else 0}, status)
        cid = _channel_of(path)
        dm_user = next((u for u, c in self.dm_channels.items() if c == cid), None)
        if dm_user in self.closed_dms and request.method == "POST":
            call.status = 403
            return _json({"message": "Cannot send messages to this user", "code": 50007}, 403)
        if cid is not None and cid in self.channel_errors:
            call.status = self.channel_errors[cid]
            text = "Missing Access" if call.status == 403 else "Unknown Channel"
            return _json({"message": text, "code": 50001 if call.status == 403 else 10003}, call.status)
        if time.monotonic() < self.outage_until and self.outage_pattern.search(path):
            call.status = self.outage_status
            return web.Response(status=call.status, text="upstream connect error", headers={"Content-Type": "text/plain"})
        limit_headers: dict[str, str] = {}
        if cid is not None and self.message_limit is not None and _is_message_write(request.method, path):
            limit_headers = self._take(cid)
            if limit_headers.get("X-RateLimit-Remaining") == "-1":
                call.status = 429
                self.rate_limited.append(call)
                retry = float(limit_headers["X-RateLimit-Reset-After"])
                headers = {
                    **limit_headers,
                    "X-RateLimit-Remaining": "0",
                    "Retry-After": str(max(1, round(retry))),
                    "X-RateLimit-Scope": "user",
                    "Via": "1.1 google",
                }
                body429 = {"message": "You are being rate limited.", "retry_after": retry, "global": False}
                return web.Response(status=429, body=json.dumps(body429).encode(), headers={"Content-Type": "application/json", **headers})
        try:
            result = self._route(request.method, path, body, dict(request.query))
        except KeyError:
            result = None
        except Refused as exc:  # Discord's own answer for this target (e.g. unbanning someone not banned)
            call.status = exc.status
            return _json({"message": exc.message, "code": exc.code}, exc.status)
        if result is None:
            call.status = 404
            return _json({"message": "404: Not Found", "code": 0}, 404)
        if result == 204:
            call.status = 204
            return web.Response(status=204, headers=limit_headers)
        response = _json(result)
        response.headers.update(limit_headers)
        return response

    def _take(self, cid: int) -> dict[str, str]:
        """Count one create/edit in the channel's fixed window; Remaining "-1" means over the limit."""
        assert self.message_limit is not None
        count, per = self.message_limit
        now = time.monotonic()
        start, used = self._windows.get(cid, (now, 0))
        if now - start >= per:
            start, used = now, 0
        used += 1
        if used <= count:
            self._windows[cid] = (start, used)
        reset_after = max(0.001, start + per - now)
        return {
            "X-RateLimit-Limit": str(count),
            "X-RateLimit-Remaining": str(count - used if used <= count else -1),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": "fake-channel-messages",
        }

    def _bot_message(self, channel_id: int, body: dict | None, mid: int | None = None) -> dict:
        body = body or {}
        msg = {
            "id": str(mid or self.new_id()),
            "channel_id": str(channel_id),
            "author": user(APP_ID),
            "content": body.get("content") or "",
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": 0,
            "flags": body.get("flags") or 0,
        }
        return msg

    def _route(self, method: str, path: str, body: Any, query: dict[str, str]) -> Any:
        parts = path.strip("/").split("/")
        if (method, path) == ("GET", "/users/@me"):
            return user(APP_ID)
        if (method, path) == ("GET", "/oauth2/applications/@me"):
            return {
                "id": str(APP_ID),
                "name": "triagebot",
                "description": "",
                "icon": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": user(CAROL),
                "verify_key": "00",
                "flags": 0,
                "summary": "",
                "team": None,
                "interactions_endpoint_url": None,
            }
        if method == "PUT" and re.fullmatch(rf"/applications/{APP_ID}/commands", path):
            self.commands = [{"description": "", "options": [], **c, "id": str(self.new_id()), "application_id": str(APP_ID), "version": "1"} for c in body]
            return self.commands
        if (method, path) == ("POST", "/users/@me/channels"):  # open (or reuse) the DM channel with a user
            uid = int((body or {})["recipient_id"])
            cid = self.dm_channels.setdefault(uid, self.new_id())
            return {"id": str(cid), "type": 1, "last_message_id": None, "recipients": [user(uid)], "flags": 0}
        if parts[0] == "channels" and len(parts) >= 3 and parts[2] == "messages":
            cid = int(parts[1])
            if len(parts) == 3 and method == "POST":
                msg = self._bot_message(cid, body)
                self.messages[int(msg["id"])] = msg
                return msg
            if len(parts) == 3 and method == "GET":
                limit = int(query.get("limit", 50))
                before = int(query.get("before", 1 << 62))
                mine = [m for m in self.messages.values() if m["channel_id"] == str(cid) and int(m["id"]) < before]
                if "after" in query:  # as Discord: the `limit` oldest messages after it, served newest first
                    after = sorted((m for m in mine if int(m["id"]) > int(query["after"])), key=lambda m: int(m["id"]))
                    return sorted(after[:limit], key=lambda m: int(m["id"]), reverse=True)
                return sorted(mine, key=lambda m: int(m["id"]), reverse=True)[:limit]
            mid = int(parts[3])
            if method == "GET":
                return self.messages.get(mid)
            if method == "PATCH":
                old = self.messages.get(mid)
                if old is None:
                    return None
                old.update({k: v for k, v in (body or {}).items() if k in ("content", "embeds", "components")})
                old["edited_timestamp"] = now_iso()
                return old
            if method == "DELETE":
                return 204 if self.messages.pop(mid, None) is not None else None
        if parts[0] == "guilds" and len(parts) == 5 and parts[2] == "auto-moderation" and method == "GET":
            rule = self.automod_rules.get(int(parts[4]))
            return (
                None
                if rule is None
                else {
                    "id": parts[4],
                    "guild_id": parts[1],
                    "name": rule,
                    "creator_id": str(CAROL),
                    "event_type": 1,
                    "trigger_type": 1,
                    "trigger_metadata": {},
                    "actions": [],
                    "enabled": True,
                    "exempt_roles": [],
                    "exempt_channels": [],
                }
            )
        if parts[0] == "guilds" and len(parts) == 4 and parts[2] == "members" and method == "GET":
            uid = int(parts[3])
            return self.extra_members.get(uid) or (member(uid) if uid in USERS or uid in self.pile_on_accounts else None)
        if parts[0] == "guilds" and len(parts) == 3 and parts[2] == "roles" and method == "GET":
            return roles()
        if parts[0] == "guilds" and len(parts) == 4 and parts[2] == "members" and method == "PATCH":
            if "communication_disabled_until" in (body or {}):
                self.timeouts[int(parts[3])] = body["communication_disabled_until"]
            return {**member(int(parts[3])), "communication_disabled_until": (body or {}).get("communication_disabled_until")}
        if parts[0] == "guilds" and len(parts) == 4 and parts[2] == "bans" and method == "PUT":
            self.bans.add(int(parts[3]))
            return 204
        if parts[0] == "guilds" and len(parts) == 4 and parts[2] == "bans" and method == "DELETE":
            if int(parts[3]) not in self.bans:
                raise Refused(404, "Unknown Ban", 10026)
            self.bans.discard(int(parts[3]))
            return 204
        if parts[0] == "interactions" and parts[-1] == "callback" and method == "POST":
            kind = (body or {}).get("type")
            out: dict[str, Any] = {
                "interaction": {
                    "id": parts[1],
                    "type": 2,
                    "response_message_loading": kind == 5,
                    "response_message_ephemeral": bool(((body or {}).get("data") or {}).get("flags", 0) & 64),
                }
            }
            if kind in (4, 7):
                msg = self._bot_message(0, body.get("data"))
                out["resource"] = {"type": kind, "message": msg}
            elif kind is not None:
                out["resource"] = {"type": kind}
            return out
        if parts[0] == "webhooks" and parts[1] == str(APP_ID):
            if method == "POST" and len(parts) == 3:
                return self._bot_message(0, body)
            if len(parts) == 5 and parts[3] == "messages" and method in ("PATCH", "GET"):
                return self._bot_message(0, body, mid=1)
        return None


class Refused(Exception):
    """A route's refusal as Discord words it: HTTP status, message and JSON error code."""

    def __init__(self, status: int, message: str, code: int) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


_CHANNEL_PATH = re.compile(r"^/channels/(\d+)(?:/|$)")
_MESSAGE_WRITE = re.compile(r"^/channels/\d+/messages(?:/\d+)?$")


def _channel_of(path: str) -> int | None:
    m = _CHANNEL_PATH.match(path)
    return int(m.group(1)) if m else None


def _is_message_write(method: str, path: str) -> bool:
    """Message create (POST .../messages) and edit (PATCH .../messages/{id}): one bucket per channel."""
    return (method == "POST" and path.endswith("/messages") or method == "PATCH") and bool(_MESSAGE_WRITE.match(path))


OPTION_TYPES = {"user": 6, "channel": 7, "role": 8, "number": 10, "attachment": 11}


def _option(name: str, value: Any) -> dict:
    """An option; pass ("user", id) / ("channel", id) for resolved kinds, plain values otherwise."""
    if isinstance(value, tuple):
        return {"name": name, "type": OPTION_TYPES[value[0]], "value": str(value[1])}
    return {"name": name, "type": _option_type(value), "value": value}


def _option_type(value: Any) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    return 3


def _walk(components: list) -> list[dict]:
    out = []
    for c in components:
        out.append(c)
        out += _walk(c.get("components", []))
        if "component" in c:
            out += _walk([c["component"]])
    return out


async def _read_body(request: web.Request) -> tuple[Any, dict[str, bytes]]:
    ctype = request.headers.get("Content-Type", "")
    if ctype.startswith("multipart/"):
        reader = await request.multipart()
        body, files = None, {}
        async for part in reader:
            data = await part.read()
            if part.name == "payload_json":
                body = json.loads(data)
            else:
                files[part.filename or part.name or "?"] = bytes(data)
        return body, files
    raw = await request.read()
    if not raw:
        return None, {}
    try:
        return json.loads(raw), {}
    except ValueError:
        return raw.decode("utf-8", "replace"), {}


# ---- a pile-on, for raid tests and benchmarks ------------------------------------------------
HARASSING = (
    "kirim foto telanjang kamu sekarang lonte",
    "dasar monyet hitam pulang ke hutan",
    "send nudes you slut",
    "show me your tits whore",
    "dasar cina babi",
    "you monkey go back to your country",
)
CHATTER = (
    "selamat pagi semua",
    "nice stream today",
    "ada yang main nanti malam?",
    "lol same",
    "gg",
    "siapa yang ikut turnamen?",
    "brb makan dulu",
    "that clip was great",
)
PILE_ON_FIRST_ACCOUNT = 5000


def pile_on_plan(total: int, harassing: int, accounts: int = 9, texts: tuple[str, ...] = HARASSING) -> list[tuple[int, str, bool]]:
    """(author, text, harassing) for a flood: every (total/harassing)-th message is one of `texts` (sent
    at the target by `send_pile_on`), from `accounts` accounts; the rest is ordinary chatter from other members."""
    every = max(1, total // max(1, harassing))
    plan = []
    for i in range(total):
        if harassing and i % every == 0 and sum(h for _, _, h in plan) < harassing:
            plan.append((PILE_ON_FIRST_ACCOUNT + i % accounts, f"{texts[i % len(texts)]} #{i}", True))
        else:
            plan.append((PILE_ON_FIRST_ACCOUNT + 100 + i % 40, f"{CHATTER[i % len(CHATTER)]} {i}", False))
    return plan


async def send_pile_on(fake: "FakeDiscord", plan: list[tuple[int, str, bool]], target: int = ALICE, channel_id: int = GENERAL) -> list[tuple[dict, bool]]:
    """Dispatch the plan as gateway messages; returns (payload, harassing) in order."""
    fake.pile_on_accounts |= {a for a, _, _ in plan}
    out = []
    for author, text, harassing in plan:
        payload = await fake.send_message(author, text, channel_id=channel_id, mentions=(target,) if harassing else ())
        out.append((payload, harassing))
    return out
