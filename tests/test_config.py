import json
from pathlib import Path

import pytest

from bot.config import ConfigError, ServerSettings, load_settings, parse_settings

REPO = Path(__file__).resolve().parents[1]


def test_example_config_loads():
    s = load_settings(REPO / "config.example.toml", env={})
    assert s.for_server("discord:123456789012345678").mod_channel
    assert s.defaults.retention_days == 90


@pytest.mark.parametrize("toml, key", [
    ("[defaults]\ndry_run = 'yes'\n", "defaults.dry_run"),
    ("[thresholds]\nsexual = 1.5\n", "thresholds.sexual"),
    ("[thresholds]\nviolence = 0.5\n", "thresholds.violence"),
    ("[servers.'discord:1']\nmod_chanel = '5'\n", 'servers."discord:1".mod_chanel'),
    ("[servers.'slack:1']\nmod_channel = '5'\n", 'servers."slack:1"'),
    ("[storage]\npath = 5\n", "storage.path"),
    ("[defaults]\nretention_days = -1\n", "defaults.retention_days"),
    ("[bogus]\n", "bogus"),
    ("thresholds = 3\n", "thresholds"),
    ("[limits]\nqueue_size = 0\n", "limits.queue_size"),
])
def test_bad_config_names_the_key(tmp_path, toml, key):
    p = tmp_path / "c.toml"
    p.write_text(toml)
    with pytest.raises(ConfigError) as e:
        load_settings(p, env={})
    assert key in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("content, fragment", [
    (b"[defaults\n", "not valid TOML"),
    (b"\xff\xfe\x00", "not UTF-8"),
])
def test_unparseable_config(tmp_path, content, fragment):
    p = tmp_path / "c.toml"
    p.write_bytes(content)
    with pytest.raises(ConfigError, match=fragment):
        load_settings(p, env={})


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "nope.toml", env={})


def test_secrets_and_api_bases_come_from_env():
    s = parse_settings({}, env={"DISCORD_TOKEN": "d", "TELEGRAM_TOKEN": "t", "TRIAGEBOT_DISCORD_API_BASE": "http://127.0.0.1:1/api/v10",
                                "TRIAGEBOT_DISCORD_GATEWAY": "ws://127.0.0.1:1", "TRIAGEBOT_TELEGRAM_BASE_URL": "http://127.0.0.1:2/bot",
                                "TRIAGEBOT_TELEGRAM_BASE_FILE_URL": "http://127.0.0.1:2/file/bot"})
    assert s.discord.token == "d" and s.telegram.token == "t"
    assert s.discord.api_base.startswith("http://127.0.0.1:1") and s.discord.gateway == "ws://127.0.0.1:1"
    assert s.telegram.base_url == "http://127.0.0.1:2/bot" and s.telegram.base_file_url == "http://127.0.0.1:2/file/bot"


def test_server_inherits_defaults_and_merges_thresholds():
    s = parse_settings({"defaults": {"dry_run": True, "thresholds": {"sexual": 0.8}},
                        "servers": {"telegram:-100": {"mod_chat": -200, "thresholds": {"racial": 0.9}}}}, env={})
    srv = s.for_server("telegram:-100")
    assert srv.dry_run and srv.mod_chat == "-200"
    assert dict(srv.thresholds) == {"sexual": 0.8, "racial": 0.9}
    assert s.for_server("telegram:-999") is s.defaults


def test_settings_are_frozen():
    s = parse_settings({}, env={})
    with pytest.raises(Exception):
        s.db_path = Path("x")  # type: ignore[misc]


@pytest.mark.parametrize("overrides", [
    {},
    {"mod_chat": "-100123", "dry_run": True},
    {"thresholds": {"sexual": 0.9, "racial": 0.3}, "exempt_users": ["1", "2"], "retention_days": 30},
    {"allow_channels": ["5"], "shared_bank": True, "auto_delete_threshold": 0.99},
])
def test_differences_round_trip(overrides):
    """What a server changed from a base, re-applied to the base, gives the same settings back."""
    base = ServerSettings().with_overrides({"thresholds": {"sexual": 0.6}})
    changed = base.with_overrides(overrides)
    diff = changed.differences(base)
    assert base.with_overrides(diff) == changed
    assert json.loads(json.dumps(diff)) == diff  # JSON-ready, as the store keeps it
