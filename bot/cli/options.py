"""Shared click options and parameter types, so every command spells them the same way."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import click

from bot.cli.text_input import clean_text

log = logging.getLogger(__name__)

DEFAULT_DB = "triagebot.db"


def db_option(default: str = DEFAULT_DB, must_exist: bool = True):
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path, exists=must_exist),
        default=default,
        show_default=True,
        envvar="TRIAGEBOT_DB",
        help="SQLite database file.",
    )


def server_option(help_text: str = "Only this server, e.g. discord:1234 or telegram:-100123."):
    return click.option("--server", "server", type=ServerKey(), default=None, help=help_text)


class ServerKey(click.ParamType):
    name = "SERVER"

    def convert(self, value, param, ctx):
        if isinstance(value, str):
            value = clean_text(value)  # undecodable bytes in the argument
            platform, _, ident = value.partition(":")
            if platform in ("discord", "telegram", "demo", "cli") and ident:
                return value
        self.fail(f"{value!r} is not a server key like discord:<guild id> or telegram:<chat id>", param, ctx)


class When(click.ParamType):
    """ISO date or datetime; naive values are UTC. Returned in UTC, so a time that has no UTC
    equivalent (year 1 at +14:00, year 9999 at -12:00) is a bad argument here, not an OverflowError later."""

    name = "DATETIME"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        try:
            dt = datetime.fromisoformat(clean_text(value))
        except ValueError:
            self.fail(f"{clean_text(value)!r} is not a date like 2026-11-01 or 2026-11-01T12:00", param, ctx)
        dt = dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
        try:
            return dt.astimezone(timezone.utc)
        except (OverflowError, ValueError):
            self.fail(f"{clean_text(value)!r} is out of range (it has no UTC time between years 1 and 9999)", param, ctx)
