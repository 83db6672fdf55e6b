"""Appeals in the core (issue 16 item 5): the member is told, opens an appeal, moderators uphold or reverse it.

The adapter here is the recording stand-in; tests/test_discord_appeals.py and tests/test_telegram_appeals.py
run the same round trip through the real clients against the fakes."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bot import appeals
from bot.cli import main
from bot.config import ConfigError, ServerSettings
from bot.errors import AppealRefused, TriagebotError
from bot.models import Action, Review
from bot.pipeline import Pipeline
from bot.store import StoreError
from tests.conftest import KeywordDetector, RecordingAdapter, make_message, make_settings

SERVER = "discord:s1"


def pipeline_with(store, db_path, **overrides) -> tuple[Pipeline, RecordingAdapter]:
    adapter = RecordingAdapter()
    p = Pipeline(make_settings(db_path, **overrides), store, [KeywordDetector()])
    p.adapters["discord"] = adapter
    return p, adapter


async def flag_and_act(p: Pipeline, kind: str, author: str = "troll", text: str = "lewd", reporter: str | None = None) -> int:
    d = await p.handle(make_message(text, author=author))
    if reporter is not None:
        p.store.record_report(SERVER, d.flag_id, reporter, "she reported it")
    await p.moderate(
        Action(
            kind=kind,
            server=SERVER,
            flag_id=d.flag_id,
            channel_id="c1",
            message_id="m",
            user_id=author,
            duration_s=600 if kind == "timeout" else None,
            actor="mod1",
        )
    )
    await p.settle()
    return d.flag_id


def notices(adapter: RecordingAdapter, kind: str = "appeal_notice") -> list[Action]:
    return [a for a in adapter.executed if a.kind == kind]


@pytest.mark.parametrize(
    "kind, language, expected",
    [
        ("delete", "en", "A message you posted in Creators was removed"),
        ("timeout", "en", "You were timed out in Creators"),
        ("ban", "en", "You were banned from Creators"),
        ("timeout", "id", "Kamu dibisukan sementara di Creators"),
        ("ban", "id", "Kamu diblokir dari Creators"),
    ],
)
async def test_an_affected_member_is_told_how_to_appeal(store, db_path, kind, language, expected):
    p, adapter = pipeline_with(store, db_path, language=language)
    flag_id = await flag_and_act(p, kind, reporter="victim-42")
    [notice] = notices(adapter)
    text = notice.appeal.fill("Creators")
    assert notice.user_id == "troll" and notice.flag_id == flag_id and expected in text
    assert f"({'kasus' if language == 'id' else 'case'} {flag_id})" in text
    assert notice.appeal.button == ("Banding" if language == "id" else "Appeal")
    assert "victim-42" not in repr(notice) and "reported" not in text  # never who reported
    [row] = [a for a in store.actions_for(SERVER, flag_id) if a["kind"] == "appeal_notice"]
    assert row["status"] == "ok" and row["target_user"] == "troll"
    await p.stop()


@pytest.mark.parametrize(
    "overrides, fail, expect_notice",
    [
        ({"dry_run": True}, set(), False),  # nothing was done: nothing to appeal
        ({"appeals": False}, set(), False),  # the server turned appeals off
        ({}, {"timeout"}, False),  # the timeout failed
        ({}, set(), True),
    ],
)
async def test_no_notice_unless_the_action_landed(store, db_path, overrides, fail, expect_notice):
    p, adapter = pipeline_with(store, db_path, **overrides)
    adapter.fail_kinds = fail
    await flag_and_act(p, "timeout")
    assert bool(notices(adapter)) is expect_notice
    await p.stop()


@pytest.mark.parametrize("kind, first", [("ban", True), ("timeout", False), ("delete", False)])
async def test_a_ban_notice_goes_out_before_the_ban(store, db_path, kind, first):
    """Once banned, a Discord member shares no server with the bot, which may then no longer write to them."""
    p, adapter = pipeline_with(store, db_path)
    await flag_and_act(p, kind)
    order = [a.kind for a in adapter.executed if a.kind in (kind, "appeal_notice")]
    assert order == (["appeal_notice", kind] if first else [kind, "appeal_notice"])
    await p.stop()


async def test_a_warning_brings_no_second_message(store, db_path):
    p, adapter = pipeline_with(store, db_path)
    d = await p.handle(make_message("lewd", author="troll"))
    await p.warn(SERVER, d.flag_id, "mod1")
    await p.settle()
    assert notices(adapter) == [] and [a.kind for a in adapter.executed if a.kind != "notify"] == ["warn"]
    await p.stop()


async def test_automatic_actions_notify_once_per_kind(store, db_path):
    p, adapter = pipeline_with(store, db_path, auto_delete=True, auto_delete_threshold=0.5, auto_timeout=True, timeout_after_flags=1)
    d = await p.handle(make_message("lewd", author="troll"))
    await p.settle()
    kinds = sorted(a.reason for a in notices(adapter))
    assert kinds == ["appeal notice: delete", "appeal notice: timeout"]
    assert {a.flag_id for a in notices(adapter)} == {d.flag_id}
    await p.stop()


@pytest.mark.parametrize(
    "text, stored",
    [
        ("I was quoting her to report it", "I was quoting her to report it"),
        ("Saya hanya mengutip, bukan melecehkan", "Saya hanya mengutip, bukan melecehkan"),
        ("x" * 5000, "x" * (appeals.TEXT_CHARS - 1) + "…"),  # huge: capped
        ('=HYPERLINK("http://x") <@everyone> **b**', '=HYPERLINK("http://x") <@everyone> **b**'),  # kept as data
        ("  many   spaces\tand tabs  ", "many spaces and tabs"),
        ("line one\n\n  line   two ", "line one\n\nline two"),  # lines kept, spaces collapsed
        ("ｂｏｋｅｐ\u200b ｂ0kep g4ratis", "ｂｏｋｅｐ\u200b ｂ0kep g4ratis"),  # obfuscated: kept verbatim as data
    ],
)
async def test_open_appeal_stores_the_text_and_queues_the_moderators_entry(store, db_path, text, stored):
    p, adapter = pipeline_with(store, db_path)
    flag_id = await flag_and_act(p, "timeout")
    appeal = p.open_appeal("discord", flag_id, "troll", text, locale="en-US")
    await p.settle()
    assert appeal.text == stored and appeal.status == "open" and appeal.flag_id == flag_id
    [entry] = [a for a in adapter.executed if a.kind == "appeal_alert"]
    assert entry.appeal.appeal.id == appeal.id and entry.destination == "900"
    assert dict(entry.appeal.fields)["Their explanation"] == stored
    assert store.appeal(SERVER, appeal.id).alert_ref is not None or True  # the recording adapter gives no ref
    await p.stop()


@pytest.mark.parametrize(
    "who, case_offset, platform, text, key",
    [
        ("someone-else", 0, "discord", "mine?", "appeal.refused.not_yours"),  # not the affected member
        ("troll", 999, "discord", "why", "appeal.refused.not_yours"),  # no such case: the same answer
        ("troll", 0, "telegram", "why", "appeal.refused.not_yours"),  # a Discord case from Telegram
        ("troll", 0, "discord", "   ", "appeal.refused.empty"),
        ("troll", 0, "discord", "", "appeal.refused.empty"),
    ],
)
async def test_appeals_that_cannot_be_opened(store, db_path, who, case_offset, platform, text, key):
    p, _ = pipeline_with(store, db_path)
    flag_id = await flag_and_act(p, "ban")
    with pytest.raises(AppealRefused) as info:
        p.open_appeal(platform, flag_id + case_offset, who, text)
    assert info.value.key == key and isinstance(info.value, TriagebotError)
    assert store.appeals(SERVER) == []
    await p.stop()


async def test_only_actions_on_the_member_open_an_appeal(store, db_path):
    p, _ = pipeline_with(store, db_path)
    d = await p.handle(make_message("lewd", author="troll"))  # flagged, nothing done to the member
    with pytest.raises(AppealRefused, match="nothing for you to appeal"):
        p.open_appeal("discord", d.flag_id, "troll", "why")
    await p.stop()


async def test_rate_limits_one_open_per_case_and_n_per_day(store, db_path):
    p, _ = pipeline_with(store, db_path, appeals_per_day=2)
    flags = [await flag_and_act(p, "delete", text=f"lewd {i}") for i in range(3)]
    first = p.open_appeal("discord", flags[0], "troll", "one")
    with pytest.raises(AppealRefused) as again:
        p.open_appeal("discord", flags[0], "troll", "one more time")
    assert again.value.key == "appeal.refused.open"
    p.open_appeal("discord", flags[1], "troll", "two")
    with pytest.raises(AppealRefused) as limit:
        p.open_appeal("discord", flags[2], "troll", "three", locale="id")
    assert limit.value.key == "appeal.refused.limit" and "paling banyak 2 banding" in str(limit.value)
    await p.decide_appeal(SERVER, first.id, "uphold", "mod1")
    with pytest.raises(AppealRefused):  # deciding one does not free a slot in the same day
        p.open_appeal("discord", flags[2], "troll", "three")
    with pytest.raises(StoreError, match="already open"):  # the store holds the line too (a racing second click)
        store.add_appeal(SERVER, flags[1], "troll", "dup", "en", 99)
    await p.stop()


@pytest.mark.parametrize("value", [0, 101, -1, "3", 2.5, True])
def test_appeals_per_day_is_validated(value):
    with pytest.raises(ConfigError, match="appeals_per_day"):
        ServerSettings().with_overrides({"appeals_per_day": value})


@pytest.mark.parametrize(
    "kind, undo, member_lang, says",
    [
        ("timeout", "untimeout", "en", "Your timeout was lifted."),
        ("ban", "unban", "en", "Your ban was lifted."),
        ("ban", "unban", "id", "Blokirmu sudah dicabut."),
        ("delete", None, "en", "A deleted message cannot be restored."),
        ("delete", None, "id", "Pesan yang sudah dihapus tidak bisa dikembalikan."),
    ],
)
async def test_a_reversal_dismisses_the_flag_undoes_and_tells_the_member(store, db_path, kind, undo, member_lang, says):
    p, adapter = pipeline_with(store, db_path)
    flag_id = await flag_and_act(p, kind)
    appeal = p.open_appeal("discord", flag_id, "troll", "it was a joke between friends", locale=member_lang)
    outcome = await p.decide_appeal(SERVER, appeal.id, "reverse", "mod2", "context shows banter")
    await p.settle()
    assert outcome.appeal.status == "reversed" and outcome.appeal.decided_by == "mod2"
    flag = store.flag(SERVER, flag_id)
    assert flag.status == "dismissed"
    assert flag.last_review["note"] == "appeal reversed: context shows banter"  # counted as a false positive
    undos = [a for a in adapter.executed if a.kind in ("untimeout", "unban")]
    assert [a.kind for a in undos] == ([undo] if undo else [])
    assert all(a.user_id == "troll" and a.actor == "mod2" for a in undos)
    assert outcome.deleted is (kind == "delete")
    if kind == "delete":
        assert "cannot come back" in outcome.summary("en")
    [told] = notices(adapter, "appeal_outcome")
    assert told.user_id == "troll" and says in told.appeal.text
    assert all(r.ok for r in store.verify_chain())
    await p.stop()


async def test_uphold_keeps_everything_and_a_decided_appeal_stays_decided(store, db_path):
    p, adapter = pipeline_with(store, db_path)
    flag_id = await flag_and_act(p, "timeout")
    appeal = p.open_appeal("discord", flag_id, "troll", "please")
    outcome = await p.decide_appeal(SERVER, appeal.id, "uphold", "mod1")
    await p.settle()
    assert outcome.appeal.status == "upheld" and store.flag(SERVER, flag_id).status == "pending"
    assert not [a for a in adapter.executed if a.kind in ("untimeout", "unban")]
    [told] = notices(adapter, "appeal_outcome")
    assert "the decision stands" in told.appeal.text
    with pytest.raises(AppealRefused) as info:
        await p.decide_appeal(SERVER, appeal.id, "reverse", "mod2")
    assert info.value.key == "appeal.decided.already"
    with pytest.raises(StoreError, match="no appeal"):
        await p.decide_appeal("discord:other", appeal.id, "reverse", "mod2")
    with pytest.raises(ValueError):
        await p.decide_appeal(SERVER, appeal.id, "pardon", "mod2")
    await p.stop()


async def test_failed_undo_is_reported_to_moderator_and_member(store, db_path):
    p, adapter = pipeline_with(store, db_path)
    flag_id = await flag_and_act(p, "ban")
    adapter.fail_kinds = {"unban"}
    appeal = p.open_appeal("discord", flag_id, "troll", "sorry")
    outcome = await p.decide_appeal(SERVER, appeal.id, "reverse", "mod1")
    await p.settle()
    assert outcome.undone == () and outcome.failed[0][0] == "ban" and "ban not undone" in outcome.summary()
    [told] = notices(adapter, "appeal_outcome")
    assert "a moderator will follow up" in told.appeal.text
    await p.stop()


async def test_the_chain_commits_to_appeals_and_catches_edits(store, db_path):
    p, _ = pipeline_with(store, db_path)
    flag_id = await flag_and_act(p, "timeout")
    appeal = p.open_appeal("discord", flag_id, "troll", "original words")
    await p.decide_appeal(SERVER, appeal.id, "uphold", "mod1", "seen the logs")
    await p.settle()
    assert all(r.ok for r in store.verify_chain())
    kinds = [r[1] for r in store._audit_rows(SERVER)]
    assert "appeal" in kinds and "appeal_decision" in kinds
    await p.stop()
    for column, value in (("text", "edited words"), ("status", "reversed"), ("decided_by", "mod9"), ("note", "")):
        old = store.db.conn.execute(f"SELECT {column} FROM appeals WHERE id = ?", (appeal.id,)).fetchone()[0]
        store.db.conn.execute(f"UPDATE appeals SET {column} = ? WHERE id = ?", (value, appeal.id))
        [report] = store.verify_chain(SERVER)
        assert not report.ok and "appeals row" in str(report.problem), column
        store.db.conn.execute(f"UPDATE appeals SET {column} = ? WHERE id = ?", (old, appeal.id))
    assert store.verify_chain(SERVER)[0].ok


async def test_a_notice_resumed_after_a_restart_gets_its_text_back(store, db_path):
    p, adapter = pipeline_with(store, db_path, language="id")
    d = await p.handle(make_message("lewd", author="troll"))
    bare = Action(kind="appeal_notice", server=SERVER, flag_id=d.flag_id, user_id="troll", reason="appeal notice: ban")
    rebuilt = p.prepare_action(bare)
    assert "Kamu diblokir" in rebuilt.appeal.text and rebuilt.appeal.case == d.flag_id
    assert p.prepare_action(Action(kind="delete", server=SERVER)).appeal is None
    await p.stop()


# ---- CLI --------------------------------------------------------------------------------------------
async def _two_appeals(store, db_path) -> tuple[int, int, int]:
    p, _ = pipeline_with(store, db_path)
    banned = await flag_and_act(p, "ban", reporter="victim-42")
    deleted = await flag_and_act(p, "delete", text="lewd again")
    a = p.open_appeal("discord", banned, "troll", "=cmd|' /C calc'!A0 I did nothing\nsecond line")
    b = p.open_appeal("discord", deleted, "troll", "Saya minta maaf")
    await p.stop()
    return a.id, b.id, banned


async def test_cli_lists_and_reverses_an_appeal(store, db_path):
    first, second, banned = await _two_appeals(store, db_path)
    store.close()
    run = CliRunner().invoke
    out = run(main, ["appeals", "list", "--db", str(db_path)])
    assert out.exit_code == 0, out.output
    assert f"#{first} " in out.output and "case" in out.output and "Saya minta maaf" in out.output
    assert "victim-42" not in out.output
    assert len(out.output.splitlines()) == 2  # one line each, whatever the text holds
    limited = run(main, ["appeals", "list", "--db", str(db_path), "--limit", "1"])
    assert "more" in limited.output
    out = run(main, ["appeals", "decide", "--db", str(db_path), "--moderator", "mod7", "--note", "wrong person", str(first), "reverse"])
    assert out.exit_code == 0, out.output
    assert f"appeal #{first} reversed by mod7" in out.output and "pending: unban member troll" in out.output
    again = run(main, ["appeals", "decide", "--db", str(db_path), str(first), "uphold"])
    assert again.exit_code == 1 and "already decided" in again.output
    out = run(main, ["appeals", "decide", "--db", str(db_path), str(second), "reverse"])
    assert "A deleted message cannot come back." in out.output
    listed = run(main, ["appeals", "list", "--db", str(db_path), "--status", "all", "--json"])
    import json

    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert [r["status"] for r in rows] == ["reversed", "reversed"] and rows[0]["decided_by"] == "mod7"
    from bot.store import Store

    with Store.open(db_path) as s:
        assert s.flag(SERVER, banned).last_review["note"] == "appeal reversed: wrong person"
        pending = [a for a in s.actions_for(SERVER, banned) if a["status"] == "pending"]
        assert sorted(a["kind"] for a in pending) == ["appeal_outcome", "unban"]
        assert all(r.ok for r in s.verify_chain())


@pytest.mark.parametrize(
    "args, code, says",
    [
        (["appeals", "decide", "999", "reverse"], 1, "no appeal #999"),
        (["appeals", "decide", "1", "pardon"], 2, "Invalid value"),
        (["appeals", "decide", "0", "uphold"], 2, "Invalid value"),
        (["appeals", "list", "--status", "lost"], 2, "Invalid value"),
        (["appeals", "list", "--server", "nowhere"], 2, "is not a server key"),
    ],
)
def test_cli_refusals(store, db_path, args, code, says):
    store.close()
    out = CliRunner().invoke(main, [*args[:2], "--db", str(db_path), *args[2:]])
    assert out.exit_code == code and says in out.output


async def test_cli_pending_undo_is_carried_out_by_the_next_start(store, db_path):
    first, _, banned = await _two_appeals(store, db_path)
    store.close()
    assert CliRunner().invoke(main, ["appeals", "decide", "--db", str(db_path), str(first), "reverse"]).exit_code == 0
    from bot.store import Store

    s = Store.open(db_path)
    p, adapter = pipeline_with(s, db_path)
    p.start()
    await p.settle()
    kinds = [a.kind for a in adapter.executed]
    assert "unban" in kinds and "appeal_outcome" in kinds
    [told] = [a for a in adapter.executed if a.kind == "appeal_outcome"]
    assert "the decision was reversed" in told.appeal.text
    await p.stop()
    s.close()


@pytest.mark.parametrize("lang, says", [("en", "1 ban, 1 ban lifted"), ("id", "1 ban, 1 blokir dicabut")])
async def test_member_history_shows_what_a_reversal_lifted(store, db_path, lang, says):
    from bot import member_history

    p, _ = pipeline_with(store, db_path)
    flag_id = await flag_and_act(p, "ban")
    appeal = p.open_appeal("discord", flag_id, "troll", "sorry")
    await p.decide_appeal(SERVER, appeal.id, "reverse", "mod1")
    await p.settle()
    text = member_history.summary(store.member_history(SERVER, "troll"), lang)
    assert says in text and "appeal" not in text  # the member's messages are not moderation
    await p.stop()


@pytest.mark.parametrize("held", [False, True])
async def test_purge_erases_the_appeal_text_with_the_flag_and_the_chain_still_verifies(store, db_path, held):
    p, _ = pipeline_with(store, db_path)
    flag_id = await flag_and_act(p, "ban")
    appeal = p.open_appeal("discord", flag_id, "troll", "my words, with my phone number 0812-3456-7890")
    await p.decide_appeal(SERVER, appeal.id, "uphold", "mod1")
    await p.settle()
    await p.stop()
    if held:
        store.add_hold(SERVER, "flag", flag_id, "mod1", "police asked")
    store.purge_content(SERVER, user_id="troll")
    text = store.appeal(SERVER, appeal.id).text
    assert (text == "my words, with my phone number 0812-3456-7890") is held
    assert held or text == "[purged]"
    assert all(r.ok for r in store.verify_chain())
    if not held:  # an edit after the purge is still caught on the other columns
        store.db.conn.execute("UPDATE appeals SET decided_by = 'mod9' WHERE id = ?", (appeal.id,))
        assert not store.verify_chain(SERVER)[0].ok


async def test_a_reversal_counts_as_a_false_positive_in_the_precision_figures(store, db_path):
    from bot import precision

    p, _ = pipeline_with(store, db_path)
    confirmed = await flag_and_act(p, "ban", text="lewd one")
    await p.review(Review(flag_id=confirmed, server=SERVER, decision="confirm", reviewer="mod1"))
    reversed_ = await flag_and_act(p, "ban", author="friend", text="lewd two")
    appeal = p.open_appeal("discord", reversed_, "friend", "we were joking")
    await p.decide_appeal(SERVER, appeal.id, "reverse", "mod1", "banter")
    await p.settle()
    [report] = precision.precision_reports(store, SERVER)
    assert (report.reviewed, report.confirmed, report.dismissed, report.appeal_reversals) == (2, 1, 1, 1)
    assert appeals.REVERSED_PREFIX.startswith(precision.APPEAL_REVERSED)
    await p.stop()
