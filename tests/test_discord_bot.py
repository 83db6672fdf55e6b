"""The real discord.py client, built by build_bot(), against the fake Discord in tests/fake_discord.py."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from dataclasses import dataclass
from types import MappingProxyType

import pytest

from bot.config import DiscordSettings, ServerSettings, Settings
from bot.pipeline import Pipeline
from bot.platforms import discord_bot
from bot.platforms.discord_render import PIPE_STANDIN, escape
from bot.store import Store
from tests.conftest import KeywordDetector, StandInImageScanner
from tests.fake_discord import ALICE, APP_ID, BOB, CAROL, DAVE, GENERAL, GUILD, MALLORY, MODQ, OTHER, FakeDiscord, user

SERVER = f"discord:{GUILD}"


@dataclass
class Env:
    fake: FakeDiscord
    store: Store
    pipeline: Pipeline
    client: discord_bot.TriageBot
    settings: Settings
    task: asyncio.Task

    async def settle(self, handled: int | None = None) -> None:
        """Wait until `handled` messages went through the Intake (default: every one the fake sent)."""
        want = handled if handled is not None else sum(1 for m in self.fake.messages.values() if m["author"]["id"] != str(APP_ID))
        await wait_until(lambda: self.client.intake.handled + self.client.intake.failed >= want)
        await asyncio.wait_for(self.client.intake.drain(), 10)
        await asyncio.wait_for(self.pipeline.settle(), 10)  # alerts and protective actions run in the background


async def wait_until(pred, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not pred():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


#: What the stand-in detector flags in these tests.
KEYWORDS = {"bokep": "sexual", "monyet": ("racial", 0.80)}


def make_settings(tmp_path, fake: FakeDiscord, **server) -> Settings:
    # Most tests here look at single flags sent seconds apart in one channel, which a server's default raid window
    # would group into one channel incident; the raid tests (test_discord_incidents.py) turn it back on.
    srv = ServerSettings(mod_channel=str(MODQ), exempt_moderators=False, raid_window_minutes=0)
    if server:
        srv = srv.with_overrides(server)
    return Settings(
        db_path=tmp_path / "t.db",
        discord=DiscordSettings(token="fake-token", api_base=fake.api_base, gateway=fake.gateway),
        servers=MappingProxyType({SERVER: srv}),
    )


async def start_client(fake: FakeDiscord, settings: Settings, store: Store) -> Env:
    pipeline = Pipeline(
        settings, store, text_detectors=[KeywordDetector(KEYWORDS)], image_scanner=StandInImageScanner(), action_thresholds={"sexual": 0.95, "racial": 0.95}
    )  # the stand-in's 0.99 is sure enough to delete
    discord_bot.point_at(settings)
    client = discord_bot.build_bot(pipeline, settings, guild_ready_timeout=0.05, sync_commands=False)
    task = asyncio.create_task(client.start(settings.discord.token))
    await asyncio.wait_for(client.wait_until_ready(), 10)
    return Env(fake, store, pipeline, client, settings, task)


async def stop_client(env: Env) -> None:
    await env.pipeline.stop()
    await env.client.close()
    await asyncio.wait_for(env.task, 10)
    assert not env.client.errors, f"handler errors: {list(env.client.errors)}"
    assert env.client.intake.failed == 0, "a message failed in the pipeline (see the log)"


@pytest.fixture
async def fake():
    f = await FakeDiscord().start()
    yield f
    await f.stop()


@pytest.fixture
async def env(tmp_path, fake, request):
    overrides = getattr(request, "param", {})
    store = Store.open(tmp_path / "t.db")
    e = await start_client(fake, make_settings(tmp_path, fake, **overrides), store)
    yield e
    await stop_client(e)
    e.pipeline.executor.shutdown(wait=False)
    store.close()


def mod_posts(fake: FakeDiscord) -> list:
    return fake.find("POST", rf"^/channels/{MODQ}/messages$")


def alert_embed(call) -> dict:
    return call.json["embeds"][0]


def embed_text(embed: dict) -> str:
    return json.dumps(embed, ensure_ascii=False)


def custom_ids(message: dict) -> list[str]:
    out = []
    for row in message["components"]:
        out += [c["custom_id"] for c in row["components"]]
    return out


async def flag_one(env: Env, text: str = "sini bokep gratis", author: int = MALLORY, **kw) -> tuple[dict, dict, int]:
    """Send a flaggable message; return (message payload, alert message, flag id)."""
    start = len(env.fake.calls)
    payload = await env.fake.send_message(author, text, **kw)
    await env.settle()
    post = await env.fake.wait_call("POST", rf"^/channels/{MODQ}/messages$", start=start)
    flag_id = env.store.find_flag(SERVER, str(GENERAL if "channel_id" not in kw else kw["channel_id"]), payload["id"])
    ref = env.store.flag(SERVER, flag_id).alert_ref  # the alert may have been edited since (e.g. an automatic action)
    alert = (
        env.fake.messages[int(ref)]
        if ref
        else next(m for m in env.fake.messages.values() if m["author"]["id"] == str(APP_ID) and m["embeds"] == post.json["embeds"])
    )
    return payload, alert, flag_id


# ---- live flagging ------------------------------------------------------------------------
async def test_live_flag_posts_one_embed_in_mod_channel(env):
    payload, alert, flag_id = await flag_one(env, "kamu bokep murahan", mentions=(ALICE,))
    post = mod_posts(env.fake)[0]
    embed = alert_embed(post)
    text = embed_text(embed)
    assert post.json["allowed_mentions"] == {"parse": []}
    assert "bokep" in embed["description"] and embed["description"].startswith("||")
    assert f"<@{MALLORY}>" in text and f"<#{GENERAL}>" in text
    assert f"https://discord.com/channels/{GUILD}/{GENERAL}/{payload['id']}" in text
    assert "sexual 0.99" in text and "keyword" in text
    assert any(f["name"] == "Reports" and f["value"] == "0" for f in embed["fields"])
    assert custom_ids(alert) == [f"tb:{a}:{flag_id}" for a in ("confirm", "dismiss", "delete", "ban", "warn", "timeout")]
    flag = env.store.flag(SERVER, flag_id)
    assert flag.targets == (str(ALICE),) and flag.alert_ref == alert["id"] and flag.status == "pending"


async def test_clean_message_is_not_flagged(env):
    await env.fake.send_message(ALICE, "selamat pagi semua")
    await env.settle()
    assert mod_posts(env.fake) == [] and env.store.pending_count(SERVER) == 0


async def test_image_attachment_is_scanned_but_never_reposted(env):
    payload = await env.fake.send_message(MALLORY, "", attachments=(("pic.png", "image/png", b"NUDE" + b"\0" * 100),))
    await env.settle()
    post = await env.fake.wait_call("POST", rf"^/channels/{MODQ}/messages$")
    text = embed_text(alert_embed(post))
    assert post.files == {} and "image" not in alert_embed(post) and "thumbnail" not in alert_embed(post)
    assert "not re-posted" in text and "attachments/" not in text
    assert env.fake.find("GET", "attachments") == []  # bytes are fetched directly, not through the API
    flag = env.store.flag(SERVER, env.store.find_flag(SERVER, str(GENERAL), payload["id"]))
    assert flag.labels == ("sexual",) and flag.attachments[0]["mime"] == "image/png"


async def test_reply_author_is_a_target(env):
    victim = await env.fake.send_message(ALICE, "halo")
    payload, _, flag_id = await flag_one(env, "dasar monyet", reply_to=int(victim["id"]))
    assert env.store.flag(SERVER, flag_id).targets == (str(ALICE),)


async def test_hostile_text_never_pings_or_escapes_the_spoiler(env):
    hostile = f"@everyone <@{ALICE}> **bokep** || unspoilered || `x` \\"
    _, _, flag_id = await flag_one(env, hostile)
    post = mod_posts(env.fake)[0]
    desc = alert_embed(post)["description"]
    assert post.json["allowed_mentions"] == {"parse": []}
    inner = desc[2:-2]
    assert desc.startswith("||") and desc.endswith("||") and "||" not in inner and "|" not in inner
    assert PIPE_STANDIN in inner and "@everyone" not in desc and f"<@{ALICE}>" not in desc and "\\*\\*" in desc


async def test_flood_is_queued_not_blocking(env):
    for i in range(40):
        await env.fake.send_message(MALLORY if i % 2 else DAVE, f"pesan {i} bokep" if i % 4 == 0 else f"pesan {i}")
    await env.settle(40)
    assert env.client.intake.handled == 40 and env.store.count_flags(SERVER) == 10
    assert len(mod_posts(env.fake)) == 10


# ---- buttons --------------------------------------------------------------------------------
def callback_flags(call) -> int:
    return (call.json.get("data") or {}).get("flags", 0)


async def click(env: Env, who: int, alert: dict, action: str, flag_id: int, values=None):
    start = len(env.fake.calls)
    inter = await env.fake.click(who, int(alert["id"]), f"tb:{action}:{flag_id}", values=values)
    cb = await env.fake.callback(inter)
    return inter, cb, start


@pytest.mark.parametrize("action,status", [("confirm", "confirmed"), ("dismiss", "dismissed")])
async def test_review_buttons_update_embed_with_who_decided(env, action, status):
    _, alert, flag_id = await flag_one(env)
    inter, cb, start = await click(env, BOB, alert, action, flag_id)
    assert cb.json["type"] == 6  # deferred update: the alert itself is edited by the pipeline
    edit = await env.fake.wait_call("PATCH", rf"^/channels/{MODQ}/messages/{alert['id']}$", start=start)
    status_field = next(f for f in alert_embed(edit)["fields"] if f["name"] == "Status")
    assert status_field["value"] == f"**{status}** by <@{BOB}>"
    assert edit.json["allowed_mentions"] == {"parse": []}
    follow = await env.fake.followup(inter)
    assert follow.json["flags"] & 64 and status in follow.json["content"]
    flag = env.store.flag(SERVER, flag_id)
    assert flag.status == status and flag.last_review["reviewer"] == str(BOB)
    assert len(mod_posts(env.fake)) == 1  # edited in place, not re-posted


@pytest.mark.parametrize(
    "action,who,allowed",
    [
        ("confirm", ALICE, False),
        ("dismiss", DAVE, False),
        ("delete", ALICE, False),
        ("ban", ALICE, False),
        ("delete", BOB, True),
        ("ban", BOB, True),
        ("ban", CAROL, True),
        ("confirm", CAROL, True),
    ],
)
async def test_buttons_check_permissions_at_click_time(env, action, who, allowed):
    payload, alert, flag_id = await flag_one(env)
    inter, cb, start = await click(env, who, alert, action, flag_id)
    if not allowed:
        assert cb.json["type"] == 4 and callback_flags(cb) & 64
        assert "You need the" in cb.json["data"]["content"]
        await asyncio.sleep(0.1)
        assert env.fake.find("DELETE", "messages") == [] and env.fake.find("PUT", "bans") == []
        assert env.store.flag(SERVER, flag_id).status == "pending"
        assert env.store.actions_for(SERVER, flag_id) == []
        return
    await env.fake.followup(inter)
    if action == "delete":
        call = env.fake.find("DELETE", rf"^/channels/{GENERAL}/messages/{payload['id']}$")[0]
        assert "triagebot" in call.headers.get("X-Audit-Log-Reason", "")
    elif action == "ban":
        assert env.fake.find("PUT", rf"^/guilds/{GUILD}/bans/{MALLORY}$")
    if action in ("delete", "ban"):
        act = [a for a in env.store.actions_for(SERVER, flag_id) if a["kind"] == action][0]
        assert act["status"] == "ok" and act["actor"] == str(who) and not act["automatic"]


@pytest.mark.parametrize("seconds", [600, 3600, 86400, 604800])
async def test_timeout_select_times_out_author(env, seconds):
    _, alert, flag_id = await flag_one(env)
    inter, cb, start = await click(env, BOB, alert, "timeout", flag_id, values=[str(seconds)])
    call = await env.fake.wait_call("PATCH", rf"^/guilds/{GUILD}/members/{MALLORY}$", start=start)
    until = call.json["communication_disabled_until"]
    from datetime import datetime, timezone

    delta = (datetime.fromisoformat(until) - datetime.now(timezone.utc)).total_seconds()
    assert seconds - 30 < delta <= seconds
    await env.fake.followup(inter)
    act = [a for a in env.store.actions_for(SERVER, flag_id) if a["kind"] == "timeout"][0]
    assert act["status"] == "ok" and act["duration_s"] == seconds


async def test_timeout_needs_moderate_members(env):
    _, alert, flag_id = await flag_one(env)
    inter, cb, _ = await click(env, ALICE, alert, "timeout", flag_id, values=["600"])
    assert "Moderate Members" in cb.json["data"]["content"]
    assert env.fake.find("PATCH", "/members/") == []


async def test_missing_bot_permission_keeps_flag_logs_error_and_tells_mods(env):
    env.fake.fail("DELETE", r"/messages/")
    payload, alert, flag_id = await flag_one(env)
    inter, cb, start = await click(env, BOB, alert, "delete", flag_id)
    follow = await env.fake.followup(inter)
    assert "refused" in follow.json["content"] and "403" in follow.json["content"]
    notice = [c for c in mod_posts(env.fake)[1:] if c.json.get("content")]
    assert notice and "Manage Messages" in notice[0].json["content"] and notice[0].json["allowed_mentions"] == {"parse": []}
    act = [a for a in env.store.actions_for(SERVER, flag_id) if a["kind"] == "delete"][0]
    assert act["status"] == "error" and "403" in act["detail"]
    assert env.store.flag(SERVER, flag_id).status == "pending"


async def test_buttons_survive_a_restart(tmp_path, fake):
    store = Store.open(tmp_path / "t.db")
    settings = make_settings(tmp_path, fake)
    first = await start_client(fake, settings, store)
    _, alert, flag_id = await flag_one(first)
    await stop_client(first)
    second = await start_client(fake, settings, store)  # a new process would start exactly like this
    try:
        inter, cb, start = await click(second, BOB, alert, "confirm", flag_id)
        await fake.followup(inter)
        assert store.flag(SERVER, flag_id).status == "confirmed"
        await fake.wait_call("PATCH", rf"^/channels/{MODQ}/messages/{alert['id']}$", start=start)
    finally:
        await stop_client(second)
        store.close()


async def test_button_for_another_servers_flag_is_refused(env):
    from bot.models import Decision, Message

    other = env.store.record_flag(
        Message(platform="discord", server_id="999", channel_id="1", message_id="2", author_id="3", text="x"),
        Decision(flagged=True, labels=("sexual",), verdicts=()),
    ).flag_id
    _, alert, flag_id = await flag_one(env)
    alert["components"][0]["components"][0]["custom_id"] = f"tb:confirm:{other}"  # a forged or stale button
    inter, cb, _ = await click(env, BOB, alert, "confirm", other)
    assert "not in this server" in cb.json["data"]["content"]
    assert env.store.flag("discord:999", other).status == "pending"


# ---- member reports -------------------------------------------------------------------------
async def test_context_menu_opens_modal_then_reports(env):
    target = await env.fake.send_message(MALLORY, "foto kamu jelek", mentions=(ALICE,))
    await env.settle()
    inter = await env.fake.context_menu(ALICE, int(target["id"]))
    cb = await env.fake.callback(inter)
    assert cb.json["type"] == 9  # modal
    start = len(env.fake.calls)
    sub = await env.fake.submit_modal(ALICE, cb.json["data"], "she is posting fake nudes of me")
    await env.fake.callback(sub)
    follow = await env.fake.followup(sub)
    assert follow.json["flags"] & 64 and "sent to the moderators" in follow.json["content"]
    post = await env.fake.wait_call("POST", rf"^/channels/{MODQ}/messages$", start=start)
    text = embed_text(alert_embed(post))
    assert "Reported by members" in text and f"<@{ALICE}>" in text  # moderators see the reporter
    flag_id = env.store.find_flag(SERVER, str(GENERAL), target["id"])
    flag = env.store.flag(SERVER, flag_id)
    assert flag.report_count == 1 and flag.source == "report" and env.store.reporters(SERVER, flag_id) == [str(ALICE)]
    assert flag.report_reasons == ("she is posting fake nudes of me",)


async def test_report_command_with_link_and_duplicates_collapse(env):
    target = await env.fake.send_message(MALLORY, "foto kamu jelek")
    await env.settle()
    link = f"https://discord.com/channels/{GUILD}/{GENERAL}/{target['id']}"
    outcomes = []
    for who in (ALICE, DAVE, ALICE):
        inter = await env.fake.slash(who, "report", options={"reason": "harassment", "message_link": link})
        cb = await env.fake.callback(inter)
        assert cb.json["type"] == 5 and callback_flags(cb) & 64
        outcomes.append((await env.fake.followup(inter)).json["content"])
    assert "already reported" in outcomes[2]
    flag_id = env.store.find_flag(SERVER, str(GENERAL), target["id"])
    flag = env.store.flag(SERVER, flag_id)
    assert flag.report_count == 2 and env.store.count_flags(SERVER) == 1
    assert flag.excerpt == "foto kamu jelek"  # the bot fetched the reported message
    posts = mod_posts(env.fake)
    assert len(posts) == 1  # later reports edit the same queue entry
    last_edit = env.fake.find("PATCH", rf"^/channels/{MODQ}/messages/")[-1]
    assert next(f for f in alert_embed(last_edit)["fields"] if f["name"] == "Reports")["value"] == "2"


async def test_report_member_and_reporter_is_never_shown_to_them(env):
    inter = await env.fake.slash(
        ALICE,
        "report",
        options={"reason": "DMs me slurs", "member": ("user", MALLORY)},
        resolved={"users": {str(MALLORY): {"id": str(MALLORY), "username": "mallory", "discriminator": "0", "avatar": None, "global_name": None}}},
    )
    await env.fake.callback(inter)
    follow = await env.fake.followup(inter)
    assert follow.json["flags"] & 64
    await env.settle()  # the alert is posted by the delivery worker
    # nothing went anywhere but the mod channel and the reporter's own ephemeral replies
    posts = [c for c in env.fake.calls if c.method == "POST" and c.path.startswith("/channels/")]
    assert posts and all(c.path == f"/channels/{MODQ}/messages" for c in posts)
    flag = env.store.queue(SERVER)[0]
    assert flag.author_id == str(MALLORY) and flag.message_id == f"member:{MALLORY}"


async def test_report_rate_limit(env):
    env.pipeline.update_server_settings(SERVER, {"report_rate_limit": 2})
    msgs = [await env.fake.send_message(MALLORY, f"pesan {i}") for i in range(3)]
    await env.settle()
    replies = []
    for m in msgs:
        inter = await env.fake.slash(DAVE, "report", options={"reason": "spam", "message_link": f"https://discord.com/channels/{GUILD}/{GENERAL}/{m['id']}"})
        replies.append((await env.fake.followup(inter)).json["content"])
    assert "please wait" in replies[2] and env.store.count_flags(SERVER) == 2


@pytest.mark.parametrize("link", ["https://discord.com/channels/555/1/2", "not a link"])
async def test_report_rejects_links_from_elsewhere(env, link):
    inter = await env.fake.slash(ALICE, "report", options={"reason": "x", "message_link": link})
    cb = await env.fake.callback(inter)
    assert "not a link to a message in this server" in cb.json["data"]["content"] and callback_flags(cb) & 64
    assert env.store.count_flags(SERVER) == 0


# ---- /triage commands -----------------------------------------------------------------------
def channel_resolved(cid: int, name: str) -> dict:
    return {
        "channels": {
            str(cid): {"id": str(cid), "name": name, "type": 0, "permissions": "0", "guild_id": str(GUILD), "parent_id": None, "nsfw": False, "position": 0}
        }
    }


async def reply_of(env: Env, inter: dict) -> tuple[int, str]:
    """(callback type, visible text) of a command's answer, whether direct or deferred."""
    cb = await env.fake.callback(inter)
    if cb.json["type"] == 4:
        assert callback_flags(cb) & 64, "moderator answers must be ephemeral"
        return 4, cb.json["data"]["content"]
    return cb.json["type"], ""


async def test_setup_changes_mod_channel_thresholds_and_dry_run(env):
    inter = await env.fake.slash(
        CAROL, "triage", "setup", {"mod_channel": ("channel", OTHER), "sexual": 0.7, "dry_run": True}, resolved=channel_resolved(OTHER, "random")
    )
    kind, text = await reply_of(env, inter)
    assert kind == 4 and "Saved" in text and f"<#{OTHER}>" in text and "sexual 0.70" in text and "Dry-run: on" in text
    s = env.pipeline.server_settings(SERVER)
    assert s.mod_channel == str(OTHER) and s.thresholds["sexual"] == 0.7 and s.dry_run
    assert env.store.server_overrides(SERVER)["mod_channel"] == str(OTHER)
    await env.fake.send_message(MALLORY, "bokep")
    await env.settle()
    await env.fake.wait_call("POST", rf"^/channels/{OTHER}/messages$")


@pytest.mark.parametrize(
    "who,sub,needed",
    [
        (BOB, "setup", "Manage Server"),
        (ALICE, "setup", "Manage Server"),
        (ALICE, "queue", "Manage Messages"),
        (DAVE, "stats", "Manage Messages"),
        (BOB, "export", "Administrator"),
        (ALICE, "scan", "Manage Messages"),
        (DAVE, "anchor", "Manage Messages"),
    ],
)
async def test_triage_commands_are_checked_at_run_time(env, who, sub, needed):
    options = {"channel": ("channel", OTHER)} if sub == "scan" else {}
    inter = await env.fake.slash(who, "triage", sub, options, resolved=channel_resolved(OTHER, "random") if options else None)
    kind, text = await reply_of(env, inter)
    assert kind == 4 and needed in text
    assert env.store.server_overrides(SERVER) == {}


async def test_triage_commands_declare_default_member_permissions(env):
    from discord import Permissions

    group = env.client.tree.get_command("triage")
    assert group.default_permissions == Permissions(manage_messages=True) and group.guild_only
    assert {c.name for c in group.commands} == {"setup", "queue", "stats", "scan", "export", "anchor", "member", "note", "hold", "rules"}


async def test_anchor_is_posted_for_the_channel_to_witness(env):
    await flag_one(env, "bokep 1")
    head, rows, _ = env.store.chain_anchor(SERVER)
    cb = await env.fake.callback(await env.fake.slash(BOB, "triage", "anchor"))
    assert cb.json["type"] == 4 and not callback_flags(cb) & 64  # visible to the channel, not ephemeral
    text = cb.json["data"]["content"]
    assert f"{head}:{rows}" in text and SERVER in text and "--expect-head" in text
    assert cb.json["data"]["allowed_mentions"] == {"parse": []}


async def test_queue_and_stats(env):
    await flag_one(env, "bokep 1")
    await flag_one(env, "monyet 2", author=DAVE)
    kind, text = await reply_of(env, await env.fake.slash(BOB, "triage", "queue"))
    assert "**2** items" in text and text.count("\n#") == 2 and "[message](https://discord.com/channels/" in text
    kind, text = await reply_of(env, await env.fake.slash(BOB, "triage", "stats"))
    assert "Flags: 2 (pending 2)" in text and "racial 1" in text and "sexual 1" in text
    assert "Detectors: text (" in text


async def test_queue_shows_a_pile_on_as_one_incident(env):
    for i, who in enumerate((MALLORY, DAVE, MALLORY)):
        await env.fake.send_message(who, f"bokep {i}", mentions=(ALICE,))
    await env.settle(3)
    kind, text = await reply_of(env, await env.fake.slash(BOB, "triage", "queue"))
    assert "Incident #1: 3 sexual messages from 2 accounts targeting @alice" in text


async def test_scan_rechecks_history_with_progress(env):
    for i in range(30):  # history the bot never saw live
        env.fake.message_payload(MALLORY if i % 3 == 0 else DAVE, f"lama {i} bokep" if i % 3 == 0 else f"lama {i}", channel_id=OTHER)
    inter = await env.fake.slash(BOB, "triage", "scan", {"channel": ("channel", OTHER), "limit": 30}, resolved=channel_resolved(OTHER, "random"))
    kind, _ = await reply_of(env, inter)
    assert kind == 5
    edits = []
    await wait_until(
        lambda: any("done" in (c.json or {}).get("content", "") for c in env.fake.find("PATCH", rf"/webhooks/{APP_ID}/{inter['token']}/messages/@original"))
    )
    edits = [c.json["content"] for c in env.fake.find("PATCH", rf"/webhooks/{APP_ID}/{inter['token']}/messages/@original")]
    assert any("25 checked" in e for e in edits[:-1])  # progress while scanning
    assert "30 messages checked, 10 flagged" in edits[-1]
    assert env.store.stats(SERVER)["by_source"] == {"scan": 10}


async def test_export_is_admin_only_ephemeral_and_this_server_only(env):
    from bot.models import Decision, Message

    env.store.record_flag(
        Message(platform="discord", server_id="999", channel_id="1", message_id="2", author_id="3", text="other server secret"),
        Decision(flagged=True, labels=("sexual",), verdicts=()),
    )
    await flag_one(env, "bokep here")
    inter = await env.fake.slash(CAROL, "triage", "export", {"format": "csv"})
    kind, _ = await reply_of(env, inter)
    assert kind == 5
    follow = await env.fake.followup(inter)
    assert follow.json["flags"] & 64
    (csv_name, data), (manifest_name, manifest) = sorted(follow.files.items(), key=lambda kv: kv[0].endswith(".json"))
    assert csv_name.endswith(".csv") and manifest_name.endswith(".manifest.json")
    assert b"bokep here" in data and b"other server secret" not in data
    assert json.loads(manifest)


async def _case_files(env, options: dict, resolved: dict | None = None) -> tuple[str, dict[str, bytes]]:
    inter = await env.fake.slash(CAROL, "triage", "export", options, resolved=resolved)
    kind, text = await reply_of(env, inter)
    if kind == 4:  # answered at once (a refusal); nothing was built
        return text, {}
    follow = await env.fake.followup(inter)
    assert follow.json["flags"] & 64 and follow.status == 200
    return follow.json["content"], follow.files


@pytest.mark.parametrize("case", ["incident", "member"])
async def test_export_of_one_case(env, case):
    """A pile-on at Alice (one incident) and an unrelated flag: the case export holds the pile-on only."""
    await flag_one(env, "kamu bokep", mentions=(ALICE,))
    await env.fake.send_message(DAVE, "bokep murahan", mentions=(ALICE,))  # joins her incident (its alert is edited)
    await flag_one(env, "bokep di sini")  # aimed at no one
    [incident] = {f.incident_id for f in env.store.queue(SERVER) if f.targets == (str(ALICE),)}
    if case == "incident":
        text, files = await _case_files(env, {"format": "csv", "incident": incident})
    else:
        text, files = await _case_files(env, {"format": "csv", "member": ("user", ALICE)}, {"users": {str(ALICE): user(ALICE)}})
    (name, data), (mname, manifest) = sorted(files.items(), key=lambda kv: kv[0].endswith(".json"))
    assert mname == name + ".manifest.json" and (f"incident{incident}" if case == "incident" else f"member{ALICE}") in name
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert sorted(r["excerpt"] for r in rows) == ["bokep murahan", "kamu bokep"]  # not "bokep di sini"
    assert json.loads(manifest)["rows"] == 2


async def test_export_of_an_unknown_incident_says_so(env):
    text, files = await _case_files(env, {"format": "csv", "incident": 999})
    assert "no incident #999" in text and not files


@pytest.mark.parametrize("limit, expect", [(1200, "too big"), (None, "zipped")])
async def test_export_over_the_upload_limit_is_zipped_or_explained(env, limit, expect):
    """The limit is the one Discord announces in the interaction (`attachment_size_limit`); the fake refuses more."""
    for i in range(12):
        await flag_one(env, f"bokep nomor {i} " * 20, author=MALLORY)
    text, files = await _case_files(env, {"format": "json"})
    full = sum(map(len, files.values()))
    env.fake.upload_limit = limit or full - 1  # just under what it took as it was
    text, files = await _case_files(env, {"format": "json"})
    if expect == "zipped":
        [(name, packed)] = files.items()
        assert name.endswith(".zip") and len(packed) <= env.fake.upload_limit and "one zip" in text
    else:
        assert not files and "12 flags" in text and "triagebot export --server" in text
    assert not [c for c in env.fake.calls if c.status == 413]  # nothing was sent that Discord would refuse


# ---- Discord AutoMod ------------------------------------------------------------------------
AUTOMOD_EVENT = {
    "guild_id": str(GUILD),
    "rule_id": "777",
    "rule_trigger_type": 1,
    "user_id": str(MALLORY),
    "channel_id": str(GENERAL),
    "content": "kata terlarang",
    "matched_keyword": "terlarang",
    "matched_content": "terlarang",
}


async def test_automod_action_lands_in_the_queue_once(env):
    event = AUTOMOD_EVENT
    await env.fake.dispatch("AUTO_MODERATION_ACTION_EXECUTION", {**event, "action": {"type": 1, "metadata": {}}})
    await env.fake.dispatch(
        "AUTO_MODERATION_ACTION_EXECUTION", {**event, "action": {"type": 2, "metadata": {"channel_id": str(MODQ)}}, "alert_system_message_id": "5555"}
    )
    post = await env.fake.wait_call("POST", rf"^/channels/{MODQ}/messages$")
    await asyncio.sleep(0.2)
    text = embed_text(alert_embed(post))
    assert "Discord AutoMod" in text and "AutoMod rule 777 matched" in text
    flags = env.store.queue(SERVER)
    assert len(flags) == 1 and flags[0].source == "automod" and "automod" in flags[0].labels
    assert len(mod_posts(env.fake)) == 1  # the second event edits the same entry
    assert len(env.fake.find("GET", r"/auto-moderation/rules/777$")) == 1  # one lookup, then cached


@pytest.mark.parametrize(
    "name, failure, shown",
    [
        ("No <@&1> slurs *here*", None, escape("AutoMod rule 'No <@&1> slurs *here*' (777)")),  # as markdown-escaped text
        (None, 403, "AutoMod rule 777 matched"),  # no Manage Server: the id, and the flag still lands
    ],
)
async def test_automod_alert_names_the_rule_when_readable(env, name, failure, shown):
    if name:
        env.fake.automod_rules[777] = name
    if failure:
        env.fake.fail("GET", r"/auto-moderation/rules/", failure)
    await env.fake.dispatch("AUTO_MODERATION_ACTION_EXECUTION", {**AUTOMOD_EVENT, "action": {"type": 1, "metadata": {}}})
    post = await env.fake.wait_call("POST", rf"^/channels/{MODQ}/messages$")
    reasons = next(f["value"] for f in alert_embed(post)["fields"] if f["name"] == "Reasons")
    assert shown in reasons and "*here*'" not in reasons
    assert len(env.store.queue(SERVER)) == 1


# ---- automatic actions (decided by the core policy; the adapter only carries them out) -------
@pytest.mark.parametrize("env", [{"auto_delete": True}], indirect=True)
async def test_auto_delete_at_high_confidence(env):
    payload, _, flag_id = await flag_one(env, "bokep")  # keyword detector scores 0.99 >= 0.97
    await env.fake.wait_call("DELETE", rf"^/channels/{GENERAL}/messages/{payload['id']}$")
    act = [a for a in env.store.actions_for(SERVER, flag_id) if a["kind"] == "delete"][0]
    assert act["automatic"] and act["status"] == "ok"


@pytest.mark.parametrize("env", [{"auto_delete": True, "dry_run": True}], indirect=True)
async def test_dry_run_logs_without_acting(env):
    _, _, flag_id = await flag_one(env, "bokep")
    await asyncio.sleep(0.1)
    assert env.fake.find("DELETE", "messages") == []
    act = [a for a in env.store.actions_for(SERVER, flag_id) if a["kind"] == "delete"][0]
    assert act["status"] == "dry-run" and act["dry_run"]
    post = mod_posts(env.fake)[0]
    assert "DRY RUN" in alert_embed(post)["footer"]["text"]


@pytest.mark.parametrize("env", [{"auto_timeout": True, "timeout_after_flags": 2, "timeout_minutes": 10}], indirect=True)
async def test_auto_timeout_of_repeat_offender(env):
    await flag_one(env, "bokep 1")
    await flag_one(env, "bokep 2")
    call = await env.fake.wait_call("PATCH", rf"^/guilds/{GUILD}/members/{MALLORY}$")
    assert call.json["communication_disabled_until"]


# ---- adapter details --------------------------------------------------------------------------
async def test_edited_message_is_rechecked(env):
    payload = await env.fake.send_message(MALLORY, "halo")
    await env.settle()
    edited = {**payload, "content": "halo bokep", "edited_timestamp": payload["timestamp"]}
    await env.fake.dispatch("MESSAGE_UPDATE", edited)
    await env.fake.wait_call("POST", rf"^/channels/{MODQ}/messages$")
    flag = env.store.flag(SERVER, env.store.find_flag(SERVER, str(GENERAL), payload["id"]))
    assert flag.excerpt == "halo bokep"


async def _only_the_next_message_is_handled(env) -> None:
    """Gateway events arrive in order: once a message sent after an ignored update has gone through
    the intake, an update that had been queued would have gone through too."""
    before = env.client.intake.handled
    await env.fake.send_message(ALICE, "hello after the update")
    await wait_until(lambda: env.client.intake.handled >= before + 1)
    await asyncio.wait_for(env.client.intake.drain(), 10)
    assert env.client.intake.handled == before + 1


async def test_edit_of_an_uncached_message_is_rechecked(env):
    """A message sent before the bot started (never cached), edited now."""
    payload = env.fake.message_payload(MALLORY, "halo bokep")
    payload["edited_timestamp"] = payload["timestamp"]
    await env.fake.dispatch("MESSAGE_UPDATE", payload)
    await env.fake.wait_call("POST", rf"^/channels/{MODQ}/messages$")
    flag = env.store.flag(SERVER, env.store.find_flag(SERVER, str(GENERAL), payload["id"]))
    assert flag.excerpt == "halo bokep"


async def test_link_preview_update_of_an_uncached_message_is_ignored(env):
    """Discord updates a message when its link preview arrives; that carries no edit time."""
    await env.fake.dispatch("MESSAGE_UPDATE", env.fake.message_payload(MALLORY, "halo bokep"))
    await _only_the_next_message_is_handled(env)
    assert env.store.count_flags(SERVER) == 0


async def test_unchanged_cached_message_update_is_ignored(env):
    payload = await env.fake.send_message(MALLORY, "halo bokep")
    await env.fake.wait_call("POST", rf"^/channels/{MODQ}/messages$")
    await env.settle()
    await env.fake.dispatch("MESSAGE_UPDATE", {**payload, "embeds": [{"type": "link", "url": "https://example.org"}]})
    await _only_the_next_message_is_handled(env)


async def test_fetch_has_a_hard_byte_cap(env):
    from bot.models import Attachment

    payload = env.fake.message_payload(ALICE, "", attachments=(("big.png", "image/png", b"x" * 5000),))
    url = payload["attachments"][0]["url"]
    assert len(await env.client.adapter.fetch(Attachment(kind="image", url=url), 5000)) == 5000
    with pytest.raises(ValueError):
        await env.client.adapter.fetch(Attachment(kind="image", url=url, size=10), 4999)  # declared size lies


async def test_bot_and_own_messages_are_ignored(env):
    await env.fake.send_message(APP_ID, "bokep echo")
    await asyncio.sleep(0.2)
    assert env.client.intake.handled == 0 and env.store.count_flags(SERVER) == 0


async def test_no_mod_channel_keeps_flag_and_logs_error(tmp_path, fake):
    store = Store.open(tmp_path / "t.db")
    settings = make_settings(tmp_path, fake)
    settings = Settings(db_path=settings.db_path, discord=settings.discord, servers=MappingProxyType({SERVER: ServerSettings(exempt_moderators=False)}))
    e = await start_client(fake, settings, store)
    try:
        payload = await fake.send_message(MALLORY, "bokep")
        await e.settle(1)
        flag_id = store.find_flag(SERVER, str(GENERAL), payload["id"])
        assert flag_id and store.undelivered_alerts(SERVER)[0] == 1 and mod_posts(fake) == []
        e.pipeline.update_server_settings(SERVER, {"mod_channel": str(MODQ)})  # /triage setup later
        await fake.wait_call("POST", rf"^/channels/{MODQ}/messages$")
        await e.pipeline.settle()
        assert store.undelivered_alerts(SERVER)[0] == 0 and len(mod_posts(fake)) == 1
    finally:
        await stop_client(e)
        store.close()


# ---- /protect ---------------------------------------------------------------------------------
async def test_protect_registers_a_fingerprint_and_flags_reshares(env):
    image = b"\x89PNG private photo"
    att = env.fake.upload("me.png", "image/png", image)
    inter = await env.fake.slash(ALICE, "protect", options={"image": ("attachment", att["id"])}, resolved={"attachments": {att["id"]: att}})
    cb = await env.fake.callback(inter)
    assert cb.json["type"] == 5 and callback_flags(cb) & 64
    follow = await env.fake.followup(inter)
    assert follow.json["flags"] & 64 and "Registered" in follow.json["content"]
    assert env.store.bank_size() == 1
    assert [c for c in env.fake.calls if c.method == "POST" and c.path.startswith("/channels/")] == []  # never shown
    payload = await env.fake.send_message(MALLORY, "lihat ini", attachments=(("leak.png", "image/png", image),))
    await env.settle()
    post = await env.fake.wait_call("POST", rf"^/channels/{MODQ}/messages$")
    assert post.files == {}
    flag = env.store.flag(SERVER, env.store.find_flag(SERVER, str(GENERAL), payload["id"]))
    assert "reshare" in flag.labels and flag.targets == (str(ALICE),)


async def test_protect_refuses_non_images(env):
    att = env.fake.upload("notes.txt", "text/plain", b"hello")
    inter = await env.fake.slash(ALICE, "protect", options={"image": ("attachment", att["id"])}, resolved={"attachments": {att["id"]: att}})
    cb = await env.fake.callback(inter)
    assert "attach an image" in cb.json["data"]["content"] and env.store.bank_size() == 0


# ---- run(): what `triagebot run` calls -------------------------------------------------------
async def test_run_connects_registers_commands_and_returns_when_stopped(tmp_path, fake):
    store = Store.open(tmp_path / "t.db")
    settings = make_settings(tmp_path, fake)
    pipeline = Pipeline(settings, store, text_detectors=[KeywordDetector(KEYWORDS)])
    stop = asyncio.Event()
    task = asyncio.create_task(discord_bot.run(pipeline, settings, stop))
    try:
        await asyncio.wait_for(fake.identified.wait(), 10)
        await fake.wait_call("PUT", rf"^/applications/{APP_ID}/commands$")
        assert {"triage", "report", "Report message", "protect"} <= {c["name"] for c in fake.commands}
        report_menu = next(c for c in fake.commands if c["name"] == "Report message")
        assert report_menu["type"] == 3
        triage = next(c for c in fake.commands if c["name"] == "triage")
        assert int(triage["default_member_permissions"]) == 1 << 13  # Manage Messages
        await fake.send_message(MALLORY, "bokep")
        await fake.wait_call("POST", rf"^/channels/{MODQ}/messages$")
        stop.set()
        await asyncio.wait_for(task, 10)
    finally:
        if not task.done():
            task.cancel()
        pipeline.executor.shutdown(wait=False)
        store.close()
    assert store.path.exists()


async def test_run_without_token_is_a_config_error(tmp_path, fake):
    from bot.config import ConfigError

    settings = Settings(db_path=tmp_path / "t.db")
    with pytest.raises(ConfigError, match="DISCORD_TOKEN"):
        await discord_bot.run(Pipeline(settings, Store.open(tmp_path / "t.db")), settings, asyncio.Event())


async def test_deleted_alert_is_posted_again(env):
    target, alert, flag_id = await flag_one(env)
    del env.fake.messages[int(alert["id"])]  # a moderator deleted the queue entry by hand
    start = len(env.fake.calls)
    inter = await env.fake.slash(
        DAVE, "report", options={"reason": "still here", "message_link": f"https://discord.com/channels/{GUILD}/{GENERAL}/{target['id']}"}
    )
    await env.fake.followup(inter)
    await env.fake.wait_call("POST", rf"^/channels/{MODQ}/messages$", start=start)
    assert env.store.flag(SERVER, flag_id).alert_ref != alert["id"]


async def test_mod_channel_forbidden_keeps_flag(env):
    env.fake.fail("POST", rf"^/channels/{MODQ}/messages$")
    payload = await env.fake.send_message(MALLORY, "bokep")
    await env.settle()
    flag_id = env.store.find_flag(SERVER, str(GENERAL), payload["id"])
    assert env.store.undelivered_alerts(SERVER)[0] == 1  # kept in the outbox, tried again later
    assert env.store.flag(SERVER, flag_id).status == "pending"
    env.fake.failures.clear()  # the channel works again: the alert arrives, once
    await env.fake.wait_call("POST", rf"^/channels/{MODQ}/messages$", start=len(env.fake.calls))
    await env.pipeline.settle()
    assert env.store.undelivered_alerts(SERVER)[0] == 0
    assert [c.status for c in mod_posts(env.fake)][-1] == 200 and sum(c.status == 200 for c in mod_posts(env.fake)) == 1


async def test_bad_token_is_a_config_error(tmp_path, fake):
    from bot.config import ConfigError

    fake.fail("GET", r"^/users/@me$", status=401, message="401: Unauthorized")
    settings = make_settings(tmp_path, fake)
    store = Store.open(tmp_path / "t.db")
    with pytest.raises(ConfigError, match="rejected the token"):
        await asyncio.wait_for(discord_bot.run(Pipeline(settings, store), settings, asyncio.Event()), 10)
    store.close()


async def test_message_content_intent_off_is_a_config_error(tmp_path, fake):
    from bot.config import ConfigError

    fake.identify_close_code = 4014  # what Discord does when the privileged intent is not enabled
    settings = make_settings(tmp_path, fake)
    store = Store.open(tmp_path / "t.db")
    with pytest.raises(ConfigError, match="Message Content intent"):
        await asyncio.wait_for(discord_bot.run(Pipeline(settings, store), settings, asyncio.Event()), 10)
    store.close()


async def test_flood_through_a_small_queue_loses_nothing_and_commands_still_answer(tmp_path, fake):
    store = Store.open(tmp_path / "t.db")
    base = make_settings(tmp_path, fake)
    settings = Settings(db_path=base.db_path, discord=base.discord, servers=base.servers, queue_size=3)
    e = await start_client(fake, settings, store)
    try:
        for i in range(150):
            await fake.send_message(MALLORY, f"flood {i} bokep" if i % 10 == 0 else f"flood {i}")
        inter = await fake.slash(BOB, "triage", "stats")  # arrives while the flood is still queued
        cb = await fake.callback(inter)
        assert cb.json["type"] == 4
        await e.settle(150)
        assert e.client.intake.handled == 150 and store.count_flags(SERVER) == 15
    finally:
        await stop_client(e)
        store.close()


# ---- decisions: precision from reviews in /triage stats ------------------------------------------
async def test_stats_shows_precision_from_reviews(env):
    _, alert, fid = await flag_one(env, "bokep 1")
    await click(env, BOB, alert, "confirm", fid)
    _, alert2, fid2 = await flag_one(env, "bokep 2", author=DAVE)
    await click(env, BOB, alert2, "dismiss", fid2)
    await wait_until(lambda: env.store.flag(SERVER, fid2).status == "dismissed")
    kind, text = await reply_of(env, await env.fake.slash(BOB, "triage", "stats"))
    assert "Precision from 2 reviews: sexual 50% of 2" in text
    assert "sexual: not enough decisions yet (2 of 30)" in text and "racial: not enough decisions yet (0 of 30)" in text
