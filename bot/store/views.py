"""What the store hands back: read-only views of flags, incidents, members and outbox items."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from bot.models import Action
from bot.store.base import iso
from classifiers.base import max_scores


@dataclass(frozen=True)
class VerdictRow:
    label: str
    score: float
    reason: str
    detector: str


@dataclass(frozen=True)
class FlagView:
    """One queue item as moderators see it (no reporter identities)."""

    id: int
    server: str
    platform: str
    channel_id: str
    message_id: str
    author_id: str
    author_name: str | None
    excerpt: str | None
    link: str | None
    labels: tuple[str, ...]
    max_score: float
    source: str
    status: str
    report_count: int
    created_at: datetime
    message_time: datetime
    targets: tuple[str, ...]
    attachments: tuple[dict, ...]
    verdicts: tuple[VerdictRow, ...] = ()
    report_reasons: tuple[str, ...] = ()
    incident_id: int | None = None
    alert_ref: str | None = None
    dry_run: bool = False
    last_review: dict | None = None

    @property
    def scores(self) -> dict[str, float]:
        return max_scores(self.verdicts)

    @property
    def reasons(self) -> tuple[str, ...]:
        seen: list[str] = []
        for v in sorted(self.verdicts, key=lambda v: -v.score):
            if v.reason and v.label in self.labels and v.reason not in seen:
                seen.append(v.reason)
        return tuple(seen)


@dataclass(frozen=True)
class IncidentView:
    id: int
    server: str
    target_id: str
    status: str
    first_at: datetime
    last_at: datetime
    flag_count: int
    author_count: int
    labels: tuple[str, ...]
    alert_ref: str | None
    flag_ids: tuple[int, ...] = ()  # filled only when asked for (`with_flags`): a pile-on can hold thousands
    target_name: str | None = None
    first_flag_id: int | None = None


@dataclass(frozen=True)
class PurgePlan:
    """What a purge would erase, and what a legal hold keeps: shown before anything is erased."""

    flag_ids: tuple[int, ...]
    held_ids: tuple[int, ...]
    servers: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.flag_ids)


@dataclass
class FlagResult:
    flag_id: int
    created: bool
    incident_id: int | None = None
    actions: tuple[tuple[int, Action], ...] = ()  # protective actions logged as pending, with their ids


@dataclass(frozen=True)
class MemberHistory:
    """What the record holds about one member of one server, newest first (moderators only)."""

    server: str
    user_id: str
    flags: tuple[FlagView, ...]  # their flagged messages, newest first, up to the limit asked for
    flag_total: int
    by_status: Mapping[str, int]
    actions: tuple[dict, ...]  # finished actions on them (kind, status, actor, duration_s, created_at, flag_id)
    action_counts: Mapping[str, int]  # carried-out actions by kind
    reports_against: int
    notes: tuple[dict, ...] = ()  # moderators' notes on the member, oldest first


@dataclass(frozen=True)
class OutboxItem:
    """An alert waiting to be posted or edited: the newest flag of its subject (an incident or a lone flag)."""

    id: int
    server: str
    subject: str
    flag_id: int
    incident_id: int | None
    version: int
    attempts: int
    created_at: datetime


@dataclass(frozen=True)
class FlagFilter:
    """Which flags a count, an export or a case covers. `server=None` means every server (admin CLI only);
    `incident` is one incident's flags and `target` every flag aimed at one member (a victim's case)."""

    server: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    label: str | None = None
    status: str | None = None
    incident: int | None = None
    target: str | None = None

    def manifest(self) -> dict[str, Any]:
        """The filter as an export manifest records it."""
        return {
            "server": self.server,
            "since": iso(self.since) if self.since else None,
            "until": iso(self.until) if self.until else None,
            "label": self.label,
            "status": self.status,
            "incident": self.incident,
            "target": self.target,
        }
