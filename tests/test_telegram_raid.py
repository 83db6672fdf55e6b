"""Pile-ons on Telegram with the real PTB client against the fake Bot API: rights, incident-level buttons,
the pager, rate limits, outages, restarts and linking a chat with a backlog."""

from __future__ import annotations

import pytest

from bot.platforms.telegram_render import callback_data, incident_data, parse_incident_data
from tests.fake_telegram import BOT_USER, FakeTelegram, supergroup, user
from tests.test_telegram_bot import ADMIN, CREATOR, GROUP, MEMBER, MODS, SERVER, TROLL, Env, G, _alert_message, _flag_one, start_env, stop_env

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

MOD = user(150, "Mo", "mo_mod")  # an admin whose rights the tests change
TROLLS = [TROLL, user(301, "Troll2", "t2"), user(302, "Troll3", "t3")]
MODS_CHAT = supergroup(MODS, "Mods")
CMD = {"type": "bot_command", "offset": 0, "length": 5}


@pytest.fixture
async def env(tmp_path, monkeypatch):
    e = await start_env(tmp_path, monkeypatch)
    try:
        yield e
    finally:
        await stop_env(e)
    assert not e.errors, f"handler errors: {e.errors!r}"


def _buttons(call) -> list[str]:
    return [b["callback_data"] for row in call.params["reply_markup"]["inline_keyboard"] for b in row]


def _sent_message(call) -> dict:
    """The message a successful sendMessage created, in the shape a callback_query carries it."""
    return call.result


async def _pile_on(env: Env, per_troll: int = 2, trolls=TROLLS) -> tuple[int, list[dict]]:
    """Several accounts reply abuse to one member: one incident. Returns its id and the messages."""
    target = env.fake.new_message(G, CREATOR, "my new video", message_id=10)
    sent = []
    for i in range(per_troll):
        for t in trolls:
            sent.append(await env.fake.send(G, t, f"slur nude {i}", reply_to=target))
    n = per_troll * len(trolls)
    await env.fake.wait_for(lambda: env.store.pending_count(SERVER) == n, what=f"{n} flags")
    await env.settle()
    [incident] = env.store.incidents(SERVER, limit=5)
    await env.fake.wait_for(lambda: _incident_alerts(env, f"{n} flags"), timeout=15, what="incident alert complete")
    return incident.id, sent


def _incident_alerts(env: Env, needle: str = "Incident") -> list:
    return [
        c
        for c in env.fake.calls
        if c.method in ("sendMessage", "editMessageText")
        and int(c.params["chat_id"]) == MODS
        and needle in c.params.get("text", "")
        and c.params.get("reply_markup")
    ]


# ---- rights ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "verb,seconds,right,method",
    [
        ("ban", None, "can_restrict_members", "banChatMember"),
        ("mute", 600, "can_restrict_members", "restrictChatMember"),
        ("delete", None, "can_delete_messages", "deleteMessage"),
    ],
)
async def test_admin_without_the_right_is_refused_until_a_chat_member_update_grants_it(env: Env, verb, seconds, right, method):
    env.fake.set_member(GROUP, MOD, "administrator", **{right: False})
    fid, _ = await _flag_one(env)
    alert = await _alert_message(env)
    await env.fake.press(alert, MOD, callback_data(verb, GROUP, fid, seconds))
    [answer] = await env.fake.wait_call("answerCallbackQuery")
    name = {"can_restrict_members": "Ban users", "can_delete_messages": "Delete messages"}[right]
    assert f"You need the '{name}' admin right" in answer.params["text"] and answer.params["show_alert"] is True
    assert not env.fake.calls_of(method)
    assert not [a for a in env.store.actions_for(SERVER, fid) if a["kind"] not in ("notify",)]
    # The group's owner grants the right; Telegram tells the bot, which believes it at once (no TTL wait).
    await env.fake.change_member(G, MOD, "administrator", by=CREATOR)
    await env.fake.press(alert, MOD, callback_data(verb, GROUP, fid, seconds))
    await env.fake.wait_call(method)
    await env.fake.wait_call("answerCallbackQuery", n=2)
    assert env.fake.calls_of("answerCallbackQuery")[1].params["text"].startswith("Done")


@pytest.mark.parametrize(
    "who,status,verb,allowed",
    [
        (CREATOR, "creator", "ban", True),  # the creator has every right
        (ADMIN, "administrator", "confirm", True),
        (MEMBER, "member", "confirm", False),
        (MEMBER, "member", "ban", False),
    ],
)
async def test_who_may_press_what(env: Env, who, status, verb, allowed):
    fid, _ = await _flag_one(env)
    await env.fake.press(await _alert_message(env), who, callback_data(verb, GROUP, fid))
    [answer] = await env.fake.wait_call("answerCallbackQuery")
    assert ("Only admins" in answer.params["text"]) is not allowed


async def test_the_bot_without_the_right_says_so_instead_of_failing(env: Env):
    env.fake.set_member(GROUP, BOT_USER, "administrator", can_delete_messages=False)
    fid, _ = await _flag_one(env)
    await env.fake.press(await _alert_message(env), ADMIN, callback_data("delete", GROUP, fid))
    [answer] = await env.fake.wait_call("answerCallbackQuery")
    assert "I need the 'Delete messages' admin right" in answer.params["text"]
    assert not env.fake.calls_of("deleteMessage")
    # The owner grants it (my_chat_member): the next press works.
    await env.fake.change_member(G, BOT_USER, "administrator", by=CREATOR)
    await env.fake.press(await _alert_message(env), ADMIN, callback_data("delete", GROUP, fid))
    await env.fake.wait_call("deleteMessage")


async def test_a_slow_button_press_does_not_hold_up_detection(env: Env):
    fid, _ = await _flag_one(env)
    env.fake.delays["answerCallbackQuery"] = 6  # Telegram is slow to take the press's answer
    await env.fake.press(await _alert_message(env), ADMIN, callback_data("confirm", GROUP, fid))
    [answer] = await env.fake.wait_call("answerCallbackQuery")
    m = await env.fake.send(G, TROLLS[1], "another slur")
    await env.fake.wait_for(lambda: env.store.find_flag(SERVER, str(GROUP), str(m["message_id"])), what="new flag stored")
    assert answer.result is None  # stored while the press was still waiting


# ---- incident-level buttons -------------------------------------------------------------------------
async def test_incident_alert_has_incident_buttons_within_64_bytes(env: Env):
    incident_id, _ = await _pile_on(env)
    alert = _incident_alerts(env)[-1]
    datas = _buttons(alert)
    assert all(len(d.encode()) <= 64 for d in datas)
    verbs = {parse_incident_data(d).verb for d in datas}
    assert verbs == {"confirm", "dismiss", "delete", "mute", "ban", "items"}
    assert all(parse_incident_data(d).incident_id == incident_id for d in datas)
    assert "6 flags from 3 accounts" in alert.params["text"]


@pytest.mark.parametrize("verb,status", [("confirm", "confirmed"), ("dismiss", "dismissed")])
async def test_confirm_or_dismiss_all_reviews_every_flag(env: Env, verb, status):
    incident_id, _ = await _pile_on(env)
    await env.fake.press(await _alert_message(env), ADMIN, incident_data(verb, GROUP, incident_id))
    await env.fake.wait_for(lambda: env.store.pending_count(SERVER) == 0, what="all reviewed")
    flags = env.store.incident_flags(SERVER, incident_id, offset=0, limit=50)
    assert [f.status for f in flags] == [status] * 6
    assert all(f.last_review["reviewer"] == str(ADMIN["id"]) for f in flags)
    await env.fake.wait_call("sendMessage", where=lambda c: f"6 {status}" in c.params["text"] and "Ada" in c.params["text"])
    await env.fake.wait_for(lambda: _incident_alerts(env, f"Done: 6 {status}"), timeout=15, what="outcome on the alert")


async def test_delete_all_deletes_every_flagged_message_and_counts_the_gone(env: Env):
    incident_id, sent = await _pile_on(env)
    env.fake.fail["deleteMessage"] = (400, "Bad Request: message to delete not found")
    env.fake.fail_times["deleteMessage"] = 1  # one was already removed by hand
    await env.fake.press(await _alert_message(env), ADMIN, incident_data("delete", GROUP, incident_id))
    calls = await env.fake.wait_call("deleteMessage", n=6)
    assert sorted(int(c.params["message_id"]) for c in calls) == sorted(m["message_id"] for m in sent)
    [summary] = await env.fake.wait_call("sendMessage", where=lambda c: c.params["text"].startswith(f"Incident #{incident_id}:"))
    assert "5 deleted" in summary.params["text"] and "1 already gone" in summary.params["text"]
    acts = [a for f in env.store.incident_flags(SERVER, incident_id, offset=0, limit=50) for a in env.store.actions_for(SERVER, f.id) if a["kind"] == "delete"]
    assert len(acts) == 6 and {a["actor"] for a in acts} == {str(ADMIN["id"])}


@pytest.mark.parametrize(
    "verb,seconds,method,reason",
    [
        ("ban", None, "banChatMember", "coordinated raid"),
        ("ban", None, "banChatMember", ""),
        ("mute", 3600, "restrictChatMember", "cool down"),
    ],
)
async def test_mute_or_ban_all_asks_first_takes_a_reason_and_leaves_admins_out(env: Env, verb, seconds, method, reason):
    incident_id, _ = await _pile_on(env)
    # One of the authors has become an admin since: the bot must not act on them.
    await env.fake.change_member(G, TROLLS[2], "administrator", by=CREATOR)
    await env.fake.press(await _alert_message(env), ADMIN, incident_data(verb, GROUP, incident_id, seconds))
    [question] = await env.fake.wait_call("sendMessage", where=lambda c: "Yes, " in str(c.params.get("reply_markup")))
    yes = next(d for d in _buttons(question) if parse_incident_data(d).verb == "yes" + verb)
    labels = [b["text"] for row in question.params["reply_markup"]["inline_keyboard"] for b in row]
    assert labels[0] == ("Yes, ban 2 authors" if verb == "ban" else "Yes, mute 2 authors 1 h")
    assert "Left out (1)" in question.params["text"] and "an admin of the group" in question.params["text"]
    assert not env.fake.calls_of(method)  # nothing happens before the confirmation
    if reason:
        await env.fake.send(MODS_CHAT, ADMIN, reason, reply_to=_sent_message(question))
        await env.fake.wait_call("sendMessage", where=lambda c: "Reason noted" in c.params["text"])
    await env.fake.press(_sent_message(question), ADMIN, yes)
    calls = await env.fake.wait_call(method, n=2)
    assert sorted(int(c.params["user_id"]) for c in calls) == sorted(t["id"] for t in TROLLS[:2])
    done = await env.fake.wait_call("editMessageText", where=lambda c: c.params["text"].startswith(f"Incident #{incident_id}:"))
    assert "2 authors" in done[0].params["text"] and "1 skipped" in done[0].params["text"]
    assert ("Reason: " + reason in done[0].params["text"]) is bool(reason)
    kind = {"ban": "ban", "mute": "timeout"}[verb]
    acts = [a for f in env.store.incident_flags(SERVER, incident_id, offset=0, limit=50) for a in env.store.actions_for(SERVER, f.id) if a["kind"] == kind]
    assert len(acts) == 2 and all(a["actor"] == str(ADMIN["id"]) for a in acts)
    await env.fake.press(_sent_message(question), ADMIN, yes)  # pressed twice: the authors are already done
    await env.fake.wait_call(method, n=4)


async def test_ban_all_can_be_cancelled(env: Env):
    incident_id, _ = await _pile_on(env)
    await env.fake.press(await _alert_message(env), ADMIN, incident_data("ban", GROUP, incident_id))
    [question] = await env.fake.wait_call("sendMessage", where=lambda c: "Yes, " in str(c.params.get("reply_markup")))
    await env.fake.press(_sent_message(question), ADMIN, incident_data("cancel", GROUP, incident_id))
    await env.fake.wait_call("editMessageText", where=lambda c: "Cancelled" in c.params["text"])
    assert not env.fake.calls_of("banChatMember")


async def test_ban_all_needs_the_ban_right(env: Env):
    env.fake.set_member(GROUP, MOD, "administrator", can_restrict_members=False)
    incident_id, _ = await _pile_on(env)
    for verb in ("ban", "yesban"):
        await env.fake.press(await _alert_message(env), MOD, incident_data(verb, GROUP, incident_id))
    answers = await env.fake.wait_call("answerCallbackQuery", n=2)
    assert all("'Ban users'" in a.params["text"] for a in answers)
    assert not env.fake.calls_of("banChatMember")


async def test_pager_goes_through_the_items_with_links_and_per_item_buttons(env: Env):
    incident_id, sent = await _pile_on(env, per_troll=3)  # 9 items: pages of 5
    await env.fake.press(await _alert_message(env), ADMIN, incident_data("items", GROUP, incident_id, 0))
    [page] = await env.fake.wait_call("sendMessage", where=lambda c: "items 1-5 of 9" in c.params["text"])
    assert page.params["text"].count("https://t.me/c/") == 5 and "<tg-spoiler>slur nude" in page.params["text"]
    datas = _buttons(page)
    assert [parse_incident_data(d).arg for d in datas if d.startswith("ti:")] == [5]  # Next only
    assert all(len(d.encode()) <= 64 for d in datas)
    # a per-item button acts on that item only, and the pager shows it
    await env.fake.press(_sent_message(page), ADMIN, next(d for d in datas if d.startswith("tb:dismiss")))
    await env.fake.wait_for(lambda: env.store.pending_count(SERVER) == 8, what="one item dismissed")
    # (edits of the moderators' chat are paced to one per 3 s, shared with the alert's own edits)
    await env.fake.wait_call("editMessageText", timeout=15, where=lambda c: "dismissed" in c.params["text"] and "items 1-5" in c.params["text"])
    await env.fake.press(_sent_message(page), ADMIN, next(d for d in datas if d.startswith("ti:")))
    [page2] = await env.fake.wait_call("editMessageText", timeout=15, where=lambda c: "items 6-9 of 9" in c.params["text"])
    assert int(page2.params["message_id"]) == _sent_message(page)["message_id"]  # edited in place
    assert [parse_incident_data(d).arg for d in _buttons(page2) if d.startswith("ti:")] == [0]  # Prev only


# ---- delivery under limits, outages and restarts -------------------------------------------------------
async def test_rate_limited_pile_on_stores_every_flag_and_the_alert_ends_up_showing_all(tmp_path, monkeypatch):
    env = await start_env(tmp_path, monkeypatch, fake=FakeTelegram(limits=True))
    try:
        target = env.fake.new_message(G, CREATOR, "my new video", message_id=10)
        trolls = [user(500 + i, f"Troll{i}") for i in range(8)]
        for i in range(40):
            await env.fake.send(G, trolls[i % 8], f"slur nude {i}", reply_to=target)
        await env.fake.wait_for(lambda: env.store.pending_count(SERVER) == 40, timeout=10, what="40 flags stored")
        await env.fake.wait_for(lambda: _incident_alerts(env, "40 flags from 8 accounts"), timeout=30, what="alert shows 40")
        assert len(env.mod_messages()) == 1  # one alert, edited
        assert not env.fake.rejected  # the limiter kept Telegram's limits: no 429 was needed
    finally:
        await stop_env(env)
    assert not env.errors


async def test_outage_then_recovery_posts_the_alert_late_and_once(env: Env):
    env.fake.fail["sendMessage"] = (429, "Too Many Requests: retry after 3", {"retry_after": 3})
    env.fake.fail_times["sendMessage"] = 1
    env.fake.outage(12, status=500)
    await env.fake.send(G, TROLL, "you slur")
    await env.fake.wait_for(lambda: env.store.pending_count(SERVER) == 1, what="flag stored during the outage")
    [flag] = env.store.queue(SERVER)
    assert env.store.undelivered_alerts(SERVER)[0] == 1
    await env.fake.wait_for(lambda: env.store.undelivered_alerts(SERVER)[0] == 0, timeout=45, what="alert delivered")
    posted = [c for c in env.fake.calls_of("sendMessage") if c.result is not None and "Flagged" in c.params["text"]]
    assert len(posted) == 1 and env.store.flag(SERVER, flag.id).alert_ref == f"{MODS}:{posted[0].result['message_id']}"
    assert len(env.fake.rejected) >= 2  # it did go through the 500s


async def test_restart_delivers_alerts_left_undelivered(tmp_path, monkeypatch):
    env = await start_env(tmp_path, monkeypatch)
    env.fake.kicked.add(MODS)  # the bot was removed from the moderators' chat
    try:
        await env.fake.send(G, TROLL, "you slur")
        await env.fake.wait_for(lambda: env.store.pending_count(SERVER) == 1, what="flag stored")
        await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == MODS)
        await env.settle()
        assert env.store.undelivered_alerts(SERVER)[0] == 1
    finally:
        await stop_env(env)
    env = await start_env(tmp_path, monkeypatch)  # re-added meanwhile; a new process, same database
    try:
        [posted] = await env.fake.wait_call("sendMessage", timeout=10, where=lambda c: "Flagged" in c.params["text"])
        assert int(posted.params["chat_id"]) == MODS
        await env.fake.wait_for(lambda: env.store.undelivered_alerts(SERVER)[0] == 0, what="marked delivered")
    finally:
        await stop_env(env)
    assert not env.errors


async def test_linking_a_moderators_chat_delivers_the_groups_backlog(tmp_path, monkeypatch):
    env = await start_env(tmp_path, monkeypatch, servers={})
    try:
        for t in TROLLS:
            await env.fake.send(G, t, "slur nude", reply_to=env.fake.new_message(G, CREATOR, "hi", message_id=10))
        await env.fake.wait_for(lambda: env.store.pending_count(SERVER) == 3, what="flags stored before /link")
        await env.settle()
        assert not env.mod_messages()
        await env.fake.send(G, ADMIN, "/setup", entities=[{"type": "bot_command", "offset": 0, "length": 6}])
        [notice] = await env.fake.wait_call("sendMessage", where=lambda c: "/link " in c.params["text"])
        code = notice.params["text"].split("/link ")[1].split("<")[0]
        await env.fake.send(MODS_CHAT, ADMIN, f"/link {code}", entities=[CMD])
        await env.fake.wait_for(lambda: _incident_alerts(env, "3 flags from 3 accounts"), timeout=15, what="backlog posted")
        await env.fake.wait_for(lambda: env.store.undelivered_alerts(SERVER)[0] == 0, what="marked delivered")
    finally:
        await stop_env(env)
    assert not env.errors


async def test_an_escalating_incident_pings_the_configured_admins_once(tmp_path, monkeypatch):
    servers = {SERVER: {"mod_chat": MODS, "escalation_ping": [str(ADMIN["id"])], "incident_escalate_count": 3}}
    env = await start_env(tmp_path, monkeypatch, servers=servers)
    try:
        await _pile_on(env, per_troll=2)  # 6 flags: escalated at 3
        [ping] = await env.fake.wait_call("sendMessage", timeout=15, where=lambda c: "tg://user?id=" in c.params["text"])
        assert f'tg://user?id={ADMIN["id"]}"' in ping.params["text"] and "Escalated incident" in ping.params["text"]
        await env.settle()
        assert len([c for c in env.fake.calls_of("sendMessage") if "tg://user?id=" in c.params["text"]]) == 1
    finally:
        await stop_env(env)
    assert not env.errors
