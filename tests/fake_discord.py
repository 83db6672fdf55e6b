"""A fake Discord (gateway websocket + REST) on 127.0.0.1 so the real discord.py client runs in tests.

It knows one guild with a few members and channels, records every REST call, serves
attachment bytes, and lets a test dispatch gateway events (messages, interactions,
AutoMod actions). Pitfalls it respects (measured on discord.py 2.7): JSON is served as
exactly `application/json`; unknown routes answer 404 (5xx would be retried with sleeps);
interaction payloads carry `attachment_size_limit`; members carry `flags`; the guild's
`member_count` equals the members sent.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import discord
from aiohttp import web

log = logging.getLogger(__name__)

APP_ID = 900
GUILD = 100
GENERAL, MODQ, OTHER = 200, 201, 202
ALICE, BOB, CAROL, MALLORY, DAVE = 301, 302, 303, 304, 305  # member, moderator, admin, abuser, member
ROLE_MOD, ROLE_ADMIN, ROLE_BOT = 400, 401, 402

P = discord.Permissions
EVERYONE_PERMS = P(view_channel=True, send_messages=True, read_message_history=True, use_application_commands=True)
ROLE_PERMS = {
    GUILD: EVERYONE_PERMS,
    ROLE_MOD: P(manage_messages=True, moderate_members=True, ban_members=True),
    ROLE_ADMIN: P(administrator=True),
    ROLE_BOT: P(view_channel=True, send_messages=True, embed_links=True, attach_files=True, read_message_history=True,
                manage_messages=True, moderate_members=True, ban_members=True),
}
USERS = {
    APP_ID: ("triagebot", True, [ROLE_BOT]),
    ALICE: ("alice", False, []),
    BOB: ("bob_mod", False, [ROLE_MOD]),
    CAROL: ("carol_admin", False, [ROLE_ADMIN]),
    MALLORY: ("mallory", False, []),
    DAVE: ("dave", False, []),
}


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def user(uid: int) -> dict:
    name, is_bot, _ = USERS[uid]
    return {"id": str(uid), "username": name, "global_name": name, "discriminator": "0", "avatar": None,
            "bot": is_bot, "public_flags": 0, "flags": 0}


def member(uid: int, with_user: bool = True) -> dict:
    d = {"roles": [str(r) for r in USERS[uid][2]], "joined_at": "2025-01-01T00:00:00+00:00", "deaf": False, "mute": False,
         "flags": 0, "nick": None, "avatar": None, "pending": False, "premium_since": None,
         "communication_disabled_until": None}
    if with_user:
        d["user"] = user(uid)
    return d


def permissions_of(uid: int) -> discord.Permissions:
    value = ROLE_PERMS[GUILD].value
    for r in USERS[uid][2]:
        value |= ROLE_PERMS[r].value
    perms = P(value)
    return P.all() if perms.administrator else perms


def channel(cid: int, name: str) -> dict:
    return {"id": str(cid), "type": 0, "name": name, "position": cid - GENERAL, "guild_id": str(GUILD),
            "permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None, "last_message_id": None,
            "rate_limit_per_user": 0, "flags": 0}


CHANNELS = {GENERAL: "general", MODQ: "mod-queue", OTHER: "random"}


def guild() -> dict:
    roles = [{"id": str(rid), "name": "@everyone" if rid == GUILD else f"role{rid}", "permissions": str(p.value),
              "position": 0 if rid == GUILD else 1, "color": 0, "colors": {"primary_color": 0}, "hoist": False,
              "managed": False, "mentionable": False, "flags": 0, "icon": None, "unicode_emoji": None}
             for rid, p in ROLE_PERMS.items()]
    members = [member(uid) for uid in USERS]
    return {"id": str(GUILD), "name": "Creator community", "icon": None, "splash": None, "discovery_splash": None,
            "owner_id": str(CAROL), "afk_channel_id": None, "afk_timeout": 300, "verification_level": 0,
            "default_message_notifications": 0, "explicit_content_filter": 0, "roles": roles, "emojis": [],
            "stickers": [], "features": [], "mfa_level": 0, "application_id": None, "system_channel_id": None,
            "system_channel_flags": 0, "rules_channel_id": None, "max_members": 1000, "vanity_url_code": None,
            "description": None, "banner": None, "premium_tier": 0, "premium_subscription_count": 0,
            "preferred_locale": "en-US", "public_updates_channel_id": None, "nsfw_level": 0,
            "premium_progress_bar_enabled": False, "unavailable": False, "large": False, "joined_at": now_iso(),
            "member_count": len(members), "members": members, "channels": [channel(c, n) for c, n in CHANNELS.items()],
            "threads": [], "presences": [], "voice_states": [], "stage_instances": [], "guild_scheduled_events": [],
            "soundboard_sounds": []}


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
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.messages: dict[int, dict] = {}  # every message either side sent, by id
        self.attachments: dict[int, bytes] = {}
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

    # ---- lifecycle -------------------------------------------------------------------
    async def start(self) -> "FakeDiscord":
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{id}/{name}", self._attachment)
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
                ready = {"v": 10, "user": user(APP_ID), "guilds": [{"id": str(GUILD), "unavailable": True}],
                         "session_id": "fake-session", "resume_gateway_url": self.gateway, "shard": [0, 1],
                         "application": {"id": str(APP_ID), "flags": 0}, "private_channels": [], "relationships": []}
                await self._send(ws, "READY", ready)
                await self._send(ws, "GUILD_CREATE", guild())
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
    def message_payload(self, author: int, content: str, channel_id: int = GENERAL, mentions: tuple[int, ...] = (),
                        reply_to: int | None = None, attachments: tuple[tuple[str, str, bytes], ...] = ()) -> dict:
        mid = self.new_id()
        atts = []
        for filename, ctype, data in attachments:
            aid = self.new_id()
            self.attachments[aid] = data
            url = f"http://127.0.0.1:{self.port}/attachments/{aid}/{filename}"
            atts.append({"id": str(aid), "filename": filename, "size": len(data), "url": url, "proxy_url": url,
                         "content_type": ctype, "width": 64, "height": 48})
        payload = {"id": str(mid), "channel_id": str(channel_id), "guild_id": str(GUILD), "author": user(author),
                   "member": member(author, with_user=False), "content": content, "timestamp": now_iso(),
                   "edited_timestamp": None, "tts": False, "mention_everyone": False,
                   "mentions": [{**user(u), "member": member(u, with_user=False)} for u in mentions],
                   "mention_roles": [], "attachments": atts, "embeds": [], "pinned": False, "type": 0, "flags": 0,
                   "components": []}
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
        return {"id": str(aid), "filename": filename, "size": len(data), "url": url, "proxy_url": url,
                "content_type": content_type, "width": 64, "height": 48, "ephemeral": True}

    async def send_message(self, author: int, content: str, **kw: Any) -> dict:
        payload = self.message_payload(author, content, **kw)
        await self.dispatch("MESSAGE_CREATE", payload)
        return payload

    async def interact(self, kind: int, data: dict, who: int, channel_id: int = GENERAL, message: dict | None = None) -> dict:
        """Dispatch INTERACTION_CREATE (2 command, 3 component, 5 modal submit); returns the payload."""
        iid = self.new_id()
        payload = {"id": str(iid), "application_id": str(APP_ID), "type": kind, "data": data, "guild_id": str(GUILD),
                   "channel_id": str(channel_id), "channel": channel(channel_id, CHANNELS[channel_id]),
                   "member": {**member(who), "permissions": str(permissions_of(who).value)},
                   "token": f"tok{iid}", "version": 1, "app_permissions": str(permissions_of(APP_ID).value),
                   "locale": "en-US", "guild_locale": "en-US", "entitlements": [],
                   "authorizing_integration_owners": {"0": str(GUILD)}, "context": 0,
                   "attachment_size_limit": 25 * 1024 * 1024}
        if message is not None:
            payload["message"] = message
        await self.dispatch("INTERACTION_CREATE", payload)
        return payload

    async def slash(self, who: int, name: str, sub: str | None = None, options: dict[str, Any] | None = None,
                    resolved: dict | None = None) -> dict:
        opts = [_option(k, v) for k, v in (options or {}).items()]
        if sub is not None:
            opts = [{"name": sub, "type": 1, "options": opts}]
        data = {"id": str(self.new_id()), "name": name, "type": 1, "options": opts}
        if resolved:
            data["resolved"] = resolved
        return await self.interact(2, data, who)

    async def context_menu(self, who: int, message_id: int) -> dict:
        data = {"id": str(self.new_id()), "name": "Report message", "type": 3, "target_id": str(message_id),
                "resolved": {"messages": {str(message_id): self.messages[message_id]}}}
        return await self.interact(2, data, who)

    async def click(self, who: int, message_id: int, custom_id: str, values: list[str] | None = None) -> dict:
        msg = self.messages[message_id]
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": 3 if values is not None else 2}
        if values is not None:
            data["values"] = values
        return await self.interact(3, data, who, channel_id=int(msg["channel_id"]), message=msg)

    async def submit_modal(self, who: int, modal: dict, values: dict[str, str] | str) -> dict:
        """Submit a modal the bot opened (`modal` = the callback's data); a str fills every text input."""
        rows = []
        for comp in _walk(modal.get("components", [])):
            if comp.get("type") == 4:
                value = values if isinstance(values, str) else values.get(comp["custom_id"], "")
                rows.append({"type": 1, "components": [{"type": 4, "custom_id": comp["custom_id"], "value": value}]})
        return await self.interact(5, {"custom_id": modal["custom_id"], "components": rows}, who)

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
    async def _attachment(self, request: web.Request) -> web.Response:
        data = self.attachments.get(int(request.match_info["id"]))
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, headers={"Content-Type": "image/png"})

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body, files = await _read_body(request)
        call = Call(request.method, path, dict(request.query), body, files,
                    {k: v for k, v in request.headers.items() if k.lower().startswith("x-audit")})
        self.calls.append(call)
        if self.accepted_token is not None and request.headers.get("Authorization") != f"Bot {self.accepted_token}":
            call.status = 401
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        for method, pattern, status, message in self.failures:
            if method == request.method and pattern.search(path):
                call.status = status
                return _json({"message": message, "code": 50013 if status == 403 else 0}, status)
        try:
            result = self._route(request.method, path, body, dict(request.query))
        except KeyError:
            result = None
        if result is None:
            call.status = 404
            return _json({"message": "404: Not Found", "code": 0}, 404)
        if result == 204:
            call.status = 204
            return web.Response(status=204)
        return _json(result)

    def _bot_message(self, channel_id: int, body: dict | None, mid: int | None = None) -> dict:
        body = body or {}
        msg = {"id": str(mid or self.new_id()), "channel_id": str(channel_id), "author": user(APP_ID),
               "content": body.get("content") or "", "timestamp": now_iso(), "edited_timestamp": None, "tts": False,
               "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [],
               "embeds": body.get("embeds") or [], "components": body.get("components") or [], "pinned": False,
               "type": 0, "flags": body.get("flags") or 0}
        return msg

    def _route(self, method: str, path: str, body: Any, query: dict[str, str]) -> Any:
        parts = path.strip("/").split("/")
        if (method, path) == ("GET", "/users/@me"):
            return user(APP_ID)
        if (method, path) == ("GET", "/oauth2/applications/@me"):
            return {"id": str(APP_ID), "name": "triagebot", "description": "", "icon": None, "bot_public": False,
                    "bot_require_code_grant": False, "owner": user(CAROL), "verify_key": "00", "flags": 0,
                    "summary": "", "team": None, "interactions_endpoint_url": None}
        if method == "PUT" and re.fullmatch(rf"/applications/{APP_ID}/commands", path):
            self.commands = [{"description": "", "options": [], **c, "id": str(self.new_id()), "application_id": str(APP_ID), "version": "1"} for c in body]
            return self.commands
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
            return None if rule is None else {
                "id": parts[4], "guild_id": parts[1], "name": rule, "creator_id": str(CAROL), "event_type": 1,
                "trigger_type": 1, "trigger_metadata": {}, "actions": [], "enabled": True, "exempt_roles": [],
                "exempt_channels": []}
        if parts[0] == "guilds" and len(parts) == 4 and parts[2] == "members" and method == "PATCH":
            return {**member(int(parts[3])), "communication_disabled_until": (body or {}).get("communication_disabled_until")}
        if parts[0] == "guilds" and len(parts) == 4 and parts[2] == "bans" and method == "PUT":
            return 204
        if parts[0] == "interactions" and parts[-1] == "callback" and method == "POST":
            kind = (body or {}).get("type")
            out: dict[str, Any] = {"interaction": {"id": parts[1], "type": 2, "response_message_loading": kind == 5,
                                                   "response_message_ephemeral": bool(((body or {}).get("data") or {}).get("flags", 0) & 64)}}
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
