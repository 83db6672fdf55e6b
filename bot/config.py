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

from bot.errors import TriagebotError
from bot.i18n import LANGUAGES

log = logging.getLogger(__name__)

DEFAULT_DISCORD_API_BASE = "https://discord.com/api/v10"
DEFAULT_TELEGRAM_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_TELEGRAM_BASE_FILE_URL = "https://api.telegram.org/file/bot"


class ConfigError(TriagebotError, ValueError):
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
    auto_delete_threshold: float | None = None  # None: the model's per-label action thresholds (model card)
    auto_timeout: bool = False
    timeout_after_flags: int = 3
    timeout_window_minutes: int = 60
    timeout_minutes: int = 10
    report_rate_limit: int = 5  # reports per member per hour
    incident_window_minutes: int = 30
    # Flags aimed at no one join their channel's open incident while they come less than this many minutes apart
    # (a raid on a channel: one alert with whole-incident actions); 0 = every such flag has its own alert.
    raid_window_minutes: int = 5
    incident_escalate_count: int = 5
    shared_bank: bool = False
    # Mentioned when an incident escalates or a protected picture is re-shared (never for single flags):
    # Discord role ids, or Telegram user ids of the admins to notify.
    escalation_ping: frozenset[str] = frozenset()
    language: str = "en"  # alerts and replies: "en" or "id" (a member's own language wins where the platform says it)
    warning_message: str | None = None  # what a Warn sends the member privately; None = the built-in text in `language`
    warnings_count: bool = False  # warnings count toward `timeout_after_flags` like flags do
    # Appeals: a member affected by a delete, timeout, ban or warning is told privately how to appeal.
    appeals: bool = True
    appeals_per_day: int = 3  # appeals one member may open in one server per 24 h (one open per case anyway)
    # Moderators' own rules (README "Your own rules"), merged with the ones added by command:
    rules_sexual: tuple[str, ...] = ()  # terms and phrases flagged as sexual, `*` wildcards
    rules_racial: tuple[str, ...] = ()  # terms and phrases flagged as racial
    allow_phrases: tuple[str, ...] = ()  # a message containing one loses its text-model verdicts (false positives)
    exempt_roles: frozenset[str] = frozenset()  # Discord role ids whose members are never flagged
    daily_anchor: bool = True  # post the evidence log's head to the moderators once a day (when it changed)

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
            elif isinstance(mine, tuple):
                mine = list(mine)
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
    image_ocr: bool = False  # [images] ocr: read text in images (needs the `ocr` extra)

    def for_server(self, key: str) -> ServerSettings:
        return self.servers.get(key, self.defaults)

    def effective(self, key: str, overrides: Mapping[str, Any]) -> ServerSettings:
        """The server's config with its stored runtime (/setup) overrides on top, as the bots apply it."""
        base = self.for_server(key)
        if not overrides:
            return base
        try:
            return base.with_overrides(overrides, f"stored settings of {key}")
        except ConfigError as exc:
            # stored by an older version with looser rules: keep the keys that are still valid
            log.warning("ignoring invalid stored settings: %s", exc)
            good: dict[str, Any] = {}
            for name, value in overrides.items():
                try:
                    _validate_server({name: value}, "stored")
                except ConfigError:
                    continue
                good[name] = value
            return base.with_overrides(good, f"stored settings of {key}")


_SERVER_FIELDS = {f.name: f for f in dataclasses.fields(ServerSettings)}

#: Bounds for every number in the config. Durations stop at a year (366 days), so timestamps computed
#: from them never overflow; counts stop where a larger value can only be a typo.
YEAR_DAYS = 366
YEAR_MINUTES = YEAR_DAYS * 24 * 60
MAX_TIMEOUT_MINUTES = 28 * 24 * 60  # Discord refuses longer timeouts
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024  # the image decoder's own byte cap
MAX_QUEUE_SIZE = 100_000
MAX_ID_CHARS = 64
MAX_IDS = 10_000
MAX_TEXT_CHARS = 4096
_ID_INT_RANGE = (-(2**63), 2**63 - 1)  # Discord snowflakes and Telegram chat ids are 64-bit


def _show(value: Any) -> str:
    """A short, safe description of a bad value: never a huge or recursive repr in a one-line error."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if value.bit_length() >= 10_000:  # str() of it would hit Python's 4300-digit limit
            return f"a number of about {int(value.bit_length() * 0.30103)} digits"
        digits = len(str(abs(value)))
        return repr(value) if digits <= 24 else f"a {digits}-digit number"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:39] + "…"
        shown = "".join(c if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF else "?" for c in shown)
        return repr(shown)
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "a table"
    return f"a {type(value).__name__}"


def _name(key: Any) -> str:
    """A key as written in the file, made safe for a one-line message."""
    if isinstance(key, str) and key.isprintable() and len(key) <= 64:
        return key
    return _show(key)


def _expect(value: Any, kind: str, where: str, lo: int | None = None, hi: int | None = None) -> Any:
    """Check one scalar by kind (and, for numbers, by range); raise ConfigError naming `where`."""
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {_show(value)}")
        return value
    if kind == "int":
        lo = 0 if lo is None else lo
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected a whole number, got {_show(value)}")
        if value < lo or (hi is not None and value > hi):
            span = f"from {lo} to {hi}" if hi is not None else f">= {lo}"
            raise ConfigError(f"{where}: expected a whole number {span}, got {_show(value)}")
        return value
    if kind == "prob":
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (isinstance(value, int) and value.bit_length() > 64)
            or not 0.0 <= float(value) <= 1.0
        ):
            raise ConfigError(f"{where}: expected a number between 0 and 1, got {_show(value)}")
        return float(value)
    if kind == "id":
        if isinstance(value, int) and not isinstance(value, bool):
            if not _ID_INT_RANGE[0] <= value <= _ID_INT_RANGE[1]:
                raise ConfigError(f"{where}: expected a 64-bit id, got {_show(value)}")
            return str(value)
        if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS or not value.isprintable() or any(c.isspace() for c in value):
            raise ConfigError(f"{where}: expected an id (a number, or a string of up to {MAX_ID_CHARS} visible characters), got {_show(value)}")
        return value
    if kind == "ids":
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list of ids, got {_show(value)}")
        if len(value) > MAX_IDS:
            raise ConfigError(f"{where}: at most {MAX_IDS} ids, got {len(value)}")
        return frozenset(_expect(v, "id", f"{where}[{i}]") for i, v in enumerate(value))
    if kind == "path":
        if not isinstance(value, str) or not value.strip() or "\0" in value or len(value) > MAX_TEXT_CHARS:
            raise ConfigError(f"{where}: expected a file path, got {_show(value)}")
        return Path(value).expanduser()
    if kind == "str":
        if not isinstance(value, str) or "\0" in value or len(value) > MAX_TEXT_CHARS:
            raise ConfigError(f"{where}: expected a string of up to {MAX_TEXT_CHARS} characters, got {_show(value)}")
        return value
    if kind == "patterns":
        from classifiers.rules import MAX_RULES, RuleError, parse_pattern

        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list of terms or phrases, got {_show(value)}")
        if len(value) > MAX_RULES:
            raise ConfigError(f"{where}: at most {MAX_RULES} patterns, got {len(value)}")
        for i, pattern in enumerate(value):
            try:
                parse_pattern(pattern)
            except RuleError as exc:
                raise ConfigError(f"{where}[{i}]: {exc}") from None
        return tuple(dict.fromkeys(p.strip() for p in value))
    if kind == "lang":
        if value not in LANGUAGES:
            raise ConfigError(f"{where}: expected one of {', '.join(LANGUAGES)}, got {value!r}")
        return value
    raise AssertionError(kind)


def parse_id(value: Any, where: str) -> str:
    """A Discord or Telegram id as the config accepts it (a number, or a short visible string)."""
    return _expect(value, "id", where)


#: kind, then (low, high) for whole numbers.
_SERVER_KINDS: dict[str, tuple[str, int | None, int | None]] = {
    "dry_run": ("bool", None, None),
    "mod_channel": ("id", None, None),
    "mod_chat": ("id", None, None),
    "allow_channels": ("ids", None, None),
    "exempt_users": ("ids", None, None),
    "exempt_bots": ("bool", None, None),
    "exempt_moderators": ("bool", None, None),
    "retention_days": ("int", 0, YEAR_DAYS),  # 0 = keep content forever
    "auto_delete": ("bool", None, None),
    "auto_delete_threshold": ("prob", None, None),
    "auto_timeout": ("bool", None, None),
    "timeout_after_flags": ("int", 1, 1000),
    "timeout_window_minutes": ("int", 1, YEAR_MINUTES),
    "timeout_minutes": ("int", 1, MAX_TIMEOUT_MINUTES),
    "report_rate_limit": ("int", 0, 10_000),  # 0 = unlimited
    "incident_window_minutes": ("int", 1, YEAR_MINUTES),
    "raid_window_minutes": ("int", 0, 1440),
    "incident_escalate_count": ("int", 1, 10_000),
    "shared_bank": ("bool", None, None),
    "escalation_ping": ("ids", None, None),
    "language": ("lang", None, None),
    "warning_message": ("str", None, None),
    "warnings_count": ("bool", None, None),
    "appeals": ("bool", None, None),
    "appeals_per_day": ("int", 1, 100),
    "rules_sexual": ("patterns", None, None),
    "rules_racial": ("patterns", None, None),
    "allow_phrases": ("patterns", None, None),
    "exempt_roles": ("ids", None, None),
    "daily_anchor": ("bool", None, None),
}
assert set(_SERVER_KINDS) | {"thresholds"} == set(_SERVER_FIELDS)


def validate_thresholds(raw: Any, where: str) -> dict[str, float]:
    from classifiers.base import LABELS

    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table of label = number, got {_show(raw)}")
    out: dict[str, float] = {}
    for label, value in raw.items():
        if label not in LABELS:
            raise ConfigError(f"{where}.{_name(label)}: unknown label (known: {', '.join(LABELS)})")
        out[label] = _expect(value, "prob", f"{where}.{label}")
    return out


def _validate_server(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a table, got {_show(raw)}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "thresholds":
            out[key] = MappingProxyType(validate_thresholds(value, f"{where}.thresholds"))
        elif key in _SERVER_KINDS:
            kind, lo, hi = _SERVER_KINDS[key]
            out[key] = _expect(value, kind, f"{where}.{key}", lo, hi)
        else:
            raise ConfigError(f"{where}.{_name(key)}: unknown key")
    return out


def _server_key_ok(key: str) -> bool:
    platform, _, ident = key.partition(":")
    return platform in ("discord", "telegram", "demo", "cli") and bool(ident)


def parse_settings(data: Mapping[str, Any], env: Mapping[str, str] | None = None, base_dir: Path | None = None) -> Settings:
    """Build Settings from parsed TOML plus environment (tokens and API addresses)."""
    env = os.environ if env is None else env
    known = {"storage", "model", "thresholds", "defaults", "servers", "discord", "telegram", "limits", "health", "images"}
    for key in data:
        if key not in known:
            raise ConfigError(f"{_name(key)}: unknown section (known: {', '.join(sorted(known))})")

    def table(name: str) -> Mapping[str, Any]:
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: expected a table, got {_show(value)}")
        return value

    def only(name: str, allowed: set[str]) -> Mapping[str, Any]:
        t = table(name)
        for k in t:
            if k not in allowed:
                raise ConfigError(f"{name}.{_name(k)}: unknown key")
        return t

    storage = only("storage", {"path"})
    db_path = _expect(storage["path"], "path", "storage.path") if "path" in storage else Path("triagebot.db")
    db_where = "storage.path"
    if env.get("TRIAGEBOT_DB"):
        db_path, db_where = _expect(env["TRIAGEBOT_DB"], "path", "TRIAGEBOT_DB"), "TRIAGEBOT_DB"
    model = only("model", {"path"})
    model_path = _expect(model["path"], "path", "model.path") if "path" in model else None
    if base_dir is not None:
        db_path = db_path if db_path.is_absolute() else base_dir / db_path
        model_path = model_path if model_path is None or model_path.is_absolute() else base_dir / model_path
    if db_path.is_dir():
        raise ConfigError(f"{db_where}: {_show(str(db_path))} is a directory, expected a database file")
    if model_path is not None and model_path.is_dir():
        raise ConfigError(f"model.path: {_show(str(model_path))} is a directory, expected a model file")

    thresholds = MappingProxyType(validate_thresholds(table("thresholds"), "thresholds"))
    defaults = ServerSettings().with_overrides(table("defaults"), "defaults")
    servers: dict[str, ServerSettings] = {}
    for key, section in table("servers").items():
        if not _server_key_ok(key):
            raise ConfigError(f'servers."{_name(key)}": expected a name like "discord:<guild id>" or "telegram:<chat id>"')
        servers[key] = defaults.with_overrides(section, f'servers."{key}"')

    limits = only("limits", {"max_attachment_bytes", "queue_size"})
    max_bytes = _expect(limits.get("max_attachment_bytes", 10 * 1024 * 1024), "int", "limits.max_attachment_bytes", 1024, MAX_ATTACHMENT_BYTES)
    queue_size = _expect(limits.get("queue_size", 1000), "int", "limits.queue_size", 1, MAX_QUEUE_SIZE)

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
        base_file_url=env.get("TRIAGEBOT_TELEGRAM_BASE_FILE_URL")
        or _expect(t.get("base_file_url", DEFAULT_TELEGRAM_BASE_FILE_URL), "str", "telegram.base_file_url"),
        max_download_bytes=max_bytes,
    )
    images = only("images", {"ocr"})
    image_ocr = _expect(images.get("ocr", False), "bool", "images.ocr")
    h = only("health", {"enabled", "host", "port"})
    port = _expect(h.get("port", HealthSettings.port), "int", "health.port", 1, 65535)
    health = HealthSettings(
        enabled=_expect(h.get("enabled", False), "bool", "health.enabled"), host=_expect(h.get("host", HealthSettings.host), "str", "health.host"), port=port
    )
    return Settings(
        db_path=db_path,
        model_path=model_path,
        thresholds=thresholds,
        defaults=defaults,
        servers=MappingProxyType(servers),
        discord=discord,
        telegram=telegram,
        max_attachment_bytes=max_bytes,
        queue_size=queue_size,
        health=health,
        image_ocr=image_ocr,
    )


def load_settings(path: str | Path | None, env: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file (or use defaults when `path` is None)."""
    if path is None:
        return parse_settings({}, env)
    p = Path(path)
    shown = _show(str(p))[1:-1] if len(str(p)) <= 40 else str(p).encode("utf-8", "replace").decode("utf-8")
    if p.is_dir():
        raise ConfigError(f"{shown}: is a directory, expected a TOML config file")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read config file ({exc.strerror or exc})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))  # a BOM (Windows editors) is fine
    except UnicodeDecodeError:
        raise ConfigError(f"{shown}: config file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{shown}: not valid TOML: {exc}") from None
    except RecursionError:
        # tomllib parses nested arrays and inline tables recursively; no config nests this deep
        raise ConfigError(f"{shown}: not valid TOML: arrays or tables nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal over Python's 4300-digit limit
        raise ConfigError(f"{shown}: not valid TOML: {str(exc).splitlines()[0][:100]}") from None
    try:
        return parse_settings(data, env, base_dir=p.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"{shown}: {exc}") from None
