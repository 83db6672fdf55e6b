"""Carries out logged actions on the platforms and records each outcome; API failures never raise.

Protective actions (automatic delete and timeout) are logged with the flag, then `submit`ted here and run
at once in the background: before, and independently of, alert delivery, and never on the message path.
Moderators' actions are `perform`ed and awaited, since the moderator is waiting for the answer.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import timedelta
from typing import Awaitable, Callable, Mapping, Sequence

from bot.models import Action, ActionResult, utcnow
from bot.protocols import Adapter
from bot.store import Store

log = logging.getLogger(__name__)

#: Protective actions left pending by a stop are carried out on the next start only while this fresh.
RESUME_WINDOW = timedelta(minutes=15)
#: Platform calls in flight per server (the platform libraries pace each route themselves).
PER_SERVER = 5


def outcome_status(result: ActionResult) -> str:
    if result.ok:
        return "gone" if result.gone else "ok"
    return "error"


class ActionRunner:
    def __init__(
        self,
        store: Store,
        adapters: Mapping[str, Adapter],
        destination_for: Callable[[str], str | None],
        on_done: Callable[[Action], None] | None = None,
        on_result: Callable[[Action, ActionResult], None] | None = None,
        prepare: Callable[[Action], Action] | None = None,
        before: Callable[[Action], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.adapters = adapters
        self.destination_for = destination_for
        self.on_done = on_done
        self.on_result = on_result  # every carried-out action's outcome (e.g. to tell the member how to appeal)
        self.prepare = prepare  # fills in what a resumed action lost (a member notice's text)
        self.before = before  # what must reach the member before the action itself (a ban's appeal notice)
        self._tasks: set[asyncio.Task] = set()
        self._limits: dict[str, asyncio.Semaphore] = {}

    async def perform(self, action: Action) -> ActionResult:
        """Log the action, carry it out unless dry-run, log its outcome."""
        action_id = self.store.record_action(action)
        return await self.carry_out(action_id, action)

    async def carry_out(self, action_id: int, action: Action) -> ActionResult:
        """Carry out an action already logged as pending, and record how it went."""
        if action.dry_run:
            self.store.complete_action(action.server, action_id, "dry-run", f"would {action.kind}")
            return ActionResult(ok=True, detail="dry-run")
        platform = action.server.split(":", 1)[0]
        adapter = self.adapters.get(platform)
        if adapter is None:
            self.store.complete_action(action.server, action_id, "error", f"no {platform} connection is running")
            return ActionResult(ok=False, detail=f"no {platform} connection is running")
        if action.destination is None:
            action = replace(action, destination=self.destination_for(action.server))
        if self.prepare is not None:
            action = self.prepare(action)
        if self.before is not None:
            try:
                await self.before(action)
            except asyncio.CancelledError:
                raise
            except Exception:  # a notice that failed must not stop the protective action
                log.exception("before %s on %s", action.kind, action.server)
        async with self._limits.setdefault(action.server, asyncio.Semaphore(PER_SERVER)):
            try:
                result = await adapter.execute(action)
            except asyncio.CancelledError:  # stopping: left pending, so the next start carries it out (`resume`)
                raise
            except Exception as exc:  # the flag is already stored; record why the action failed
                log.exception("action %s on %s failed", action.kind, action.server)
                result = ActionResult(ok=False, detail=f"{type(exc).__name__}: {exc}")
        self.store.complete_action(action.server, action_id, outcome_status(result), result.detail)
        if self.on_result is not None:
            try:
                self.on_result(action, result)
            except Exception:  # a follow-up must never turn a done action into a failure
                log.exception("after %s on %s", action.kind, action.server)
        return result

    def submit(self, logged: Sequence[tuple[int, Action]]) -> None:
        """Run logged actions in the background, now; their outcome refreshes the alert via `on_done`."""
        for action_id, action in logged:
            task = asyncio.create_task(self._background(action_id, action), name=f"action-{action.kind}-{action_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _background(self, action_id: int, action: Action) -> None:
        try:
            await self.carry_out(action_id, action)
        except asyncio.CancelledError:
            return
        except Exception:
            log.exception("background action %s #%d failed", action.kind, action_id)
        if self.on_done is not None:
            self.on_done(action)

    def resume(self) -> int:
        """At start-up: carry out protective actions the last run logged but did not finish (if still fresh)."""
        now = utcnow()
        stale = self.store.abandon_actions(now - RESUME_WINDOW)
        pending = self.store.pending_actions(now - RESUME_WINDOW)
        self.submit(pending)
        if pending or stale:
            log.info("resuming %d pending action(s); %d too old were closed as not carried out", len(pending), stale)
        return len(pending)

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    async def settle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
