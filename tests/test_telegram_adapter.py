"""TelegramAdapter.execute against the fake Bot API: every platform answer becomes the right ActionResult,
and carrying out an action needs nothing but the action (no pipeline, store or settings)."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import pytest
from telegram.ext import ExtBot

from bot.models import Action
from bot.platforms.telegram_adapter import TelegramAdapter
from bot.platforms.telegram_limits import FloodLimiter
from tests.fake_telegram import FakeTelegram
from tests.test_telegram_render import alert as make_alert

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

GROUP, MODS = -1001234567890, -1009999999999
SERVER = f"telegram:{GROUP}"
PLATFORMS = Path(__file__).resolve().parents[1] / "bot" / "platforms"


@pytest.fixture
async def setup(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    fake = await FakeTelegram().start()
    bot = ExtBot(fake.token, base_url=fake.base_url, rate_limiter=FloodLimiter())
    await bot.initialize()
    try:
        yield fake, TelegramAdapter(bot, retries=1)
    finally:
        await bot.shutdown()
        await fake.stop()


def notify(ref: str | None = None, destination: str | None = str(MODS)) -> Action:
    alert = make_alert(server=SERVER, ref=ref)
    return Action(kind="notify", server=SERVER, flag_id=7, destination=destination, alert=alert, ref=ref)


def ping(mentions: tuple[str, ...]) -> Action:
    title = "Escalated incident: 12 messages <b>from</b> 4 accounts"
    alert = make_alert(server=SERVER, ref=f"{MODS}:41", title=title)
    return Action(kind="ping", server=SERVER, flag_id=7, destination=str(MODS), alert=alert, ref=f"{MODS}:41", mentions=mentions)


NOTICE = Action(kind="notice", server=SERVER, destination=str(MODS), text="Evidence anchor for x: head <b>ab</b>:3 @everyone")
DELETE = Action(kind="delete", server=SERVER, flag_id=7, channel_id=str(GROUP), message_id="55", user_id="300")
BAN = Action(kind="ban", server=SERVER, flag_id=7, user_id="300")
WARN = Action(kind="warn", server=SERVER, flag_id=7, user_id="300", reason="Jangan <b>begitu</b> @everyone", link="https://t.me/c/1234567890/55")


# (action, how the fake answers, ok, detail contains, retry_after, gone, calls expected)
@pytest.mark.parametrize(
    "action,setup_fake,ok,detail,retry,gone,methods",
    [
        (notify(), None, True, "posted", None, False, ["sendMessage"]),
        (notify(destination=None), None, False, "no moderators' chat linked", None, False, []),
        (notify(), ("kick",), False, "Forbidden", None, False, ["sendMessage"]),
        (notify(), ("fail", "sendMessage", 429, "Too Many Requests: retry after 30", {"retry_after": 30}), False, "wait 30 s", 30.0, False, ["sendMessage"]),
        (notify(), ("outage",), False, "NetworkError", None, False, ["sendMessage", "sendMessage"]),
        (notify(ref=f"{MODS}:41"), None, True, "edited", None, False, ["editMessageText"]),
        (
            notify(ref=f"{MODS}:41"),
            ("fail", "editMessageText", 400, "Bad Request: message to edit not found"),
            True,
            "posted",
            None,
            False,
            ["editMessageText", "sendMessage"],
        ),
        (
            notify(ref=f"{MODS}:41"),
            ("fail", "editMessageText", 400, "Bad Request: message is not modified"),
            True,
            "unchanged",
            None,
            False,
            ["editMessageText"],
        ),
        (ping(("100", "400")), None, True, "ping posted", None, False, ["sendMessage"]),
        (NOTICE, None, True, "notice posted", None, False, ["sendMessage"]),
        (replace(NOTICE, destination=None), None, False, "no moderators' chat linked", None, False, []),
        (NOTICE, ("fail", "sendMessage", 429, "Too Many Requests: retry after 7", {"retry_after": 7}), False, "wait 7 s", 7.0, False, ["sendMessage"]),
        (ping(()), None, True, "no escalation admins", None, False, []),
        (ping(("@everyone", "12<b>")), None, True, "no escalation admins", None, False, []),
        (ping(("100",)), ("kick",), False, "Forbidden", None, False, ["sendMessage"]),
        (DELETE, None, True, "deleted 1", None, False, ["deleteMessage"]),
        (DELETE, ("fail", "deleteMessage", 400, "Bad Request: message to delete not found"), True, "already", None, True, ["deleteMessage"]),
        (DELETE, ("fail", "deleteMessage", 400, "Bad Request: message can't be deleted"), False, "48 h", None, False, ["deleteMessage"]),
        (replace(DELETE, message_id="member:300"), None, False, "no Telegram message id", None, False, []),
        (BAN, None, True, "banned", None, False, ["banChatMember"]),
        (replace(BAN, user_id="-100777"), None, True, "channel banned", None, False, ["banChatSenderChat"]),
        (Action(kind="timeout", server=SERVER, user_id="-100777"), None, False, "channel", None, False, []),
        (Action(kind="nuke", server=SERVER), None, False, "unsupported", None, False, []),
        (Action(kind="warn", server=SERVER), None, False, "no member to warn", None, False, []),
        (Action(kind="warn", server=SERVER, user_id="-100777"), None, False, "no member to warn", None, False, []),
        (WARN, None, True, "sent privately", None, False, ["sendMessage"]),
        (WARN, ("blocked",), False, "not reached", None, False, ["sendMessage"]),
        (WARN, ("fail", "sendMessage", 403, "Forbidden: bot was blocked by the user"), False, "not reached", None, False, ["sendMessage"]),
        (WARN, ("fail", "sendMessage", 400, "Bad Request: chat not found"), False, "not reached", None, False, ["sendMessage"]),
        (WARN, ("fail", "sendMessage", 429, "Too Many Requests: retry after 5", {"retry_after": 5}), False, "wait 5 s", 5.0, False, ["sendMessage"]),
    ],
)
async def test_execute_turns_every_answer_into_an_action_result(setup, action, setup_fake, ok, detail, retry, gone, methods):
    fake, adapter = setup
    if setup_fake and setup_fake[0] == "kick":
        fake.kicked.add(MODS)
    elif setup_fake and setup_fake[0] == "blocked":
        fake.blocked_private.add(300)
    elif setup_fake and setup_fake[0] == "outage":
        fake.outage(30)
    elif setup_fake:
        fake.fail[setup_fake[1]] = tuple(setup_fake[2:])
        fake.fail_times[setup_fake[1]] = 1
    result = await adapter.execute(action)
    assert (result.ok, result.retry_after, result.gone) == (ok, retry, gone), result
    assert detail in result.detail
    assert [c.method for c in fake.calls if c.method not in ("getMe",)] == methods
    if result.ok and action.kind == "notify":
        assert result.ref and result.ref.startswith(f"{MODS}:")


async def test_a_ping_mentions_only_the_configured_admins_and_replies_to_the_alert(setup):
    fake, adapter = setup
    result = await adapter.execute(ping(("100", "x<y", "400")))
    [call] = fake.calls_of("sendMessage")
    text = call.params["text"]
    assert result.ok and text.count("tg://user?id=") == 2 and 'tg://user?id=100"' in text and 'tg://user?id=400"' in text
    assert "&lt;b&gt;from&lt;/b&gt;" in text and "x<y" not in text
    assert call.params["reply_parameters"]["message_id"] == 41


async def test_a_notice_is_plain_text(setup):
    fake, adapter = setup
    assert (await adapter.execute(NOTICE)).ok
    [call] = fake.calls_of("sendMessage")
    assert call.params["text"] == NOTICE.text and "parse_mode" not in call.params


async def test_a_migrated_moderators_chat_is_followed_without_settings(setup):
    fake, adapter = setup
    new_id = -1008888888888
    fake.fail["sendMessage"] = (400, "Bad Request: group chat was upgraded to a supergroup chat", {"migrate_to_chat_id": new_id})
    fake.fail_times["sendMessage"] = 1
    first = await adapter.execute(notify())
    second = await adapter.execute(notify())  # remembered: straight to the new chat
    assert first.ok and second.ok and first.ref.startswith(f"{new_id}:")
    assert [int(c.params["chat_id"]) for c in fake.calls_of("sendMessage")] == [MODS, new_id, new_id]


@pytest.mark.parametrize(
    "reason, title, link, expect_in",
    [
        (
            "Jangan <b>begitu</b> @everyone",
            "Sari's <i>fans</i>",
            "https://t.me/c/1/55",
            ["Jangan <b>begitu</b> @everyone", "— Sari's <i>fans</i>", "https://t.me/c/1/55"],
        ),
        ("", None, None, ["A moderator warned you"]),
        ("x" * 10000, "G", "https://t.me/c/1/9", ["xxx…", "— G"]),
        ("Awas, ini peringatan terakhir 🙏", "Grup", None, ["Awas, ini peringatan terakhir 🙏\n\n— Grup"]),
    ],
)
async def test_a_warning_is_plain_text_to_the_member_with_group_and_link(setup, reason, title, link, expect_in):
    fake, adapter = setup
    if title:
        adapter.seen.titles[str(GROUP)] = title
    result = await adapter.execute(replace(WARN, reason=reason, link=link))
    assert result.ok, result
    [call] = fake.calls_of("sendMessage")
    assert int(call.params["chat_id"]) == 300 and "parse_mode" not in call.params and "reply_markup" not in call.params
    assert len(call.params["text"]) <= 4000 and all(x in call.params["text"] for x in expect_in)


def test_the_adapter_needs_only_the_action():
    """No pipeline, store or settings in telegram_adapter.py: an action carries what it needs."""
    tree = ast.parse((PLATFORMS / "telegram_adapter.py").read_text(encoding="utf-8"))
    names = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)} | {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert not names & {"pipeline", "store", "server_settings", "settings"}
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"bot.pipeline", "bot.store", "bot.config", "bot.platforms.telegram_handlers", "bot.platforms.telegram_bot"}


def test_telegram_modules_have_no_import_circle():
    graph = {}
    for path in PLATFORMS.glob("telegram_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[path.stem] = {
            n.module.rsplit(".", 1)[-1] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("bot.platforms.telegram_")
        }

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})) for nxt in graph.get(start, ()))

    assert {"telegram_events", "telegram_adapter", "telegram_bot", "telegram_handlers"} <= set(graph)
    assert not [m for m in graph if reaches(m, m, {m})]
