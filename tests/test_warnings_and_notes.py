"""Warnings and notes: a Warn is a private, recorded message to the member; notes are audited and shown."""

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.models import Review
from bot.pipeline import Pipeline
from bot.store import StoreError
from tests.conftest import KeywordDetector, RecordingAdapter, make_message, make_settings

SERVER = "discord:s1"


def pipeline_with(store, db_path, **overrides) -> tuple[Pipeline, RecordingAdapter]:
    adapter = RecordingAdapter()
    p = Pipeline(make_settings(db_path, **overrides), store, [KeywordDetector()])
    p.adapters["discord"] = adapter
    return p, adapter


@pytest.mark.parametrize(
    "overrides, starts",
    [
        ({}, "A moderator warned you"),
        ({"language": "id"}, "Moderator memperingatkanmu"),
        ({"warning_message": "Stop it. Read #rules."}, "Stop it."),
    ],
)
async def test_warn_sends_the_servers_template_and_is_recorded(store, db_path, overrides, starts):
    p, adapter = pipeline_with(store, db_path, **overrides)
    d = await p.handle(make_message("lewd", author="troll"))
    result = await p.warn(SERVER, d.flag_id, "mod1")
    assert result.ok
    (warn,) = [a for a in adapter.executed if a.kind == "warn"]
    assert warn.user_id == "troll" and warn.reason.startswith(starts) and warn.actor == "mod1"
    assert [(a["kind"], a["status"]) for a in store.actions_for(SERVER, d.flag_id)] == [("warn", "ok")]
    await p.stop()


@pytest.mark.parametrize("count_warnings, timed_out", [(True, True), (False, False)])
async def test_warnings_count_toward_a_timeout_when_the_server_says_so(store, db_path, count_warnings, timed_out):
    p, adapter = pipeline_with(store, db_path, auto_timeout=True, timeout_after_flags=2, warnings_count=count_warnings)
    d = await p.handle(make_message("lewd", author="troll", server_id="s1"))
    await p.warn(SERVER, d.flag_id, "mod1")
    await p.review(Review(flag_id=d.flag_id, server=SERVER, decision="dismiss", reviewer="mod1"))  # the flag no longer counts
    await p.handle(make_message("lewd again", author="troll"))
    await p.settle()
    assert ("timeout" in [a.kind for a in adapter.executed]) is timed_out
    await p.stop()


async def test_notes_on_flag_incident_and_member(store, db_path):
    p, adapter = pipeline_with(store, db_path)
    for i in range(2):
        await p.handle(make_message(f"lewd {i}", author="troll", targets=("victim",)))
    await p.settle()
    p.note(SERVER, "incident", "1", "mod1", "coordinated from another server; <@everyone>")
    p.note(SERVER, "member", "troll", "mod2", "second account of banned user")
    await p.settle()
    assert adapter.executed[-1].alert.notes == ("mod1: coordinated from another server; <@everyone>",)
    history = store.member_history(SERVER, "troll")
    assert [n["text"] for n in history.notes] == ["second account of banned user"]
    assert all(r.ok for r in store.verify_chain())
    await p.stop()


@pytest.mark.parametrize(
    "kind, ident, text, match",
    [
        ("flag", "999", "x", "no flag"),
        ("incident", "999", "x", "no incident"),
        ("member", "u", "   ", "needs some text"),
        ("channel", "1", "x", "not 'channel'"),
    ],
)
def test_bad_notes_are_refused(store, kind, ident, text, match):
    store.ensure_server(SERVER)
    with pytest.raises(StoreError, match=match):
        store.add_note(SERVER, kind, ident, "mod1", text)


def test_cli_notes(store, db_path):
    store.ensure_server(SERVER)
    store.close()
    run = CliRunner().invoke
    out = run(main, ["note", "add", "--db", str(db_path), "--server", SERVER, "--member", "troll", "=cmd() alt account"])
    assert out.exit_code == 0 and "note #1 on member troll" in out.output
    out = run(main, ["note", "list", "--db", str(db_path), "--server", SERVER, "--member", "troll"])
    assert "=cmd() alt account" in out.output
    assert run(main, ["note", "add", "--db", str(db_path), "--server", SERVER, "x"]).exit_code == 2
    assert run(main, ["note", "add", "--db", str(db_path), "--server", SERVER, "--flag", "5", "--member", "u", "x"]).exit_code == 2
    bad = run(main, ["note", "add", "--db", str(db_path), "--server", SERVER, "--flag", "5", "x"])
    assert bad.exit_code == 1 and "no flag #5" in bad.output
    out = run(main, ["member", "troll", "--db", str(db_path), "--server", SERVER])
    assert "Notes:" in out.output and "alt account" in out.output
