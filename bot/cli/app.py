"""The click group every command module registers on, and the one place a TriagebotError becomes
a one-line message with exit status 1; kept separate to avoid import cycles."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from bot.cli.text_input import clean_text
from bot.errors import TriagebotError

log = logging.getLogger(__name__)


def one_line(message: str) -> str:
    """The message on one line and valid UTF-8, so a terminal or a log can take it."""
    return clean_text(" ".join(str(message).split()))


def is_user_error(exc: BaseException) -> bool:
    """A TriagebotError: shown as one line, never a traceback."""
    return isinstance(exc, TriagebotError)


class TriagebotGroup(click.Group):
    """A click group that turns user errors into `Error: <one line>` and exit 1; anything else is a bug
    and keeps its traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if not is_user_error(exc):
                raise
            log.debug("user error", exc_info=True)
            raise click.ClickException(one_line(str(exc)) or type(exc).__name__) from None


@click.group(cls=TriagebotGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.version_option(package_name="triagebot")
def main(verbose: int) -> None:
    """triagebot: harassment triage for Discord and Telegram communities."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # answers typed at prompts (review notes) in another encoding become U+FFFD, not a UnicodeDecodeError
    reconfigure = getattr(sys.stdin, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="replace")
