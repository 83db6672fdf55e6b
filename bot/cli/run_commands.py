"""run and demo: start the bots, or replay the built-in chat."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from bot.cli.app import main
from bot.config import load_settings

log = logging.getLogger(__name__)


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    envvar="TRIAGEBOT_CONFIG",
    help="TOML config (see config.example.toml).",
)
@click.option("--sync-commands", is_flag=True, help="Re-register Discord slash commands even if unchanged (they are registered only when they change).")
def run(config_path: Path, sync_commands: bool) -> None:
    """Start every platform that has a token (DISCORD_TOKEN, TELEGRAM_TOKEN)."""
    from bot import runner

    settings = load_settings(config_path)
    if not runner.enabled_platforms(settings):
        raise runner.NoPlatformConfigured(runner.NO_TOKEN)
    # a running bot logs what it does at INFO (-vv still gives DEBUG)
    logging.getLogger().setLevel(min(logging.getLogger().level, logging.INFO))
    # a FatalError (token-free, redacted by the runner) becomes one line and exit 1 in bot/cli/app.py
    runner.run(settings, sync_commands=sync_commands)


def _n(k: int, word: str) -> str:
    return f"{k} {word}" + ("" if k == 1 else "s")


@main.command()
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="triagebot-demo.db",
    show_default=True,
    help="Where to write the demo database (replaced on each run).",
)
def demo(db_path: Path) -> None:
    """Run the whole pipeline over a built-in chat (no tokens, no network) and print the review queue."""

    def progress(line: str) -> None:  # on stderr, so stdout stays the report
        click.echo(line, err=True)

    progress("Starting the demo...")
    from bot.demo import SERVER, run_demo
    from bot.store import Store
    from bot.terminal import incident_lines, queue_table

    result = run_demo(db_path, progress=progress)
    with Store.open(db_path) as store:
        click.echo(f"Replayed {result.messages} messages and {result.reports} member reports in {SERVER}.")
        click.echo(f"Images: {result.image_note}.")
        reported_only = store.count_flags(SERVER) - result.flagged
        click.echo(
            f"The bot flagged {result.flagged} messages"
            + (f"; members reported {reported_only} it missed" if reported_only else "")
            + f". Moderators got {_n(result.alerts_posted, 'alert')} in #mod-queue, updated in place {_n(result.alerts_edited, 'time')}.\n"
        )
        incs = store.incidents(SERVER, with_flags=True)
        if incs:
            click.echo("Incidents (one alert each):")
            click.echo(incident_lines(incs) + "\n")
        click.echo("Review queue (oldest first):")
        click.echo(queue_table(store.queue(SERVER, limit=100)))
    click.echo(f"\nDatabase: {db_path.resolve()}")
    click.echo(
        f"Next: triagebot review --db {db_path}   |   triagebot export --db {db_path} --format csv -o evidence.csv   |   triagebot verify --db {db_path}"
    )
