"""Telegram /rules with the real python-telegram-bot client against the fake Bot API (tests/fake_telegram.py)."""

from __future__ import annotations

import pytest

from tests.fake_telegram import private, supergroup
from tests.test_telegram_bot import ADMIN, CREATOR, G, GROUP, MEMBER, MODS, SERVER, TROLL, Env, env  # noqa: F401

MODCHAT = supergroup(MODS, "Mods")


async def rules(env: Env, who: dict, args: str, chat: dict = MODCHAT, where: int = MODS, reply_to: dict | None = None):
    """Send `/rules <args>` and return the bot's reply (its sendMessage parameters)."""
    before = len(env.fake.calls_of("sendMessage"))
    text = f"/rules {args}".strip()
    await env.fake.send(chat, who, text, entities=[{"type": "bot_command", "offset": 0, "length": 6}], reply_to=reply_to)
    calls = await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == where and env.fake.calls_of("sendMessage").index(c) >= before)
    return calls[-1].params


async def flagged(env: Env, text: str, who: dict = TROLL) -> bool:
    intake = env.handlers.intake
    before = intake.handled + intake.failed
    await env.fake.send(G, who, text)
    await env.fake.wait_for(lambda: intake.handled + intake.failed > before, what="message handled")
    await env.settle()
    return any(text in (f.excerpt or "") for f in env.store.queue(SERVER))


async def test_admin_adds_a_term_and_an_allow_listed_phrase_from_the_moderators_chat(env: Env):
    reply = await rules(env, ADMIN, "add racial ching*")
    assert reply["parse_mode"] == "HTML" and reply["text"] == "Rule added: #1 · term · racial · <code>ching*</code>"
    assert await flagged(env, "dasar ch1ngch0ng")
    [f] = env.store.queue(SERVER)
    assert 'server rule "ching*": "ch1ngch0ng" → chingchong' in [v.reason for v in f.verdicts]
    await rules(env, ADMIN, "allow slur list")
    assert not await flagged(env, "the slur list for the report")
    await rules(env, ADMIN, f"exempt {MEMBER['id']}")
    assert not await flagged(env, "slur", who=MEMBER)
    forwarded = env.fake.new_message(MODCHAT, CREATOR, "aku pinjam kata slur di sini buat laporan")
    reply = await rules(env, ADMIN, "exempt", reply_to=forwarded)  # a reply names the member to exempt
    assert reply["text"] == f"Rule added: #4 · exempt member · <code>{CREATOR['id']}</code>"
    assert not await flagged(env, "slur", who=CREATOR)
    assert await flagged(env, "dasar slur")


async def test_list_escapes_patterns_and_speaks_indonesian(env: Env):
    await rules(env, ADMIN, "add sexual <b>ok</b> colmek*")
    listing = (await rules(env, {**MEMBER, "language_code": "id"}, "list"))["text"]
    assert listing.splitlines()[1] == "Aturan server ini sendiri (1); aturan ini mengalahkan model:"
    assert "<code>&lt;b&gt;ok&lt;/b&gt; colmek*</code>" in listing and "<b>ok</b>" not in listing
    removed = await rules(env, ADMIN, "remove 1")
    assert removed["text"].startswith("Rule removed: #1")
    assert (await rules(env, ADMIN, "list"))["text"].endswith("This server has no rules of its own yet. Add one with /triage rules add (Telegram: /rules add).")


@pytest.mark.parametrize(
    "who, args, chat, where, expected",
    [
        (MEMBER, "add racial ching*", MODCHAT, MODS, "Only admins of that group"),  # moderators list, admins change
        (ADMIN, "add racial *", MODCHAT, MODS, "Not saved: <code>a pattern needs at least 2"),
        (ADMIN, "add ching*", MODCHAT, MODS, "Usage: /rules list"),  # no label
        (ADMIN, "frobnicate", MODCHAT, MODS, "Usage: /rules list"),
        (ADMIN, "remove 42", MODCHAT, MODS, "Not saved: <code>no such rule"),
        (ADMIN, "list", G, GROUP, "Use /rules in the moderators' chat"),  # never in the group itself
        (ADMIN, "list", private(ADMIN), ADMIN["id"], "Add the group id"),
    ],
)
async def test_refusals(env: Env, who, args, chat, where, expected):
    assert expected in (await rules(env, who, args, chat=chat, where=where))["text"]
    assert env.store.server_rules(SERVER) == []
