"""The moderator's toolkit on Discord (issue 16): Warn, /triage member, /triage note, /unprotect, and answers in
the member's language. The real discord.py client against the fake Discord in tests/fake_discord.py."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot import i18n
from bot.platforms.discord_commands import note_subject
from bot.text_fit import fit_lines
from tests.fake_discord import ALICE, APP_ID, BOB, DAVE, ERIN, GENERAL, GUILD, MALLORY, MODQ, user
from tests.test_discord_bot import SERVER, alert_embed, click, env, fake, flag_one, wait_until  # noqa: F401

HOSTILE = "@everyone **bold** <@301> ||spoiler|| `code`"


def field(embed: dict, name: str) -> str:
    return next((f["value"] for f in embed["fields"] if f["name"] == name), "")


def last_alert_edit(env, alert: dict) -> dict:
    """The alert's embed as last edited (an empty one until the delivery worker edits it)."""
    edits = env.fake.find("PATCH", rf"^/channels/{MODQ}/messages/{alert['id']}$")
    return alert_embed(edits[-1]) if edits else {"fields": []}


def dm_opens(env, uid: int) -> list:
    """Requests to open a DM channel with `uid` (discord.py sends the id as a string or a number)."""
    return [c for c in env.fake.find("POST", r"^/users/@me/channels$") if str(c.json.get("recipient_id")) == str(uid)]


# ---- Warn ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, "A moderator warned you"),  # the built-in text, English server
        ({"language": "id"}, "Moderator memperingatkanmu"),  # the built-in text, Indonesian server
        ({"warning_message": "Jangan kirim itu lagi. " + HOSTILE}, "Jangan kirim itu lagi."),  # the server's own text
    ],
    indirect=["env"],
)
async def test_warn_button_dms_the_author_and_the_alert_shows_it(env, expected):
    payload, alert, flag_id = await flag_one(env)
    inter, cb, start = await click(env, BOB, alert, "warn", flag_id)
    follow = await env.fake.followup(inter)
    assert follow.json["flags"] & 64 and "Warned" in follow.json["content"]
    assert dm_opens(env, MALLORY)
    [dm] = env.fake.dms_to(MALLORY)
    assert dm.status == 200 and expected in dm.json["content"]
    assert "Creator community" in dm.json["content"]  # which server it comes from
    assert f"https://discord.com/channels/{GUILD}/{GENERAL}/{payload['id']}" in dm.json["content"]
    assert dm.json["allowed_mentions"] == {"parse": []}  # a template with @everyone pings nobody
    [act] = [a for a in env.store.actions_for(SERVER, flag_id) if a["kind"] == "warn"]
    assert act["status"] == "ok" and act["actor"] == str(BOB) and act["target_user"] == str(MALLORY)
    lang = "id" if expected.startswith("Moderator") else "en"  # the alert is in the server's language
    actions = i18n.text("dc.field.actions", lang)
    await wait_until(lambda: "warn" in field(last_alert_edit(env, alert), actions))
    assert i18n.text("dc.action_line", lang, kind="warn", actor=f"<@{BOB}>", status="ok", detail="") in field(last_alert_edit(env, alert), actions)


async def test_warn_to_a_member_with_closed_dms_is_reported_not_raised(env):
    env.fake.refuse_dms(MALLORY)
    _, alert, flag_id = await flag_one(env)
    inter, _, _ = await click(env, BOB, alert, "warn", flag_id)
    follow = await env.fake.followup(inter)
    assert "Not warned: the member does not accept DMs" in follow.json["content"]
    [dm] = env.fake.dms_to(MALLORY)
    assert dm.status == 403
    [act] = [a for a in env.store.actions_for(SERVER, flag_id) if a["kind"] == "warn"]
    assert act["status"] != "ok" and "does not accept DMs" in act["detail"]
    await wait_until(lambda: "does not accept DMs" in field(last_alert_edit(env, alert), "Actions"))
    assert env.store.flag(SERVER, flag_id).status == "pending"


@pytest.mark.parametrize("status", [403, 404])
async def test_warn_that_discord_refuses_otherwise_tells_the_moderators(env, status):
    env.fake.fail("POST", r"^/users/@me/channels$", status, "Nope <@301> **x**")
    _, alert, flag_id = await flag_one(env)
    start = len(env.fake.calls)
    inter, _, _ = await click(env, BOB, alert, "warn", flag_id)
    assert "Not warned" in (await env.fake.followup(inter, timeout=15)).json["content"]
    [act] = [a for a in env.store.actions_for(SERVER, flag_id) if a["kind"] == "warn"]
    assert act["status"] != "ok" and str(status) in act["detail"]
    if status == 403:  # a permission problem (not closed DMs): a notice in the mod channel, escaped
        notice = await env.fake.wait_call("POST", rf"^/channels/{MODQ}/messages$", start=start)
        assert "Could not warn" in notice.json["content"] and "<@301>" not in notice.json["content"]
        assert notice.json["allowed_mentions"] == {"parse": []}


@pytest.mark.parametrize("env", [{"dry_run": True}], indirect=True)
async def test_warn_in_dry_run_is_logged_not_sent(env):
    _, alert, flag_id = await flag_one(env)
    inter, _, _ = await click(env, BOB, alert, "warn", flag_id)
    assert "Dry run" in (await env.fake.followup(inter)).json["content"]
    assert env.fake.find("POST", r"^/users/@me/channels$") == [] and env.fake.dms_to(MALLORY) == []
    [act] = [a for a in env.store.actions_for(SERVER, flag_id) if a["kind"] == "warn"]
    assert act["status"] == "dry-run"


@pytest.mark.parametrize(
    "who, author, refused, locale",
    [
        (ALICE, MALLORY, "Manage Messages", "en-US"),  # a plain member may not warn
        (ALICE, MALLORY, "Kamu perlu izin **Kelola Pesan** untuk ini.", "id"),  # in her Discord language
        (DAVE, MALLORY, "Manage Messages", "en-US"),
        (BOB, ERIN, "Your top role is not above", "en-US"),  # the hierarchy applies as for the other member actions
        (BOB, ERIN, "Peran teratasmu tidak lebih tinggi", "id"),
        (BOB, BOB, "yourself", "en-US"),
    ],
)
async def test_warn_is_refused_without_rights_or_rank(env, who, author, refused, locale):
    _, alert, flag_id = await flag_one(env, "kamu bokep", author=author)
    inter = await env.fake.click(who, int(alert["id"]), f"tb:warn:{flag_id}", locale=locale)
    cb = await env.fake.callback(inter)
    text = cb.json["data"]["content"] if cb.json["type"] == 4 else (await env.fake.followup(inter)).json["content"]
    assert refused in text
    await asyncio.sleep(0.1)
    assert env.fake.find("POST", r"^/users/@me/channels$") == []
    assert [a for a in env.store.actions_for(SERVER, flag_id) if a["kind"] == "warn"] == []


async def test_warn_from_the_incident_pager_warns_that_items_author(env):
    from tests.test_discord_incidents import pile_on, press, ids_of

    payloads, incident_id, alert = await pile_on(env, authors=(MALLORY, DAVE))
    inter, cb, _ = await press(env, BOB, alert, "items", incident_id)
    dave_flag = env.store.find_flag(SERVER, str(GENERAL), payloads[1]["id"])
    assert f"tb:warn:{dave_flag}" in ids_of(cb)
    page = env.fake._bot_message(MODQ, cb.json["data"])
    env.fake.messages[int(page["id"])] = page
    click_inter = await env.fake.click(BOB, int(page["id"]), f"tb:warn:{dave_flag}")
    await env.fake.callback(click_inter)
    assert "Warned" in (await env.fake.followup(click_inter)).json["content"]
    assert len(env.fake.dms_to(DAVE)) == 1 and env.fake.dms_to(MALLORY) == []


# ---- /triage member ---------------------------------------------------------------------------------
def user_option(uid: int) -> tuple[dict, dict]:
    return {"user": ("user", uid)}, {"users": {str(uid): user(uid)}}


async def member_history_reply(env, who: int, uid: int, locale: str = "en-US") -> dict:
    options, resolved = user_option(uid)
    inter = await env.fake.slash(who, "triage", "member", options=options, resolved=resolved, locale=locale)
    return (await env.fake.callback(inter)).json


@pytest.mark.parametrize(
    "flags, excerpt",
    [
        (0, ""),  # nobody has anything against them
        (2, "kamu bokep"),
        (3, "dasar bokep " + HOSTILE),  # hostile text in the history is shown, never rendered
        (25, "bokep " + "x" * 300),  # huge: cut at whole lines to fit one message
    ],
)
async def test_member_history_is_ephemeral_escaped_and_fits(env, flags, excerpt):
    for i in range(flags):
        await flag_one(env, f"{excerpt} {i}")
    cb = await member_history_reply(env, BOB, MALLORY)
    data = cb["data"]
    assert cb["type"] == 4 and data["flags"] & 64 and data["allowed_mentions"] == {"parse": []}
    content = data["content"]
    assert len(content) <= 2000 and str(MALLORY) in content
    assert i18n.plural("history.flags", flags) in content if flags else "no earlier flags" in content
    assert "<@301>" not in content and "**bold**" not in content and "@everyone" not in content.replace("@\u200beveryone", "")
    if flags > 20:
        assert content.rstrip().endswith("more lines")


@pytest.mark.parametrize("locale, lang", [("en-US", "en"), ("id", "id")])
async def test_member_history_shows_actions_and_notes(env, locale, lang):
    _, alert, flag_id = await flag_one(env)
    inter, _, _ = await click(env, BOB, alert, "delete", flag_id)
    await env.fake.followup(inter)
    env.pipeline.note(SERVER, "member", str(MALLORY), str(BOB), "sudah diperingatkan lewat DM")
    content = (await member_history_reply(env, BOB, MALLORY, locale))["data"]["content"]
    assert "delete" in content and f"#{flag_id}" in content and "sudah diperingatkan lewat DM" in content
    assert i18n.text("history.notes_head", lang) in content and i18n.text("history.actions_head", lang) in content
    # who acted, as a mention the reply does not ping (allowed_mentions none), in the moderator's language
    assert i18n.text("outcome.by", lang, actor=f"<@{BOB}>") in content


async def test_member_history_needs_manage_messages(env):
    cb = await member_history_reply(env, ALICE, MALLORY)
    assert "Manage Messages" in cb["data"]["content"]


# ---- /triage note -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "target, expected",
    [
        ("12", ("flag", "12")),
        ("#12", ("flag", "12")),
        ("flag 12", ("flag", "12")),
        ("Flag #007", ("flag", "7")),
        ("incident 3", ("incident", "3")),
        ("i3", ("incident", "3")),
        ("Incident #3", ("incident", "3")),
        ("<@304>", ("member", "304")),
        ("<@!304>", ("member", "304")),
        ("123456789012345678", ("member", "123456789012345678")),
        ("", None),
        ("abc", None),
        ("flag", None),
        ("@mallory", None),
        ("12; DROP TABLE notes", None),
        ("٣", None),
    ],
)
def test_note_targets(target, expected):
    assert note_subject(target) == expected


@pytest.mark.parametrize(
    "lines, limit, kept",
    [
        ([], 100, []),
        (["a"], 100, ["a"]),
        (["x" * 50] * 10, 200, ["x" * 50] * 3 + ["… 7 more lines"]),
        (["y" * 300], 100, ["… 1 more lines"]),
        (["z" * 49] * 4, 199, ["z" * 49] * 4),  # exactly fits: nothing cut, no "more" line
    ],
)
def test_fit_lines_keeps_whole_lines(lines, limit, kept):
    out = fit_lines(lines, limit)
    assert out.split("\n") == kept if kept else out == ""
    assert len(out) <= limit


async def test_note_on_a_flag_shows_on_its_alert_escaped(env):
    _, alert, flag_id = await flag_one(env)
    inter = await env.fake.slash(BOB, "triage", "note", options={"target": f"#{flag_id}", "text": "sama orangnya " + HOSTILE})
    cb = (await env.fake.callback(inter)).json
    assert cb["data"]["flags"] & 64 and f"flag #{flag_id}" in cb["data"]["content"]
    await wait_until(lambda: "sama orangnya" in field(last_alert_edit(env, alert), "Notes"))
    notes = field(last_alert_edit(env, alert), "Notes")
    assert notes.startswith(f"• <@{BOB}>: ") and "<@301>" not in notes and "**bold**" not in notes
    assert env.store.notes(SERVER, "flag", str(flag_id))[0]["author_id"] == str(BOB)


async def test_note_on_a_member_and_an_incident(env):
    from tests.test_discord_incidents import pile_on

    _, incident_id, _ = await pile_on(env, authors=(MALLORY, DAVE))
    for target, kind, sid in ((f"<@{MALLORY}>", "member", str(MALLORY)), (f"incident {incident_id}", "incident", str(incident_id))):
        inter = await env.fake.slash(BOB, "triage", "note", options={"target": target, "text": "raid dari server lain"})
        cb = (await env.fake.callback(inter)).json
        assert "Note added" in cb["data"]["content"] and cb["data"]["allowed_mentions"] == {"parse": []}
        assert [n["text"] for n in env.store.notes(SERVER, kind, sid)] == ["raid dari server lain"]


@pytest.mark.parametrize(
    "who, target, text, answer",
    [
        (BOB, "nonsense", "x", "Give a flag id"),
        (BOB, "#999", "x", "Not saved"),  # no such flag in this server
        (BOB, "incident 999", "x", "Not saved"),
        (BOB, "#1", "   ", "Not saved"),  # empty note
        (ALICE, "#1", "x", "Manage Messages"),  # members may not write notes
    ],
)
async def test_note_refusals(env, who, target, text, answer):
    await flag_one(env)
    inter = await env.fake.slash(who, "triage", "note", options={"target": target, "text": text})
    cb = (await env.fake.callback(inter)).json
    assert answer in cb["data"]["content"] and cb["data"]["flags"] & 64
    if who == ALICE or target != "#1":
        assert env.store.notes(SERVER, "flag", "1") == []


# ---- /unprotect ---------------------------------------------------------------------------------------
async def protect(env, who: int, image: bytes, note: str = "", locale: str = "en-US") -> str:
    att = env.fake.upload("me.png", "image/png", image)
    options = {"image": ("attachment", att["id"])}
    if note:
        options["note"] = note
    inter = await env.fake.slash(who, "protect", options=options, resolved={"attachments": {att["id"]: att}}, locale=locale)
    await env.fake.callback(inter)
    return (await env.fake.followup(inter)).json["content"]


async def unprotect_list(env, who: int, locale: str = "en-US") -> dict:
    inter = await env.fake.slash(who, "unprotect", locale=locale)
    return (await env.fake.callback(inter)).json["data"]


async def pick(env, who: int, listing: dict, value: str, locale: str = "en-US") -> str:
    msg = env.fake._bot_message(GENERAL, listing)
    env.fake.messages[int(msg["id"])] = msg
    inter = await env.fake.click(who, int(msg["id"]), "tbu:remove", values=[value], locale=locale)
    cb = (await env.fake.callback(inter)).json
    assert cb["data"]["flags"] & 64
    return cb["data"]["content"]


@pytest.mark.parametrize("locale, lang", [("en-US", "en"), ("id", "id")])
async def test_unprotect_lists_removes_and_reshares_stop_matching(env, locale, lang):
    kept, removed = b"\x89PNG kept photo", b"\x89PNG photo to withdraw"
    await protect(env, ALICE, kept, "foto profil lama")
    await protect(env, ALICE, removed, HOSTILE)
    listing = await unprotect_list(env, ALICE, locale)
    assert listing["flags"] & 64 and listing["allowed_mentions"] == {"parse": []}
    assert i18n.text("discord.unprotect.head", lang) in listing["content"]
    assert "foto profil lama" in listing["content"] and "<@301>" not in listing["content"]
    [select] = [c for row in listing["components"] for c in row["components"]]
    entries = env.pipeline.protected_images(SERVER, str(ALICE))
    assert [o["value"] for o in select["options"]] == [str(e["id"]) for e in entries]
    newest = str(entries[0]["id"])  # the hostile-note one, registered last
    assert await pick(env, ALICE, listing, newest, locale) == i18n.text("protect.removed", lang)
    assert [e["id"] for e in env.pipeline.protected_images(SERVER, str(ALICE))] == [entries[1]["id"]]
    payload = await env.fake.send_message(MALLORY, "lihat ini", attachments=(("x.png", "image/png", removed),))
    await env.settle()
    assert env.store.find_flag(SERVER, str(GENERAL), payload["id"]) is None  # withdrawn: no longer matched
    payload = await env.fake.send_message(MALLORY, "lihat ini", attachments=(("y.png", "image/png", kept),))
    await env.settle()
    assert env.store.find_flag(SERVER, str(GENERAL), payload["id"]) is not None  # the other one still protects her


@pytest.mark.parametrize("value", ["", "0", "999", "abc", "-1"])
async def test_unprotect_only_removes_your_own(env, value):
    await protect(env, ALICE, b"\x89PNG alice only")
    listing = await unprotect_list(env, ALICE)
    entry = str(env.pipeline.protected_images(SERVER, str(ALICE))[0]["id"])
    # Dave replays Alice's menu with her entry id, or anyone sends a forged value
    assert await pick(env, DAVE, listing, entry) == i18n.text("protect.not_found", "en")
    assert await pick(env, ALICE, listing, value or "0") == i18n.text("protect.not_found", "en")
    assert len(env.pipeline.protected_images(SERVER, str(ALICE))) == 1


@pytest.mark.parametrize("locale, lang", [("en-US", "en"), ("id", "id"), ("pt-BR", "en")])
async def test_unprotect_with_nothing_registered(env, locale, lang):
    listing = await unprotect_list(env, DAVE, locale)
    assert listing["content"] == i18n.text("discord.unprotect.none", lang) and listing["flags"] & 64
    assert not listing.get("components")


# ---- the member's language ---------------------------------------------------------------------------
@pytest.mark.parametrize("locale, lang", [("id", "id"), ("en-US", "en"), ("en-GB", "en"), ("ja", "en")])
async def test_report_and_protect_answer_in_the_members_language(env, locale, lang):
    target = await env.fake.send_message(MALLORY, "foto kamu jelek")
    await env.settle()
    link = f"https://discord.com/channels/{GUILD}/{GENERAL}/{target['id']}"
    inter = await env.fake.slash(ALICE, "report", options={"reason": "pelecehan", "message_link": link}, locale=locale)
    await env.fake.callback(inter)
    assert (await env.fake.followup(inter)).json["content"] == i18n.text("report.sent", lang)
    menu = await env.fake.context_menu(DAVE, int(target["id"]), locale=locale)
    modal = (await env.fake.callback(menu)).json["data"]
    assert modal["title"] == i18n.text("discord.report.modal_title", lang)
    assert i18n.text("discord.report.modal_label", lang) in json.dumps(modal, ensure_ascii=False)
    sub = await env.fake.submit_modal(DAVE, modal, "dia menghina", locale=locale)
    await env.fake.callback(sub)
    assert (await env.fake.followup(sub)).json["content"] == i18n.text("report.sent", lang)
    assert await protect(env, ALICE, b"\x89PNG mine", locale=locale) == i18n.text("protect.registered", lang)
    bad = await env.fake.slash(ALICE, "report", options={"reason": "x", "message_link": "https://example.com/x"}, locale=locale)
    assert (await env.fake.callback(bad)).json["data"]["content"] == i18n.text("discord.report.bad_link", lang)


@pytest.mark.parametrize("env", [{"language": "id"}], indirect=True)
async def test_server_language_applies_when_the_member_locale_is_unknown(env):
    att = env.fake.upload("notes.txt", "text/plain", b"hello")
    inter = await env.fake.slash(ALICE, "protect", options={"image": ("attachment", att["id"])}, resolved={"attachments": {att["id"]: att}}, locale="fr")
    assert (await env.fake.callback(inter)).json["data"]["content"] == i18n.text("discord.protect.not_image", "id")


# ---- the alert: the author's record -----------------------------------------------------------------------
async def test_alert_shows_the_authors_history(env):
    await flag_one(env, "bokep satu", channel_id=GENERAL)
    _, alert, flag_id = await flag_one(env, "bokep dua")
    assert "1 earlier flag" in field(alert["embeds"][0], "Author")


# ---- the warning DM's text (no Discord needed) ---------------------------------------------------------
@pytest.mark.parametrize(
    "reason, guild, link, must, length",
    [
        ("Stop it.", "Creator community", "https://discord.com/channels/1/2/3", ["Stop it.", "— Creator community", "/1/2/3"], None),
        ("Stop it.", None, None, ["Stop it."], len("Stop it.")),  # nothing to add
        ("", "Komunitas", None, ["A moderator warned you", "Komunitas"], None),  # empty reason: a generic line
        ("x" * 5000, "**Server** <@1>", "https://discord.com/channels/1/2/3", ["…", "\\*\\*Server"], 2000),  # huge: cut
        ("Jangan ulangi 🙏", "Komunitas Kreator", None, ["🙏"], None),
    ],
)
def test_warning_text(reason, guild, link, must, length):
    from bot.models import Action
    from bot.platforms.discord_adapter import warning_text

    text = warning_text(Action(kind="warn", server=f"discord:{GUILD}", reason=reason, link=link), guild)
    assert all(m in text for m in must) and len(text) <= 2000
    if length is not None:
        assert len(text) == length
    assert "<@1>" not in text


# ---- command descriptions in Indonesian ------------------------------------------------------------------
async def test_commands_are_registered_with_indonesian_descriptions_and_english_names(tmp_path, fake):
    from bot.pipeline import Pipeline
    from bot.platforms import discord_bot
    from bot.store import Store
    from tests.conftest import KeywordDetector
    from tests.test_discord_bot import KEYWORDS, make_settings

    store = Store.open(tmp_path / "t.db")
    settings = make_settings(tmp_path, fake)
    pipeline = Pipeline(settings, store, text_detectors=[KeywordDetector(KEYWORDS)])
    stop = asyncio.Event()
    task = asyncio.create_task(discord_bot.run(pipeline, settings, stop))
    try:
        await fake.wait_call("PUT", rf"^/applications/{APP_ID}/commands$", timeout=10)
        by_name = {c["name"]: c for c in fake.commands}
        assert {"triage", "report", "protect", "unprotect", "Report message"} <= set(by_name)
        for name in ("report", "protect", "unprotect"):
            assert by_name[name]["description_localizations"] == {"id": i18n.text(f"command.{name}", "id")}
            assert by_name[name]["description"] == i18n.text(f"command.{name}", "en")
            assert not by_name[name].get("name_localizations")  # names stay English
        subs = {o["name"]: o for o in by_name["triage"]["options"]}
        assert {"member", "note"} <= set(subs)
        assert subs["member"]["description_localizations"] == {"id": i18n.text("command.triage.member", "id")}
        reason = next(o for o in by_name["report"]["options"] if o["name"] == "reason")
        assert reason["description_localizations"] == {"id": i18n.text("command.report.reason", "id")}
        stop.set()
        await asyncio.wait_for(task, 10)
    finally:
        if not task.done():
            task.cancel()
        pipeline.executor.shutdown(wait=False)
        store.close()


def test_every_command_description_has_a_catalogue_entry():
    """The translator finds descriptions by their English text, so a reworded description must be reworded in
    en.toml too (and translated in id.toml); this keeps them in step."""
    from bot.platforms import discord_commands
    from bot.platforms.discord_unprotect import unprotect_command

    english = set(i18n.catalogue("en").values())
    group = discord_commands.TriageGroup()
    commands = [group, *group.commands, discord_commands.report_command, discord_commands.protect_command, unprotect_command]
    missing = [c.qualified_name for c in commands if c.description not in english]
    missing += [f"{c.qualified_name} {p.name}" for c in commands for p in getattr(c, "parameters", ()) if p.description not in english]
    assert not missing, missing


async def test_the_translator_covers_descriptions_and_the_menu_entry_but_not_command_names():
    from discord import Locale, app_commands
    from bot.platforms import discord_commands
    from bot.platforms.discord_i18n import CatalogueTranslator

    tr = CatalogueTranslator()
    loc = app_commands.TranslationContextLocation
    group = discord_commands.TriageGroup()
    setup = next(c for c in group.commands if c.name == "setup")
    menu = app_commands.ContextMenu(name="Report message", callback=discord_commands.report_message_menu)
    param = next(p for p in setup.parameters if p.name == "dry_run")
    cases = [
        ("Report message", loc.command_name, menu, Locale.indonesian, "Laporkan pesan"),
        ("Report message", loc.command_name, menu, Locale.british_english, None),
        (param.description, loc.parameter_description, param, Locale.indonesian, i18n.text("command.triage.setup.dry_run", "id")),
        ("setup", loc.command_name, setup, Locale.indonesian, None),  # names stay English
        ("Some text we never wrote", loc.command_description, setup, Locale.indonesian, None),
        ("", loc.command_description, setup, Locale.indonesian, None),
    ]
    for text, where, data, locale, expected in cases:
        got = await tr.translate(app_commands.locale_str(text), locale, app_commands.TranslationContext(where, data))
        assert got == expected, (text, where, locale)


@pytest.mark.parametrize("locale, lang", [("en-US", "en"), ("id", "id")])
@pytest.mark.parametrize("flags", [0, 1, 2])
async def test_triage_queue_answers_in_the_moderators_language(env, locale, lang, flags):
    for i in range(flags):
        await flag_one(env, f"kamu bokep {i}")
    inter = await env.fake.slash(BOB, "triage", "queue", locale=locale)
    content = (await env.fake.callback(inter)).json["data"]["content"]
    assert content.startswith(i18n.plural("dc.queue.waiting", flags, lang))
