"""Legal holds from the chat: parsing the commands, and Discord's `/triage hold` against the fake Discord
(Telegram's `/hold` is tested with the other Telegram commands in tests/test_telegram_bot.py)."""

from __future__ import annotations

import pytest

from bot import legal_holds
from bot.legal_holds import HoldRequest
from tests.fake_discord import ALICE, BOB, CAROL
from tests.test_discord_bot import SERVER, env, fake, flag_one  # noqa: F401

HOSTILE = "@everyone **bold** <@301> `code`"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("12", ("flag", 12)),
        ("#12", ("flag", 12)),
        ("flag 12", ("flag", 12)),
        ("f12", ("flag", 12)),
        ("incident 3", ("incident", 3)),
        ("i3", ("incident", 3)),
        ("Incident #3", ("incident", 3)),
        ("", None),
        ("twelve", None),
        ("12 13", None),
        ("9" * 13, None),
        ("-5", None),
        ("１２", None),
    ],
)
def test_subject(text, expected):
    assert legal_holds.subject(text) == expected


@pytest.mark.parametrize(
    "args,expected",
    [
        (["12", "kasus", "polisi"], HoldRequest("place", "flag", 12, "kasus polisi")),
        (["place", "incident", "3", "LP/123"], HoldRequest("place", "incident", 3, "LP/123")),
        (["release", "#12"], HoldRequest("release", "flag", 12, "")),
        (["lift", "i3"], HoldRequest("release", "incident", 3, "")),
        (["list"], HoldRequest("list")),
        ([], None),
        (["release"], None),
        (["hello", "12"], None),
    ],
)
def test_parse(args, expected):
    assert legal_holds.parse(args) == expected


async def run(env, who: int, locale: str = "en-US", **options) -> dict:
    inter = await env.fake.slash(who, "triage", "hold", options=options, locale=locale)
    cb = (await env.fake.callback(inter)).json
    assert cb["data"]["flags"] & 64 and cb["data"]["allowed_mentions"] == {"parse": []}
    return cb["data"]


async def test_place_list_and_release(env):
    _, _, flag_id = await flag_one(env)
    out = await run(env, BOB, target=f"#{flag_id}", reason="LP/123 " + HOSTILE)
    assert f"Legal hold on flag #{flag_id}" in out["content"]
    [h] = env.store.holds(SERVER)
    assert (h["target_id"], h["placed_by"], h["reason"]) == (flag_id, str(BOB), "LP/123 " + HOSTILE)
    assert env.store.purge_content(SERVER) == 0  # the held flag's content survives a purge
    listed = (await run(env, BOB, action="list"))["content"]
    assert "Active legal holds (1)" in listed and "<@301>" not in listed and "**bold**" not in listed
    refused = await run(env, BOB, action="release", target=str(flag_id))
    assert "Only administrators" in refused["content"] and env.store.holds(SERVER)
    lifted = await run(env, CAROL, action="release", target=str(flag_id))
    assert "Lifted" in lifted["content"] and env.store.holds(SERVER) == []


@pytest.mark.parametrize(
    "who,options,answer",
    [
        (ALICE, {"target": "1"}, "Manage Messages"),  # members cannot place holds
        (BOB, {"target": "incident 999"}, "No hold placed"),
        (BOB, {"target": "nonsense"}, "Name a flag"),
        (BOB, {"action": "release", "target": "1"}, "Only administrators"),
    ],
)
async def test_refusals(env, who, options, answer):
    await flag_one(env)
    assert answer in (await run(env, who, **options))["content"]
    assert env.store.holds(SERVER) == []


async def test_answers_in_the_members_language(env):
    _, _, flag_id = await flag_one(env)
    out = await run(env, BOB, locale="id", target=str(flag_id))
    assert "Penahanan hukum pada flag" in out["content"]
