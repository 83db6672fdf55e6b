"""Appeals on Telegram (issue 16 item 5): the real python-telegram-bot client against the fake Bot API.

The member gets a private message (when they started the bot), appeals with `/appeal <case> <why>` or via the
deep link, the appeal shows in the moderators' chat with Uphold / Reverse, and a reversal lifts the mute
(restrictChatMember with every permission) and the ban (unbanChatMember only_if_banned), in English or Indonesian."""

from __future__ import annotations

import json
import re

import pytest

from bot.platforms.telegram_render import callback_data
from tests.fake_telegram import private, supergroup
from tests.test_telegram_bot import (
    ADMIN,
    GROUP,
    MEMBER,
    MODS,
    SERVER,
    TROLL,
    _alert_message,
    _flag_one,  # noqa: F401
    start_env,
    stop_env,
)


@pytest.fixture
async def env(tmp_path, monkeypatch, request):
    servers = {SERVER: {"mod_chat": MODS, **getattr(request, "param", {})}}
    e = await start_env(tmp_path, monkeypatch, servers=servers)
    try:
        yield e
    finally:
        await stop_env(e)
    assert not e.errors, e.errors


def to_user(env, uid: int) -> list:
    """Messages the bot sent (or tried to send) into a member's private chat."""
    return [c for c in env.fake.calls_of("sendMessage") if int(c.params["chat_id"]) == uid]


async def act_on(env, verb: str, reporter: dict | None = None) -> int:
    fid, _ = await _flag_one(env)
    if reporter is not None:
        env.store.record_report(SERVER, fid, str(reporter["id"]), "she reported it")
    await env.fake.press(await _alert_message(env), ADMIN, callback_data(verb, GROUP, fid, 3600 if verb == "mute" else None))
    await env.fake.wait_for(
        lambda: any(a["kind"] == "appeal_notice" and a["status"] != "pending" for a in env.store.actions_for(SERVER, fid)), what="appeal notice"
    )
    return fid


async def say_privately(env, who: dict, text: str) -> dict:
    """The member writes to the bot; returns the bot's reply in that private chat."""
    before = len(to_user(env, who["id"]))
    entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}] if text.startswith("/") else None
    await env.fake.send(private(who), who, text, entities=entities)
    await env.fake.wait_for(lambda: len(to_user(env, who["id"])) > before, what="private reply")
    return to_user(env, who["id"])[before].params


async def decide(env, appeal_id: int, who: dict, letter: str) -> dict:
    before = len(env.fake.calls_of("answerCallbackQuery"))
    alert = {"message_id": 77, "date": 0, "chat": supergroup(MODS, "Mods"), "from": {"id": 999000, "is_bot": True, "first_name": "T"}, "text": "appeal"}
    await env.fake.press(alert, who, f"ap:{letter}:{appeal_id}")
    await env.fake.wait_for(lambda: len(env.fake.calls_of("answerCallbackQuery")) > before, what="answer")
    return env.fake.calls_of("answerCallbackQuery")[before].params


@pytest.mark.parametrize(
    "env, verb, lang, notice, opened, told, lifted",
    [
        ({}, "mute", "en", "You were timed out in", "was sent to the moderators", "the decision was reversed", "Your timeout was lifted."),
        ({"language": "id"}, "ban", "id", "Kamu diblokir dari", "sudah dikirim ke moderator", "keputusan dibatalkan", "Blokirmu sudah dicabut."),
    ],
    indirect=["env"],
)
async def test_appeal_round_trip_with_a_reversal(env, verb, lang, notice, opened, told, lifted):
    # Two round trips (mute in English, ban in Indonesian): each takes ~15 s, as the moderators' chat is paced
    # at one message per 3 s (telegram_limits); the other pairings are covered by test_appeals.py and Discord's.
    troll = dict(TROLL, language_code=lang)
    fid = await act_on(env, verb, reporter=MEMBER)
    # 1. told privately, with the command to use and a deep link; never who reported
    [dm] = [c.params for c in to_user(env, TROLL["id"])]
    assert notice in dm["text"] and f"/appeal {fid}" in dm["text"] and "parse_mode" not in dm
    button = dm["reply_markup"]["inline_keyboard"][0][0]
    assert button["url"].endswith(f"?start=appeal_{fid}")
    assert not re.search(rf"\b{MEMBER['id']}\b", json.dumps(dm)) and "Budi" not in json.dumps(dm)
    # 2. the deep link answers with the exact command; the member appeals in the private chat
    hint = await say_privately(env, troll, f"/start appeal_{fid}")
    assert f"/appeal {fid}" in hint["text"]
    reply = await say_privately(env, troll, f"/appeal {fid} Itu salah paham <b>bukan</b> pelecehan")
    assert opened in reply["text"]
    [appeal] = env.store.appeals(SERVER)
    assert appeal.appellant_id == str(TROLL["id"]) and appeal.lang == lang
    # 3. the moderators' chat gets it, escaped, with Uphold / Reverse
    await env.fake.wait_for(lambda: env.store.appeal(SERVER, appeal.id).alert_ref, what="appeal posted")
    [posted] = [c for c in env.mod_messages() if "ap:u:" in json.dumps(c.params.get("reply_markup") or {})]
    assert "&lt;b&gt;bukan&lt;/b&gt;" in posted.params["text"] and "<b>bukan</b>" not in posted.params["text"]
    keys = [b["callback_data"] for b in posted.params["reply_markup"]["inline_keyboard"][0]]
    assert keys == [f"ap:u:{appeal.id}", f"ap:r:{appeal.id}"]
    # 4. an admin reverses it
    answer = await decide(env, appeal.id, ADMIN, "r")
    assert "reversed" in answer["text"] or "dibatalkan" in answer["text"]
    if verb == "mute":
        [lift] = [c for c in env.fake.calls_of("restrictChatMember") if c.params["permissions"].get("can_send_messages") is True]
        assert all(v is True for k, v in lift.params["permissions"].items() if k.startswith("can_"))
        assert env.fake.members[(GROUP, TROLL["id"])] == "member"
    else:
        [unban] = env.fake.calls_of("unbanChatMember")
        assert unban.params["only_if_banned"] is True and int(unban.params["user_id"]) == TROLL["id"]
        assert env.fake.members[(GROUP, TROLL["id"])] == "left"  # may rejoin
    flag = env.store.flag(SERVER, fid)
    assert flag.status == "dismissed" and flag.last_review["note"].startswith("appeal reversed: ")
    await env.fake.wait_for(lambda: any(told in c.params["text"] for c in to_user(env, TROLL["id"])), what="outcome")
    outcome = next(c.params for c in to_user(env, TROLL["id"]) if told in c.params["text"])
    assert lifted in outcome["text"]
    await env.settle()
    ref_msg = int(env.store.appeal(SERVER, appeal.id).alert_ref.split(":")[1])
    edits = [c for c in env.fake.calls_of("editMessageText") if int(c.params["message_id"]) == ref_msg]
    assert edits and "reply_markup" not in edits[-1].params  # decided: no buttons left
    assert all(r.ok for r in env.store.verify_chain())


@pytest.mark.parametrize(
    "blocked, says",
    [
        ("blocked_private", "can't initiate conversation"),  # never started the bot
        ("blocked_by", "bot was blocked by the user"),  # started it, then blocked it
    ],
)
async def test_an_unreachable_member_fails_quietly_and_is_recorded(env, blocked, says):
    getattr(env.fake, blocked).add(TROLL["id"])
    fid = await act_on(env, "ban")
    [row] = [a for a in env.store.actions_for(SERVER, fid) if a["kind"] == "appeal_notice"]
    assert row["status"] == "error" and says in row["detail"]
    assert not [c for c in env.mod_messages() if "appeal" in c.params["text"].lower()]  # nobody else is told
    # they can still appeal once they start the bot, if they know the case
    getattr(env.fake, blocked).discard(TROLL["id"])
    reply = await say_privately(env, TROLL, f"/appeal {fid} please")
    assert "was sent to the moderators" in reply["text"]


@pytest.mark.parametrize(
    "text, says",
    [
        ("/appeal", "send /appeal CASE"),
        ("/appeal abc why", "send /appeal CASE"),
        ("/appeal 99999 why", "nothing for you to appeal"),
        ("/start appeal_x", "send /appeal CASE"),
    ],
)
async def test_bad_appeal_commands_explain(env, text, says):
    reply = await say_privately(env, TROLL, text)
    assert says in reply["text"] and env.store.appeals(SERVER) == []


async def test_someone_elses_case_and_a_second_appeal_are_refused(env):
    fid = await act_on(env, "mute")
    other = await say_privately(env, MEMBER, f"/appeal {fid} let him go")
    assert "nothing for you to appeal" in other["text"]
    await say_privately(env, TROLL, f"/appeal {fid} first")
    again = await say_privately(env, TROLL, f"/appeal {fid} second")
    assert "already have an open appeal" in again["text"]
    assert [a.text for a in env.store.appeals(SERVER)] == ["first"]


async def test_only_admins_in_the_moderators_chat_decide(env):
    fid = await act_on(env, "ban")
    await say_privately(env, TROLL, f"/appeal {fid} please")
    [appeal] = env.store.appeals(SERVER)
    answer = await decide(env, appeal.id, MEMBER, "r")
    assert "Only admins" in answer["text"]
    assert env.store.appeal(SERVER, appeal.id).open and not env.fake.calls_of("unbanChatMember")
    answer = await decide(env, appeal.id, ADMIN, "u")
    assert "upheld" in answer["text"] and env.fake.members[(GROUP, TROLL["id"])] == "kicked"
    answer = await decide(env, appeal.id, ADMIN, "r")
    assert "already decided" in answer["text"]
    await env.fake.wait_for(lambda: any("the decision stands" in c.params["text"] for c in to_user(env, TROLL["id"])), what="outcome")
