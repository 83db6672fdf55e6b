import json
from pathlib import Path

import pytest

from bot.config import ConfigError, ServerSettings, load_settings, parse_settings

REPO = Path(__file__).resolve().parents[1]


def test_example_config_loads():
    s = load_settings(REPO / "config.example.toml", env={})
    assert s.for_server("discord:123456789012345678").mod_channel
    assert s.defaults.retention_days == 90


@pytest.mark.parametrize(
    "toml, key",
    [
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
    ],
)
def test_bad_config_names_the_key(tmp_path, toml, key):
    p = tmp_path / "c.toml"
    p.write_text(toml)
    with pytest.raises(ConfigError) as e:
        load_settings(p, env={})
    assert key in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"[defaults\n", "not valid TOML"),
        (b"\xff\xfe\x00", "not UTF-8"),
    ],
)
def test_unparseable_config(tmp_path, content, fragment):
    p = tmp_path / "c.toml"
    p.write_bytes(content)
    with pytest.raises(ConfigError, match=fragment):
        load_settings(p, env={})


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "nope.toml", env={})


def test_secrets_and_api_bases_come_from_env():
    s = parse_settings(
        {},
        env={
            "DISCORD_TOKEN": "d",
            "TELEGRAM_TOKEN": "t",
            "TRIAGEBOT_DISCORD_API_BASE": "http://127.0.0.1:1/api/v10",
            "TRIAGEBOT_DISCORD_GATEWAY": "ws://127.0.0.1:1",
            "TRIAGEBOT_TELEGRAM_BASE_URL": "http://127.0.0.1:2/bot",
            "TRIAGEBOT_TELEGRAM_BASE_FILE_URL": "http://127.0.0.1:2/file/bot",
        },
    )
    assert s.discord.token == "d" and s.telegram.token == "t"
    assert s.discord.api_base.startswith("http://127.0.0.1:1") and s.discord.gateway == "ws://127.0.0.1:1"
    assert s.telegram.base_url == "http://127.0.0.1:2/bot" and s.telegram.base_file_url == "http://127.0.0.1:2/file/bot"


def test_server_inherits_defaults_and_merges_thresholds():
    s = parse_settings(
        {"defaults": {"dry_run": True, "thresholds": {"sexual": 0.8}}, "servers": {"telegram:-100": {"mod_chat": -200, "thresholds": {"racial": 0.9}}}}, env={}
    )
    srv = s.for_server("telegram:-100")
    assert srv.dry_run and srv.mod_chat == "-200"
    assert dict(srv.thresholds) == {"sexual": 0.8, "racial": 0.9}
    assert s.for_server("telegram:-999") is s.defaults


def test_settings_are_frozen():
    s = parse_settings({}, env={})
    with pytest.raises(Exception):
        s.db_path = Path("x")  # type: ignore[misc]


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"mod_chat": "-100123", "dry_run": True},
        {"thresholds": {"sexual": 0.9, "racial": 0.3}, "exempt_users": ["1", "2"], "retention_days": 30},
        {"allow_channels": ["5"], "shared_bank": True, "auto_delete_threshold": 0.99},
    ],
)
def test_differences_round_trip(overrides):
    """What a server changed from a base, re-applied to the base, gives the same settings back."""
    base = ServerSettings().with_overrides({"thresholds": {"sexual": 0.6}})
    changed = base.with_overrides(overrides)
    diff = changed.differences(base)
    assert base.with_overrides(diff) == changed
    assert json.loads(json.dumps(diff)) == diff  # JSON-ready, as the store keeps it


# -- ranges: every number, every key, the same rules at load and for /setup overrides -------------

HUGE = 10**40
NESTED = [[[[[1]]]]]

#: key, a good value, below range (None: no lower bound other than the type), above range.
SERVER_NUMBERS = [
    ("retention_days", 30, -1, 367),
    ("timeout_after_flags", 3, 0, 1001),
    ("timeout_window_minutes", 60, 0, 366 * 24 * 60 + 1),
    ("timeout_minutes", 10, 0, 28 * 24 * 60 + 1),
    ("report_rate_limit", 5, -1, 10_001),
    ("incident_window_minutes", 30, 0, 366 * 24 * 60 + 1),
    ("incident_escalate_count", 5, 0, 10_001),
    ("auto_delete_threshold", 0.9, -0.01, 1.01),
]
SERVER_BAD = [
    (key, case, value)
    for key, _, low, high in SERVER_NUMBERS
    for case, value in [
        ("wrong type", "10"),
        ("bool", True),
        ("below range", low),
        ("above range", high),
        ("huge int", HUGE),
        ("nested array", NESTED),
        ("table", {"a": 1}),
    ]
]
SERVER_BAD += [
    (key, case, value)
    for key in ("dry_run", "auto_delete", "auto_timeout", "exempt_bots", "shared_bank")
    for case, value in [("wrong type", "yes"), ("number", 1), ("huge int", HUGE), ("nested array", NESTED)]
]
SERVER_BAD += [
    (key, case, value)
    for key in ("mod_channel", "mod_chat")
    for case, value in [
        ("nested array", NESTED),
        ("huge int", HUGE),
        ("empty", ""),
        ("too long", "1" * 65),
        ("control char", "12\n3"),
        ("bool", False),
        ("float", 1.5),
    ]
]
SERVER_BAD += [
    (key, case, value)
    for key in ("allow_channels", "exempt_users")
    for case, value in [("scalar", "5"), ("nested array", [NESTED]), ("huge int", [HUGE]), ("too many", list(range(10_001))), ("table", [{"a": 1}])]
]


@pytest.mark.parametrize("key, case, value", SERVER_BAD, ids=[f"{k}-{c}" for k, c, _ in SERVER_BAD])
def test_server_setting_out_of_range_names_the_key(key, case, value):
    with pytest.raises(ConfigError) as e:
        parse_settings({"defaults": {key: value}}, env={})
    msg = str(e.value)
    assert msg.startswith(f"defaults.{key}") and "\n" not in msg and len(msg) < 200
    # the /setup path applies the same rules
    with pytest.raises(ConfigError) as e:
        ServerSettings().with_overrides({key: value}, "setup")
    assert str(e.value).startswith(f"setup.{key}")


@pytest.mark.parametrize("key, good, low, high", SERVER_NUMBERS)
def test_server_setting_bounds_are_inclusive(key, good, low, high):
    for value in (good, high - 1 if isinstance(high, int) else 1.0, low + 1 if isinstance(low, int) else 0.0):
        s = parse_settings({"servers": {"discord:1": {key: value}}}, env={})
        assert getattr(s.for_server("discord:1"), key) == value


@pytest.mark.parametrize(
    "limits, key",
    [
        ({"queue_size": 0}, "limits.queue_size"),
        ({"queue_size": 100_001}, "limits.queue_size"),
        ({"queue_size": HUGE}, "limits.queue_size"),
        ({"queue_size": NESTED}, "limits.queue_size"),
        ({"queue_size": "10"}, "limits.queue_size"),
        ({"max_attachment_bytes": 1023}, "limits.max_attachment_bytes"),
        ({"max_attachment_bytes": 25 * 1024 * 1024 + 1}, "limits.max_attachment_bytes"),
        ({"max_attachment_bytes": -(HUGE)}, "limits.max_attachment_bytes"),
        ({"max_attachment_bytes": [1]}, "limits.max_attachment_bytes"),
        ({"max_attachment_bytes": 1e6}, "limits.max_attachment_bytes"),
    ],
)
def test_limits_out_of_range(limits, key):
    with pytest.raises(ConfigError) as e:
        parse_settings({"limits": limits}, env={})
    assert str(e.value).startswith(key) and "\n" not in str(e.value)


@pytest.mark.parametrize(
    "data, key",
    [
        ({"thresholds": {"sexual": NESTED}}, "thresholds.sexual"),
        ({"thresholds": {"sexual": HUGE}}, "thresholds.sexual"),
        ({"thresholds": {"racial": -0.1}}, "thresholds.racial"),
        ({"thresholds": {"racial": "0.5"}}, "thresholds.racial"),
        ({"thresholds": {"racial": float("nan")}}, "thresholds.racial"),
        ({"thresholds": {"racial": float("inf")}}, "thresholds.racial"),
        ({"limits": {"queue_size": float("inf")}}, "limits.queue_size"),
        ({"thresholds": NESTED}, "thresholds"),
        ({"defaults": {"thresholds": {"sexual": 2}}}, "defaults.thresholds.sexual"),
        ({"storage": {"path": NESTED}}, "storage.path"),
        ({"storage": {"path": "a\0b"}}, "storage.path"),
        ({"storage": {"path": "x" * 5000}}, "storage.path"),
        ({"model": {"path": HUGE}}, "model.path"),
        ({"discord": {"api_base": NESTED}}, "discord.api_base"),
        ({"telegram": {"base_url": HUGE}}, "telegram.base_url"),
        ({"defaults": NESTED}, "defaults"),
        ({"servers": {"discord:1": NESTED}}, 'servers."discord:1"'),
    ],
)
def test_other_keys_reject_wrong_shapes(data, key):
    with pytest.raises(ConfigError) as e:
        parse_settings(data, env={})
    assert str(e.value).startswith(key) and "\n" not in str(e.value) and len(str(e.value)) < 200


@pytest.mark.parametrize("value, kept", [(0, 0), (1, 1), (366, 366)])
def test_retention_days_zero_means_forever_and_is_accepted(value, kept):
    assert parse_settings({"defaults": {"retention_days": value}}, env={}).defaults.retention_days == kept


@pytest.mark.parametrize(
    "toml, fragment",
    [
        ("[defaults]\nretention_days = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
        ("[defaults]\nretention_days = " + "[" * 50 + "1" + "]" * 50 + "\n", "defaults.retention_days: expected a whole number, got a list"),
        ("[defaults]\nx = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n", "nested too deeply"),
        ("[defaults]\nretention_days = " + "9" * 5000 + "\n", "not valid TOML"),
        ("[defaults]\nretention_days = 1" + "_000" * 10 + "\n", "from 0 to 366, got a 31-digit number"),
        ("\ufeff[defaults]\nretention_days = 9999\n", "defaults.retention_days"),
    ],
)
def test_hostile_toml_is_one_line(tmp_path, toml, fragment):
    p = tmp_path / "c.toml"
    p.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_settings(p, env={})
    assert fragment in str(e.value) and "\n" not in str(e.value) and len(str(e.value)) < 300


def test_storage_path_that_is_a_directory(tmp_path):
    (tmp_path / "db").mkdir()
    p = tmp_path / "c.toml"
    p.write_text('[storage]\npath = "db"\n')
    with pytest.raises(ConfigError, match="storage.path: .* is a directory"):
        load_settings(p, env={})
    with pytest.raises(ConfigError, match="TRIAGEBOT_DB: .* is a directory"):
        parse_settings({}, env={"TRIAGEBOT_DB": str(tmp_path)})


def test_config_path_that_is_a_directory(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        load_settings(tmp_path, env={})


def test_stored_overrides_that_became_invalid_are_dropped_not_fatal():
    """A /setup value stored before these ranges existed must not break every message of that server."""
    s = parse_settings({}, env={})
    eff = s.effective("discord:1", {"timeout_minutes": 10**9, "dry_run": True})
    assert eff.dry_run is True and eff.timeout_minutes == ServerSettings().timeout_minutes
