"""Slash commands are registered only when the command set changed (hash in the database), or when forced."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.pipeline import Pipeline
from bot.platforms import discord_bot
from bot.store import Store
from tests.conftest import KeywordDetector, StandInImageScanner
from tests.fake_discord import APP_ID, FakeDiscord
from tests.test_discord_bot import make_settings

SYNC = rf"^/applications/{APP_ID}/commands$"


async def _start_and_stop(fake: FakeDiscord, store: Store, tmp_path: Path, force: bool) -> int:
    """One bot start against `store`; returns how many times it registered the command set."""
    before = len(fake.find("PUT", SYNC))
    settings = make_settings(tmp_path, fake)
    pipeline = Pipeline(settings, store, text_detectors=[KeywordDetector({})], image_scanner=StandInImageScanner())
    discord_bot.point_at(settings)
    client = discord_bot.build_bot(pipeline, settings, guild_ready_timeout=0.05, force_sync=force)
    task = asyncio.create_task(client.start(settings.discord.token))
    try:
        await asyncio.wait_for(client.wait_until_ready(), 10)
    finally:
        await client.close()
        await asyncio.wait_for(task, 10)
        pipeline.executor.shutdown(wait=False)
    return len(fake.find("PUT", SYNC)) - before


@pytest.fixture
async def fake():
    f = await FakeDiscord().start()
    yield f
    await f.stop()


@pytest.mark.parametrize(
    "stored, force, expected_syncs",
    [
        (None, False, 1),  # a fresh database: register
        ("same", False, 0),  # unchanged since the last registration: nothing to do
        ("same", True, 1),  # --sync-commands
        ("0" * 64, False, 1),  # the command set changed (another hash stored)
        ("", False, 1),
    ],
)
async def test_sync_only_when_changed_or_forced(tmp_path: Path, fake: FakeDiscord, stored: str | None, force: bool, expected_syncs: int) -> None:
    with Store.open(tmp_path / "t.db") as store:
        if stored == "same":
            assert await _start_and_stop(fake, store, tmp_path, force=False) == 1
        elif stored is not None:
            store.set_state(f"discord:commands:{APP_ID}", stored)
        assert await _start_and_stop(fake, store, tmp_path, force=force) == expected_syncs
        assert store.get_state(f"discord:commands:{APP_ID}") not in (None, "", "0" * 64)


async def test_failed_sync_is_retried_next_start(tmp_path: Path, fake: FakeDiscord) -> None:
    with Store.open(tmp_path / "t.db") as store:
        fake.fail("PUT", SYNC, status=403, message="Missing Access")  # e.g. no applications.commands scope
        await _start_and_stop(fake, store, tmp_path, force=False)
        assert store.get_state(f"discord:commands:{APP_ID}") is None  # not recorded as registered
        fake.failures.clear()
        assert await _start_and_stop(fake, store, tmp_path, force=False) == 1


def test_command_hash_is_stable_and_sensitive_to_the_command_set(tmp_path: Path) -> None:
    from bot.config import Settings

    settings = Settings(db_path=tmp_path / "t.db")
    with Store.open(tmp_path / "t.db") as store:
        pipeline = Pipeline(settings, store, text_detectors=[KeywordDetector({})])
        a = discord_bot.TriageBot(pipeline, settings)
        b = discord_bot.TriageBot(pipeline, settings)
        assert discord_bot.command_set_hash(a.tree) == discord_bot.command_set_hash(b.tree)
        b.tree.remove_command("report")
        assert discord_bot.command_set_hash(a.tree) != discord_bot.command_set_hash(b.tree)
        pipeline.executor.shutdown(wait=False)


def test_run_has_a_sync_commands_flag() -> None:
    from click.testing import CliRunner

    from bot.cli import main

    out = CliRunner().invoke(main, ["run", "--help"]).output
    assert "--sync-commands" in out
