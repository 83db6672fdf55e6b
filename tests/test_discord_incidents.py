"""Incident-level moderation on Discord (the real client vs the fake): buttons, modals, the item pager,
the role hierarchy, escalation pings, and what a rate-limited pile-on or an outage does to alerts."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from bot.models import Action
from bot.store import Store
from tests.fake_discord import ALICE, BOB, CAROL, DAVE, ERIN, GENERAL, GUILD, MALLORY, MODQ, ROLE_MOD, FakeDiscord, pile_on_plan, send_pile_on
from tests.test_discord_bot import (
    SERVER,
    alert_embed,
    custom_ids,
    embed_text,
    env,
    fake,
    make_settings,  # noqa: F401
    mod_posts,
    start_client,
    stop_client,
    wait_until,
)

PILE = (MALLORY, DAVE, 5001, 5002, 5003)  # authors of a small pile-on at ALICE (5001+ are plain members)


async def pile_on(env, authors=PILE, text="kamu bokep") -> tuple[list[dict], int, dict]:
    """Every author harasses ALICE once; returns (payloads, incident id, the incident alert message)."""
    env.fake.pile_on_accounts |= set(authors)
    payloads = [await env.fake.send_message(a, f"{text} {i}", mentions=(ALICE,)) for i, a in enumerate(authors)]
    await env.settle()
    flag = env.store.flag(SERVER, env.store.find_flag(SERVER, str(GENERAL), payloads[-1]["id"]))
    assert flag.incident_id is not None
    alert = current_alert(env, flag.incident_id)
    return payloads, flag.incident_id, alert


def current_alert(env, incident_id: int) -> dict:
    ref = env.store.incident(SERVER, incident_id).alert_ref
    return env.fake.messages[int(ref)]


async def press(env, who: int, alert: dict, kind: str, incident_id: int, values=None):
    start = len(env.fake.calls)
    inter = await env.fake.click(who, int(alert["id"]), f"tbi:{kind}:{incident_id}", values=values)
    return inter, await env.fake.callback(inter), start


def ids_of(call) -> list[str]:
    out = []
    for row in (call.json.get("data") or call.json).get("components", []):
        out += [c.get("custom_id") or c.get("url") for c in row["components"]]
    return out


# ---- the alert ---------------------------------------------------------------------------------
async def test_incident_alert_has_incident_level_buttons(env):
    _, incident_id, alert = await pile_on(env, authors=(MALLORY, DAVE))
    assert custom_ids(alert) == [f"tbi:{k}:{incident_id}" for k in ("confirm", "dismiss", "delete", "ban", "items", "timeout")]
    assert f"incident #{incident_id}" in alert["embeds"][0]["footer"]["text"]
    assert len([m for m in env.fake.messages.values() if m["channel_id"] == str(MODQ)]) == 1  # one alert per pile-on


async def test_single_flag_keeps_per_flag_buttons(env):
    payload = await env.fake.send_message(MALLORY, "bokep sendirian")
    await env.settle()
    flag_id = env.store.find_flag(SERVER, str(GENERAL), payload["id"])
    alert = env.fake.messages[int(env.store.flag(SERVER, flag_id).alert_ref)]
    assert custom_ids(alert) == [f"tb:{a}:{flag_id}" for a in ("confirm", "dismiss", "delete", "ban", "warn", "timeout")]


# ---- each incident-level action -------------------------------------------------------------------
@pytest.mark.parametrize("kind,status", [("confirm", "confirmed"), ("dismiss", "dismissed")])
async def test_review_all(env, kind, status):
    payloads, incident_id, alert = await pile_on(env)
    inter, cb, start = await press(env, BOB, alert, kind, incident_id)
    assert cb.json["type"] == 5 and cb.json["data"]["flags"] & 64  # deferred, ephemeral
    follow = await env.fake.followup(inter)
    assert follow.json["flags"] & 64 and f"{len(PILE)} {status}" in follow.json["content"]
    flags = [env.store.flag(SERVER, env.store.find_flag(SERVER, str(GENERAL), p["id"])) for p in payloads]
    assert {f.status for f in flags} == {status} and {f.last_review["reviewer"] for f in flags} == {str(BOB)}
    await env.settle()
    edit = await env.fake.wait_call("PATCH", rf"^/channels/{MODQ}/messages/{alert['id']}$", start=start)
    outcome = next(f for f in alert_embed(edit)["fields"] if f["name"] == "Outcome")
    assert f"<@{BOB}>" in outcome["value"] and edit.json["allowed_mentions"] == {"parse": []}


async def test_delete_all(env):
    payloads, incident_id, alert = await pile_on(env)
    del env.fake.messages[int(payloads[0]["id"])]  # one is gone already
    inter, cb, start = await press(env, BOB, alert, "delete", incident_id)
    follow = await env.fake.followup(inter)
    assert f"{len(PILE) - 1} deleted, 1 already gone" in follow.json["content"]
    deleted = {c.path.rsplit("/", 1)[1] for c in env.fake.find("DELETE", rf"^/channels/{GENERAL}/messages/\d+$")}
    assert deleted == {p["id"] for p in payloads}
    acts = [a for p in payloads for a in env.store.actions_for(SERVER, env.store.find_flag(SERVER, str(GENERAL), p["id"])) if a["kind"] == "delete"]
    assert len(acts) == len(PILE) and {a["actor"] for a in acts} == {str(BOB)}


@pytest.mark.parametrize(
    "kind,values,method,path",
    [
        ("ban", None, "PUT", rf"^/guilds/{GUILD}/bans/(\d+)$"),
        ("timeout", ["3600"], "PATCH", rf"^/guilds/{GUILD}/members/(\d+)$"),
    ],
)
async def test_ban_and_timeout_all_ask_for_a_reason_first(env, kind, values, method, path):
    _, incident_id, alert = await pile_on(env)
    inter, cb, start = await press(env, BOB, alert, kind, incident_id, values=values)
    assert cb.json["type"] == 9  # a modal: nothing has happened yet
    assert str(len(PILE)) in cb.json["data"]["title"] and env.fake.find(method, path) == []
    sub = await env.fake.submit_modal(BOB, cb.json["data"], "pile-on on alice, see #mod-log")
    follow = await env.fake.followup(sub)
    assert f"{len(PILE)} authors" in follow.json["content"]
    calls = env.fake.find(method, path)
    assert sorted(c.path.rsplit("/", 1)[1] for c in calls) == sorted(str(a) for a in PILE)
    assert all("pile-on on alice" in c.headers.get("X-Audit-Log-Reason", "") for c in calls)
    if kind == "timeout":
        until = datetime.fromisoformat(calls[0].json["communication_disabled_until"])
        assert 3500 < (until - datetime.now(timezone.utc)).total_seconds() <= 3600


@pytest.mark.parametrize(
    "who,kind,needed",
    [(ALICE, "ban", "Ban Members"), (DAVE, "confirm", "Manage Messages"), (ALICE, "delete", "Manage Messages"), (ALICE, "items", "Manage Messages")],
)
async def test_incident_buttons_check_permissions(env, who, kind, needed):
    _, incident_id, alert = await pile_on(env, authors=(MALLORY, 5001))
    inter, cb, _ = await press(env, who, alert, kind, incident_id)
    assert cb.json["type"] == 4 and needed in cb.json["data"]["content"] and cb.json["data"]["flags"] & 64
    await asyncio.sleep(0.1)
    assert env.fake.find("PUT", "/bans/") == [] and env.fake.find("DELETE", rf"^/channels/{GENERAL}/") == []


async def test_timeout_select_needs_moderate_members(env):
    _, incident_id, alert = await pile_on(env, authors=(MALLORY, 5001))
    inter, cb, _ = await press(env, ALICE, alert, "timeout", incident_id, values=["600"])
    assert "Moderate Members" in cb.json["data"]["content"]


# ---- the hierarchy ------------------------------------------------------------------------------------
async def test_ban_all_leaves_out_authors_the_moderator_does_not_outrank(env):
    authors = (MALLORY, ERIN, 5001, CAROL)  # ERIN is above BOB; CAROL owns the server
    _, incident_id, alert = await pile_on(env, authors=authors)
    inter, cb, _ = await press(env, BOB, alert, "ban", incident_id)
    sub = await env.fake.submit_modal(BOB, cb.json["data"], "raid")
    follow = await env.fake.followup(sub)
    text = follow.json["content"]
    assert "2 authors banned" in text and "2 skipped" in text and "Left out 2" in text
    assert "Your top role is not above" in text and "owner can never be a target" in text
    assert follow.json["allowed_mentions"] == {"parse": []}
    banned = {c.path.rsplit("/", 1)[1] for c in env.fake.find("PUT", rf"^/guilds/{GUILD}/bans/")}
    assert banned == {str(MALLORY), "5001"}


async def test_delete_all_skips_the_messages_of_authors_who_outrank_the_moderator(env):
    payloads, incident_id, alert = await pile_on(env, authors=(MALLORY, ERIN, 5001))
    inter, cb, _ = await press(env, BOB, alert, "delete", incident_id)
    follow = await env.fake.followup(inter)
    assert "2 deleted" in follow.json["content"] and "1 skipped" in follow.json["content"]
    assert f"<@{ERIN}>" in follow.json["content"]  # named as left out
    deleted = {c.path.rsplit("/", 1)[1] for c in env.fake.find("DELETE", rf"^/channels/{GENERAL}/messages/")}
    by_author = {p["author"]["id"]: p["id"] for p in payloads}
    assert by_author[str(ERIN)] not in deleted and len(deleted) == 2


# ---- the item pager ------------------------------------------------------------------------------------
async def test_items_pager_pages_with_per_item_buttons_and_jump_links(env):
    authors = (MALLORY, DAVE, 5001, 5002, 5003, 5004)
    payloads, incident_id, alert = await pile_on(env, authors=authors, text="bokep ||@everyone <@301>||")
    inter, cb, _ = await press(env, BOB, alert, "items", incident_id)
    assert cb.json["type"] == 4 and cb.json["data"]["flags"] & 64
    first = cb.json["data"]
    flag_ids = [env.store.find_flag(SERVER, str(GENERAL), p["id"]) for p in payloads]
    ids = ids_of(cb)
    assert [f"tb:confirm:{f}" in ids for f in flag_ids] == [True] * 4 + [False] * 2
    assert [f"tb:warn:{f}" in ids for f in flag_ids] == [True] * 4 + [False] * 2
    assert f"tbi:page:{incident_id}:4" in ids
    desc = first["embeds"][0]["description"]
    assert f"[Jump](https://discord.com/channels/{GUILD}/{GENERAL}/{payloads[0]['id']})" in desc  # links in the text
    assert "@everyone" not in desc and "<@301>" not in desc and "of 6" in first["embeds"][0]["title"]
    # next page: the ephemeral message is edited in place
    msg = env.fake._bot_message(MODQ, first)
    env.fake.messages[int(msg["id"])] = msg
    nxt = await env.fake.click(BOB, int(msg["id"]), f"tbi:page:{incident_id}:4")
    cb2 = await env.fake.callback(nxt)
    assert cb2.json["type"] == 7
    assert [f"tb:confirm:{f}" in ids_of(cb2) for f in flag_ids] == [False] * 4 + [True] * 2


async def test_per_item_button_from_the_pager_acts_on_that_flag(env):
    payloads, incident_id, alert = await pile_on(env, authors=(MALLORY, DAVE))
    flag_id = env.store.find_flag(SERVER, str(GENERAL), payloads[0]["id"])
    inter, cb, _ = await press(env, BOB, alert, "items", incident_id)
    pager = env.fake._bot_message(MODQ, cb.json["data"])
    env.fake.messages[int(pager["id"])] = pager
    inter = await env.fake.click(BOB, int(pager["id"]), f"tb:dismiss:{flag_id}")
    await env.fake.followup(inter)
    assert env.store.flag(SERVER, flag_id).status == "dismissed"
    other = env.store.find_flag(SERVER, str(GENERAL), payloads[1]["id"])
    assert env.store.flag(SERVER, other).status == "pending"


async def test_incident_of_another_server_is_refused(env):
    from bot.models import Decision, Message

    elsewhere = "discord:999"
    for i in (1, 2):
        m = Message(platform="discord", server_id="999", channel_id="1", message_id=str(i), author_id=str(i), text="x", targets=("7",))
        result = env.store.record_flag(m, Decision(flagged=True, labels=("sexual",), verdicts=()), incident_window_minutes=60)
        other = env.store.flag(elsewhere, result.flag_id).incident_id
    assert other is not None and env.store.incident(elsewhere, other).flag_count == 2
    _, incident_id, alert = await pile_on(env, authors=(MALLORY, DAVE))
    alert["components"][0]["components"][0]["custom_id"] = f"tbi:confirm:{other}"  # a forged or stale button
    inter, cb, _ = await press(env, BOB, alert, "confirm", other)
    follow = await env.fake.followup(inter)
    assert "not in this server" in follow.json["content"]
    assert env.store.incident_open_flag_ids(elsewhere, other)  # nothing was reviewed there


async def test_incident_buttons_survive_a_restart(tmp_path, fake):
    store = Store.open(tmp_path / "t.db")
    settings = make_settings(tmp_path, fake)
    first = await start_client(fake, settings, store)
    _, incident_id, alert = await pile_on(first, authors=(MALLORY, DAVE))
    await stop_client(first)
    second = await start_client(fake, settings, store)
    try:
        inter, cb, _ = await press(second, BOB, alert, "dismiss", incident_id)
        follow = await fake.followup(inter)
        assert "2 dismissed" in follow.json["content"]
    finally:
        await stop_client(second)
        store.close()


# ---- a raid on a channel (flags aimed at no one) ------------------------------------------------------
@pytest.mark.parametrize("env", [{"raid_window_minutes": 5}], indirect=True)
async def test_a_channel_raid_is_one_alert_with_incident_buttons(env):
    raiders = (MALLORY, DAVE, 5001, 5002, 5003)
    env.fake.pile_on_accounts |= set(raiders)
    payloads = [await env.fake.send_message(a, f"dasar cina bokep {i}") for i, a in enumerate(raiders)]
    await env.settle()
    ids = [env.store.find_flag(SERVER, str(GENERAL), p["id"]) for p in payloads]
    [incident_id] = {env.store.flag(SERVER, i).incident_id for i in ids}
    await wait_until(lambda: env.store.undelivered_alerts(SERVER)[0] == 0)
    alert = current_alert(env, incident_id)
    assert len(mod_posts(env.fake)) == 1  # one alert for the raid, not one per message
    assert custom_ids(alert) == [f"tbi:{k}:{incident_id}" for k in ("confirm", "dismiss", "delete", "ban", "items", "timeout")]
    assert f"from {len(raiders)} accounts in #" in alert["embeds"][0]["title"]


# ---- escalation ping -------------------------------------------------------------------------------------
@pytest.mark.parametrize("env", [{"escalation_ping": [str(ROLE_MOD)], "incident_escalate_count": 3}], indirect=True)
async def test_escalation_pings_only_the_configured_role_once(env):
    await pile_on(env, authors=(MALLORY, DAVE, 5001, 5002))
    pings = [c for c in mod_posts(env.fake) if ((c.json or {}).get("content") or "").startswith("<@&")]
    assert len(pings) == 1
    assert pings[0].json["allowed_mentions"] == {"parse": [], "roles": [ROLE_MOD]}
    assert f"<@&{ROLE_MOD}>" in pings[0].json["content"] and "@everyone" not in pings[0].json["content"]


@pytest.mark.parametrize("outage", [0.0, 2.0], ids=["up", "5xx outage"])
async def test_the_daily_anchor_is_posted_in_the_mod_channel_without_mentions(env, outage):
    """Posted once, as plain text with no mentions; through an outage of the mod channel it is late, not lost."""
    from bot import anchors

    await env.fake.send_message(MALLORY, "kamu bokep @everyone")
    await env.settle()
    await wait_until(lambda: env.store.undelivered_alerts(SERVER)[0] == 0)
    head, rows, _ = env.store.chain_anchor(SERVER)
    if outage:
        env.fake.outage(outage, status=503)
    for server in anchors.queue_daily(env.store, env.pipeline.server_settings):
        env.pipeline.delivery.wake(server)
    await wait_until(lambda: env.store.undelivered_notices(SERVER)[0] == 0, timeout=30)
    [post] = [c for c in mod_posts(env.fake) if c.status == 200 and "Evidence anchor" in ((c.json or {}).get("content") or "")]
    assert f"{head}:{rows}" in post.json["content"] and post.json["allowed_mentions"] == {"parse": []}
    # a notice that failed is not followed by a notice about the failure: it was for the same channel
    assert not [c for c in mod_posts(env.fake) if ((c.json or {}).get("content") or "").startswith("⚠️ Could not")]
    refused = [c for c in env.fake.calls if c.status == 503 and "Evidence anchor" in ((c.json or {}).get("content") or "")]
    assert bool(refused) is bool(outage)  # the outage really met the anchor


# ---- rate limits and outages -----------------------------------------------------------------------------
async def test_rate_limited_pile_on_stores_every_flag_and_the_alert_ends_up_showing_all(env):
    env.fake.limit_messages(5, 1.0)
    sent = await send_pile_on(env.fake, pile_on_plan(60, 15, texts=("kamu bokep", "dasar monyet")))
    await env.settle(60)
    harassing = [p for p, h in sent if h]
    ids = [env.store.find_flag(SERVER, p["channel_id"], p["id"]) for p in harassing]
    assert all(ids) and env.store.count_flags(SERVER) == len(harassing)
    incident_id = env.store.flag(SERVER, ids[-1]).incident_id
    await wait_until(lambda: env.store.undelivered_alerts(SERVER)[0] == 0, timeout=30)
    shown = next(f["value"] for f in current_alert(env, incident_id)["embeds"][0]["fields"] if f["name"] == "Incident")
    assert shown.startswith(f"{len(harassing)} flags")
    writes = [c for c in env.fake.calls if c.path.startswith(f"/channels/{MODQ}/messages") and c.status == 200]
    assert len([c for c in writes if c.method == "POST"]) == 1 and len(writes) <= len(harassing)


@pytest.mark.parametrize("breakage", ["outage", "404", "403"])
async def test_alert_is_posted_late_exactly_once_after_the_mod_channel_recovers(env, breakage):
    if breakage == "outage":
        env.fake.outage(1.5, status=503)
    else:
        env.fake.channel_status(MODQ, int(breakage))
    payload = await env.fake.send_message(MALLORY, "bokep saat gangguan")
    await env.settle()
    await wait_until(lambda: any(c.status != 200 for c in mod_posts(env.fake)))
    assert not [c for c in mod_posts(env.fake) if c.status == 200]
    assert env.store.undelivered_alerts(SERVER)[0] == 1
    if breakage != "outage":
        env.fake.channel_status(MODQ, None)
    await wait_until(lambda: any(c.status == 200 for c in mod_posts(env.fake)), timeout=30)
    await env.pipeline.settle()
    assert sum(c.status == 200 for c in mod_posts(env.fake)) == 1 and env.store.undelivered_alerts(SERVER)[0] == 0
    flag_id = env.store.find_flag(SERVER, str(GENERAL), payload["id"])
    assert env.store.flag(SERVER, flag_id).alert_ref is not None


async def test_a_long_rate_limit_comes_back_as_retry_after(env):
    env.fake.limit_messages(1, 60.0)
    ping = Action(kind="ping", server=SERVER, destination=str(MODQ), mentions=(str(ROLE_MOD),))
    first = await env.client.adapter.execute(ping)
    second = await asyncio.wait_for(env.client.adapter.execute(ping), 10)  # returned, not slept out
    assert first.ok and not second.ok and 30 < second.retry_after <= 60 and "429" in second.detail
