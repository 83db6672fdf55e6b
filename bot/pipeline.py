"""The message path: handle(Message) = classify -> decide -> store. Platform-independent.

Handling ends at the store. The flag, its incident, its alert (an outbox row) and its protective actions are
written in one transaction; then protective actions start in the background (`ActionRunner`) and the alert
worker is woken (`AlertDelivery`). No platform call is awaited here, so a slow or failing platform delays
delivery, never detection. Settings, member requests, moderation and appeals are mixins, one module each.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Mapping, Sequence

from bot import metrics
from bot.action_runner import ActionRunner
from bot.appeals import AppealsMixin
from bot.config import ServerSettings, Settings
from bot.delivery import AlertDelivery
from bot.intake import Intake
from bot.image_text import image_text_verdicts
from bot.member_requests import MemberRequestsMixin, ProtectOutcome, ReportOutcome
from bot.models import ORIGIN_NOTES, Action, Attachment, Decision, Message, utcnow
from bot.moderation import IncidentOutcome, ModerationMixin
from bot.policy import decide
from bot.protocols import Adapter, ImageScanner
from bot.server_rules import ServerRulesMixin
from bot.server_settings import ServerSettingsMixin
from bot.store import Store
from classifiers.base import TextDetector, Verdict
from classifiers.rules import RuleHits, RuleMatcher

log = logging.getLogger(__name__)

__all__ = ["Adapter", "Classified", "ImageScanner", "IncidentOutcome", "Intake", "Pipeline", "ProtectOutcome", "ReportOutcome"]


def _noting_origin(verdicts: Sequence[Verdict], origin: str) -> list[Verdict]:
    """Each reason says where the file was when it was not a plain attachment (evidence of how it was spread)."""
    note = ORIGIN_NOTES.get(origin, origin)
    if not note:
        return list(verdicts)
    return [replace(v, reason=f"{v.reason} ({note})") for v in verdicts]


@dataclass
class Classified:
    verdicts: list[Verdict] = field(default_factory=list)
    images: list = field(default_factory=list)  # bank records (hashes/keypoints) per image, from the image worker
    bank_entries: list[int] = field(default_factory=list)
    allowed: Mapping[str, str] = field(default_factory=dict)  # labels an allow-listed phrase in the text covers


class Pipeline(ServerSettingsMixin, ServerRulesMixin, MemberRequestsMixin, ModerationMixin, AppealsMixin):
    def __init__(
        self,
        settings: Settings,
        store: Store,
        text_detectors: Sequence[TextDetector] = (),
        image_scanner: ImageScanner | None = None,
        base_thresholds: Mapping[str, float] | None = None,
        executor: Executor | None = None,
        inline_text_chars: int = 2000,
        action_thresholds: Mapping[str, float] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.text_detectors = list(text_detectors)
        self.image_scanner = image_scanner
        self.base_thresholds = dict(base_thresholds or {})
        self.base_thresholds.update(settings.thresholds)
        self.action_thresholds = dict(action_thresholds or {})  # the model's precision-oriented points, per label
        self.inline_text_chars = inline_text_chars
        self.executor = executor or ThreadPoolExecutor(max_workers=2, thread_name_prefix="classify")
        # Threads that only wait on the image worker processes (which do the work, with a timeout): kept apart
        # from the classify threads so a long text never queues behind images waiting for a free worker.
        self.image_waits: Executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="image-wait")
        self.adapters: dict[str, Adapter] = {}
        self._server_cache: dict[str, ServerSettings] = {}
        self._rules_cache: dict = {}  # server -> its compiled own rules (bot/server_rules.py)
        self.delivery = AlertDelivery(store, self.adapters, self.server_settings)
        self.actions = ActionRunner(
            store,
            self.adapters,
            self.destination,
            on_done=self._action_done,
            on_result=self.after_action,
            prepare=self._prepare_action,
            before=self.before_action,
        )

    def _prepare_action(self, action: Action) -> Action:
        """What an action needs from the server's settings before the adapter carries it out (no call back later)."""
        return self.prepare_action(replace(action, language=self.server_settings(action.server).language))

    # ---- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        """In the running event loop: deliver alerts and carry out actions the last run left undone."""
        self.actions.resume()
        self.delivery.resume()

    async def settle(self) -> None:
        """Wait until background actions have finished and no alert is due (tests and the demo)."""
        while True:
            await self.actions.settle()
            await self.delivery.settle()
            if not self.actions.busy:
                return

    async def stop(self) -> None:
        """Stop background work now; unfinished actions and alerts stay in the store for the next start."""
        await self.actions.stop()
        await self.delivery.stop()
        self.image_waits.shutdown(wait=False, cancel_futures=True)

    # ---- classify ------------------------------------------------------------------
    def classify_text(self, text: str) -> list[Verdict]:
        out: list[Verdict] = []
        for det in self.text_detectors:
            try:
                out.extend(det.classify(text))
            except Exception:  # one broken detector must not hide the others' verdicts
                log.exception("text detector %s failed", getattr(det, "name", det))
        return out

    def _classify_text(self, text: str, rules: RuleMatcher) -> tuple[list[Verdict], RuleHits]:
        """The text detectors' verdicts, then the server's own rules (their verdicts and allow-listed labels)."""
        out = self.classify_text(text)
        try:
            hits = rules.match(text) if len(rules) else RuleHits()
        except Exception:  # like a broken detector: the model's verdicts still count
            log.exception("server rules failed")
            hits = RuleHits()
        out.extend(hits.verdicts)
        return out, hits

    async def classify(self, message: Message) -> list[Verdict]:
        return (await self._classify(message)).verdicts

    async def _classify(self, message: Message) -> Classified:
        loop = asyncio.get_running_loop()
        out = Classified()
        rules = self.server_rules(message.server).matcher
        if message.text and (self.text_detectors or len(rules)):
            if len(message.text) <= self.inline_text_chars:
                # A chat-sized message costs well under a millisecond to score; handing it to a
                # thread costs more than that (measured in benchmarks/bench_pipeline.py).
                verdicts, hits = self._classify_text(message.text, rules)
            else:
                verdicts, hits = await loop.run_in_executor(self.executor, self._classify_text, message.text, rules)
            out.verdicts += verdicts
            out.allowed = hits.allowed
        if self.image_scanner is not None and any(a.scannable for a in message.attachments):
            scopes = self.image_scanner.scopes(message.server, self.server_settings(message.server).shared_bank)
            self.image_scanner.prepare(scopes)
            for att in message.attachments:
                result = await self._scan_attachment(message, att, scopes)
                if result is not None:
                    found = list(result.verdicts)
                    if getattr(result, "text", ""):  # text read in the image (OCR): through the text model
                        found += image_text_verdicts(result.text, self.classify_text)
                    out.verdicts += _noting_origin(found, att.origin)
                    if result.records:
                        out.images.append(result.records)
                    out.bank_entries += result.matched_entries
        return out

    async def _scan_attachment(self, message: Message, att: Attachment, scopes: list[str]) -> Any:
        if not att.scannable or self.image_scanner is None:
            return None
        cap = self.settings.max_attachment_bytes
        if att.size is not None and att.size > cap:
            log.info("skipping a %s (%s) in %s: declared size %d > cap %d", att.kind, att.origin, message.server, att.size, cap)
            return None
        adapter = self.adapters.get(message.platform)
        if adapter is None:
            return None
        try:
            data = await adapter.fetch(att, cap)
        except Exception as exc:
            log.warning("could not fetch attachment of %s/%s: %s", message.server, message.message_id, exc)
            return None
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self.image_waits, self.image_scanner.scan, data, scopes)
            metrics.image_refused(getattr(result, "error", None))
            return result
        except Exception:
            log.exception("image scan failed for %s/%s", message.server, message.message_id)
            return None

    # ---- the main path -------------------------------------------------------------
    async def handle(self, message: Message, extra_verdicts: Sequence[Verdict] = (), source: str = "detector") -> Decision:
        """Classify, decide, store. Returns the Decision (with flag and incident ids when flagged).

        `extra_verdicts` come from outside our detectors (e.g. Discord AutoMod, with source="automod").
        """
        settings = self.server_settings(message.server)
        found = await self._classify(message)
        if found.bank_entries:
            # a re-share of an image registered by or for a member is aimed at that member
            extra_targets = [e["protects"] for e in map(self.store.bank_entry, found.bank_entries) if e and e.get("protects")]
            message = replace(message, targets=tuple(dict.fromkeys((*message.targets, *extra_targets))))
        decision = self.decide(message, found.verdicts + list(extra_verdicts), settings, allowed=found.allowed)
        metrics.message_seen(message.platform)
        if not decision.flagged:
            return decision
        metrics.flagged(message.platform, decision.labels)
        return await self.flag(message, decision, source=source, images=found.images)

    def decide(self, message: Message, verdicts: Sequence[Verdict], settings: ServerSettings, allowed: Mapping[str, str] | None = None) -> Decision:
        """`allowed`: labels an allow-listed phrase covers (found while classifying; looked up when not given)."""
        rules = self.server_rules(message.server)
        if allowed is None:
            allowed = rules.matcher.match(message.text).allowed if message.text and len(rules.matcher) else {}
        context = rules.context(allowed, frozenset(getattr(d, "name", "") for d in self.text_detectors))
        prior = 0
        if settings.auto_timeout:
            since = utcnow() - timedelta(minutes=settings.timeout_window_minutes)
            prior = self.store.recent_flag_count(message.server, message.author_id, since)
            if settings.warnings_count:
                prior += self.store.recent_warnings(message.server, message.author_id, since)
        return decide(message, verdicts, settings, self.base_thresholds, prior_flags=prior, action_thresholds=self.action_thresholds, rules=context)

    async def flag(self, message: Message, decision: Decision, source: str, images: Sequence = ()) -> Decision:
        """Persist first, in one transaction; then start protective actions and wake the alert worker."""
        settings = self.server_settings(message.server)
        result = self.store.record_flag(
            message,
            decision,
            source=source,
            incident_window_minutes=settings.incident_window_minutes,
            raid_window_minutes=settings.raid_window_minutes,
            ping_at=settings.incident_escalate_count if settings.escalation_ping else None,
        )
        self.actions.submit(result.actions)  # protective actions first, not behind any alert
        self.delivery.wake(message.server)
        if images and result.created and self.image_scanner is not None:
            # hashes only (made by the image worker), so a moderator's confirm can bank them
            try:
                records = list(images)
                self.store.save_flag_images(message.server, result.flag_id, records)
            except Exception:  # the flag is stored; without hashes a confirm just can't bank the image
                log.exception("could not fingerprint the images of flag #%d", result.flag_id)
        return replace(decision, flag_id=result.flag_id, incident_id=result.incident_id)

    # ---- alerts --------------------------------------------------------------------
    def refresh_alert(self, server: str, flag_id: int) -> None:
        """The alert showing this flag must be posted or updated (durably, then by the delivery worker)."""
        self.store.enqueue_alert(server, flag_id)
        self.delivery.wake(server)

    def _action_done(self, action: Action) -> None:
        """A background (protective) action finished: its outcome shows on the alert."""
        if action.flag_id is not None:
            try:
                self.refresh_alert(action.server, action.flag_id)
            except Exception:
                log.exception("could not refresh the alert after %s on %s", action.kind, action.server)

    def status(self) -> str:
        """One line for the bots' stats commands: which detectors are running."""
        text = ", ".join(getattr(d, "name", type(d).__name__) for d in self.text_detectors) or "none"
        if self.image_scanner is None:
            images = "image scanning off (install triagebot[images])"
        else:
            images = self.image_scanner.status()
        return f"Detectors: text ({text}); {images}"
