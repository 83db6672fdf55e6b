"""A member's record: what moderators see before acting, on alerts and from the CLI."""

import json

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.member_history import summary
from bot.models import Action, Review
from bot.pipeline import Pipeline
from bot.store import Store
from tests.conftest import KeywordDetector, RecordingAdapter, make_message, make_settings

SERVER = "discord:s1"


@pytest.fixture
def p(store, db_path):
    pipeline = Pipeline(make_settings(db_path), store, [KeywordDetector()])
    pipeline.adapters["discord"] = RecordingAdapter()
    yield pipeline
    pipeline.executor.shutdown(wait=False)


async def history_of_troll(p: Pipeline) -> list[int]:
    ids = []
    for text in ("lewd one", "lewd two <@&123> =cmd()", "kirim foto bugil lewd"):
        ids.append((await p.handle(make_message(text, author="troll"))).flag_id)
    await p.handle(make_message("lewd elsewhere", author="troll", server_id="s2"))  # another server: never mixed in
    await p.review(Review(flag_id=ids[0], server=SERVER, decision="confirm", reviewer="mod1"))
    await p.review(Review(flag_id=ids[1], server=SERVER, decision="dismiss", reviewer="mod1"))
    await p.moderate(Action(kind="timeout", server=SERVER, flag_id=ids[0], user_id="troll", duration_s=600, actor="mod1"))
    await p.settle()
    return ids


@pytest.mark.parametrize(
    "user, expected",
    [
        ("troll", "3 earlier flags (1 confirmed, 1 dismissed), 1 timeout"),
        ("nobody", "no earlier flags"),
    ],
)
async def test_summary(p, store, user, expected):
    await history_of_troll(p)
    assert summary(store.member_history(SERVER, user)) == expected


async def test_alert_shows_the_authors_record_without_the_flag_itself(p, store):
    ids = await history_of_troll(p)
    d = await p.handle(make_message("lewd again", author="troll"))
    await p.settle()
    alert = p.adapters["discord"].executed[-1].alert
    assert alert.flag.id == d.flag_id and alert.author_history.startswith("3 earlier flags")
    assert store.member_history(SERVER, "troll", exclude_flag=ids[2]).flag_total == 3


async def test_cli_member_text_and_json(p, store, db_path):
    await history_of_troll(p)
    store.close()
    out = CliRunner().invoke(main, ["member", "troll", "--server", SERVER, "--db", str(db_path)])
    assert out.exit_code == 0, out.output
    assert out.output.startswith("troll in discord:s1: 3 earlier flags (1 confirmed, 1 dismissed), 1 timeout")
    assert "timeout 600 s ok by mod1" in out.output and "lewd elsewhere" not in out.output
    data = json.loads(CliRunner().invoke(main, ["member", "troll", "--server", SERVER, "--db", str(db_path), "--json"]).output)
    assert data["flag_total"] == 3 and [f["status"] for f in data["flags"]] == ["pending", "dismissed", "confirmed"]
    assert data["action_counts"] == {"timeout": 1}


@pytest.mark.parametrize(
    "args, code",
    [
        (["member", "troll"], 2),  # --server is required: records never mix servers
        (["member", "troll", "--server", "nope"], 2),
    ],
)
def test_cli_member_bad_arguments(db_path, args, code):
    Store.open(db_path).close()
    assert CliRunner().invoke(main, [*args, "--db", str(db_path)]).exit_code == code
