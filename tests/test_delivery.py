"""The alert outbox and its delivery worker: detection never waits for the platform, alerts are never lost."""

import asyncio

import pytest

from bot.models import ActionResult
from bot.pipeline import Pipeline
from bot.store import Store
from tests.conftest import KeywordDetector, RecordingAdapter, make_message, make_settings


async def eventually(predicate, timeout: float = 10.0) -> None:
    """Wait until `predicate()` holds (bounded; not a timing assertion)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        assert loop.time() < end, "condition not reached"
        await asyncio.sleep(0.01)


class BlockedNotify(RecordingAdapter):
    """A moderators' channel that hangs (a rate limit or an outage) until released; other calls go through."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def execute(self, action):
        if action.kind == "notify":
            await self.release.wait()
        return await super().execute(action)


class FailingNotify(RecordingAdapter):
    """Fails the first `failures` alerts the way a platform does (429 with a retry time, 403, 500)."""

    def __init__(self, results: list[ActionResult]) -> None:
        super().__init__()
        self.results = list(results)

    async def execute(self, action):
        if action.kind == "notify" and self.results:
            self.executed.append(action)
            return self.results.pop(0)
        return await super().execute(action)


def _pipeline(store, db_path, adapter, **overrides) -> Pipeline:
    p = Pipeline(make_settings(db_path, **overrides), store, [KeywordDetector()])
    p.adapters["discord"] = adapter
    return p


async def test_flags_are_stored_while_the_mod_channel_hangs(store, db_path):
    adapter = BlockedNotify()
    p = _pipeline(store, db_path, adapter)
    decisions = [await p.handle(make_message(f"lewd {i}", author=f"a{i}", targets=("victim",))) for i in range(60)]
    other = await p.handle(make_message("lewd elsewhere", server_id="s2"))
    assert all(d.flag_id for d in decisions) and other.flag_id
    assert store.stats(None)["flags"] == 61
    adapter.release.set()
    await p.settle()
    notes = [a for a in adapter.executed if a.kind == "notify"]
    incident_notes = [a for a in notes if a.server == "discord:s1"]
    assert len([a for a in incident_notes if a.ref is None]) == 1  # one alert for the pile-on
    assert len(incident_notes) <= 3  # 60 updates coalesced into a few edits
    assert incident_notes[-1].alert.incident.flag_count == 60
    assert store.undelivered_alerts() == (0, None)
    await p.stop()


async def test_protective_actions_do_not_wait_behind_alerts(store, db_path):
    adapter = BlockedNotify()
    # appeals off: the member's appeal notice would be a second protective-path action (tests/test_appeals.py)
    p = _pipeline(store, db_path, adapter, auto_delete=True, auto_delete_threshold=0.5, appeals=False)
    d = await p.handle(make_message("lewd"))
    await p.actions.settle()
    assert [a.kind for a in adapter.executed] == ["delete"]  # done while the alert is still stuck
    assert [(a["kind"], a["status"]) for a in store.actions_for("discord:s1", d.flag_id)] == [("delete", "ok")]
    adapter.release.set()
    await p.settle()
    assert adapter.executed[-1].kind == "notify"
    await p.stop()


@pytest.mark.parametrize(
    "failure",
    [
        ActionResult(ok=False, detail="429 Too Many Requests", retry_after=0.05),
        ActionResult(ok=False, detail="403 Forbidden: Missing Access", retry_after=0.05),
        ActionResult(ok=False, detail="500 Internal Server Error", retry_after=0.05),
    ],
)
async def test_outage_then_recovery_posts_the_alert_once(store, db_path, failure):
    adapter = FailingNotify([failure] * 3)
    p = _pipeline(store, db_path, adapter)
    d = await p.handle(make_message("lewd"))
    await eventually(lambda: store.undelivered_alerts()[0] == 0)
    notes = [a for a in adapter.executed if a.kind == "notify"]
    assert len(notes) == 4 and all(a.ref is None for a in notes)  # three failures, then one post
    assert store.flag("discord:s1", d.flag_id).alert_ref == "alert-1"
    await p.stop()


async def test_an_adapter_that_raises_is_retried(store, db_path):
    adapter = RecordingAdapter(fail_kinds={"notify"})
    p = _pipeline(store, db_path, adapter)
    await p.handle(make_message("lewd"))
    await p.settle()
    assert store.undelivered_alerts()[0] == 1
    item = store.due_alerts("discord:s1", store.next_alert_due("discord:s1"))[0]
    assert item.attempts == 1
    await p.stop()


async def test_undelivered_alerts_survive_a_restart(db_path):
    store = Store.open(db_path)
    p = _pipeline(store, db_path, RecordingAdapter(fail_kinds={"notify"}))
    for i in range(3):
        await p.handle(make_message(f"lewd {i}", author=f"a{i}", targets=("victim",)))
    await p.handle(make_message("lewd alone"))
    await p.settle()
    await p.stop()
    store.close()

    store = Store.open(db_path)
    adapter = RecordingAdapter()
    p = _pipeline(store, db_path, adapter)
    assert store.undelivered_alerts()[0] == 2  # the incident and the lone flag
    p.start()
    await p.settle()
    notes = [a for a in adapter.executed if a.kind == "notify"]
    assert sorted(a.alert.title.split(":")[0] for a in notes) == ["Flagged", "Incident"]
    assert store.undelivered_alerts() == (0, None)
    await p.stop()
    store.close()


async def test_setting_the_mod_channel_delivers_the_backlog(store, db_path):
    adapter = RecordingAdapter()
    p = _pipeline(store, db_path, adapter, mod_channel=None)
    for i in range(3):  # three channels: three alerts (one channel would make them one raid incident)
        await p.handle(make_message(f"lewd {i}", channel=f"c{i}"))
    await p.settle()
    assert adapter.executed == [] and store.undelivered_alerts()[0] == 3
    p.update_server_settings("discord:s1", {"mod_channel": "777"})
    await p.settle()
    assert [a.destination for a in adapter.executed] == ["777"] * 3
    assert store.undelivered_alerts() == (0, None)
    await p.stop()


async def test_a_missing_connection_keeps_the_alert(store, db_path):
    p = Pipeline(make_settings(db_path), store, [KeywordDetector()])  # no adapter registered
    await p.handle(make_message("lewd"))
    await p.settle()
    assert store.undelivered_alerts()[0] == 1
    await p.stop()


async def test_pending_protective_action_is_carried_out_after_a_restart(db_path):
    store = Store.open(db_path)
    p = Pipeline(make_settings(db_path, auto_delete=True, auto_delete_threshold=0.5), store, [KeywordDetector()])
    d = await p.handle(make_message("lewd"))  # no adapter yet, and the process "stops" before the task runs
    await p.stop()
    store.close()

    store = Store.open(db_path)
    adapter = RecordingAdapter()
    p = _pipeline(store, db_path, adapter, auto_delete=True, auto_delete_threshold=0.5)
    p.start()
    await p.settle()
    assert "delete" in [a.kind for a in adapter.executed]
    # the resumed delete is followed by the member's appeal notice (tests/test_appeals.py)
    assert [(a["kind"], a["status"]) for a in store.actions_for("discord:s1", d.flag_id)] == [("delete", "ok"), ("appeal_notice", "ok")]
    await p.stop()
    store.close()


async def test_escalation_pings_once_when_the_incident_escalates(store, db_path):
    adapter = RecordingAdapter()
    p = _pipeline(store, db_path, adapter, incident_escalate_count=3, escalation_ping=["555"])
    for i in range(5):
        await p.handle(make_message(f"lewd {i}", author=f"a{i}", targets=("victim",)))
        await p.settle()
    pings = [a for a in adapter.executed if a.kind == "ping"]
    assert len(pings) == 1 and pings[0].mentions == ("555",)
    assert pings[0].alert.title.startswith("Escalated incident: 3 ") and pings[0].ref == "alert-1"  # points at the alert
    assert all(a.mentions == () for a in adapter.executed if a.kind == "notify")  # alerts themselves never ping
    await p.stop()


async def test_no_ping_without_a_ping_list_or_for_single_flags(store, db_path):
    adapter = RecordingAdapter()
    p = _pipeline(store, db_path, adapter, incident_escalate_count=2)
    for i in range(3):
        await p.handle(make_message(f"lewd {i}", author=f"a{i}", targets=("victim",)))
    q = _pipeline(store, db_path, adapter, incident_escalate_count=2, escalation_ping=["555"])
    await q.handle(make_message("lewd alone", server_id="s3"))
    await p.settle()
    await q.settle()
    assert [a for a in adapter.executed if a.kind == "ping"] == []
    await p.stop()
    await q.stop()


async def test_reshare_of_a_protected_picture_pings(store, db_path):
    from bot.models import Attachment
    from tests.conftest import StandInImageScanner

    adapter = RecordingAdapter(files={"x://copy": b"PRIV her photo"})
    p = Pipeline(make_settings(db_path, escalation_ping=["555"]), store, [KeywordDetector()], image_scanner=StandInImageScanner())
    p.adapters["discord"] = adapter
    await p.protect("discord:s1", b"PRIV her photo", "sari")
    d = await p.handle(make_message("", attachments=(Attachment(kind="image", url="x://copy"),)))
    await p.settle()
    assert d.flagged and "reshare" in d.labels
    assert [a.mentions for a in adapter.executed if a.kind == "ping"] == [("555",)]
    await p.stop()


async def test_backlog_feeds_the_health_check(store, db_path):
    from datetime import timedelta

    from bot.models import utcnow
    from bot.runner import _outbox_check

    p = _pipeline(store, db_path, RecordingAdapter(fail_kinds={"notify"}))
    assert p.delivery.backlog() == (0, 0.0) and _outbox_check(p.delivery).ok
    await p.handle(make_message("lewd"))
    await p.settle()
    pending, lag = p.delivery.backlog()
    assert pending == 1 and 0 <= lag < 60
    assert _outbox_check(p.delivery).ok  # a fresh failure is not yet unhealthy
    p.delivery.clock = lambda: utcnow() + timedelta(hours=1)  # an hour later, still undelivered
    check = _outbox_check(p.delivery)
    assert not check.ok and check.detail["pending"] == 1 and check.detail["oldest_s"] >= 3600
    await p.stop()
