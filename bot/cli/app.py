"""The click group every command module registers on; kept separate to avoid import cycles."""
from __future__ import annotations

import logging

import click

log = logging.getLogger(__name__)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.version_option(package_name="triagebot")
def main(verbose: int) -> None:
    """triagebot: harassment triage for Discord and Telegram communities."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
