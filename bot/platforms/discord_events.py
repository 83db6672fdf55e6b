"""Gateway objects -> core Messages: what a Discord message or AutoMod action means to the core.

Pure translation; nothing here talks to Discord or the pipeline.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
from collections.abc import Sequence
from dataclasses import replace

import discord

from bot.models import Attachment, Message
from classifiers.base import Verdict

log = logging.getLogger(__name__)


#: link-preview media scanned per message (the rest is logged and skipped: a message full of links
#: must not hold the image workers for minutes)
MAX_EMBED_MEDIA = 4


def _kind(content_type: str | None, filename: str | None = None) -> str:
    """image/video from the declared type, or from the file name when Discord sent no type."""
    if not content_type and filename:
        content_type = mimetypes.guess_type(filename)[0]
    major = (content_type or "").split("/", 1)[0]
    return major if major in ("image", "video") else "file"


def _attachment(a: discord.Attachment, origin: str = "attachment") -> Attachment:
    return Attachment(
        kind=_kind(a.content_type, a.filename),
        url=a.url,
        size=a.size,
        mime=a.content_type,
        width=a.width,
        height=a.height,
        filename=a.filename,
        ref=str(a.id),
        origin=origin,
    )


def embed_media(embeds: Sequence[discord.Embed], origin: str = "embed") -> list[Attachment]:
    """Pictures and videos shown in link previews, by Discord's media-proxy URL only.

    Why the proxy: the embed's own `url` points at any host on the internet (an attacker's
    server learning the bot's address, or a URL that answers differently to us than to
    members); `proxy_url` is the copy Discord fetched and shows. Per embed: its video (a GIF
    link is an MP4 "gifv") and image; the thumbnail only when there is neither.
    """
    out: list[Attachment] = []
    for e in embeds:
        media = [(k, getattr(e, k)) for k in ("video", "image")]
        media = [(k, m) for k, m in media if getattr(m, "proxy_url", None)]
        if not media and getattr(e.thumbnail, "proxy_url", None):
            media = [("thumbnail", e.thumbnail)]
        for k, m in media:
            out.append(
                Attachment(
                    kind="video" if k == "video" else "image",
                    url=str(m.proxy_url),
                    width=getattr(m, "width", None),
                    height=getattr(m, "height", None),
                    origin=origin,
                )
            )
    return out


#: sticker formats that are pictures (PNG, APNG, GIF); Lottie stickers are Discord's own vector art
_PICTURE_STICKERS = (discord.StickerFormatType.png, discord.StickerFormatType.apng, discord.StickerFormatType.gif)


def sticker_media(stickers: Sequence[discord.StickerItem]) -> list[Attachment]:
    """Stickers as pictures, from Discord's CDN: a member with Nitro can post any server's stickers,
    so a sticker made from a victim's photo travels between servers."""
    return [Attachment(kind="image", url=s.url, filename=s.name, origin="sticker") for s in stickers if s.format in _PICTURE_STICKERS]


def message_media(msg: discord.Message) -> tuple[Attachment, ...]:
    """Attachments, stickers, link-preview media, and the files and previews of forwarded messages (snapshots)."""
    files = [_attachment(a) for a in msg.attachments] + sticker_media(msg.stickers)
    previews = embed_media(msg.embeds)
    for snap in getattr(msg, "message_snapshots", None) or ():
        files += [_attachment(a, "forward") for a in snap.attachments] + sticker_media(snap.stickers)
        previews += embed_media(snap.embeds, "forward")
    seen = {a.url for a in files}
    unique = [a for i, a in enumerate(previews) if a.url not in seen and a.url not in {p.url for p in previews[:i]}]
    if len(unique) > MAX_EMBED_MEDIA:
        log.info("message %s: %d link-preview media, scanning the first %d", msg.id, len(unique), MAX_EMBED_MEDIA)
    return tuple(files + unique[:MAX_EMBED_MEDIA])


def preview_update(before: discord.Message | None, after: discord.Message) -> Message | None:
    """A message update that only brought link previews (Discord adds them after the message):
    the message with just the new preview media to scan, or None when nothing new arrived.

    The text is left out: it was checked when the message arrived, and checking it again would
    add its verdicts to an existing flag a second time. The flag links to the message."""
    old = {a.url for a in message_media(before)} if before is not None else set()
    new = tuple(a for a in message_media(after) if a.origin in ("embed", "forward") and a.url not in old)
    if not new:
        return None
    return replace(to_message(after), text="", attachments=new)


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
    attachments = message_media(msg)
    return Message(
        platform="discord",
        server_id=str(msg.guild.id if msg.guild else 0),
        channel_id=str(msg.channel.id),
        message_id=str(msg.id),
        author_id=author_id,
        text=msg.content or "",
        targets=tuple(targets),
        attachments=attachments,
        time=msg.created_at,
        link=msg.jump_url,
        author_name=getattr(msg.author, "display_name", None) or msg.author.name,
        author_is_bot=msg.author.bot,
        author_is_moderator=is_mod,
        edited=edited,
        target_names=tuple((t, names[t]) for t in targets if names.get(t)),
        author_roles=tuple(str(r.id) for r in getattr(msg.author, "roles", ()) or ()),
        channel_name=getattr(msg.channel, "name", None),
    )


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
    link = f"https://discord.com/channels/{execution.guild_id}/{channel_id}/{message_id}" if message_id is not None and execution.channel_id else None
    message = Message(
        platform="discord",
        server_id=str(execution.guild_id),
        channel_id=channel_id,
        message_id=message_id_s,
        author_id=str(execution.user_id),
        text=content,
        link=link,
    )
    matched = execution.matched_keyword or execution.matched_content or "?"
    rule = f"'{rule_name}' ({execution.rule_id})" if rule_name else str(execution.rule_id)
    verdict = Verdict(label="automod", score=1.0, reason=f"AutoMod rule {rule} matched '{matched}'", detector="discord_automod")
    return message, verdict
