"""Moderators' decisions: reviews and actions on one flag, or on a whole incident at once.

A pile-on is one incident alert, so moderators must be able to clear all of it from there: confirm or
dismiss every open flag, delete every flagged message, time out or ban every author. Each per-flag effect
is logged with the moderator who did it, and the incident alert is refreshed once with the outcome.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import Mapping

from bot import i18n
from bot.models import REVIEW_DECISIONS, Action, ActionResult, Review
from bot.pipeline_base import PipelineBase
from bot.review import bank_confirmed_images
from bot.store import FlagView, StoreError

log = logging.getLogger(__name__)

INCIDENT_KINDS: tuple[str, ...] = ("confirm", "dismiss", "escalate", "delete", "timeout", "ban")
_VERB = {"confirm": "confirmed", "dismiss": "dismissed", "escalate": "escalated", "delete": "deleted", "timeout": "timed out", "ban": "banned"}


@dataclass(frozen=True)
class IncidentOutcome:
    kind: str
    done: int = 0  # flags reviewed / messages deleted / authors timed out or banned
    already: int = 0  # nothing to do (already gone, already reviewed)
    failed: int = 0
    skipped: int = 0  # refused by the caller's rights check (exclude_users) or nothing to act on

    @property
    def summary(self) -> str:
        """E.g. "57 deleted, 3 already gone"; what the clicker is told."""
        noun = " authors" if self.kind in ("timeout", "ban") else ""
        parts = [f"{self.done}{noun} {_VERB.get(self.kind, self.kind)}"]
        if self.already:
            parts.append(f"{self.already} already {'reviewed' if self.kind in REVIEW_DECISIONS else 'gone'}")
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        return ", ".join(parts)


class ModerationMixin(PipelineBase):
    """Part of `Pipeline`: review, moderate, and their incident-level forms."""

    async def review(self, review: Review) -> FlagView:
        """Record a moderator's decision and refresh the queue entry.

        Confirming a flag with images puts their hashes into the re-share bank, so later
        copies are caught even after crops and recompression.
        """
        self.store.record_review(review)
        if review.decision == "confirm":
            self.bank_confirmed(review.server, review.flag_id, review.reviewer)
        self.refresh_alert(review.server, review.flag_id)
        return self.store.flag(review.server, review.flag_id)

    async def moderate(self, action: Action) -> ActionResult:
        """A moderator-initiated delete/timeout/ban on one flag (from a button or command)."""
        if action.flag_id is not None and action.link is None:
            action = _with_link(self, action)
        result = await self.actions.perform(action)
        if action.flag_id is not None:
            self.refresh_alert(action.server, action.flag_id)
        return result

    async def warn(self, server: str, flag_id: int, actor: str, text: str | None = None) -> ActionResult:
        """Send the flag's author a private warning (the server's template, or the built-in one in its language),
        and record it. With `warnings_count`, warnings count toward an automatic timeout."""
        flag = self.store.flag(server, flag_id)
        settings = self.server_settings(server)
        body = (text or settings.warning_message or i18n.text("warn.default", settings.language)).strip()
        action = Action(
            kind="warn",
            server=server,
            flag_id=flag_id,
            channel_id=flag.channel_id,
            message_id=flag.message_id,
            user_id=flag.author_id,
            reason=body[:500],
            actor=actor,
            dry_run=settings.dry_run,
            link=flag.link,
        )
        result = await self.actions.perform(action)
        self.refresh_alert(server, flag_id)
        return result

    def note(self, server: str, subject_kind: str, subject_id: str, author: str, text: str) -> int:
        """A moderator's note on a flag, an incident or a member; a flag's or incident's alert shows it."""
        note_id = self.store.add_note(server, subject_kind, subject_id, author, text)
        if subject_kind == "flag":
            self.refresh_alert(server, int(subject_id))
        elif subject_kind == "incident":
            first = self.store.incident(server, int(subject_id)).first_flag_id
            if first is not None:
                self.refresh_alert(server, first)
        return note_id

    def incident_authors(self, server: str, incident_id: int) -> list[str]:
        """Distinct authors of an incident's flags, in the order they joined it."""
        return list(dict.fromkeys(t[3] for t in self.store.incident_targets(server, incident_id)))

    def incident_page(self, server: str, incident_id: int, offset: int, limit: int) -> tuple[list[FlagView], int]:
        """One page of an incident's items for a pager, and how many there are in all."""
        total = self.store.incident(server, incident_id).flag_count
        return self.store.incident_flags(server, incident_id, offset=max(0, offset), limit=limit), total

    async def moderate_incident(
        self,
        server: str,
        incident_id: int,
        kind: str,
        actor: str,
        *,
        duration_s: int | None = None,
        reason: str = "",
        exclude_users: Mapping[str, str] | None = None,
    ) -> IncidentOutcome:
        """Act on a whole incident. confirm/dismiss/escalate review every open flag; delete removes every
        flagged message; timeout/ban act once on every distinct author. Authors in `exclude_users` (id -> why
        the caller may not act on them) are skipped by all three. Raises StoreError for an incident not in `server`."""
        if kind not in INCIDENT_KINDS:
            raise ValueError(f"unknown incident action {kind!r} (expected one of {', '.join(INCIDENT_KINDS)})")
        self.store.incident(server, incident_id)  # raises StoreError for an incident of another server
        targets = self.store.incident_targets(server, incident_id)
        exclude = exclude_users or {}
        if kind in REVIEW_DECISIONS:
            open_ids = self.store.incident_open_flag_ids(server, incident_id)
            for flag_id in open_ids:
                self.store.record_review(
                    Review(
                        flag_id=flag_id, server=server, decision=kind, reviewer=actor, note=f"whole incident #{incident_id}" + (f": {reason}" if reason else "")
                    )
                )
                if kind == "confirm":
                    self.bank_confirmed(server, flag_id, actor)
            outcome = IncidentOutcome(kind, done=len(open_ids), already=len(targets) - len(open_ids))
        else:
            dry_run = self.server_settings(server).dry_run
            why = f"incident #{incident_id}" + (f": {reason}" if reason else "")
            actions: list[Action] = []
            skipped = 0
            if kind == "delete":
                for flag_id, channel_id, message_id, author_id, link in targets:
                    if channel_id == "member" or message_id.startswith(("member:", "automod:")):
                        skipped += 1  # a report about a member, or an AutoMod block: no message to delete
                        continue
                    if author_id in exclude:  # the caller may not act on this author's messages
                        skipped += 1
                        continue
                    actions.append(
                        Action(
                            kind="delete",
                            server=server,
                            flag_id=flag_id,
                            channel_id=channel_id,
                            message_id=message_id,
                            user_id=author_id,
                            reason=why,
                            actor=actor,
                            dry_run=dry_run,
                            incident_id=incident_id,
                            link=link,
                        )
                    )
            else:
                newest: dict[str, tuple] = {}
                for t in targets:
                    newest[t[3]] = t
                for author_id, (flag_id, channel_id, message_id, _, link) in newest.items():
                    if author_id in exclude:
                        skipped += 1
                        log.info("incident #%d: %s of %s refused: %s", incident_id, kind, author_id, exclude[author_id])
                        continue
                    actions.append(
                        Action(
                            kind=kind,
                            server=server,
                            flag_id=flag_id,
                            channel_id=channel_id,
                            message_id=message_id,
                            user_id=author_id,
                            duration_s=duration_s if kind == "timeout" else None,
                            reason=why,
                            actor=actor,
                            dry_run=dry_run,
                            incident_id=incident_id,
                            link=link,
                        )
                    )
            results = await _perform_all(self, actions)
            outcome = IncidentOutcome(
                kind,
                done=sum(r.ok and not r.gone for r in results),
                already=sum(r.ok and r.gone for r in results),
                failed=sum(not r.ok for r in results),
                skipped=skipped,
            )
        log.info("incident #%d in %s: %s by %s: %s", incident_id, server, kind, actor, outcome.summary)
        if targets:  # an incident always has flags; its alert follows the newest
            self.refresh_alert(server, max(t[0] for t in targets))
        return outcome

    def bank_confirmed(self, server: str, flag_id: int, reviewer: str) -> list[int]:
        scope = self.bank_scope(server)
        added = bank_confirmed_images(self.store, server, flag_id, reviewer, scope)
        if self.image_scanner is not None:
            for entry, records in added:
                self.image_scanner.add_to_index(scope, entry, records)
        return [entry for entry, _ in added]

    def bank_scope(self, server: str) -> str:
        from bot.image_scan import SHARED_SCOPE

        return SHARED_SCOPE if self.server_settings(server).shared_bank else server


def _with_link(pipeline: PipelineBase, action: Action) -> Action:
    """Failure notices link to the message; the adapter is given the link rather than looking it up."""
    try:
        return replace(action, link=pipeline.store.flag(action.server, action.flag_id).link)  # type: ignore[arg-type]
    except StoreError:  # not a flag of this server: the notice just has no link
        return action


async def _perform_all(pipeline: PipelineBase, actions: list[Action]) -> list[ActionResult]:
    """Carry out many actions; the action runner keeps a few per server in flight, each logged before and after."""
    return list(await asyncio.gather(*(pipeline.actions.perform(a) for a in actions)))
