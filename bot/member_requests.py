"""Members' requests to the pipeline: reports of what the bot missed, and privately registered pictures."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from bot import i18n
from bot.models import Decision, Message, Report, utcnow
from bot.pipeline_base import PipelineBase
from classifiers.base import Verdict

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportOutcome:
    flag_id: int | None
    count: int = 0
    created: bool = False
    duplicate: bool = False
    rate_limited: bool = False
    language: str = "en"  # the reporter's, else the server's

    @property
    def message(self) -> str:
        """What the reporter is told (privately), in their language."""
        key = "report.rate_limited" if self.rate_limited else "report.duplicate" if self.duplicate else "report.sent"
        return i18n.text(key, self.language)


@dataclass(frozen=True)
class ProtectOutcome:
    entry_id: int | None
    scope: str | None
    message: str  # what the member is told
    reused: bool = False  # a near-identical picture she had already registered: its entry, not a new one

    @property
    def ok(self) -> bool:
        return self.entry_id is not None


class MemberRequestsMixin(PipelineBase):
    """Part of `Pipeline`: /report and /protect."""

    async def report(self, report: Report) -> ReportOutcome:
        """A member's report: rate-limited, de-duplicated, collapsed into the message's queue item."""
        server = report.server
        settings = self.server_settings(server)
        lang = i18n.pick(settings.language, report.locale)
        self.store.ensure_server(server)
        since = utcnow() - timedelta(hours=1)
        if settings.report_rate_limit and self.store.reports_since(server, report.reporter_id, since) >= settings.report_rate_limit:
            log.info("report rate limit hit in %s", server)
            return ReportOutcome(flag_id=None, rate_limited=True, language=lang)
        message = report.message or Message(
            platform=report.platform,
            server_id=report.server_id,
            channel_id=report.channel_id or "member",
            message_id=report.message_id or f"member:{report.target_user_id}",
            author_id=report.target_user_id or "unknown",
            text="",
            time=report.time,
        )
        flag_id = self.store.find_flag(server, message.channel_id, message.message_id)
        created = False
        if flag_id is None:
            verdicts = await self.classify(message)
            labels = self.decide(message, verdicts, settings).labels
            member_verdict = Verdict(label="reported", score=1.0, reason=f"reported by a member: {report.reason}".strip().rstrip(":"), detector="member_report")
            decision = Decision(flagged=True, labels=labels or ("reported",), verdicts=tuple(verdicts) + (member_verdict,), dry_run=settings.dry_run)
            result = self.store.record_flag(message, decision, source="report", alert=False, incident_window_minutes=settings.incident_window_minutes)
            flag_id, created = result.flag_id, result.created
        elif self.store.has_reported(server, flag_id, report.reporter_id):
            return ReportOutcome(flag_id=flag_id, duplicate=True, count=self.store.flag(server, flag_id).report_count, language=lang)
        self.store.record_report(server, flag_id, report.reporter_id, report.reason)
        self.refresh_alert(server, flag_id)
        return ReportOutcome(flag_id=flag_id, count=self.store.flag(server, flag_id).report_count, created=created, language=lang)

    async def protect(self, server: str, data: bytes, registered_by: str, note: str = "", locale: str | None = None) -> ProtectOutcome:
        """A member registers an image privately (/protect). Only its hashes are stored; `data` is dropped."""
        lang = i18n.pick(self.server_settings(server).language, locale)
        if self.image_scanner is None:
            return ProtectOutcome(None, None, i18n.text("protect.unavailable", lang))
        loop = asyncio.get_running_loop()
        try:
            records = await loop.run_in_executor(self.image_waits, self.image_scanner.fingerprint_records, data)
        except Exception as exc:
            reason = getattr(exc, "reason", None) or f"{type(exc).__name__}"
            log.info("protect: image refused in %s: %s", server, reason)
            return ProtectOutcome(None, None, i18n.text("protect.unreadable", lang, reason=reason))
        scope = self.bank_scope(server)
        existing = self.image_scanner.duplicate_of(scope, records, registered_by)
        if existing is not None:  # the same picture again: one entry, so one thing to withdraw
            return ProtectOutcome(existing, scope, i18n.text("protect.already", lang, entry=existing), reused=True)
        entry = self.store.add_bank_entry(scope, records, note or "registered with /protect", "member", registered_by, protects=registered_by)
        self.image_scanner.add_to_index(scope, entry, records)
        return ProtectOutcome(entry, scope, i18n.text("protect.registered", lang))

    def protected_images(self, server: str, member_id: str) -> list[dict]:
        """What a member registered with /protect for this server (shared bank included), newest first."""
        return self.store.bank_list(self.bank_scope(server), registered_by=member_id)

    def unprotect(self, server: str, member_id: str, entry_id: int) -> bool:
        """Remove a picture the member registered; she alone can, and re-shares stop matching at once."""
        scope = self.bank_scope(server)
        removed = self.store.remove_bank_entry(entry_id, scope=scope, registered_by=member_id)
        if removed and self.image_scanner is not None:
            self.image_scanner.remove_from_index(scope, entry_id)
        log.info("unprotect in %s: entry #%d %s", server, entry_id, "removed" if removed else "not hers or not found")
        return removed
