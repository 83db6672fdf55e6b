"""Telegram updates -> core Messages: authors, targets, attachments, links, media groups (albums).

Also `Seen`: what the bot has learnt from updates (names, usernames, group titles, which messages
form an album), memory only, so alerts can name people and a delete can remove a whole album.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import replace
from datetime import datetime, timezone
from typing import Collection, Mapping

from telegram import Chat as TgChat
from telegram import Message as TgMessage
from telegram import MessageEntity

from bot.models import Attachment, Message

log = logging.getLogger(__name__)

PLATFORM = "telegram"


def message_link(chat: TgChat, message_id: int) -> str | None:
    """t.me link where Telegram has one: public groups by username, supergroups via /c/; basic groups none."""
    if chat.username:
        return f"https://t.me/{chat.username}/{message_id}"
    cid = str(chat.id)
    if cid.startswith("-100"):
        return f"https://t.me/c/{cid[4:]}/{message_id}"
    return None


def display_name(user) -> str:
    """`Full Name (@username)`: what moderators recognise."""
    name = getattr(user, "full_name", None) or getattr(user, "title", None) or str(user.id)
    return f"{name} (@{user.username})" if getattr(user, "username", None) else name


def _short_name(user) -> str:
    """@username where there is one, else the name: how incident summaries name the target."""
    return getattr(user, "username", None) or getattr(user, "full_name", None) or getattr(user, "title", None) or str(user.id)


#: file-name endings of documents worth scanning when Telegram gives no useful MIME type
_DOC_KINDS = {
    ".jpg": "image",
    ".jpeg": "image",
    ".png": "image",
    ".webp": "image",
    ".gif": "image",
    ".avif": "image",
    ".heic": "image",
    ".mp4": "video",
    ".mov": "video",
    ".m4v": "video",
    ".webm": "video",
    ".tgs": "sticker",
}


def _document_kind(mime: str | None, name: str | None) -> str:
    """A photo or video sent "as a file" is still a photo or video; anything else is not scanned."""
    major = (mime or "").split("/", 1)[0]
    if mime == "application/x-tgsticker":
        return "sticker"
    if major in ("image", "video"):
        return major
    suffix = ("." + name.rsplit(".", 1)[-1].lower()) if name and "." in name else ""
    return _DOC_KINDS.get(suffix, "file")


def _attachments(m: TgMessage, link: str | None) -> list[Attachment]:
    """Every file the message shows: photos, documents (photos/videos sent as files), videos, GIF
    animations (MP4), round video notes, and stickers (static WebP, animated .tgs, video WebM)."""
    out: list[Attachment] = []
    url = link or ""  # never a file URL: those carry the bot token
    if m.photo:
        p = max(m.photo, key=lambda s: (s.width * s.height, s.file_size or 0))
        out.append(Attachment(kind="image", url=url, size=p.file_size, mime="image/jpeg", width=p.width, height=p.height, ref=p.file_id))
    if m.document and not m.animation:  # an animation also comes as a document (Bot API compatibility): once is enough
        d = m.document
        out.append(
            Attachment(
                kind=_document_kind(d.mime_type, d.file_name),
                url=url,
                size=d.file_size,
                mime=d.mime_type,
                filename=d.file_name,
                ref=d.file_id,
                origin="document",
            )
        )
    for media in (m.video, m.animation):
        if media:
            out.append(Attachment(kind="video", url=url, size=media.file_size, mime=media.mime_type, width=media.width, height=media.height, ref=media.file_id))
    if m.video_note:
        v = m.video_note
        out.append(Attachment(kind="video", url=url, size=v.file_size, mime="video/mp4", width=v.length, height=v.length, ref=v.file_id))
    if m.sticker:
        st = m.sticker
        kind, mime = ("sticker", "application/x-tgsticker") if st.is_animated else ("video", "video/webm") if st.is_video else ("image", "image/webp")
        out.append(Attachment(kind=kind, url=url, size=st.file_size, mime=mime, width=st.width, height=st.height, ref=st.file_id, origin="sticker"))
    if m.forward_origin is not None:  # a forwarded photo or video: how a re-share spreads, so the record says so
        out = [replace(a, origin="forward") if a.origin == "attachment" else a for a in out]
    return out


def to_message(m: TgMessage, *, moderators: Collection[int] = (), usernames: Mapping[str, str] | None = None, edited: bool | None = None) -> Message:
    """One PTB message as the core sees it.

    Targets are the replied-to author plus text_mention users (and @mentions whose id we
    have seen, via `usernames`). `moderators` are the group's admin ids, for exemptions.
    """
    chat = m.chat
    if m.sender_chat is not None:  # anonymous admin, linked channel, or a member posting as a channel
        author_id, author_name, is_bot = str(m.sender_chat.id), display_name(m.sender_chat), False
        is_mod = m.sender_chat.id == chat.id or bool(m.is_automatic_forward)
    elif m.from_user is not None:
        u = m.from_user
        author_id, author_name, is_bot, is_mod = str(u.id), display_name(u), u.is_bot, u.id in moderators
    else:
        author_id, author_name, is_bot, is_mod = "unknown", None, False, False
    targets: list[str] = []
    names: dict[str, str] = {}
    reply = m.reply_to_message
    if reply is not None and reply.from_user is not None and reply.forum_topic_created is None:
        who = reply.sender_chat or reply.from_user
        targets.append(str(who.id))
        names[str(who.id)] = _short_name(who)
    entities = (
        m.parse_entities([MessageEntity.TEXT_MENTION, MessageEntity.MENTION])
        if m.text
        else m.parse_caption_entities([MessageEntity.TEXT_MENTION, MessageEntity.MENTION])
    )
    for ent, value in entities.items():
        if ent.type == MessageEntity.TEXT_MENTION and ent.user is not None:
            targets.append(str(ent.user.id))
            names[str(ent.user.id)] = _short_name(ent.user)
        elif ent.type == MessageEntity.MENTION and usernames:
            uid = usernames.get(value.lstrip("@").lower())
            if uid:
                targets.append(uid)
                names.setdefault(uid, value.lstrip("@"))
    targets = [t for i, t in enumerate(targets) if t != author_id and t not in targets[:i]]
    link = message_link(chat, m.message_id)
    is_edit = (m.edit_date is not None) if edited is None else edited
    when = (m.edit_date if is_edit and m.edit_date else m.date) or datetime.now(timezone.utc)
    return Message(
        platform=PLATFORM,
        server_id=str(chat.id),
        channel_id=str(chat.id),
        message_id=str(m.message_id),
        author_id=author_id,
        text=m.text or m.caption or "",
        targets=tuple(targets),
        attachments=tuple(_attachments(m, link)),
        time=when,
        link=link,
        author_name=author_name,
        author_is_bot=is_bot,
        author_is_moderator=is_mod,
        edited=is_edit,
        target_names=tuple((t, names[t]) for t in targets if names.get(t)),
        channel_name=chat.title,
    )


def merge_album(messages: list[Message]) -> Message:
    """A media group (several updates with one media_group_id) as one post: the first message's id."""
    first = min(messages, key=lambda m: int(m.message_id))
    texts = [m.text for m in sorted(messages, key=lambda m: int(m.message_id)) if m.text]
    targets: list[str] = []
    names: dict[str, str] = {}
    for m in messages:
        targets += [t for t in m.targets if t not in targets]
        names.update(m.target_names)
    atts = tuple(a for m in sorted(messages, key=lambda m: int(m.message_id)) for a in m.attachments)
    return Message(
        platform=first.platform,
        server_id=first.server_id,
        channel_id=first.channel_id,
        message_id=first.message_id,
        author_id=first.author_id,
        text="\n".join(texts),
        targets=tuple(targets),
        attachments=atts,
        time=first.time,
        link=first.link,
        author_name=first.author_name,
        author_is_bot=first.author_is_bot,
        author_is_moderator=first.author_is_moderator,
        edited=any(m.edited for m in messages),
        target_names=tuple((t, names[t]) for t in targets if t in names),
        channel_name=first.channel_name,
    )


class Lru(OrderedDict):
    """A small bounded map for names/titles/albums we have seen (memory only, not evidence)."""

    def __init__(self, maxsize: int = 5000) -> None:
        super().__init__()
        self.maxsize = maxsize

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.maxsize:
            self.popitem(last=False)


class Seen:
    """Names, usernames, group titles and albums seen in updates (bounded; not evidence)."""

    def __init__(self) -> None:
        self.names: Lru = Lru()  # user id -> "Name (@user)", to show who pressed a button
        self.usernames: Lru = Lru()  # lowercase username -> user id, to resolve @mentions
        self.titles: Lru = Lru(1000)  # chat id -> group title
        self.albums: Lru = Lru(2000)  # (chat id, first message id) -> every message id of a media group
        self.album_first: Lru = Lru(10000)  # (chat id, message id) -> first message id of its media group

    def remember_user(self, user) -> None:
        if user is None:
            return
        self.names[str(user.id)] = display_name(user)
        if getattr(user, "username", None):
            self.usernames[user.username.lower()] = str(user.id)
