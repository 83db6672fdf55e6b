"""/triage rules add|remove|list with the real discord.py client against the fake Discord (tests/fake_discord.py)."""

from __future__ import annotations

import pytest

from tests.fake_discord import ALICE, BOB, ERIN, MALLORY, MODQ, ROLE_SENIOR, _option
from tests.test_discord_bot import SERVER, env, fake, mod_posts  # noqa: F401

HOSTILE = "**bold** `code` ||spoiler|| <@301> ching*"


async def rules(env, who: int, sub: str, locale: str = "en-US", **options) -> dict:
    """Run `/triage rules <sub>` and return the interaction callback's data."""
    inner = [{"name": sub, "type": 1, "options": [_option(k, v) for k, v in options.items()]}]
    data = {"id": str(env.fake.new_id()), "name": "triage", "type": 1, "options": [{"name": "rules", "type": 2, "options": inner}]}
    inter = await env.fake.interact(2, data, who, locale=locale)
    cb = (await env.fake.callback(inter)).json
    assert cb["type"] == 4 and cb["data"]["flags"] & 64  # ephemeral
    return cb["data"]


async def flagged(env, author: int, text: str) -> bool:
    before = len(mod_posts(env.fake))
    await env.fake.send_message(author, text)
    await env.settle()
    return len(mod_posts(env.fake)) > before


async def test_a_term_added_by_a_moderator_flags_at_once_with_its_reason(env):
    reply = await rules(env, BOB, "add", kind="term", pattern="ching*", label="racial")
    assert reply["content"] == "Rule added: **#1** · term · racial · ching\\*"
    assert reply["allowed_mentions"] == {"parse": []}
    assert await flagged(env, MALLORY, "dasar CH1NGCH0NG")
    [verdict] = [v for v in env.store.flag(SERVER, 1).verdicts if v.detector == "server_rules"]
    assert verdict.reason == 'server rule "ching*": "CH1NGCH0NG" → chingchong'
    assert env.store.server_rules(SERVER)[0]["added_by"] == str(BOB)


async def test_allow_listed_phrase_and_exempt_role(env):
    await rules(env, BOB, "add", kind="allow", pattern="bokep gratis")
    assert not await flagged(env, MALLORY, "sini bokep gratis")
    assert await flagged(env, MALLORY, "dasar bokep")
    reply = await rules(env, BOB, "add", kind="exempt_role", pattern=f"<@&{ROLE_SENIOR}>")
    assert reply["content"].endswith(f"exempt role · <@&{ROLE_SENIOR}>")  # shown as the role's name, never pings
    assert not await flagged(env, ERIN, "dasar bokep")


async def test_list_remove_and_indonesian_replies(env):
    await rules(env, BOB, "add", kind="term", pattern="anak * haram", label="sexual", score=0.8)
    await rules(env, BOB, "add", kind="term", pattern=HOSTILE, label="racial")
    listing = (await rules(env, BOB, "list", locale="id"))["content"]
    lines = listing.splitlines()
    assert lines[0] == "Aturan server ini sendiri (2); aturan ini mengalahkan model:"
    assert lines[1] == "**#1** · istilah · seksual · anak \\* haram · 0.80"
    assert "**bold**" not in lines[2] and "<@301>" not in lines[2] and "||spoiler||" not in lines[2]
    removed = await rules(env, BOB, "remove", rule="1")
    assert removed["content"].startswith("Rule removed: **#1**")
    assert [r["id"] for r in env.store.server_rules(SERVER)] == [2]
    assert (await rules(env, BOB, "remove", rule="1", locale="id"))["content"].startswith("Tidak disimpan: no such rule")


@pytest.mark.parametrize(
    "who, sub, options, expected",
    [
        (ALICE, "add", {"kind": "term", "pattern": "ching*", "label": "racial"}, "Manage Messages"),
        (ALICE, "list", {}, "Manage Messages"),
        (BOB, "add", {"kind": "term", "pattern": "*", "label": "racial"}, "Not saved: a pattern needs at least 2"),
        (BOB, "add", {"kind": "term", "pattern": "ching*"}, "Not saved: a term needs a label"),
        (BOB, "add", {"kind": "exempt_channel", "pattern": "not a channel"}, "Not saved:"),
        (BOB, "list", {}, "This server has no rules of its own yet."),
    ],
)
async def test_refusals_and_empty_list(env, who, sub, options, expected):
    assert expected in (await rules(env, who, sub, **options))["content"]
    assert env.store.server_rules(SERVER) == []


def test_every_rules_description_fits_discord_and_has_an_indonesian_text():
    """Discord refuses a command set with a description over 100 characters; each one has a catalogue entry,
    so Indonesian clients see it translated."""
    from bot import i18n
    from bot.platforms.discord_rules import rules_group

    group = rules_group()
    texts = [group.description] + [c.description for c in group.commands]
    texts += [p.description for c in group.commands for p in getattr(c, "parameters", ())]
    english = {v: k for k, v in i18n.catalogue("en").items() if k.startswith("command.triage.rules")}
    assert len(texts) == 10  # the group, 3 commands, 4 + 2 options
    for text in map(str, texts):
        assert len(text) <= 100 and text in english, text
        assert len(i18n.text(english[text], "id")) <= 100
