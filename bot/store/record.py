"""The one transaction that stores a flagged message with everything it needs to survive a crash."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any, Sequence

from bot import audit_chain as chain
from bot.models import Decision, Message, channel_subject, utcnow
from bot.store.base import EXCERPT_CHARS, iso, content_sha256, safe_text, inserted_id
from bot.store.views import FlagResult
from bot.store.moderation import ModerationStore
from bot.store.outbox import OutboxStore
from bot.store.incidents import IncidentsStore


def _verdict_rows(decision: Decision, labels_of: Sequence[str]) -> list[tuple[str, float, str, str]]:
    """The verdict rows a flag keeps: those for its labels and any with a score."""
    return [(v.label, float(v.score), safe_text(v.reason), v.detector) for v in decision.verdicts if v.label in labels_of or v.score > 0]


def _flag_evidence(
    message: Message, text: str, labels: str, top: float, source: str, dry_run: bool, vrows: Sequence[tuple[str, float, str, str]], now: str
) -> dict[str, Any]:
    """What a new flag's audit row commits to: the values just inserted (see audit_chain.flag_evidence)."""
    return chain.flag_evidence(
        server=message.server,
        platform=message.platform,
        channel_id=message.channel_id,
        message_id=message.message_id,
        author_id=message.author_id,
        content_sha256=content_sha256(text),
        excerpt=text[:EXCERPT_CHARS],
        targets=json.dumps(list(message.targets)),
        labels=labels,
        max_score=top,
        source=source,
        dry_run=int(dry_run),
        message_time=iso(message.time),
        created_at=now,
        verdicts=vrows,
    )


class RecordStore(ModerationStore, IncidentsStore, OutboxStore):
    """Storing a flag: flag, verdicts, audit row, incident, outbox row and pending actions at once."""

    def record_flag(
        self,
        message: Message,
        decision: Decision,
        source: str = "detector",
        incident_window_minutes: int | None = None,
        raid_window_minutes: int | None = None,
        alert: bool = True,
        ping_at: int | None = None,
    ) -> FlagResult:
        """Store (or extend) the flag for a message before any action is attempted.

        One transaction holds everything a flag needs to survive a crash: the flag, its verdicts, its audit
        row, its incident (a new flag aimed at someone joins the open incident for that member within
        `incident_window_minutes`; one aimed at no one joins its channel's incident while such flags come less
        than `raid_window_minutes` apart), the outbox row that will post or update its alert, and the protective
        actions of `decision` logged as pending. Nothing here waits on a platform.

        With `ping_at`, an escalation ping is queued too when this flag makes its incident reach `ping_at`
        flags, or when it is a re-share of a protected picture.
        """
        server = message.server
        now = iso(utcnow())
        text = safe_text(message.text)
        labels = ",".join(decision.labels)
        scores = decision.scores
        top = max((scores.get(label, 0.0) for label in decision.labels), default=0.0)
        atts = [
            {"kind": a.kind, "mime": a.mime, "size": a.size, "width": a.width, "height": a.height, "url": a.url, "filename": a.filename}
            for a in message.attachments
        ]
        with self._tx():
            self.ensure_server(server)
            existing = self.db.conn.execute(
                "SELECT id, labels, max_score FROM flags WHERE server = ? AND channel_id = ? AND message_id = ?",
                (server, message.channel_id, message.message_id),
            ).fetchone()
            if existing:
                flag_id = existing[0]
                merged = [x for x in existing[1].split(",") if x]
                merged += [x for x in decision.labels if x not in merged]
                self.db.conn.execute(
                    "UPDATE flags SET labels = ?, max_score = MAX(max_score, ?), updated_at = ?, excerpt = COALESCE(?, excerpt) WHERE id = ?",
                    (",".join(merged), top, now, text[:EXCERPT_CHARS] if message.edited else None, flag_id),
                )
                created = False
                labels, top = ",".join(merged), max(existing[2], top)
            else:
                cur = self.db.conn.execute(
                    "INSERT INTO flags (server, platform, channel_id, message_id, author_id, author_name, excerpt, content_sha256, link, "
                    "targets, attachments, labels, max_score, source, dry_run, message_time, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        server,
                        message.platform,
                        message.channel_id,
                        message.message_id,
                        message.author_id,
                        safe_text(message.author_name) if message.author_name else None,
                        text[:EXCERPT_CHARS],
                        content_sha256(text),
                        message.link,
                        json.dumps(list(message.targets)),
                        json.dumps(atts),
                        labels,
                        top,
                        source,
                        int(decision.dry_run),
                        iso(message.time),
                        now,
                        now,
                    ),
                )
                flag_id = inserted_id(cur)
                created = True
            vrows = _verdict_rows(decision, labels_of=decision.labels)
            self.db.conn.executemany("INSERT INTO verdicts (flag_id, label, score, reason, detector) VALUES (?, ?, ?, ?, ?)", [(flag_id, *v) for v in vrows])
            if created:
                self._audit(server, "flag", flag_id, _flag_evidence(message, text, labels, top, source, decision.dry_run, vrows, now), now)
            else:
                self._audit(
                    server,
                    "flag_update",
                    flag_id,
                    chain.flag_update_evidence(labels=labels, max_score=top, excerpt=text[:EXCERPT_CHARS], edited=message.edited, verdicts=vrows),
                    now,
                )
            incident_id = None
            if created and incident_window_minutes is not None and message.targets:
                target = message.targets[0]
                since = message.time - timedelta(minutes=incident_window_minutes)
                incident_id = self.attach_to_incident(
                    server, flag_id, target, self.open_incident_for(server, target, since), message.time, message.target_name(target)
                )
            elif created and raid_window_minutes and not message.targets:
                # aimed at no one: its channel's incident while the flags keep coming within the raid window
                target = channel_subject(message.channel_id)
                since = message.time - timedelta(minutes=raid_window_minutes)
                incident_id = self.attach_to_incident(
                    server, flag_id, target, self.open_incident_for(server, target, since), message.time, message.channel_name
                )
            elif not created:
                incident_id = self.db.conn.execute("SELECT incident_id FROM flags WHERE id = ?", (flag_id,)).fetchone()[0]
            if alert:
                self._enqueue_alert(server, flag_id, incident_id, now)
            if ping_at is not None and created:
                self._enqueue_ping(server, flag_id, incident_id, ping_at, "reshare" in decision.labels, now)
            logged = tuple(
                (
                    self.record_action(replace(a, flag_id=flag_id, incident_id=incident_id)),
                    replace(a, flag_id=flag_id, incident_id=incident_id, link=message.link),
                )
                for a in decision.actions
            )
        return FlagResult(flag_id, created, incident_id, logged)
