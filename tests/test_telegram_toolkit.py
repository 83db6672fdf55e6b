"""The moderator's toolkit on Telegram (Warn, /member, /note, /unprotect, the command menu), with the real
python-telegram-bot client against the fake Bot API, in English and Indonesian."""

from __future__ import annotations

import pytest

from bot import i18n
from bot.platforms.telegram_adapter import NOT_REACHED
from bot.platforms.telegram_render import callback_data
from bot.platforms.telegram_toolkit import alert_subject, note_target, parse_remove, remove_data
from tests.fake_telegram import private, supergroup
from tests.test_telegram_bot import ADMIN, CREATOR, GROUP, MEMBER, MODS, SERVER, TROLL, Env, _flag_one, start_env, stop_env

G = supergroup(GROUP, "Sari's fans")
MOD_CHAT = supergroup(MODS, "Mods")
ID = {"language_code": "id"}


@pytest.fixture(params=["en", "id"])
async def env(request, tmp_path, monkeypatch):
    """The bot with the group's `language` set to English or Indonesian."""
    e = await start_env(tmp_path, monkeypatch, servers={SERVER: {"mod_chat": MODS, "language": request.param}})
    e.lang = request.param
    try:
        yield e
    finally:
        await stop_env(e)
    assert not e.errors, f"handler errors: {e.errors!r}"


def command(text: str) -> list[dict]:
    return [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]


async def send_command(env: Env, chat: dict, sender: dict, text: str, **kwargs) -> dict:
    return await env.fake.send(chat, sender, text, entities=command(text), **kwargs)


def sent_to(env: Env, chat_id: int) -> list:
    return [c for c in env.fake.calls_of("sendMessage") if int(c.params["chat_id"]) == chat_id]


async def reply_in(env: Env, chat_id: int, n: int = 1) -> str:
    calls = await env.fake.wait_for(lambda: sent_to(env, chat_id)[n - 1 :] or None, what=f"reply in {chat_id}")
    return calls[0].params["text"]


def t(env: Env, key: str, **values) -> str:
    return i18n.text(key, env.lang, **values)


# ---- pure parts ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, expected",
    [
        ("…\nFlag #12", ("flag", 12)),
        ("…\nTanda #12", ("flag", 12)),
        ("…\nIncident #3 · newest flag #40", ("incident", 3)),
        ("x\nInsiden #3 · tanda terbaru #40", ("incident", 3)),
        ("no numbers here", None),
        ("", None),
        (None, None),
        ("Flag #" + "9" * 13, None),
    ],
)
def test_an_alert_names_its_subject_in_its_last_line(text, expected):
    assert alert_subject(text) == expected


@pytest.mark.parametrize(
    "words, expected",
    [
        (["#12", "spam", "again"], ("flag", "12", ["spam", "again"])),
        (["12", "x"], ("flag", "12", ["x"])),
        (["flag", "7", "x"], ("flag", "7", ["x"])),
        (["tanda", "#7", "x"], ("flag", "7", ["x"])),
        (["i3", "coordinated"], ("incident", "3", ["coordinated"])),
        (["incident", "3"], ("incident", "3", [])),
        (["insiden", "3", "terkoordinasi"], ("incident", "3", ["terkoordinasi"])),
        (["member", "4567", "repeat"], ("member", "4567", ["repeat"])),
        (["ANGGOTA", "4567", "x"], ("member", "4567", ["x"])),
        (["member", "bob"], None),
        (["hello", "world"], None),
        ([], None),
        (["١٢", "x"], None),  # Arabic-Indic digits
        (["9" * 13, "x"], None),
    ],
)
def test_note_arguments_name_a_flag_an_incident_or_a_member(words, expected):
    assert note_target(words) == expected


@pytest.mark.parametrize(
    "data, expected",
    [
        (remove_data(GROUP, 5), (GROUP, 5)),
        ("tu:rm:-100:1", (-100, 1)),
        ("tu:rm:x:1", None),
        ("tu:rm:-100", None),
        ("tu:rm:-100:1:2", None),
        ("", None),
        (None, None),
        ("tu:rm:-100:" + "1" * 13, None),
        ("tb:confirm:-100:1", None),
    ],
)
def test_remove_buttons_carry_the_group_and_the_entry(data, expected):
    assert parse_remove(data) == expected


# ---- Warn ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("why", [None, "never started the bot", "blocked the bot"])
async def test_warn_button_sends_the_member_a_private_message_or_records_not_reached(env: Env, why):
    reachable = why is None
    if why == "never started the bot":
        env.fake.blocked_private.add(TROLL["id"])  # Telegram answers 403
    elif why == "blocked the bot":
        env.fake.blocked_by.add(TROLL["id"])
    fid, _ = await _flag_one(env)
    alert = sent_to(env, MODS)[0].params
    labels = [b["text"] for row in alert["reply_markup"]["inline_keyboard"] for b in row]
    assert "⚠️ " + t(env, "button.warn") in labels and "✅ " + t(env, "button.confirm") in labels
    await env.fake.press(
        {"message_id": 1, "date": 0, "chat": MOD_CHAT, "from": {"id": 999000, "is_bot": True, "first_name": "T"}, "text": "alert"},
        dict(ADMIN, **ID) if env.lang == "id" else ADMIN,
        callback_data("warn", GROUP, fid),
    )
    [answer] = await env.fake.wait_call("answerCallbackQuery")
    dm = [c for c in env.fake.calls_of("sendMessage") if int(c.params["chat_id"]) == TROLL["id"]]
    assert len(dm) == 1 and dm[0].params["text"].startswith(t(env, "warn.default")[:40])
    assert "parse_mode" not in dm[0].params and "Sari's fans" in dm[0].params["text"]
    await env.settle()
    [action] = [a for a in env.store.actions_for(SERVER, fid) if a["kind"] == "warn"]
    if reachable:
        assert answer.params["text"] == t(env, "reply.warn.sent") and action["status"] == "ok"
    else:
        assert answer.params["text"] == t(env, "reply.warn.not_sent", detail=NOT_REACHED)[:190]
        assert answer.params["show_alert"] is True
        assert action["status"] != "ok" and action["detail"] == NOT_REACHED
    edits = await env.fake.wait_call("editMessageText")
    assert "warn" in edits[-1].params["text"]  # the alert shows the warning and who gave it


async def test_warn_button_is_refused_to_a_non_admin(env: Env):
    fid, _ = await _flag_one(env)
    await env.fake.press({"message_id": 1, "date": 0, "chat": MOD_CHAT, "text": "alert"}, MEMBER, callback_data("warn", GROUP, fid))
    [answer] = await env.fake.wait_call("answerCallbackQuery")
    assert answer.params["text"] == t(env, "tg.refusal.not_admin")
    assert not [c for c in env.fake.calls_of("sendMessage") if int(c.params["chat_id"]) == TROLL["id"]]
    assert not [a for a in env.store.actions_for(SERVER, fid) if a["kind"] == "warn"]


# ---- /member ------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["id", "reply to alert", "reply to forward"])
async def test_member_shows_the_history_in_the_moderators_chat(env: Env, how):
    fid, _ = await _flag_one(env, "you slur <b>x</b>")
    env.pipeline.note(SERVER, "member", str(TROLL["id"]), str(ADMIN["id"]), "second account of @someone <i>")
    kwargs: dict = {}
    text = f"/member {TROLL['id']}" if how == "id" else "/member"
    if how == "reply to alert":
        kwargs["reply_to"] = {
            "message_id": 77,
            "date": 0,
            "chat": MOD_CHAT,
            "from": {"id": 999000, "is_bot": True, "first_name": "T"},
            "text": f"Flagged\n…\nFlag #{fid}",
        }
    elif how == "reply to forward":
        kwargs["reply_to"] = {
            "message_id": 78,
            "date": 0,
            "chat": MOD_CHAT,
            "from": ADMIN,
            "text": "you slur",
            "forward_origin": {"type": "user", "date": 0, "sender_user": TROLL},
        }
    await send_command(env, MOD_CHAT, ADMIN, text, **kwargs)
    reply = await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == MODS and "reply_markup" not in c.params)
    body = reply[-1].params["text"]
    assert "parse_mode" not in reply[-1].params  # plain text: hostile excerpts and notes cannot become markup
    assert t(env, "history.flags_head") in body and f"#{fid}" in body and "<b>x</b>" in body
    assert t(env, "history.notes_head") in body and "second account of @someone <i>" in body
    assert "Troll (@troll_x)" in body


@pytest.mark.parametrize("env", ["id"], indirect=True)
@pytest.mark.parametrize(
    "chat, sender, text, key",
    [
        (MOD_CHAT, MEMBER, "/member 300", "tg.admins_only"),
        (G, ADMIN, "/member 300", "tg.mod_chat_only"),
        (private(ADMIN), ADMIN, "/member 300", "tg.mod_chat_only"),
        (MOD_CHAT, ADMIN, "/member", "tg.member.usage"),
        (MOD_CHAT, ADMIN, "/member bob", "tg.member.usage"),
        (MOD_CHAT, ADMIN, f"/member 300 {GROUP + 1}", "tg.which_group"),
    ],
)
async def test_member_is_only_for_admins_in_the_moderators_chat(env: Env, chat, sender, text, key):
    await _flag_one(env)
    await send_command(env, chat, sender, text)
    body = await env.fake.wait_for(lambda: [c.params["text"] for c in sent_to(env, chat["id"]) if "reply_markup" not in c.params] or None, what="refusal")
    # before the group is known, the asker's language (none given here: English); after, the group's
    lang = "en" if key in ("tg.mod_chat_only", "tg.which_group") else env.lang
    assert body == [i18n.text(key, lang, groups=f"Sari's fans ({GROUP})")]


async def test_member_answers_in_the_moderators_own_language(env: Env):
    await _flag_one(env)
    await send_command(env, MOD_CHAT, dict(ADMIN, language_code="id-ID"), f"/member {TROLL['id']}")
    body = await reply_in(env, MODS, 2)
    assert "Tanda (terbaru dulu):" in body  # her Telegram language wins over the group's setting


@pytest.mark.parametrize("env", ["en"], indirect=True)
async def test_member_cuts_a_long_history_at_whole_lines(env: Env):
    await _flag_one(env, "you slur " + "x" * 3000)
    for i in range(60):
        env.pipeline.note(SERVER, "member", str(TROLL["id"]), str(ADMIN["id"]), f"note {i} " + "y" * 90)
    n = len(sent_to(env, MODS))
    await send_command(env, MOD_CHAT, ADMIN, f"/member {TROLL['id']}")
    body = await reply_in(env, MODS, n + 1)
    assert len(body) <= 4000 and body.splitlines()[-1] == t(env, "lines.more", n=int(body.splitlines()[-1].split()[1]))


# ---- /note --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, reply, kind, saved",
    [
        ("#{fid} looks coordinated with the other group", False, "flag", "looks coordinated with the other group"),
        ("member 300 Sudah diperingatkan dua kali — akun kedua?", False, "member", "Sudah diperingatkan dua kali — akun kedua?"),
        ('<b>seen before</b> =HYPERLINK("x")', True, "flag", '<b>seen before</b> =HYPERLINK("x")'),
        ("x" * 3000, True, "flag", "x" * 1000),
    ],
)
async def test_note_is_saved_confirmed_and_shown_on_the_alert(env: Env, args, reply, kind, saved):
    fid, _ = await _flag_one(env)
    kwargs: dict = {}
    if reply:
        kwargs["reply_to"] = {
            "message_id": 77,
            "date": 0,
            "chat": MOD_CHAT,
            "from": {"id": 999000, "is_bot": True, "first_name": "T"},
            "text": f"Flagged\nFlag #{fid}",
        }
    await send_command(env, MOD_CHAT, ADMIN, "/note " + args.format(fid=fid), **kwargs)
    subject = str(fid) if kind == "flag" else str(TROLL["id"])
    await env.fake.wait_for(
        lambda: [c for c in sent_to(env, MODS) if c.params["text"] == t(env, f"tg.note.added.{kind}", id=subject)] or None, what="note confirmation"
    )
    [note] = env.store.notes(SERVER, kind, subject)
    assert note["author_id"] == str(ADMIN["id"]) and note["text"] == saved
    if kind == "flag":  # the alert shows it, escaped
        await env.settle()
        edits = await env.fake.wait_call("editMessageText")
        assert "<b>seen" not in edits[-1].params["text"]
        assert (saved[:20].replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")) in edits[-1].params["text"]


@pytest.mark.parametrize("env", ["id"], indirect=True)
@pytest.mark.parametrize(
    "text, key",
    [
        ("/note", "tg.note.usage"),
        ("/note #1", "tg.note.usage"),
        ("/note hello there", "tg.note.usage"),
        ("/note #99999 x", "tg.note.not_saved"),
        ("/note i42 x", "tg.note.not_saved"),
    ],
)
async def test_note_without_a_subject_or_text_is_refused(env: Env, text, key):
    await _flag_one(env)
    await send_command(env, MOD_CHAT, ADMIN, text)
    body = await reply_in(env, MODS, 2)
    assert body.startswith(t(env, key, reason="")[:20])
    assert not env.store.member_history(SERVER, str(TROLL["id"])).notes


# ---- /unprotect ---------------------------------------------------------------------------------
async def _protect(env: Env, who: dict, data: bytes, note: str) -> int:
    outcome = await env.pipeline.protect(SERVER, data, registered_by=str(who["id"]), note=note)
    assert outcome.ok
    return outcome.entry_id


async def test_unprotect_lists_her_pictures_and_removes_one_so_reshares_stop_matching(env: Env):
    picture, other = b"PRIV" + b"\x07" * 3000, b"PRIV" + b"\x08" * 3000
    keep = await _protect(env, CREATOR, other, "pantai 2023")
    gone = await _protect(env, CREATOR, picture, "<b>holiday</b> @everyone")
    theirs = await _protect(env, MEMBER, b"PRIV" + b"\x09" * 3000, "not hers")
    her = dict(CREATOR, **ID) if env.lang == "id" else CREATOR
    await send_command(env, private(CREATOR), her, "/unprotect")
    [listing] = await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == CREATOR["id"])
    text = listing.params["text"]
    assert text.startswith(t(env, "tg.unprotect.head")[:30]) and listing.params["parse_mode"] == "HTML"
    assert "&lt;b&gt;holiday&lt;/b&gt; @everyone" in text and "pantai 2023" in text and "not hers" not in text
    datas = [b["callback_data"] for row in listing.params["reply_markup"]["inline_keyboard"] for b in row]
    assert datas == [remove_data(GROUP, gone), remove_data(GROUP, keep)]  # newest first
    # Someone else forging a press on her entry removes nothing.
    await env.fake.press({"message_id": 9, "date": 0, "chat": private(TROLL), "text": "x"}, TROLL, remove_data(GROUP, gone))
    [refused] = await env.fake.wait_call("answerCallbackQuery")
    assert refused.params["text"] == t(env, "protect.not_found")  # the group named in the button: its language
    # She removes it: gone from the list and from the bank.
    await env.fake.press({"message_id": listing.result["message_id"], "date": 0, "chat": private(CREATOR), "text": "x"}, her, remove_data(GROUP, gone))
    answers = await env.fake.wait_call("answerCallbackQuery", n=2)
    assert answers[1].params["text"] == t(env, "protect.removed")
    [edit] = await env.fake.wait_call("editMessageText", where=lambda c: int(c.params["chat_id"]) == CREATOR["id"])
    assert "holiday" not in edit.params["text"] and "pantai 2023" in edit.params["text"]
    assert {e["id"] for e in env.pipeline.protected_images(SERVER, str(CREATOR["id"]))} == {keep}
    assert {e["id"] for e in env.pipeline.protected_images(SERVER, str(MEMBER["id"]))} == {theirs}
    # A re-share of the removed picture is no longer flagged; the kept one still is.
    for i, data in enumerate((picture, other)):
        env.fake.add_file(f"re{i}", data)
        await env.fake.send(
            G, TROLL, caption="lol", photo=[{"file_id": f"re{i}", "file_unique_id": f"r{i}", "width": 60, "height": 80, "file_size": len(data)}]
        )
    await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == MODS)
    await env.settle()
    assert len(env.store.queue(SERVER)) == 1


@pytest.mark.parametrize(
    "chat, who, key",
    [
        (G, CREATOR, "tg.unprotect.private_only"),
        (private(TROLL), TROLL, "tg.unprotect.none"),
    ],
)
async def test_unprotect_outside_the_private_chat_or_with_nothing_registered(env: Env, chat, who, key):
    await _protect(env, CREATOR, b"PRIV" + b"\x05" * 3000, "mine")
    await send_command(env, chat, who, "/unprotect")
    body = await reply_in(env, chat["id"])
    # in the group, the group's language; in a private chat with nothing registered, her own (none given: English)
    assert body == i18n.text(key, env.lang if chat["id"] == GROUP else "en") and "mine" not in body


@pytest.mark.parametrize("env", ["id"], indirect=True)
async def test_unprotect_answers_in_her_telegram_language(env: Env):
    await _protect(env, CREATOR, b"PRIV" + b"\x06" * 3000, "")
    await send_command(env, private(CREATOR), dict(CREATOR, language_code="en-GB"), "/unprotect")
    body = await reply_in(env, CREATOR["id"])
    assert body.startswith("Pictures you registered") and "registered with /protect" in body  # whatever the group's language


# ---- the command menu ---------------------------------------------------------------------------
@pytest.mark.parametrize("env", ["en"], indirect=True)
async def test_commands_are_published_in_english_and_indonesian(env: Env):
    await env.handlers.publish_commands()
    calls = env.fake.calls_of("setMyCommands")
    by_lang = {c.params.get("language_code"): {x["command"]: x["description"] for x in c.params["commands"]} for c in calls}
    assert set(by_lang) == {None, "id"}
    assert set(by_lang[None]) == set(by_lang["id"]) >= {"report", "protect", "member", "note", "unprotect"}
    for name, english in by_lang[None].items():
        assert by_lang["id"][name] == i18n.catalogue("id").get(f"tg.command.{name}", english)
    assert by_lang["id"]["unprotect"] != by_lang[None]["unprotect"]


def test_every_published_command_has_both_descriptions():
    from bot.platforms.telegram_handlers import COMMANDS
    from bot.platforms.telegram_toolkit import TOOLKIT_COMMANDS

    for c in COMMANDS + TOOLKIT_COMMANDS:
        for lang in i18n.LANGUAGES:
            assert f"tg.command.{c.command}" in i18n.catalogue(lang), (c.command, lang)
        assert i18n.text(f"tg.command.{c.command}", "en") == c.description


# ---- replies to members and presses, in their language ----------------------------------------------
@pytest.mark.parametrize("code, lang", [(None, "en"), ("id", "id"), ("id-ID", "id"), ("en-GB", "en"), ("pt-br", "en")])
@pytest.mark.parametrize("env", ["en"], indirect=True)
async def test_help_and_report_answers_follow_the_members_telegram_language(env: Env, code, lang):
    me = dict(MEMBER, language_code=code) if code else MEMBER
    await send_command(env, private(MEMBER), me, "/help")
    assert await reply_in(env, MEMBER["id"]) == i18n.text("tg.help", lang)
    target = await env.fake.send(G, TROLL, "hello there")
    await send_command(env, G, me, "/report spam", reply_to=target)
    assert await reply_in(env, MEMBER["id"], 2) == i18n.text("report.sent", lang)


@pytest.mark.parametrize("env", ["id"], indirect=True)
async def test_button_answers_and_refusals_are_in_the_groups_language(env: Env):
    fid, _ = await _flag_one(env)
    env.fake.set_member(GROUP, ADMIN, "administrator", can_restrict_members=False)
    env.handlers.admins.forget()
    msg = {"message_id": 1, "date": 0, "chat": MOD_CHAT, "text": "alert"}
    await env.fake.press(msg, ADMIN, callback_data("ban", GROUP, fid))
    [refused] = await env.fake.wait_call("answerCallbackQuery")
    assert refused.params["text"] == i18n.text("tg.refusal.you_need", "id", right="Blokir Pengguna")
    await env.fake.press(msg, ADMIN, callback_data("confirm", GROUP, fid))
    answers = await env.fake.wait_call("answerCallbackQuery", n=2)
    assert answers[1].params["text"] == "Ditandai dikonfirmasi."


@pytest.mark.parametrize(
    "text, sender, key, values",
    [
        ("/setup dryrun on", ADMIN, "tg.setup.saved", {"thresholds": "DEFAULTS", "dry_run": "ON"}),
        ("/setup threshold sexual lots", ADMIN, "tg.setup.not_a_number", {"value": "'lots'"}),
        ("/setup dryrun maybe", ADMIN, "tg.setup.help", {}),
        ("/setup dryrun on", MEMBER, "tg.setup.admins_only", {}),
    ],
)
async def test_setup_replies_in_the_groups_language(env: Env, text, sender, key, values):
    values = {k: (t(env, "tg.setup.defaults") if v == "DEFAULTS" else t(env, "tg.on") if v == "ON" else v) for k, v in values.items()}
    await send_command(env, G, sender, text)
    body = await reply_in(env, GROUP)
    assert body.startswith(t(env, key, **values))


async def test_queue_lists_the_items_in_the_groups_language(env: Env):
    fid, _ = await _flag_one(env)
    n = len(sent_to(env, MODS))
    await send_command(env, MOD_CHAT, ADMIN, "/queue")
    body = await reply_in(env, MODS, n + 1)
    assert t(env, "tg.queue.open", n=1) in body and f"#{fid} · racial · {t(env, 'status.pending')} · Troll (@troll_x)" in body
