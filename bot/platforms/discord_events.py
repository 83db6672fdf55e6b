"""Gateway objects -> core Messages: what a Discord message or AutoMod action means to the core.

Pure translation; nothing here talks to Discord or the pipeline.
"""
from __future__ import annotations

import hashlib
import logging

import discord

from bot.models import Attachment, Message
from classifiers.base import Verdict

log = logging.getLogger(__name__)


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
            is_mod = msg.channel.permissions_for(msg.author).manage_messages
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
        target_names=tuple((t, names[t]) for t in targets if names.get(t)),
        author_roles=tuple(str(r.id) for r in getattr(msg.author, "roles", ()) or ()))


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
