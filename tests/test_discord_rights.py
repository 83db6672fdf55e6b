"""Buttons respect Discord's role hierarchy (as Red's is_allowed_by_hierarchy): the real client vs the fake."""

from __future__ import annotations

import re

import pytest

from tests.fake_discord import BOB, CAROL, DAVE, ERIN, FRANK, GENERAL, GUILD, MALLORY
from tests.test_discord_bot import SERVER, click, env, fake, flag_one  # noqa: F401  (fixtures)

EFFECT = {
    "delete": ("DELETE", rf"^/channels/{GENERAL}/messages/"),
    "timeout": ("PATCH", rf"^/guilds/{GUILD}/members/"),
    "ban": ("PUT", rf"^/guilds/{GUILD}/bans/"),
}
VALUES = {"timeout": ["600"]}


@pytest.mark.parametrize("action", ["delete", "timeout", "ban"])
@pytest.mark.parametrize(
    "moderator,author,refused_because",
    [
        (BOB, MALLORY, None),  # moderator above a plain member
        (CAROL, MALLORY, None),  # the owner
        (BOB, ERIN, "Your top role is not above"),  # the target outranks the moderator
        (CAROL, FRANK, "My top role is not above"),  # the moderator may, but the bot's role is lower
        (BOB, CAROL, "owner can never be a target"),  # the owner is never a target
        (BOB, BOB, "yourself"),
    ],
)
async def test_hierarchy_decides_who_may_act_on_whom(env, action, moderator, author, refused_because):
    payload, alert, flag_id = await flag_one(env, "kamu bokep", author=author)
    inter, cb, start = await click(env, moderator, alert, action, flag_id, values=VALUES.get(action))
    follow = await env.fake.followup(inter)
    assert follow.json["flags"] & 64  # ephemeral either way
    method, path = EFFECT[action]
    target = payload["id"] if action == "delete" else str(author)
    done = [c for c in env.fake.calls[start:] if c.method == method and re.search(path + target + "$", c.path)]
    if refused_because is None:
        assert done and "Not done" not in follow.json["content"]
        assert [a for a in env.store.actions_for(SERVER, flag_id) if a["kind"] == action][0]["status"] == "ok"
    else:
        assert refused_because in follow.json["content"] and done == []
        assert [a for a in env.store.actions_for(SERVER, flag_id) if a["kind"] == action] == []


async def test_target_is_fetched_over_rest_because_the_members_intent_is_off(env):
    assert not env.client.intents.members
    _, alert, flag_id = await flag_one(env, "bokep", author=MALLORY)
    inter, _, start = await click(env, BOB, alert, "ban", flag_id)
    await env.fake.followup(inter)
    assert env.fake.find("GET", rf"^/guilds/{GUILD}/members/{MALLORY}$")


async def test_member_who_left_can_still_be_banned(env):
    env.fake.fail("GET", rf"^/guilds/{GUILD}/members/{DAVE}$", status=404, message="Unknown Member")
    _, alert, flag_id = await flag_one(env, "bokep", author=DAVE)
    inter, _, _ = await click(env, BOB, alert, "ban", flag_id)
    follow = await env.fake.followup(inter)
    assert "Done" in follow.json["content"] and env.fake.find("PUT", rf"^/guilds/{GUILD}/bans/{DAVE}$")


@pytest.mark.parametrize("action", ["confirm", "dismiss"])
async def test_reviews_do_not_need_to_outrank_the_author(env, action):
    _, alert, flag_id = await flag_one(env, "bokep", author=ERIN)
    inter, _, _ = await click(env, BOB, alert, action, flag_id)
    await env.fake.followup(inter)
    assert env.store.flag(SERVER, flag_id).status == f"{action}ed".replace("ee", "e")
