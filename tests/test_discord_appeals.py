"""Appeals on Discord (issue 16 item 5): the real discord.py client against the fake Discord.

The member is DMed with a persistent Appeal button, writes the appeal in a modal, the appeal shows in the mod
channel with Uphold / Reverse, and a reversal lifts the timeout (PATCH communication_disabled_until=None) and
the ban (DELETE /guilds/{g}/bans/{u}) and tells the member, in English or Indonesian."""

from __future__ import annotations

import copy
import json
import re

import pytest

from bot.store import Store
from tests.fake_discord import ALICE, BOB, CAROL, DAVE, GUILD, MALLORY, MODQ
from tests.test_discord_bot import (
    SERVER,
    click,
    env,
    fake,
    flag_one,
    make_settings,
    start_client,  # noqa: F401
    stop_client,
    wait_until,
)


def dm_messages(env, uid: int) -> list:
    return [c for c in env.fake.dms_to(uid) if c.status in (0, 200, None) or c.status < 300]


async def act_on(env, kind: str, author: int = MALLORY, reporter: int | None = None) -> tuple[dict, int]:
    """Flag a message, optionally have someone report it, then a moderator (BOB) deletes / times out / bans."""
    _, alert, flag_id = await flag_one(env, author=author)
    if reporter is not None:
        env.store.record_report(SERVER, flag_id, str(reporter), "she reported it")
    values = ["3600"] if kind == "timeout" else None
    inter, _, _ = await click(env, BOB, alert, kind, flag_id, values=values)
    await env.fake.followup(inter)
    await wait_until(lambda: any(a["kind"] == "appeal_notice" and a["status"] != "pending" for a in env.store.actions_for(SERVER, flag_id)))
    return alert, flag_id


def appeal_dm(env, uid: int = MALLORY) -> dict:
    """The DM message carrying the Appeal button (as the fake stored it)."""
    cid = env.fake.dm_channels[uid]
    return next(m for m in env.fake.messages.values() if m["channel_id"] == str(cid) and m["components"])


async def appeal_via_dm(env, flag_id: int, text: str, uid: int = MALLORY, locale: str = "en-US") -> dict:
    """Press Appeal in the DM, fill the modal; returns the reply to the modal."""
    dm = appeal_dm(env, uid)
    inter = await env.fake.click(uid, int(dm["id"]), f"tba:open:{flag_id}", locale=locale)
    cb = await env.fake.callback(inter)
    assert cb.json["type"] == 9, cb.json  # a modal
    modal = cb.json["data"]
    sub = await env.fake.submit_modal(uid, modal, text, locale=locale, channel_id=env.fake.dm_channels[uid])
    return (await env.fake.callback(sub)).json, modal


def appeal_alert(env, appeal_id: int) -> dict:
    ref = env.store.appeal(SERVER, appeal_id).alert_ref
    assert ref, "the appeal was not posted"
    return env.fake.messages[int(ref)]


@pytest.mark.parametrize(
    "env, kind, locale, notice, button, opened, outcome, lifted",
    [
        ({}, "timeout", "en-US", "You were timed out in", "Appeal", "was sent to the moderators", "the decision was reversed", "Your timeout was lifted."),
        ({}, "ban", "en-US", "You were banned from", "Appeal", "was sent to the moderators", "the decision was reversed", "Your ban was lifted."),
        (
            {"language": "id"},
            "timeout",
            "id",
            "Kamu dibisukan sementara di",
            "Banding",
            "sudah dikirim ke moderator",
            "keputusan dibatalkan",
            "Pembisuanmu sudah dicabut.",
        ),
        ({"language": "id"}, "ban", "id", "Kamu diblokir dari", "Banding", "sudah dikirim ke moderator", "keputusan dibatalkan", "Blokirmu sudah dicabut."),
    ],
    indirect=["env"],
)
async def test_appeal_round_trip_with_a_reversal(env, kind, locale, notice, button, opened, outcome, lifted):
    alert, flag_id = await act_on(env, kind, reporter=ALICE)
    # 1. the member is told, privately, with a persistent Appeal button, and never who reported
    [dm] = dm_messages(env, MALLORY)
    assert notice in dm.json["content"] and "Creator community" in dm.json["content"]
    assert dm.json["allowed_mentions"] == {"parse": []}
    row = dm.json["components"][0]["components"][0]
    assert row["custom_id"] == f"tba:open:{flag_id}" and row["label"] == button
    shown = json.dumps({k: v for k, v in dm.json.items() if k != "nonce"})  # the nonce is random digits
    assert not re.search(rf"\b{ALICE}\b", shown) and "report" not in dm.json["content"].lower()
    # 2. the member appeals in the modal (in their language)
    reply, modal = await appeal_via_dm(env, flag_id, "Itu bercanda dengan teman <@everyone> **x**", locale=locale)
    assert opened in reply["data"]["content"] and reply["data"]["flags"] & 64
    [appeal] = env.store.appeals(SERVER)
    assert appeal.appellant_id == str(MALLORY) and appeal.text.startswith("Itu bercanda")
    # 3. the moderators see it, the member's words escaped, with Uphold / Reverse
    await wait_until(lambda: env.store.appeal(SERVER, appeal.id).alert_ref is not None)
    posted = appeal_alert(env, appeal.id)
    embed = posted["embeds"][0]
    assert "<@everyone>" not in json.dumps(embed) and "bercanda" in json.dumps(embed)
    ids = [c["custom_id"] for r in posted["components"] for c in r["components"]]
    assert ids == [f"tba:uphold:{appeal.id}", f"tba:reverse:{appeal.id}"]
    # 4. a moderator reverses it: the platform action is undone, the flag dismissed, the member told
    start = len(env.fake.calls)
    inter = await env.fake.click(BOB, int(posted["id"]), f"tba:reverse:{appeal.id}")
    await env.fake.callback(inter)
    follow = await env.fake.followup(inter)
    assert "reversed" in follow.json["content"]
    if kind == "timeout":
        call = await env.fake.wait_call("PATCH", rf"^/guilds/{GUILD}/members/{MALLORY}$", start=start)
        assert call.json == {"communication_disabled_until": None} and env.fake.timeouts[MALLORY] is None
    else:
        await env.fake.wait_call("DELETE", rf"^/guilds/{GUILD}/bans/{MALLORY}$", start=start)
        assert MALLORY not in env.fake.bans
    flag = env.store.flag(SERVER, flag_id)
    assert flag.status == "dismissed" and flag.last_review["note"].startswith("appeal reversed: ")
    await wait_until(lambda: len(dm_messages(env, MALLORY)) == 2)
    told = dm_messages(env, MALLORY)[1].json
    assert outcome in told["content"] and lifted in told["content"] and not told.get("components")
    await wait_until(lambda: not appeal_alert(env, appeal.id)["components"])  # the decided appeal loses its buttons
    assert all(r.ok for r in env.store.verify_chain())


async def test_a_deleted_message_cannot_come_back(env):
    _, flag_id = await act_on(env, "delete")
    await appeal_via_dm(env, flag_id, "not me")
    [appeal] = env.store.appeals(SERVER)
    await wait_until(lambda: env.store.appeal(SERVER, appeal.id).alert_ref is not None)
    inter = await env.fake.click(BOB, int(appeal_alert(env, appeal.id)["id"]), f"tba:reverse:{appeal.id}")
    await env.fake.callback(inter)
    follow = await env.fake.followup(inter)
    assert "A deleted message cannot come back." in follow.json["content"]
    assert env.fake.find("DELETE", "/bans/") == [] and env.fake.find("PATCH", "/members/") == []
    await wait_until(lambda: len(dm_messages(env, MALLORY)) == 2)
    assert "A deleted message cannot be restored." in dm_messages(env, MALLORY)[1].json["content"]


async def test_uphold_keeps_the_ban_and_a_second_click_is_refused(env):
    _, flag_id = await act_on(env, "ban")
    await appeal_via_dm(env, flag_id, "please")
    [appeal] = env.store.appeals(SERVER)
    await wait_until(lambda: env.store.appeal(SERVER, appeal.id).alert_ref is not None)
    posted = appeal_alert(env, appeal.id)
    stale = copy.deepcopy(posted)  # as another moderator's screen still shows it
    inter = await env.fake.click(BOB, int(posted["id"]), f"tba:uphold:{appeal.id}")
    await env.fake.callback(inter)
    assert "upheld" in (await env.fake.followup(inter)).json["content"]
    assert MALLORY in env.fake.bans and env.fake.find("DELETE", "/bans/") == []
    inter = await env.fake.interact(3, {"custom_id": f"tba:reverse:{appeal.id}", "component_type": 2}, CAROL, channel_id=MODQ, message=stale)
    await env.fake.callback(inter)
    assert "already decided" in (await env.fake.followup(inter)).json["content"]
    assert MALLORY in env.fake.bans
    await wait_until(lambda: len(dm_messages(env, MALLORY)) == 2)
    assert "the decision stands" in dm_messages(env, MALLORY)[1].json["content"]


@pytest.mark.parametrize("who, refused", [(ALICE, "Manage Messages"), (DAVE, "Manage Messages")])
async def test_only_moderators_decide(env, who, refused):
    _, flag_id = await act_on(env, "ban")
    await appeal_via_dm(env, flag_id, "please")
    [appeal] = env.store.appeals(SERVER)
    await wait_until(lambda: env.store.appeal(SERVER, appeal.id).alert_ref is not None)
    inter = await env.fake.click(who, int(appeal_alert(env, appeal.id)["id"]), f"tba:reverse:{appeal.id}")
    cb = await env.fake.callback(inter)
    assert refused in cb.json["data"]["content"]
    assert env.store.appeal(SERVER, appeal.id).open and MALLORY in env.fake.bans


async def test_a_second_appeal_on_the_same_case_is_refused(env):
    _, flag_id = await act_on(env, "timeout")
    await appeal_via_dm(env, flag_id, "first")
    reply, _ = await appeal_via_dm(env, flag_id, "second")
    assert "already have an open appeal" in reply["data"]["content"]
    assert len(env.store.appeals(SERVER)) == 1


async def test_closed_dms_fail_quietly_and_are_recorded(env):
    env.fake.refuse_dms(MALLORY)
    start = len(env.fake.calls)
    _, flag_id = await act_on(env, "ban")
    [notice] = [a for a in env.store.actions_for(SERVER, flag_id) if a["kind"] == "appeal_notice"]
    assert notice["status"] == "error" and "does not accept DMs" in notice["detail"]
    [dm] = env.fake.dms_to(MALLORY)
    assert dm.status == 403
    mod_texts = [c.json.get("content") or "" for c in env.fake.calls[start:] if c.method == "POST" and c.path == f"/channels/{MODQ}/messages"]
    assert not any("appeal" in t.lower() for t in mod_texts)  # no failure notice in the mod channel


async def test_the_appeal_button_survives_a_restart(tmp_path, fake):
    store = Store.open(tmp_path / "t.db")
    settings = make_settings(tmp_path, fake)
    first = await start_client(fake, settings, store)
    _, flag_id = await act_on(first, "timeout")
    await stop_client(first)
    second = await start_client(fake, settings, store)
    try:
        reply, _ = await appeal_via_dm(second, flag_id, "after the restart")
        assert "was sent to the moderators" in reply["data"]["content"]
        assert [a.text for a in store.appeals(SERVER)] == ["after the restart"]
    finally:
        await stop_client(second)
        store.close()
