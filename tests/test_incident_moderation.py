"""Moderators act on a whole incident at once: every flag reviewed, every message deleted, every author acted on."""

import pytest

from bot.models import ActionResult
from bot.moderation import IncidentOutcome
from bot.pipeline import Pipeline
from tests.conftest import KeywordDetector, RecordingAdapter, make_message, make_settings

SERVER = "discord:s1"


class GoneAdapter(RecordingAdapter):
    """Deletes succeed except for messages already removed by someone else."""

    def __init__(self, gone: set[str]) -> None:
        super().__init__()
        self.gone = gone

    async def execute(self, action):
        if action.kind == "delete" and action.message_id in self.gone:
            self.executed.append(action)
            return ActionResult(ok=True, detail="message was already deleted", gone=True)
        return await super().execute(action)


async def pile_on(p: Pipeline, n: int = 6, authors: int = 3) -> int:
    for i in range(n):
        await p.handle(make_message(f"lewd {i}", author=f"a{i % authors}", targets=("victim",), message_id=f"m-{i}"))
    await p.settle()
    (inc,) = p.store.incidents(SERVER)
    return inc.id


@pytest.fixture
def gone_adapter():
    return GoneAdapter({"m-1", "m-4"})


@pytest.fixture
def p(store, db_path, gone_adapter):
    pipeline = Pipeline(make_settings(db_path), store, [KeywordDetector()])
    pipeline.adapters["discord"] = gone_adapter
    yield pipeline
    pipeline.executor.shutdown(wait=False)


@pytest.mark.parametrize("kind, status", [("confirm", "confirmed"), ("dismiss", "dismissed"), ("escalate", "escalated")])
async def test_review_a_whole_incident(p, store, kind, status):
    inc = await pile_on(p)
    out = await p.moderate_incident(SERVER, inc, kind, "mod1", reason="raid")
    assert out == IncidentOutcome(kind, done=6)
    flags = store.incident_flags(SERVER, inc)
    assert {f.status for f in flags} == {status} and {f.last_review["reviewer"] for f in flags} == {"mod1"}
    again = await p.moderate_incident(SERVER, inc, kind, "mod2")
    assert (again.done, again.already) == ((6, 0) if kind == "escalate" else (0, 6))
    assert all(r.ok for r in store.verify_chain())


async def test_delete_all_counts_messages_already_gone(p, store, gone_adapter):
    inc = await pile_on(p)
    out = await p.moderate_incident(SERVER, inc, "delete", "mod1")
    assert (out.done, out.already, out.failed) == (4, 2, 0) and out.summary == "4 deleted, 2 already gone"
    deleted = sorted(a.message_id for a in gone_adapter.executed if a.kind == "delete")
    assert deleted == [f"m-{i}" for i in range(6)]
    await p.settle()
    alert = [a for a in gone_adapter.executed if a.kind == "notify"][-1].alert
    assert alert.outcomes == ("4 deleted, 2 already gone by mod1",)
    assert all(a.actor == "mod1" for a in gone_adapter.executed if a.kind == "delete")


@pytest.mark.parametrize("kind", ["timeout", "ban"])
async def test_act_on_every_author_once_except_refused(p, store, gone_adapter, kind):
    inc = await pile_on(p, n=6, authors=3)
    assert p.incident_authors(SERVER, inc) == ["a0", "a1", "a2"]
    out = await p.moderate_incident(SERVER, inc, kind, "mod1", duration_s=3600, exclude_users={"a2": "their top role is above yours"})
    assert (out.done, out.skipped) == (2, 1)
    hit = [a for a in gone_adapter.executed if a.kind == kind]
    assert sorted(a.user_id for a in hit) == ["a0", "a1"]
    assert all(a.reason.startswith(f"incident #{inc}") for a in hit)
    await p.settle()
    alert = [a for a in gone_adapter.executed if a.kind == "notify"][-1].alert
    expected = "2 authors timed out 1 h by mod1" if kind == "timeout" else "2 authors banned by mod1"
    assert alert.outcomes == (expected,)


async def test_failures_are_counted_and_logged(store, db_path):
    adapter = RecordingAdapter(fail_kinds={"ban"})
    p = Pipeline(make_settings(db_path), store, [KeywordDetector()])
    p.adapters["discord"] = adapter
    inc = await pile_on(p, n=4, authors=2)
    out = await p.moderate_incident(SERVER, inc, "ban", "mod1")
    assert (out.done, out.failed) == (0, 2) and out.summary == "0 authors banned, 2 failed"
    assert all(r.ok for r in store.verify_chain())


async def test_dry_run_server_only_logs(store, db_path):
    adapter = RecordingAdapter()
    p = Pipeline(make_settings(db_path, dry_run=True), store, [KeywordDetector()])
    p.adapters["discord"] = adapter
    inc = await pile_on(p, n=3, authors=3)
    out = await p.moderate_incident(SERVER, inc, "ban", "mod1")
    assert out.done == 3 and not [a for a in adapter.executed if a.kind == "ban"]
    await p.settle()
    assert [a for a in adapter.executed if a.kind == "notify"][-1].alert.outcomes == ("3 would be banned (dry run) by mod1",)


async def test_pager_and_scope(p, store):
    inc = await pile_on(p, n=7)
    page, total = p.incident_page(SERVER, inc, offset=5, limit=5)
    assert total == 7 and [f.message_id for f in page] == ["m-5", "m-6"]
    from bot.store import StoreError

    with pytest.raises(StoreError):
        await p.moderate_incident("discord:other", inc, "dismiss", "mod1")
    with pytest.raises(ValueError):
        await p.moderate_incident(SERVER, inc, "explode", "mod1")


async def test_delete_all_skips_authors_the_moderator_may_not_act_on(p, store, gone_adapter):
    inc = await pile_on(p, n=6, authors=3)
    out = await p.moderate_incident(SERVER, inc, "delete", "mod1", exclude_users={"a1": "outranks you"})
    deleted = sorted(a.message_id for a in gone_adapter.executed if a.kind == "delete")
    assert deleted == ["m-0", "m-2", "m-3", "m-5"] and out.skipped == 2
