import asyncio

import pytest

from bot.models import Action, Report, Review
from bot.pipeline import Intake, Pipeline
from tests.conftest import ExplodingDetector, KeywordDetector, RecordingAdapter, StandInImageScanner, make_message, make_settings


async def test_benign_message_is_not_stored(pipeline, store, adapter):
    d = await pipeline.handle(make_message("hello there"))
    assert not d.flagged and store.stats(None)["flags"] == 0 and adapter.executed == []


async def test_flag_is_stored_then_notified(pipeline, store, adapter):
    m = make_message("something lewd")
    d = await pipeline.handle(m)
    assert d.flagged and d.flag_id
    await pipeline.settle()
    assert [a.kind for a in adapter.executed] == ["notify"]
    assert adapter.executed[0].destination == "900" and adapter.executed[0].alert.flag.id == d.flag_id
    f = store.flag(m.server, d.flag_id)
    assert f.alert_ref == "alert-1"
    assert store.undelivered_alerts() == (0, None)


async def test_failed_action_keeps_the_flag(store, db_path):
    adapter = RecordingAdapter(fail_kinds={"notify", "delete"})
    p = Pipeline(make_settings(db_path, auto_delete=True, auto_delete_threshold=0.5), store, [KeywordDetector()])
    p.adapters["discord"] = adapter
    m = make_message("lewd")
    d = await p.handle(m)
    await p.settle()
    assert store.flag(m.server, d.flag_id).labels == ("sexual",)
    acts = store.actions_for(m.server, d.flag_id)
    assert [(a["kind"], a["status"]) for a in acts] == [("delete", "error")]
    assert "missing permission" in acts[0]["detail"]
    assert store.undelivered_alerts()[0] == 1  # the alert waits in the outbox to be tried again
    await p.stop()


async def test_dry_run_logs_but_does_not_act(store, db_path):
    adapter = RecordingAdapter()
    p = Pipeline(make_settings(db_path, dry_run=True, auto_delete=True, auto_delete_threshold=0.5), store, [KeywordDetector()])
    p.adapters["discord"] = adapter
    m = make_message("lewd")
    d = await p.handle(m)
    await p.settle()
    assert {a.kind for a in adapter.executed} == {"notify"}  # moderators still see it
    assert [(a["kind"], a["status"]) for a in store.actions_for(m.server, d.flag_id)] == [("delete", "dry-run")]


async def test_repeat_offender_timeout(store, db_path):
    adapter = RecordingAdapter()
    p = Pipeline(make_settings(db_path, auto_timeout=True, timeout_after_flags=2), store, [KeywordDetector()])
    p.adapters["discord"] = adapter
    await p.handle(make_message("lewd", author="bad"))
    await p.settle()
    await p.handle(make_message("lewd again", author="bad"))
    await p.settle()
    kinds = [a.kind for a in adapter.executed]
    assert kinds.count("timeout") == 1 and kinds.index("timeout") == 1  # protective action before the second alert


async def test_broken_detector_does_not_hide_others(store, db_path, adapter):
    p = Pipeline(make_settings(db_path), store, [ExplodingDetector(), KeywordDetector()])
    p.adapters["discord"] = adapter
    assert (await p.handle(make_message("lewd"))).flagged


async def test_reports_collapse_and_rate_limit(pipeline, store, adapter):
    m = make_message("a message the bot missed")
    outs = []
    for r in ("r1", "r2"):
        outs.append(await pipeline.report(Report(platform="discord", server_id="s1", reporter_id=r, reason="creepy", message=m)))
        await pipeline.settle()
    assert outs[0].created and not outs[1].created and outs[0].flag_id == outs[1].flag_id and outs[1].count == 2
    dup = await pipeline.report(Report(platform="discord", server_id="s1", reporter_id="r1", reason="again", message=m))
    assert dup.duplicate and dup.count == 2
    f = store.flag(m.server, outs[0].flag_id)
    assert f.source == "report" and f.labels == ("reported",) and f.report_count == 2
    notes = [a for a in adapter.executed if a.kind == "notify"]
    assert notes[0].ref is None and notes[1].ref == "alert-1"  # updated in place, not re-posted
    for i in range(5):
        await pipeline.report(Report(platform="discord", server_id="s1", reporter_id="spammer", message=make_message(f"x{i}")))
    limited = await pipeline.report(Report(platform="discord", server_id="s1", reporter_id="spammer", message=make_message("y")))
    assert limited.rate_limited and "wait" in limited.message


async def test_report_of_a_member(pipeline, store):
    out = await pipeline.report(Report(platform="discord", server_id="s1", reporter_id="r1", reason="DMs me nudes requests", target_user_id="u9"))
    f = store.flag("discord:s1", out.flag_id)
    assert f.author_id == "u9" and f.channel_id == "member"


async def test_review_and_moderate_refresh_the_alert(pipeline, store, adapter):
    m = make_message("lewd")
    d = await pipeline.handle(m)
    await pipeline.settle()
    f = await pipeline.review(Review(flag_id=d.flag_id, server=m.server, decision="confirm", reviewer="mod1"))
    assert f.status == "confirmed"
    await pipeline.settle()
    r = await pipeline.moderate(Action(kind="ban", server=m.server, flag_id=d.flag_id, user_id=m.author_id, actor="mod1"))
    assert r.ok
    await pipeline.settle()
    kinds = [a.kind for a in adapter.executed if a.kind != "appeal_notice"]  # the banned member's notice: tests/test_appeals.py
    assert kinds == ["notify", "notify", "ban", "notify"]
    assert all(a.ref == "alert-1" for a in adapter.executed[1:] if a.kind == "notify")


async def test_runtime_settings_override_config(pipeline, store):
    pipeline.update_server_settings("discord:s1", {"thresholds": {"sexual": 1.0}})
    assert not (await pipeline.handle(make_message("lewd"))).flagged
    from bot.config import ConfigError

    with pytest.raises(ConfigError, match="setup.dry_run"):
        pipeline.update_server_settings("discord:s1", {"dry_run": "maybe"})


async def test_incident_alert_is_updated_in_place(pipeline, store, adapter):
    for i in range(4):
        await pipeline.handle(make_message(f"lewd {i}", author=f"a{i}", targets=("victim",)))
        await pipeline.settle()
    incs = store.incidents("discord:s1")
    assert len(incs) == 1 and incs[0].flag_count == 4 and incs[0].author_count == 4
    notes = [a for a in adapter.executed if a.kind == "notify"]
    assert notes[0].ref is None and all(n.ref == "alert-1" for n in notes[1:])  # one alert for the pile-on


@pytest.mark.parametrize(
    "text",
    [
        "",
        " \n\t ",
        "x" * 100_000,
        "lewd " + "y" * 100_000,
        "z̸̡̢̛̖̗̘̙̜̝̞̟̠̣̤a̴l̷g̶o lewd",
        "\u202elewd\u202c",
        "مرحبا lewd",
        "🍆💦 lewd 🔥",
        "nul\x00lewd\x00",
        "\ud83d lone surrogate lewd",
        "kirim foto bugilnya dong lewd",
    ],
)
async def test_odd_unicode_through_the_whole_pipeline(pipeline, store, text):
    m = make_message(text)
    d = await pipeline.handle(m)
    assert d.flagged == ("lewd" in text)
    if d.flagged:
        f = store.flag(m.server, d.flag_id)
        assert len(f.excerpt) <= 1000
    assert store.integrity_ok()


async def test_intake_backpressure_loses_nothing(pipeline, store):
    done = []
    intake = Intake(pipeline, maxsize=8, workers=2, on_done=lambda m, d: done.append(d.flag_id))
    intake.start()
    for i in range(200):
        await intake.submit(make_message(f"lewd {i}"))
        assert intake.queue.qsize() <= 8
    await intake.stop()
    assert len(done) == 200 and store.stats(None)["flags"] == 200 and intake.failed == 0


async def test_concurrent_pile_on_posts_one_alert(store, db_path):
    class SlowAdapter(RecordingAdapter):
        async def execute(self, action):
            await asyncio.sleep(0.01)  # a real API round trip lets other flags interleave
            return await super().execute(action)

    adapter = SlowAdapter()
    p = Pipeline(make_settings(db_path), store, [KeywordDetector()])
    p.adapters["discord"] = adapter
    await asyncio.gather(*(p.handle(make_message(f"lewd {i}", author=f"a{i}", targets=("victim",))) for i in range(6)))
    await p.settle()
    notes = [a for a in adapter.executed if a.kind == "notify"]
    assert len([a for a in notes if a.ref is None]) == 1
    assert len(notes) <= 2 and notes[-1].alert.incident.flag_count == 6  # the burst coalesced into one edit


async def test_incident_escalates_at_the_servers_count(store, db_path):
    adapter = RecordingAdapter()
    p = Pipeline(make_settings(db_path, incident_escalate_count=3), store, [KeywordDetector()])
    p.adapters["discord"] = adapter
    titles = []
    for i in range(3):
        await p.handle(make_message(f"lewd {i}", author=f"a{i}", targets=("victim",)))
        await p.settle()
        titles.append(adapter.executed[-1].alert.title)
    assert titles[0].startswith("Flagged") and titles[1].startswith("Incident: 2 sexual messages from 2 accounts targeting @victim")
    assert titles[2].startswith("Escalated incident: 3 sexual messages")


async def test_incident_summary_names_the_target(pipeline, store):
    for i in range(2):
        await pipeline.handle(make_message(f"lewd {i}", author=f"a{i}", targets=("victim",), target_names=(("victim", "sari"),)))
    (inc,) = store.incidents("discord:s1")
    from bot.incidents import summary

    assert summary(inc).startswith("2 sexual messages from 2 accounts targeting @sari in ")


def test_status_says_when_images_are_off(pipeline):
    assert pipeline.status() == "Detectors: text (keyword); image scanning off (install triagebot[images])"


def test_status_asks_the_image_scanner(store, db_path):
    p = Pipeline(make_settings(db_path), store, [KeywordDetector()], image_scanner=StandInImageScanner())
    assert p.status() == "Detectors: text (keyword); stand-in image scanner: 0 banked"
    p.executor.shutdown(wait=False)


async def test_reviewed_incidents_leave_the_queue(pipeline, store):
    for i in range(2):
        await pipeline.handle(make_message(f"lewd {i}", author=f"a{i}", targets=("victim",)))
    (inc,) = store.incidents("discord:s1", with_flags=True)
    assert inc.status == "open" and len(inc.flag_ids) == 2
    for fid in inc.flag_ids:
        await pipeline.review(Review(flag_id=fid, server="discord:s1", decision="dismiss", reviewer="mod"))
    assert store.incidents("discord:s1") == []
    (done,) = store.incidents("discord:s1", open_only=False)
    assert done.status == "reviewed"


# ---- a server that gets a new id (Telegram group -> supergroup) -----------------------------
def _bank(store, scope: str) -> int:
    return store.add_bank_entry(scope, [("hash256", b"\x01" * 32)], note="photo", source="protect", registered_by="u1")


def test_carry_over_moves_settings_and_bank_once(pipeline, store):
    pipeline.update_server_settings("telegram:-1", {"mod_chat": "-500", "thresholds": {"sexual": 0.8}, "exempt_users": ["7", "9"], "dry_run": True})
    _bank(store, "telegram:-1")
    moved = pipeline.carry_over_server("telegram:-1", "telegram:-1001")
    assert moved == {"settings": ["dry_run", "exempt_users", "mod_chat", "thresholds"], "bank_entries": 1}
    new = pipeline.server_settings("telegram:-1001")
    assert (new.mod_chat, new.thresholds["sexual"], new.exempt_users, new.dry_run) == ("-500", 0.8, frozenset({"7", "9"}), True)
    assert store.bank_size(["telegram:-1001"]) == 1 and store.bank_size(["telegram:-1"]) == 0
    assert pipeline.carry_over_server("telegram:-1", "telegram:-1001") == {}  # announced twice: nothing moves again
    assert pipeline.server_settings("telegram:-1").mod_chat == "-500"  # old flags stay reviewable from the same chat


def test_carry_over_never_overwrites_settings_the_new_id_already_has(pipeline, store):
    pipeline.update_server_settings("telegram:-1", {"mod_chat": "-500"})
    pipeline.update_server_settings("telegram:-1001", {"mod_chat": "-600"})
    assert pipeline.carry_over_server("telegram:-1", "telegram:-1001") == {}
    assert pipeline.server_settings("telegram:-1001").mod_chat == "-600"


def test_carry_over_of_an_unknown_server_moves_nothing(pipeline, store):
    assert pipeline.carry_over_server("telegram:-404", "telegram:-1001404") == {}
    assert store.server_overrides("telegram:-1001404") == {}
