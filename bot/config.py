"""TOML + environment -> frozen Settings, loaded once; a bad key gives one line naming it."""
from __future__ import annotations

import dataclasses
import logging
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

log = logging.getLogger(__name__)

DEFAULT_DISCORD_API_BASE = "https://discord.com/api/v10"
DEFAULT_TELEGRAM_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_TELEGRAM_BASE_FILE_URL = "https://api.telegram.org/file/bot"


class ConfigError(ValueError):
    """A config problem, phrased as one line naming the key."""


@dataclass(frozen=True)
class ServerSettings:
    """Policy for one server; the `[defaults]` section, then `[servers."<platform>:<id>"]`, then /setup overrides."""

    thresholds: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    dry_run: bool = False
    mod_channel: str | None = None  # Discord mod-queue channel id
    mod_chat: str | None = None  # Telegram moderators' chat id
    allow_channels: frozenset[str] = frozenset()  # never flagged (e.g. a support channel)
    exempt_users: frozenset[str] = frozenset()
    exempt_bots: bool = True
    exempt_moderators: bool = True
    retention_days: int = 90
    auto_delete: bool = False
    auto_delete_threshold: float = 0.97
    auto_timeout: bool = False
    timeout_after_flags: int = 3
    timeout_window_minutes: int = 60
    timeout_minutes: int = 10
    report_rate_limit: int = 5  # reports per member per hour
    incident_window_minutes: int = 30
    incident_escalate_count: int = 5
    shared_bank: bool = False

    def with_overrides(self, overrides: Mapping[str, Any], where: str = "overrides") -> "ServerSettings":
        """A copy with validated overrides applied; `thresholds` merge per label."""
        values = _validate_server(overrides, where)
        if "thresholds" in values:
            merged = dict(self.thresholds)
            merged.update(values["thresholds"])
            values["thresholds"] = MappingProxyType(merged)
        return dataclasses.replace(self, **values)

    def differences(self, base: "ServerSettings") -> dict[str, Any]:
        """The overrides (JSON-ready) that turn `base` into these settings, e.g. to carry a group's
        settings, from the config file or /setup, over to the new id it gets on an upgrade."""
        out: dict[str, Any] = {}
        for name in _SERVER_FIELDS:
            mine = getattr(self, name)
            if mine == getattr(base, name):
                continue
            if name == "thresholds":
                mine = dict(mine)
            elif isinstance(mine, frozenset):
                mine = sorted(mine)
            out[name] = mine
        return out

    def threshold(self, label: str, fallback: Mapping[str, float]) -> float:
        if label in self.thresholds:
            return self.thresholds[label]
        return fallback.get(label, 0.5)


@dataclass(frozen=True)
class DiscordSettings:
    token: str | None = None
    api_base: str = DEFAULT_DISCORD_API_BASE
    gateway: str | None = None  # None = ask the API for the gateway URL as usual


@dataclass(frozen=True)
class TelegramSettings:
    token: str | None = None
    base_url: str = DEFAULT_TELEGRAM_BASE_URL
    base_file_url: str = DEFAULT_TELEGRAM_BASE_FILE_URL
    max_download_bytes: int = 10 * 1024 * 1024


@dataclass(frozen=True)
class HealthSettings:
    """The optional /healthz + /metrics HTTP endpoint (bot/health.py): off by default, localhost only."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 9464


@dataclass(frozen=True)
class Settings:
    db_path: Path = Path("triagebot.db")
    model_path: Path | None = None  # None = the shipped classifiers/resources/model.skops
    thresholds: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    defaults: ServerSettings = ServerSettings()
    servers: Mapping[str, ServerSettings] = field(default_factory=lambda: MappingProxyType({}))
    discord: DiscordSettings = DiscordSettings()
    telegram: TelegramSettings = TelegramSettings()
    max_attachment_bytes: int = 10 * 1024 * 1024
    queue_size: int = 1000  # bounded intake: adapters wait when it is full
    health: HealthSettings = HealthSettings()

    def for_server(self, key: str) -> ServerSettings:
        return self.servers.get(key, self.defaults)

    def effective(self, key: str, overrides: Mapping[str, Any]) -> ServerSettings:
        """The server's config with its stored runtime (/setup) overrides on top, as the bots apply it."""
        base = self.for_server(key)
        return base.with_overrides(overrides, f"stored settings of {key}") if overrides else base


_SERVER_FIELDS = {f.name: f for f in dataclasses.fields(ServerSettings)}


def _expect(value: Any, kind: str, where: str) -> Any:
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{where}: expected a whole number >= 0, got {value!r}")
        return value
    if kind == "prob":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
            raise ConfigError(f"{where}: expected a number between 0 and 1, got {value!r}")
        return float(value)
    if kind == "id":
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ConfigError(f"{where}: expected an id (string or number), got {value!r}")
        return str(value)
    if kind == "ids":
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list of ids, got {value!r}")
        return frozenset(_expect(v, "id", f"{where}[{i}]") for i, v in enumerate(value))
    if kind == "path":
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: expected a file path, got {value!r}")
        return Path(value).expanduser()
    if kind == "str":
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise AssertionError(kind)


_SERVER_KINDS = {
    "dry_run": "bool", "mod_channel": "id", "mod_chat": "id", "allow_channels": "ids",
    "exempt_users": "ids", "exempt_bots": "bool", "exempt_moderators": "bool",
    "retention_days": "int", "auto_delete": "bool", "auto_delete_threshold": "prob",
    "auto_timeout": "bool", "timeout_after_flags": "int", "timeout_window_minutes": "int",
    "timeout_minutes": "int", "report_rate_limit": "int", "incident_window_minutes": "int",
    "incident_escalate_count": "int", "shared_bank": "bool",
}
assert set(_SERVER_KINDS) | {"thresholds"} == set(_SERVER_FIELDS)


def validate_thresholds(raw: Any, where: str) -> dict[str, float]:
    from classifiers.base import LABELS

    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table of label = number, got {raw!r}")
    out: dict[str, float] = {}
    for label, value in raw.items():
        if label not in LABELS:
            raise ConfigError(f"{where}.{label}: unknown label (known: {', '.join(LABELS)})")
        out[label] = _expect(value, "prob", f"{where}.{label}")
    return out


def _validate_server(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a table, got {raw!r}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "thresholds":
            out[key] = MappingProxyType(validate_thresholds(value, f"{where}.thresholds"))
        elif key in _SERVER_KINDS:
            out[key] = _expect(value, _SERVER_KINDS[key], f"{where}.{key}")
        else:
            raise ConfigError(f"{where}.{key}: unknown key")
    return out


def _server_key_ok(key: str) -> bool:
    platform, _, ident = key.partition(":")
    return platform in ("discord", "telegram", "demo", "cli") and bool(ident)


def parse_settings(data: Mapping[str, Any], env: Mapping[str, str] | None = None, base_dir: Path | None = None) -> Settings:
    """Build Settings from parsed TOML plus environment (tokens and API addresses)."""
    env = os.environ if env is None else env
    known = {"storage", "model", "thresholds", "defaults", "servers", "discord", "telegram", "limits", "health"}
    for key in data:
        if key not in known:
            raise ConfigError(f"{key}: unknown section (known: {', '.join(sorted(known))})")

    def table(name: str) -> Mapping[str, Any]:
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: expected a table, got {value!r}")
        return value

    def only(name: str, allowed: set[str]) -> Mapping[str, Any]:
        t = table(name)
        for k in t:
            if k not in allowed:
                raise ConfigError(f"{name}.{k}: unknown key")
        return t

    storage = only("storage", {"path"})
    db_path = _expect(storage["path"], "path", "storage.path") if "path" in storage else Path("triagebot.db")
    if env.get("TRIAGEBOT_DB"):
        db_path = Path(env["TRIAGEBOT_DB"])
    model = only("model", {"path"})
    model_path = _expect(model["path"], "path", "model.path") if "path" in model else None
    if base_dir is not None:
        db_path = db_path if db_path.is_absolute() else base_dir / db_path
        model_path = model_path if model_path is None or model_path.is_absolute() else base_dir / model_path

    thresholds = MappingProxyType(validate_thresholds(table("thresholds"), "thresholds"))
    defaults = ServerSettings().with_overrides(table("defaults"), "defaults")
    servers: dict[str, ServerSettings] = {}
    for key, section in table("servers").items():
        if not _server_key_ok(key):
            raise ConfigError(f'servers."{key}": expected a name like "discord:<guild id>" or "telegram:<chat id>"')
        servers[key] = defaults.with_overrides(section, f'servers."{key}"')

    limits = only("limits", {"max_attachment_bytes", "queue_size"})
    max_bytes = _expect(limits.get("max_attachment_bytes", 10 * 1024 * 1024), "int", "limits.max_attachment_bytes")
    queue_size = _expect(limits.get("queue_size", 1000), "int", "limits.queue_size")
    if queue_size < 1:
        raise ConfigError("limits.queue_size: expected a whole number >= 1")

    d = only("discord", {"api_base", "gateway"})
    discord = DiscordSettings(
        token=env.get("DISCORD_TOKEN") or None,
        api_base=env.get("TRIAGEBOT_DISCORD_API_BASE") or _expect(d.get("api_base", DEFAULT_DISCORD_API_BASE), "str", "discord.api_base"),
        gateway=env.get("TRIAGEBOT_DISCORD_GATEWAY") or (_expect(d["gateway"], "str", "discord.gateway") if "gateway" in d else None),
    )
    t = only("telegram", {"base_url", "base_file_url"})
    telegram = TelegramSettings(
        token=env.get("TELEGRAM_TOKEN") or None,
        base_url=env.get("TRIAGEBOT_TELEGRAM_BASE_URL") or _expect(t.get("base_url", DEFAULT_TELEGRAM_BASE_URL), "str", "telegram.base_url"),
        base_file_url=env.get("TRIAGEBOT_TELEGRAM_BASE_FILE_URL") or _expect(t.get("base_file_url", DEFAULT_TELEGRAM_BASE_FILE_URL), "str", "telegram.base_file_url"),
        max_download_bytes=max_bytes,
    )
    h = only("health", {"enabled", "host", "port"})
    port = _expect(h.get("port", HealthSettings.port), "int", "health.port")
    if not 1 <= port <= 65535:
        raise ConfigError(f"health.port: expected a port between 1 and 65535, got {port}")
    health = HealthSettings(enabled=_expect(h.get("enabled", False), "bool", "health.enabled"),
                            host=_expect(h.get("host", HealthSettings.host), "str", "health.host"), port=port)
    return Settings(
        db_path=db_path, model_path=model_path, thresholds=thresholds, defaults=defaults,
        servers=MappingProxyType(servers), discord=discord, telegram=telegram,
        max_attachment_bytes=max_bytes, queue_size=queue_size, health=health,
    )


def load_settings(path: str | Path | None, env: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file (or use defaults when `path` is None)."""
    if path is None:
        return parse_settings({}, env)
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config file ({exc.strerror or exc})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: config file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    try:
        return parse_settings(data, env, base_dir=p.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None
