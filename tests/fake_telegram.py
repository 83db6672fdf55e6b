"""A fake Telegram Bot API on 127.0.0.1 (aiohttp), so the real python-telegram-bot client runs in tests.

It answers the methods the bot uses, records every call, serves files for getFile, and
implements getUpdates as a real long poll (woken by new updates and by shutdown).
Parameters arrive as form fields (non-string values JSON-encoded) or multipart.

With `limits=True` it enforces Telegram's flood limits on sending methods the way the
Bot API answers them (429 with `parameters.retry_after`): about 1 message per second per
chat and 20 per minute per group. `outage()` makes every method but getUpdates answer 5xx
for a while; `kicked` holds chats the bot was removed from (403 on anything sent there).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

log = logging.getLogger(__name__)

TOKEN = "123456:TEST-token"
BOT_USER = {
    "id": 999000,
    "is_bot": True,
    "first_name": "Triage",
    "username": "triage_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": True,
    "supports_inline_queries": False,
}
#: Parameters PTB JSON-encodes because they are not strings.
JSON_PARAMS = {
    "only_if_banned",
    "chat_id",
    "message_id",
    "user_id",
    "until_date",
    "offset",
    "limit",
    "timeout",
    "reply_markup",
    "permissions",
    "link_preview_options",
    "show_alert",
    "disable_notification",
    "revoke_messages",
    "allowed_updates",
    "commands",
    "message_ids",
    "drop_pending_updates",
    "reply_parameters",
    "protect_content",
    "use_independent_chat_permissions",
    "sender_chat_id",
    "cache_time",
    "scope",
    "entities",
    "caption_entities",
    "allow_sending_without_reply",
}
#: Methods that post or edit a message: the ones Telegram's flood limits count.
SENDING = frozenset(
    {"sendMessage", "editMessageText", "editMessageReplyMarkup", "sendDocument", "sendPhoto", "sendMediaGroup", "copyMessage", "forwardMessage"}
)
CHAT_WINDOW_S, CHAT_MAX = 1.0, 1  # per chat: about one message per second
GROUP_WINDOW_S, GROUP_MAX = 60.0, 20  # per group: 20 messages per minute


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, tuple[str | None, bytes]] = field(default_factory=dict)
    result: Any = None  # what the fake answered (e.g. the sent message), when it succeeded


def user(uid: int, first: str = "User", username: str | None = None, last: str | None = None) -> dict:
    u = {"id": uid, "is_bot": False, "first_name": first}
    if username:
        u["username"] = username
    if last:
        u["last_name"] = last
    return u


def supergroup(cid: int, title: str = "Group", username: str | None = None) -> dict:
    c = {"id": cid, "type": "supergroup", "title": title}
    if username:
        c["username"] = username
    return c


def private(u: dict) -> dict:
    return {"id": u["id"], "type": "private", "first_name": u["first_name"]}


def _admin_member(u: dict, status: str, rights: dict[str, bool] | None = None) -> dict:
    """A ChatMember as the Bot API sends it; administrators have every right unless `rights` says otherwise."""
    if status == "creator":
        return {"status": "creator", "user": u, "is_anonymous": False}
    if status == "administrator":
        granted = dict.fromkeys(
            [
                "can_manage_chat",
                "can_delete_messages",
                "can_manage_video_chats",
                "can_restrict_members",
                "can_promote_members",
                "can_change_info",
                "can_invite_users",
                "can_post_stories",
                "can_edit_stories",
                "can_delete_stories",
            ],
            True,
        )
        granted.update(rights or {})
        return {"status": "administrator", "user": u, "can_be_edited": False, "is_anonymous": False, **granted}
    if status == "restricted":
        perms = dict.fromkeys(
            [
                "is_member",
                "can_send_messages",
                "can_send_audios",
                "can_send_documents",
                "can_send_photos",
                "can_send_videos",
                "can_send_video_notes",
                "can_send_voice_notes",
                "can_send_polls",
                "can_send_other_messages",
                "can_add_web_page_previews",
                "can_change_info",
                "can_invite_users",
                "can_pin_messages",
                "can_manage_topics",
            ],
            False,
        )
        return {"status": "restricted", "user": u, "until_date": 0, **perms}
    if status == "kicked":
        return {"status": "kicked", "user": u, "until_date": 0}
    return {"status": status, "user": u}


class FakeTelegram:
    def __init__(self, token: str = TOKEN, *, limits: bool = False, clock: Callable[[], float] = time.monotonic) -> None:
        self.token = token
        self.clock = clock  # for the limits and outages; tests may pass a manual clock
        self.limits = limits
        self.rejected: list[Call] = []  # calls answered with 429/403/5xx by the limits, outage or kick
        self.kicked: set[int] = set()  # chats the bot was removed from: 403 on every call about them
        self.delays: dict[str, float] = {}  # method -> seconds the fake takes to answer (a slow API)
        self.upload_limit = 50 * 1000 * 1000  # a bot's uploads (sendDocument); larger ones get 413
        self._outage: tuple[float, int] | None = None  # (monotonic end, HTTP status)
        self._sent_at: dict[int, deque[float]] = {}  # chat -> monotonic times of accepted sends
        self.calls: list[Call] = []
        self.updates: list[dict] = []
        self.members: dict[tuple[int, int], str] = {}  # (chat, user) -> status
        self.rights: dict[tuple[int, int], dict[str, bool]] = {}  # (chat, admin) -> rights that differ from "all"
        self.users: dict[int, dict] = {BOT_USER["id"]: BOT_USER}
        self.files: dict[str, bytes] = {}
        self.file_sizes: dict[str, int | None] = {}  # what getFile declares (None = omit)
        self.fail: dict[str, tuple] = {}  # method -> (HTTP code, description[, parameters])
        self.fail_times: dict[str, int] = {}  # method -> how many more calls fail (with `fail`'s answer)
        self.blocked_private: set[int] = set()  # users who never started the bot
        self.blocked_by: set[int] = set()  # users who started the bot, then blocked it
        self.downloads: list[tuple[str, int]] = []  # (file path, bytes actually sent)
        self.handed_out: dict[int, float] = {}  # update id -> monotonic time getUpdates first handed it to the bot
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(5000)
        self._cond: asyncio.Condition | None = None
        self._closing = False
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ---- lifecycle ------------------------------------------------------------------
    async def start(self) -> "FakeTelegram":
        self._cond = asyncio.Condition()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.*}", self._file)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        await self.wake(closing=True)
        if self._runner is not None:
            await self._runner.cleanup()

    async def wake(self, closing: bool = False) -> None:
        self._closing = self._closing or closing
        async with self._cond:
            self._cond.notify_all()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ---- test-side helpers ----------------------------------------------------------
    def outage(self, seconds: float, status: int = 500) -> None:
        """Every method except getUpdates answers `status` for `seconds` from now."""
        self._outage = (self.clock() + seconds, status)

    def _limited(self, method: str, params: dict[str, Any]) -> tuple[int, str, dict] | None:
        """The refusal Telegram would give this call now, if any (and counts it as sent otherwise)."""
        chat = params.get("chat_id")
        chat_id = int(chat) if isinstance(chat, (int, str)) and str(chat).lstrip("-").isdigit() else None
        if self._outage is not None and method != "getUpdates":
            end, status = self._outage
            if self.clock() < end:
                return status, "Internal Server Error" if status == 500 else "Bad Gateway", {}
            self._outage = None
        if chat_id is not None and chat_id in self.kicked and method != "getUpdates":
            return 403, "Forbidden: bot was kicked from the supergroup chat", {}
        if not self.limits or method not in SENDING or chat_id is None:
            return None
        now = self.clock()
        sent = self._sent_at.setdefault(chat_id, deque())
        while sent and now - sent[0] >= GROUP_WINDOW_S:
            sent.popleft()
        waits = []
        recent = [t for t in sent if now - t < CHAT_WINDOW_S]
        if len(recent) >= CHAT_MAX:
            waits.append(recent[-CHAT_MAX] + CHAT_WINDOW_S - now)
        if chat_id < 0 and len(sent) >= GROUP_MAX:
            waits.append(sent[-GROUP_MAX] + GROUP_WINDOW_S - now)
        if waits:
            retry = max(1, math.ceil(max(waits)))
            return 429, f"Too Many Requests: retry after {retry}", {"retry_after": retry}
        sent.append(now)
        return None

    def set_member(self, chat_id: int, u: dict, status: str = "member", **rights: bool) -> None:
        """e.g. set_member(GROUP, ADA, "administrator", can_restrict_members=False)."""
        self.users[u["id"]] = u
        self.members[(chat_id, u["id"])] = status
        self.rights[(chat_id, u["id"])] = rights

    def member(self, chat_id: int, uid: int) -> dict:
        u = self.users.get(uid, user(uid))
        key = (chat_id, uid)
        return _admin_member(u, self.members.get(key, "member"), self.rights.get(key))

    async def change_member(self, chat: dict, u: dict, status: str, by: dict | None = None, **rights: bool) -> dict:
        """An admin changes someone's status or rights: the fake's state changes and, as Telegram does for
        bots that asked for it, a chat_member update (my_chat_member when it is the bot) is sent."""
        old = self.member(chat["id"], u["id"])
        self.set_member(chat["id"], u, status, **rights)
        kind = "my_chat_member" if u["id"] == BOT_USER["id"] else "chat_member"
        return await self.push(
            kind, {"chat": chat, "from": by or u, "date": int(time.time()), "old_chat_member": old, "new_chat_member": self.member(chat["id"], u["id"])}
        )

    def add_file(self, file_id: str, data: bytes, declared_size: int | None | str = "same") -> None:
        self.files[file_id] = data
        self.file_sizes[file_id] = len(data) if declared_size == "same" else declared_size

    async def push(self, kind: str, payload: dict) -> dict:
        update = {"update_id": next(self._update_ids), kind: payload}
        self.updates.append(update)
        await self.wake()
        return update

    def new_message(
        self,
        chat: dict,
        sender: dict | None,
        text: str | None = None,
        *,
        caption: str | None = None,
        photo: list[dict] | None = None,
        document: dict | None = None,
        reply_to: dict | None = None,
        entities: list[dict] | None = None,
        media_group_id: str | None = None,
        message_id: int | None = None,
        sender_chat: dict | None = None,
        sticker: dict | None = None,
        video: dict | None = None,
        animation: dict | None = None,
        video_note: dict | None = None,
        forward_origin: dict | None = None,
    ) -> dict:
        m: dict[str, Any] = {"message_id": message_id or next(self._message_ids), "date": int(time.time()), "chat": chat}
        if forward_origin is not None:  # a forwarded message (Bot API 7.0 MessageOrigin)
            m["forward_origin"] = forward_origin
        if sender is not None:
            m["from"] = sender
        if sender_chat is not None:
            m["sender_chat"] = sender_chat
        if text is not None:
            m["text"] = text
            if entities:
                m["entities"] = entities
        if caption is not None:
            m["caption"] = caption
            if entities:
                m["caption_entities"] = entities
        if photo is not None:
            m["photo"] = photo
        if document is not None:
            m["document"] = document
        for key, media in (("sticker", sticker), ("video", video), ("animation", animation), ("video_note", video_note)):
            if media is not None:
                m[key] = media
        if animation is not None and document is None:  # as the Bot API does, for old clients
            m["document"] = {k: v for k, v in animation.items() if k in ("file_id", "file_unique_id", "file_name", "mime_type", "file_size")}
        if reply_to is not None:
            m["reply_to_message"] = reply_to
        if media_group_id is not None:
            m["media_group_id"] = media_group_id
        return m

    async def send(self, *args, **kwargs) -> dict:
        """Queue a new message from a member; returns the message dict."""
        m = self.new_message(*args, **kwargs)
        await self.push("message", m)
        return m

    async def edit(self, message: dict, text: str) -> dict:
        edited = dict(message, edit_date=int(time.time()))
        edited.pop("text", None)
        edited.pop("caption", None)
        edited["caption" if "photo" in message or "document" in message else "text"] = text
        await self.push("edited_message", edited)
        return edited

    async def press(self, message: dict, sender: dict, data: str) -> None:
        """A button press on a message the bot sent."""
        await self.push("callback_query", {"id": str(next(self._update_ids) + 10**6), "from": sender, "message": message, "chat_instance": "ci", "data": data})

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; calls: {[c.method for c in self.calls]}")
            await asyncio.sleep(0.02)

    async def wait_call(self, method: str, n: int = 1, timeout: float = 5.0, where: Callable[[Call], bool] | None = None) -> list[Call]:
        def found():
            calls = [c for c in self.calls_of(method) if where is None or where(c)]
            return calls if len(calls) >= n else None

        return await self.wait_for(found, timeout, f"{n} x {method}")

    # ---- the API --------------------------------------------------------------------
    async def _params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, tuple[str | None, bytes]]]:
        params: dict[str, Any] = dict(request.query)
        files: dict[str, tuple[str | None, bytes]] = {}
        if request.content_type == "application/json":
            params.update(await request.json())
            return params, files
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                files[key] = (value.filename, value.file.read())
            elif key in JSON_PARAMS:
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    params[key] = value
            else:
                params[key] = value
        return params, files

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params, files = await self._params(request)
        call = Call(method, params, files)
        self.calls.append(call)
        if self.delays.get(method):
            await asyncio.sleep(self.delays[method])
        refusal = self._limited(method, params)
        if refusal is None and files and max(len(data) for _, data in files.values()) > self.upload_limit:
            refusal = (413, "Request Entity Too Large", {})
        if refusal is not None:
            code, desc, parameters = refusal
            self.rejected.append(call)
            body = {"ok": False, "error_code": code, "description": desc}
            if parameters:
                body["parameters"] = parameters
            return web.json_response(body, status=code)
        if method in self.fail and self.fail_times.get(method, 1) > 0:
            if method in self.fail_times:
                self.fail_times[method] -= 1
            code, desc, *extra = self.fail[method]
            body = {"ok": False, "error_code": code, "description": desc}
            if extra:  # e.g. {"migrate_to_chat_id": ...} or {"retry_after": ...}
                body["parameters"] = extra[0]
            return web.json_response(body, status=code)
        handler = getattr(self, f"m_{method}", None)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found: method not found"}, status=404)
        try:
            result = await handler(params, files)
        except _ApiError as exc:
            return web.json_response({"ok": False, "error_code": exc.code, "description": exc.description}, status=exc.code)
        call.result = result
        return web.json_response({"ok": True, "result": result})

    async def _file(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        file_id = path.rsplit("/", 1)[-1]
        data = self.files.get(file_id)
        if data is None:
            raise web.HTTPNotFound()
        resp = web.StreamResponse()  # chunked, no Content-Length: the client must enforce its own cap
        await resp.prepare(request)
        sent = 0
        try:
            for i in range(0, len(data), 16 * 1024):
                await resp.write(data[i : i + 16 * 1024])
                sent += len(data[i : i + 16 * 1024])
        except (ConnectionResetError, RuntimeError):
            pass
        finally:
            self.downloads.append((path, sent))
        return resp

    def _sent(self, chat_id: Any, **extra: Any) -> dict:
        cid = int(chat_id)
        chat = {"id": cid, "type": "private", "first_name": "x"} if cid > 0 else {"id": cid, "type": "supergroup", "title": "chat"}
        return {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat, "from": BOT_USER, **extra}

    async def m_getMe(self, p, f):
        return BOT_USER

    async def m_deleteWebhook(self, p, f):
        return True

    async def m_setMyCommands(self, p, f):
        return True

    async def m_getUpdates(self, p, f):
        offset = int(p.get("offset") or 0)
        timeout = float(p.get("timeout") or 0)
        limit = int(p.get("limit") or 100)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]  # confirmed ones are dropped
        deadline = asyncio.get_running_loop().time() + timeout
        async with self._cond:
            while not self.updates and not self._closing:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(self._cond.wait(), remaining)
                except asyncio.TimeoutError:
                    break
        out = self.updates[:limit]
        now = time.monotonic()
        for u in out:
            self.handed_out.setdefault(u["update_id"], now)
        return out

    async def m_sendMessage(self, p, f):
        if int(p["chat_id"]) in self.blocked_private:
            raise _ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        if int(p["chat_id"]) in self.blocked_by:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        return self._sent(p["chat_id"], text=p.get("text", ""))

    async def m_editMessageText(self, p, f):
        return self._sent(p["chat_id"], text=p.get("text", ""), edit_date=int(time.time())) | {"message_id": int(p["message_id"])}

    async def m_deleteMessage(self, p, f):
        return True

    async def m_answerCallbackQuery(self, p, f):
        return True

    async def m_getChatMember(self, p, f):
        return self.member(int(p["chat_id"]), int(p["user_id"]))

    async def m_getChatAdministrators(self, p, f):
        cid = int(p["chat_id"])
        return [self.member(c, uid) for (c, uid), st in self.members.items() if c == cid and st in ("creator", "administrator")]

    async def m_restrictChatMember(self, p, f):
        key = (int(p["chat_id"]), int(p["user_id"]))
        if self.members.get(key) in ("creator", "administrator"):
            raise _ApiError(400, "Bad Request: user is an administrator of the chat")
        if self.members.get(key) == "kicked":
            raise _ApiError(400, "Bad Request: user is banned from the chat")  # not restricted while banned
        perms = p.get("permissions") or {}
        # Every permission granted: Telegram lifts the restriction and the user is an ordinary member again.
        granted = [k for k in perms if k.startswith("can_")]
        self.members[key] = "member" if granted and all(perms[k] is True for k in granted) else "restricted"
        return True

    async def m_unbanChatMember(self, p, f):
        """As the Bot API: with only_if_banned a user who is not banned is left alone; without it an unban also
        removes a present member from the chat."""
        key = (int(p["chat_id"]), int(p["user_id"]))
        status = self.members.get(key)
        if status in ("creator", "administrator"):
            raise _ApiError(400, "Bad Request: can't remove chat owner" if status == "creator" else "Bad Request: user is an administrator of the chat")
        if status == "kicked":
            self.members[key] = "left"
        elif not p.get("only_if_banned") and status in ("member", "restricted"):
            self.members[key] = "left"
        return True

    async def m_unbanChatSenderChat(self, p, f):
        return True

    async def m_banChatMember(self, p, f):
        if self.members.get((int(p["chat_id"]), int(p["user_id"]))) in ("creator", "administrator"):
            raise _ApiError(400, "Bad Request: user is an administrator of the chat")
        self.members[(int(p["chat_id"]), int(p["user_id"]))] = "kicked"
        return True

    async def m_banChatSenderChat(self, p, f):
        return True

    async def m_getFile(self, p, f):
        file_id = p["file_id"]
        if file_id not in self.files:
            raise _ApiError(400, "Bad Request: invalid file_id")
        out = {"file_id": file_id, "file_unique_id": "u" + file_id, "file_path": f"photos/{file_id}"}
        if self.file_sizes.get(file_id) is not None:
            out["file_size"] = self.file_sizes[file_id]
        return out

    async def m_sendDocument(self, p, f):
        doc = p.get("document")
        name = None
        if isinstance(doc, str) and doc.startswith("attach://"):
            name = f.get(doc[len("attach://") :], (None, b""))[0]
        elif "document" in f:
            name = f["document"][0]
        return self._sent(p["chat_id"], document={"file_id": "doc1", "file_unique_id": "udoc1", "file_name": name or "file"})


class _ApiError(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
