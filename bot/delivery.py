"""Alert delivery: posts and edits moderators' alerts from the outbox at the pace the platform allows.

The message path only writes an outbox row (in the flag's own transaction) and calls `wake`. One worker per
server then builds the alert from the store as it is *now*, so a burst of 59 updates to one incident becomes
a few edits, and retries with back-off on any failure (403/404, 5xx, 429) for as long as it takes. Nothing is
dropped: an undelivered alert stays in the outbox across restarts (`resume`), and setting or linking a
moderators' channel makes the backlog due at once (`destination_changed`).

Members' appeals (`appeal:` subjects, bot/appeals.py) are posted and edited the same way.

Escalation pings (`ping:` subjects) go through the same outbox, once each: a short separate message that
mentions the server's `escalation_ping` roles or admins, because editing an alert never notifies anyone.
Notices that belong to no flag (the daily evidence anchor) are queued in their own table and delivered by
the same worker, with the same back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Callable, Mapping

from bot import alerts, appeals
from bot.config import ServerSettings
from bot.models import Action, ActionResult, utcnow
from bot.protocols import Adapter
from bot.store import Notice, OutboxItem, Store

log = logging.getLogger(__name__)

#: Longest wait between two tries of one alert when the platform gives no retry time.
RETRY_CAP_S = 300.0
#: With no moderators' channel set, look again this often (setting one makes the backlog due at once).
NO_DESTINATION_RETRY_S = 3600.0
#: /healthz reports delivery as failing when the oldest undelivered alert has waited longer than this.
HEALTHY_LAG_S = 900.0


def destination(server: str, settings: ServerSettings) -> str | None:
    """Where a server's alerts go: its Telegram moderators' chat, or its Discord mod channel."""
    return settings.mod_chat if server.startswith("telegram:") else settings.mod_channel


def backoff(attempts: int, retry_after: float | None) -> float:
    """The platform's own retry time when it gave one, else 1, 2, 4 … seconds up to RETRY_CAP_S."""
    if retry_after is not None and retry_after > 0:
        return float(retry_after)
    return min(RETRY_CAP_S, 2.0 ** min(attempts, 16))


class AlertDelivery:
    def __init__(
        self, store: Store, adapters: Mapping[str, Adapter], settings_for: Callable[[str], ServerSettings], clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.store = store
        self.adapters = adapters
        self.settings_for = settings_for
        self.clock = clock
        self.delivered = 0
        self.failures = 0
        self._wake: dict[str, asyncio.Event] = {}
        self._idle: dict[str, asyncio.Event] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        self._stopping = False

    # ---- control -------------------------------------------------------------------
    def wake(self, server: str) -> None:
        """Something changed for this server's alerts: make sure its worker runs. Cheap; never waits."""
        if self._stopping:
            return
        self._wake.setdefault(server, asyncio.Event()).set()
        self._idle.setdefault(server, asyncio.Event()).clear()
        task = self._tasks.get(server)
        if task is None or task.done():
            self._tasks[server] = asyncio.create_task(self._run(server), name=f"deliver-{server}")

    def resume(self) -> list[str]:
        """At start-up: deliver what the last run left undelivered, now rather than after its back-off."""
        servers = sorted(set(self.store.servers_with_undelivered_alerts()) | set(self.store.servers_with_undelivered_notices()))
        for server in servers:
            self.store.retry_alerts_now(server)
            self.store.retry_notices_now(server)
            self.wake(server)
        if servers:
            log.info("delivering undelivered alerts for %d server(s)", len(servers))
        return servers

    def destination_changed(self, server: str) -> None:
        """A mod channel was set or a moderators' chat linked: its backlog is due now, not after back-off."""
        if self.store.retry_alerts_now(server) + self.store.retry_notices_now(server):
            self.wake(server)

    def backlog(self) -> tuple[int, float]:
        """(alerts waiting, seconds the oldest has waited): for /healthz and /metrics."""
        pending, oldest = self.store.undelivered_alerts()
        return pending, max(0.0, (self.clock() - oldest).total_seconds()) if oldest else 0.0

    async def settle(self) -> None:
        """Wait until no server has an alert that is due now (alerts in back-off may remain). For tests and the demo."""
        while True:
            busy = [self._idle[s] for s, t in self._tasks.items() if not t.done() and not self._idle[s].is_set()]
            if not busy:
                return
            await asyncio.wait([asyncio.ensure_future(e.wait()) for e in busy])

    async def stop(self) -> None:
        """Stop at once; whatever is undelivered stays in the outbox for the next start."""
        self._stopping = True
        tasks = [t for t in self._tasks.values() if not t.done()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    # ---- the worker ----------------------------------------------------------------
    async def _run(self, server: str) -> None:
        wake, idle = self._wake[server], self._idle[server]
        try:
            while not self._stopping:
                wake.clear()
                now = self.clock()
                items = self.store.due_alerts(server, now)
                notices = self.store.due_notices(server, now)
                if items or notices:
                    idle.clear()
                    for item in items:
                        await self._deliver(item)
                    for notice in notices:
                        await self._deliver_notice(notice)
                    continue
                idle.set()
                dues = [d for d in (self.store.next_alert_due(server), self.store.next_notice_due(server)) if d is not None]
                due = min(dues) if dues else None
                if due is None:
                    return  # nothing undelivered: the next wake starts a new worker
                delay = (due - self.clock()).total_seconds()
                if delay > 0:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(wake.wait(), timeout=delay)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug here must not silence a server's alerts for good
            log.exception("alert delivery for %s failed; retrying in %.0f s", server, RETRY_CAP_S)
            idle.set()
            loop = asyncio.get_running_loop()
            loop.call_later(RETRY_CAP_S, self.wake, server)

    async def _deliver(self, item: OutboxItem) -> None:
        settings = self.settings_for(item.server)
        platform = item.server.split(":", 1)[0]
        where = destination(item.server, settings)
        adapter = self.adapters.get(platform)
        if adapter is None:
            return self._failed(item, f"no {platform} connection is running", None)
        if not where:
            return self._failed(item, "no moderators' channel or chat is set for this server", NO_DESTINATION_RETRY_S)
        if item.subject.startswith("appeal:"):
            return await self._deliver_appeal(item, settings, adapter, where)
        ping = item.subject.startswith("ping:")
        if ping and not settings.escalation_ping:  # pings were turned off since: nothing to post
            self.store.alert_delivered(item, None)
            return None
        action = Action(
            kind="ping" if ping else "notify",
            server=item.server,
            flag_id=item.flag_id,
            incident_id=item.incident_id,
            destination=where,
            mentions=tuple(sorted(settings.escalation_ping)) if ping else (),
        )
        try:
            alert = alerts.build_alert(self.store, action, settings.incident_escalate_count, settings.language)
        except Exception as exc:  # e.g. a broken row: keep trying this one, deliver the others
            log.exception("could not build the alert for %s %s", item.server, item.subject)
            return self._failed(item, f"could not build the alert: {type(exc).__name__}", None)
        action = replace(
            action,
            channel_id=alert.flag.channel_id,
            message_id=alert.flag.message_id,
            user_id=alert.flag.author_id,
            dry_run=alert.dry_run,
            ref=alert.ref,
            alert=alert,
            link=alert.flag.link,
        )
        try:
            result = await adapter.execute(action)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an adapter bug or a network error: the alert waits in the outbox
            log.warning("alert for %s %s raised %s", item.server, item.subject, exc, exc_info=True)
            result = ActionResult(ok=False, detail=f"{type(exc).__name__}: {exc}")
        if result.ok:
            self.store.alert_delivered(item, None if ping else result.ref)
            self.delivered += 1
            if item.attempts:
                log.info("alert for %s %s delivered after %d failed tries", item.server, item.subject, item.attempts)
        else:
            self._failed(item, result.detail or "failed", result.retry_after)

    async def _deliver_appeal(self, item: OutboxItem, settings: ServerSettings, adapter: Adapter, where: str) -> None:
        """Post or edit a member's appeal in the moderators' channel/chat (`appeal:<id>` subjects)."""
        appeal_id = int(item.subject.split(":", 1)[1])
        try:
            alert = appeals.build_alert(self.store, item.server, appeal_id, settings.language)
        except Exception as exc:
            log.exception("could not build the appeal alert for %s %s", item.server, item.subject)
            return self._failed(item, f"could not build the appeal alert: {type(exc).__name__}", None)
        action = Action(
            kind="appeal_alert",
            server=item.server,
            flag_id=item.flag_id,
            incident_id=item.incident_id,
            destination=where,
            ref=alert.appeal.alert_ref,
            appeal=alert,
            link=alert.flag.link,
        )
        try:
            result = await adapter.execute(action)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("appeal alert for %s %s raised %s", item.server, item.subject, exc, exc_info=True)
            result = ActionResult(ok=False, detail=f"{type(exc).__name__}: {exc}")
        if result.ok:
            self.store.alert_delivered(item, None)
            if result.ref:
                self.store.set_appeal_alert_ref(item.server, appeal_id, result.ref)
            self.delivered += 1
        else:
            self._failed(item, result.detail or "failed", result.retry_after)

    async def _deliver_notice(self, notice: Notice) -> None:
        where = destination(notice.server, self.settings_for(notice.server))
        adapter = self.adapters.get(notice.server.split(":", 1)[0])
        result: ActionResult
        if adapter is None:
            result = ActionResult(ok=False, detail="no connection to its platform is running")
        elif not where:
            result = ActionResult(ok=False, detail="no moderators' channel or chat is set", retry_after=NO_DESTINATION_RETRY_S)
        else:
            try:
                result = await adapter.execute(Action(kind="notice", server=notice.server, destination=where, text=notice.text))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the notice waits, like an alert
                log.warning("notice for %s raised %s", notice.server, exc, exc_info=True)
                result = ActionResult(ok=False, detail=f"{type(exc).__name__}: {exc}")
        if result.ok:
            self.store.notice_delivered(notice.id, result.ref)
            self.delivered += 1
            return
        wait = backoff(notice.attempts, result.retry_after)
        self.failures += 1
        log.log(
            logging.WARNING if notice.attempts in (0, 5, 10) else logging.DEBUG,
            "%s notice for %s not delivered (try %d): %s",
            notice.kind,
            notice.server,
            notice.attempts + 1,
            result.detail,
        )
        self.store.notice_failed(notice.id, result.detail or "failed", self.clock() + timedelta(seconds=wait))

    def _failed(self, item: OutboxItem, detail: str, retry_after: float | None) -> None:
        wait = backoff(item.attempts, retry_after)
        self.failures += 1
        level = logging.WARNING if item.attempts in (0, 5, 10) else logging.DEBUG
        log.log(level, "alert for %s %s not delivered (try %d): %s; next try in %.0f s", item.server, item.subject, item.attempts + 1, detail, wait)
        self.store.alert_failed(item, detail, self.clock() + timedelta(seconds=wait))
