"""handle(Message): classify -> decide -> store -> act/notify. Platform-independent.

Adapters implement `Adapter` (carry out one Action, fetch one attachment) and feed
messages in; nothing here knows which platform it is talking to.
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Callable, Mapping, Protocol, Sequence

from bot import alerts, incidents, metrics
from bot.config import ServerSettings, Settings
from bot.models import Action, ActionResult, Attachment, Decision, Message, Report, Review, utcnow
from bot.policy import decide
from bot.review import bank_confirmed_images
from bot.store import FlagView, Store
from classifiers.base import TextDetector, Verdict

log = logging.getLogger(__name__)



class ImageScanner(Protocol):
    """Image detection for the pipeline (bot/image_scan.py; tests may stand in)."""

    def scopes(self, server: str, shared: bool) -> list[str]: ...

    def prepare(self, scopes: list[str]) -> None: ...

    def scan(self, data: bytes, scopes: list[str]): ...

    def fingerprint_records(self, data: bytes) -> list[tuple[str, bytes]]: ...

    def records_for(self, pixels) -> list[tuple[str, bytes]]: ...

    def status(self) -> str: ...

    def add_to_index(self, scope: str, entry_id: int, records: list[tuple[str, bytes]]) -> None: ...


class Adapter(Protocol):
    """What a platform must provide. Implemented in bot/platforms/ and by the demo."""

    platform: str

    async def execute(self, action: Action) -> ActionResult: ...

    async def fetch(self, attachment: Attachment, max_bytes: int) -> bytes: ...


@dataclass(frozen=True)
class ReportOutcome:
    flag_id: int | None
    count: int = 0
    created: bool = False
    duplicate: bool = False
    rate_limited: bool = False

    @property
    def message(self) -> str:
        """What the reporter is told (privately)."""
        if self.rate_limited:
            return "You have sent many reports recently; please wait a while before reporting again."
        if self.duplicate:
            return "You already reported this; moderators have it."
        return "Thanks, your report was sent to the moderators. The reported member is not told who reported."


@dataclass
class Classified:
    verdicts: list[Verdict] = field(default_factory=list)
    images: list = field(default_factory=list)  # decoded pixels per image, in memory only
    bank_entries: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class ProtectOutcome:
    entry_id: int | None
    scope: str | None
    message: str  # what the member is told

    @property
    def ok(self) -> bool:
        return self.entry_id is not None


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        text_detectors: Sequence[TextDetector] = (),
        image_scanner: ImageScanner | None = None,
        base_thresholds: Mapping[str, float] | None = None,
        executor: Executor | None = None,
        inline_text_chars: int = 2000,
    ) -> None:
        self.settings = settings
        self.store = store
        self.text_detectors = list(text_detectors)
        self.image_scanner = image_scanner
        self.base_thresholds = dict(base_thresholds or {})
        self.base_thresholds.update(settings.thresholds)
        self.inline_text_chars = inline_text_chars
        self.executor = executor or ThreadPoolExecutor(max_workers=2, thread_name_prefix="classify")
        self.adapters: dict[str, Adapter] = {}
        self._server_cache: dict[str, ServerSettings] = {}
        self._alert_locks: dict[str, asyncio.Lock] = {}

    # ---- settings ------------------------------------------------------------------
    def server_settings(self, server: str) -> ServerSettings:
        """Config for the server, with its runtime (/setup) overrides on top; cached."""
        cached = self._server_cache.get(server)
        if cached is None:
            cached = self._server_cache[server] = self.settings.effective(server, self.store.server_overrides(server))
        return cached

    def update_server_settings(self, server: str, overrides: Mapping[str, object]) -> ServerSettings:
        """Validate, persist and apply runtime settings (raises ConfigError naming the bad key)."""
        self.settings.for_server(server).with_overrides(overrides, "setup")
        self.store.set_server_overrides(server, overrides)
        self._server_cache.pop(server, None)
        return self.server_settings(server)

    def carry_over_server(self, old: str, new: str) -> dict[str, object]:
        """A server that got a new id (a Telegram group upgraded to a supergroup) keeps its settings and
        its protected-image bank. Its flags stay under the old id: their audit chain is per server and
        is never rewritten, and they stay reviewable from the same moderators' chat. Idempotent:
        returns what moved, empty when nothing did."""
        moved: dict[str, object] = {}
        if not self.store.server_overrides(new):
            diff = self.server_settings(old).differences(self.settings.for_server(new))
            if diff:
                self.update_server_settings(new, diff)
                moved["settings"] = sorted(diff)
        entries = self.store.move_bank_entries(old, new)
        if entries:
            moved["bank_entries"] = entries
        if moved:
            log.info("carried %s over from %s to %s", moved, old, new)
        return moved

    def thresholds(self, server: str) -> dict[str, float]:
        s = self.server_settings(server)
        labels = set(self.base_thresholds) | set(s.thresholds)
        return {label: s.threshold(label, self.base_thresholds) for label in sorted(labels)}

    # ---- classify ------------------------------------------------------------------
    def classify_text(self, text: str) -> list[Verdict]:
        out: list[Verdict] = []
        for det in self.text_detectors:
            try:
                out.extend(det.classify(text))
            except Exception:  # one broken detector must not hide the others' verdicts
                log.exception("text detector %s failed", getattr(det, "name", det))
        return out

    async def classify(self, message: Message) -> list[Verdict]:
        return (await self._classify(message)).verdicts

    async def _classify(self, message: Message) -> "Classified":
        loop = asyncio.get_running_loop()
        out = Classified()
        if message.text and self.text_detectors:
            if len(message.text) <= self.inline_text_chars:
                # A chat-sized message costs well under a millisecond to score; handing it to a
                # thread costs more than that (measured in benchmarks/bench_pipeline.py).
                out.verdicts += self.classify_text(message.text)
            else:
                out.verdicts += await loop.run_in_executor(self.executor, self.classify_text, message.text)
        if self.image_scanner is not None and any(a.kind == "image" for a in message.attachments):
            scopes = self.image_scanner.scopes(message.server, self.server_settings(message.server).shared_bank)
            self.image_scanner.prepare(scopes)
            for att in message.attachments:
                result = await self._scan_attachment(message, att, scopes)
                if result is not None:
                    out.verdicts += result.verdicts
                    if result.pixels is not None:
                        out.images.append(result.pixels)
                    out.bank_entries += result.matched_entries
        return out

    async def _scan_attachment(self, message: Message, att: Attachment, scopes: list[str]):
        if att.kind != "image":
            return None
        cap = self.settings.max_attachment_bytes
        if att.size is not None and att.size > cap:
            log.info("skipping an image in %s: declared size %d > cap %d", message.server, att.size, cap)
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
            result = await loop.run_in_executor(self.executor, self.image_scanner.scan, data, scopes)
            metrics.image_refused(getattr(result, "error", None))
            return result
        except Exception:
            log.exception("image scan failed for %s/%s", message.server, message.message_id)
            return None

    # ---- the main path -------------------------------------------------------------
    async def handle(self, message: Message, extra_verdicts: Sequence[Verdict] = (), source: str = "detector") -> Decision:
        """Classify, decide, store the flag, then carry out actions. Returns the Decision.

        `extra_verdicts` come from outside our detectors (e.g. Discord AutoMod, with source="automod").
        """
        settings = self.server_settings(message.server)
        found = await self._classify(message)
        if found.bank_entries:
            # a re-share of an image registered by or for a member is aimed at that member
            extra_targets = [e["protects"] for e in map(self.store.bank_entry, found.bank_entries) if e and e.get("protects")]
            message = replace(message, targets=tuple(dict.fromkeys((*message.targets, *extra_targets))))
        decision = self.decide(message, found.verdicts + list(extra_verdicts), settings)
        metrics.message_seen(message.platform)
        if not decision.flagged:
            return decision
        metrics.flagged(message.platform, decision.labels)
        return await self.flag(message, decision, source=source, images=found.images)

    def decide(self, message: Message, verdicts: Sequence[Verdict], settings: ServerSettings) -> Decision:
        prior = 0
        if settings.auto_timeout:
            since = utcnow() - timedelta(minutes=settings.timeout_window_minutes)
            prior = self.store.recent_flag_count(message.server, message.author_id, since)
        return decide(message, verdicts, settings, self.base_thresholds, prior_flags=prior)

    async def flag(self, message: Message, decision: Decision, source: str, images: Sequence = ()) -> Decision:
        """Persist first (the flag must survive any API failure), then act."""
        settings = self.server_settings(message.server)
        result = self.store.record_flag(message, decision, source=source)
        if images and result.created and self.image_scanner is not None:
            # hashes only, so a moderator's confirm can bank them; the pixels are dropped here
            loop = asyncio.get_running_loop()
            try:
                records = [await loop.run_in_executor(self.executor, self.image_scanner.records_for, px) for px in images]
                self.store.save_flag_images(message.server, result.flag_id, records)
            except Exception:  # the flag is stored; without hashes a confirm just can't bank the image
                log.exception("could not fingerprint the images of flag #%d", result.flag_id)
        incident_id = None
        if result.created:
            incident_id = incidents.assign(self.store, result.flag_id, message, settings)
        decision = replace(decision, flag_id=result.flag_id, incident_id=incident_id)
        for action in decision.actions:
            await self.perform(replace(action, flag_id=result.flag_id, incident_id=incident_id))
        if not decision.actions:
            await self.notify(message.server, result.flag_id)
        return decision

    async def notify(self, server: str, flag_id: int) -> ActionResult:
        """Post or update the queue entry for a flag (e.g. after a report or review)."""
        flag = self.store.flag(server, flag_id)
        return await self.perform(Action(kind="notify", server=server, flag_id=flag_id, channel_id=flag.channel_id,
                                         message_id=flag.message_id, user_id=flag.author_id, dry_run=flag.dry_run,
                                         incident_id=flag.incident_id))

    def status(self) -> str:
        """One line for the bots' stats commands: which detectors are running."""
        text = ", ".join(getattr(d, "name", type(d).__name__) for d in self.text_detectors) or "none"
        if self.image_scanner is None:
            images = "image scanning off (install triagebot[images])"
        else:
            images = self.image_scanner.status()
        return f"Detectors: text ({text}); {images}"

    def alert(self, action: Action) -> alerts.Alert:
        """What the queue entry for a notify action shows (adapters format it)."""
        return alerts.build_alert(self.store, action, self.server_settings(action.server).incident_escalate_count)

    async def perform(self, action: Action) -> ActionResult:
        """Log the action, carry it out unless dry-run, log its outcome. Never raises for API errors."""
        if action.kind == "notify":
            # One alert per incident: concurrent flags in a pile-on must not both see "no alert
            # yet" and post two. Serialise alert posting per server.
            async with self._alert_locks.setdefault(action.server, asyncio.Lock()):
                return await self._perform(action)
        return await self._perform(action)

    async def _perform(self, action: Action) -> ActionResult:
        platform = action.server.split(":", 1)[0]
        adapter = self.adapters.get(platform)
        alert = None
        if action.kind == "notify":
            alert = self.alert(action)
            action = replace(action, ref=alert.ref, alert=alert)
        action_id = self.store.record_action(action)
        if action.dry_run and action.kind != "notify":
            self.store.complete_action(action.server, action_id, "dry-run", f"would {action.kind}")
            return ActionResult(ok=True, detail="dry-run")
        if adapter is None:
            self.store.complete_action(action.server, action_id, "error", f"no adapter for {platform}")
            return ActionResult(ok=False, detail=f"no adapter for {platform}")
        try:
            result = await adapter.execute(action)
        except Exception as exc:  # the flag is already stored; record why the action failed
            log.exception("action %s on %s failed", action.kind, action.server)
            result = ActionResult(ok=False, detail=f"{type(exc).__name__}: {exc}")
        self.store.complete_action(action.server, action_id, "ok" if result.ok else "error", result.detail)
        if alert is not None and result.ok:
            alerts.save_alert_ref(self.store, alert, result.ref)
        return result

    # ---- members and moderators ----------------------------------------------------
    async def report(self, report: Report) -> ReportOutcome:
        """A member's report: rate-limited, de-duplicated, collapsed into the message's queue item."""
        server = report.server
        settings = self.server_settings(server)
        self.store.ensure_server(server)
        since = utcnow() - timedelta(hours=1)
        if settings.report_rate_limit and self.store.reports_since(server, report.reporter_id, since) >= settings.report_rate_limit:
            log.info("report rate limit hit in %s", server)
            return ReportOutcome(flag_id=None, rate_limited=True)
        message = report.message or Message(
            platform=report.platform, server_id=report.server_id,
            channel_id=report.channel_id or "member", message_id=report.message_id or f"member:{report.target_user_id}",
            author_id=report.target_user_id or "unknown", text="", time=report.time)
        flag_id = self.store.find_flag(server, message.channel_id, message.message_id)
        created = False
        if flag_id is None:
            verdicts = await self.classify(message)
            labels = self.decide(message, verdicts, settings).labels
            member_verdict = Verdict(label="reported", score=1.0, reason=f"reported by a member: {report.reason}".strip().rstrip(":"), detector="member_report")
            decision = Decision(flagged=True, labels=labels or ("reported",), verdicts=tuple(verdicts) + (member_verdict,), dry_run=settings.dry_run)
            result = self.store.record_flag(message, decision, source="report")
            flag_id, created = result.flag_id, result.created
            if created:
                incidents.assign(self.store, flag_id, message, settings)
        elif self.store.has_reported(server, flag_id, report.reporter_id):
            return ReportOutcome(flag_id=flag_id, duplicate=True, count=self.store.flag(server, flag_id).report_count)
        self.store.record_report(server, flag_id, report.reporter_id, report.reason)
        await self.notify(server, flag_id)
        return ReportOutcome(flag_id=flag_id, count=self.store.flag(server, flag_id).report_count, created=created)

    async def review(self, review: Review) -> FlagView:
        """Record a moderator's decision and refresh the queue entry.

        Confirming a flag with images puts their hashes into the re-share bank, so later
        copies are caught even after crops and recompression.
        """
        self.store.record_review(review)
        if review.decision == "confirm":
            self.bank_confirmed(review.server, review.flag_id, review.reviewer)
        await self.notify(review.server, review.flag_id)
        return self.store.flag(review.server, review.flag_id)

    def bank_confirmed(self, server: str, flag_id: int, reviewer: str) -> list[int]:
        scope = self._bank_scope(server)
        added = bank_confirmed_images(self.store, server, flag_id, reviewer, scope)
        if self.image_scanner is not None:
            for entry, records in added:
                self.image_scanner.add_to_index(scope, entry, records)
        return [entry for entry, _ in added]

    def _bank_scope(self, server: str) -> str:
        from bot.image_scan import SHARED_SCOPE

        return SHARED_SCOPE if self.server_settings(server).shared_bank else server

    async def protect(self, server: str, data: bytes, registered_by: str, note: str = "") -> "ProtectOutcome":
        """A member registers an image privately (/protect). Only its hashes are stored; `data` is dropped."""
        if self.image_scanner is None:
            return ProtectOutcome(None, None, "image matching is not available on this bot (install triagebot[images])")
        loop = asyncio.get_running_loop()
        try:
            records = await loop.run_in_executor(self.executor, self.image_scanner.fingerprint_records, data)
        except Exception as exc:
            reason = getattr(exc, "reason", None) or f"{type(exc).__name__}"
            log.info("protect: image refused in %s: %s", server, reason)
            return ProtectOutcome(None, None, f"That image could not be read: {reason}")
        scope = self._bank_scope(server)
        entry = self.store.add_bank_entry(scope, records, note or "registered with /protect", "member", registered_by, protects=registered_by)
        self.image_scanner.add_to_index(scope, entry, records)
        return ProtectOutcome(entry, scope, "Registered. Only a fingerprint of the image was kept; re-shares will be flagged to moderators.")

    async def moderate(self, action: Action) -> ActionResult:
        """A moderator-initiated delete/timeout/ban (from a button or command)."""
        result = await self.perform(action)
        if action.flag_id is not None:
            await self.notify(action.server, action.flag_id)
        return result


class Intake:
    """Bounded queue in front of the pipeline: adapters wait when it is full (backpressure)."""

    def __init__(self, pipeline: Pipeline, maxsize: int = 1000, workers: int = 4,
                 on_done: Callable[[Message, Decision | None], None] | None = None) -> None:
        self.pipeline = pipeline
        self.queue: asyncio.Queue[Message | None] = asyncio.Queue(maxsize=maxsize)
        self.workers = workers
        self.on_done = on_done
        self._tasks: list[asyncio.Task] = []
        self.handled = 0
        self.failed = 0

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work(), name=f"intake-{i}") for i in range(self.workers)]

    async def submit(self, message: Message) -> None:
        await self.queue.put(message)

    async def _work(self) -> None:
        while True:
            message = await self.queue.get()
            try:
                if message is None:
                    return
                try:
                    decision = await self.pipeline.handle(message)
                    self.handled += 1
                except Exception:
                    self.failed += 1
                    decision = None
                    log.exception("failed to handle %s/%s", message.server, message.message_id)
                if self.on_done is not None:
                    self.on_done(message, decision)
            finally:
                self.queue.task_done()

    async def drain(self) -> None:
        await self.queue.join()

    async def stop(self) -> None:
        """Finish what is queued, then stop the workers."""
        for _ in self._tasks:
            await self.queue.put(None)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
