"""Platform-independent core types; adapters translate to and from these and nothing else."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from classifiers.base import Verdict, max_scores

log = logging.getLogger(__name__)

Platform = Literal["discord", "telegram", "demo", "cli"]
ReviewDecision = Literal["confirm", "dismiss", "escalate"]
ActionKind = Literal[
    "notify", "ping", "notice", "delete", "timeout", "ban", "unflag", "warn", "untimeout", "unban", "appeal_notice", "appeal_outcome", "appeal_alert"
]

#: Review decisions a moderator can take, in the order UIs show them.
REVIEW_DECISIONS: tuple[str, ...] = ("confirm", "dismiss", "escalate")
#: Queue statuses; `pending` and `escalated` are still open.
STATUSES: tuple[str, ...] = ("pending", "confirmed", "dismissed", "escalated")
OPEN_STATUSES: tuple[str, ...] = ("pending", "escalated")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def channel_subject(channel_id: str) -> str:
    """The incident subject of a burst of flags aimed at no one in particular: their channel (a raid on a channel
    is one case with one alert, not one alert per message). Member ids never start with '#'."""
    return f"#{channel_id}"


def is_channel_subject(target_id: str) -> bool:
    return target_id.startswith("#")


def server_key(platform: str, server_id: str | int) -> str:
    """The scope every stored row carries, e.g. `discord:1234` (matches config section names)."""
    return f"{platform}:{server_id}"


#: Attachment kinds the image checks download and scan (the worker decides the real format from the bytes)
SCANNABLE_KINDS: tuple[str, ...] = ("image", "video", "sticker")
#: Where a scanned file was in the message, for reasons and logs
ORIGINS: tuple[str, ...] = ("attachment", "embed", "forward", "sticker", "document")
#: How a reason says where the file was; a plain attachment needs no words. Reasons are audited evidence,
#: so a re-share that came as a forward or a link preview says so in the record and in exports.
ORIGIN_NOTES: dict[str, str] = {
    "attachment": "",
    "embed": "in a link preview",
    "forward": "in a forwarded message",
    "sticker": "a sticker",
    "document": "sent as a file",
}


@dataclass(frozen=True, slots=True)
class Attachment:
    """What the platform told us about a file, before anything is downloaded."""

    kind: str  # "image" | "video" | "sticker" (animated, Lottie) | "file" (not scanned)
    url: str
    size: int | None = None
    mime: str | None = None
    width: int | None = None
    height: int | None = None
    filename: str | None = None
    ref: str | None = None  # platform handle (Telegram file_id) when a URL needs resolving
    origin: str = "attachment"  # one of ORIGINS: a link preview's image, a forwarded message's file, ...

    @property
    def scannable(self) -> bool:
        """Downloaded and checked (re-share bank, nudity, text in images) rather than ignored."""
        return self.kind in SCANNABLE_KINDS


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message, as every detector and the store see it."""

    platform: str
    server_id: str
    channel_id: str
    message_id: str
    author_id: str
    text: str = ""
    targets: tuple[str, ...] = ()  # member ids it is aimed at: reply-to author and mentions
    attachments: tuple[Attachment, ...] = ()
    time: datetime = field(default_factory=utcnow)
    link: str | None = None
    author_name: str | None = None
    author_is_bot: bool = False
    author_is_moderator: bool = False
    edited: bool = False
    target_names: tuple[tuple[str, str], ...] = ()  # (member id, display name) for targets, when known
    channel_name: str | None = None  # the channel's (Discord) or group's (Telegram) name, when known
    author_roles: tuple[str, ...] = ()  # Discord role ids of the author (for servers' exempt roles)

    @property
    def server(self) -> str:
        return server_key(self.platform, self.server_id)

    def target_name(self, member_id: str) -> str | None:
        return dict(self.target_names).get(member_id)


@dataclass(frozen=True, slots=True)
class Action:
    """Something an adapter should do on the platform; logged before and after it is tried.

    `notify` posts (or, when `ref` is set, edits) the moderators' queue entry for `flag_id`.
    `ping` posts a short separate message that mentions `mentions` (an escalation; edits never notify anyone).
    `notice` posts `text`, the bot's own plain text (e.g. the daily evidence anchor), mentioning no one.
    `untimeout` / `unban` undo a timeout or ban after a reversed appeal. `appeal_notice` and `appeal_outcome`
    message the member privately (`appeal`); `appeal_alert` posts or edits an appeal's entry for moderators.
    """

    kind: str
    server: str
    flag_id: int | None = None
    channel_id: str | None = None
    message_id: str | None = None
    user_id: str | None = None
    duration_s: int | None = None
    reason: str = ""
    actor: str = "auto"  # moderator id, or "auto" for the bot itself
    dry_run: bool = False
    ref: str | None = None  # existing alert to edit in place
    incident_id: int | None = None
    alert: Any = field(default=None, compare=False, repr=False)  # for notify: the bot.alerts.Alert to show, built once
    destination: str | None = None  # the moderators' channel/chat for notify and failure notices, resolved by the core
    link: str | None = None  # link to the flagged message, for notices (adapters never look it up)
    mentions: tuple[str, ...] = ()  # for `ping`: the only roles (Discord) or users (Telegram) it may mention
    text: str = ""  # for `notice`: what to post, as plain text
    language: str = "en"  # the server's language, for what the adapter writes itself (a refused action's notice)
    # for `appeal_notice` / `appeal_outcome` / `appeal_alert`: the bot.appeals message to deliver, built once by the core
    appeal: Any = field(default=None, compare=False, repr=False)

    @property
    def automatic(self) -> bool:
        return self.actor == "auto"


@dataclass(frozen=True, slots=True)
class ActionResult:
    ok: bool
    detail: str = ""
    ref: str | None = None  # e.g. id of the alert message the adapter posted
    retry_after: float | None = None  # the platform asked us to wait this long (429); the core retries then
    gone: bool = False  # the target no longer exists (message already deleted, member left, alert message removed)


@dataclass(frozen=True, slots=True)
class Decision:
    """What policy concluded about one message; pure data, nothing done yet."""

    flagged: bool
    labels: tuple[str, ...]
    verdicts: tuple[Verdict, ...]
    actions: tuple[Action, ...] = ()
    dry_run: bool = False
    exempt: str | None = None  # why policy skipped the message, if it did
    flag_id: int | None = None
    incident_id: int | None = None

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(v.reason for v in self.verdicts if v.label in self.labels and v.reason)

    @property
    def scores(self) -> dict[str, float]:
        return max_scores(self.verdicts)


@dataclass(frozen=True, slots=True)
class Report:
    """A member's report. The reporter is kept for moderators, never shown to the reported member."""

    platform: str
    server_id: str
    reporter_id: str
    reason: str = ""
    message: Message | None = None  # the reported message, when the platform lets us see it
    target_user_id: str | None = None  # for reports of a member rather than a message
    channel_id: str | None = None
    message_id: str | None = None
    time: datetime = field(default_factory=utcnow)
    locale: str | None = None  # the reporter's language as the platform gives it (Discord "id", Telegram "id-ID")

    @property
    def server(self) -> str:
        return server_key(self.platform, self.server_id)


@dataclass(frozen=True, slots=True)
class Review:
    flag_id: int
    server: str
    decision: str
    reviewer: str
    note: str = ""
    time: datetime = field(default_factory=utcnow)
