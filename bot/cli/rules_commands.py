"""`triagebot rules add|remove|list|test`: a server's own terms, allow-listed phrases and exemptions."""

from __future__ import annotations

import getpass
import json
import logging
from pathlib import Path

import click

from bot.cli.app import main
from bot.cli.options import ServerKey, db_option
from bot.server_rules import KINDS, RuleEntry

log = logging.getLogger(__name__)


def _settings(config_path: Path | None, server: str):
    from bot.config import ServerSettings, load_settings

    return load_settings(config_path).for_server(server) if config_path else ServerSettings()


def entry_line(e: RuleEntry) -> str:
    """One rule as a terminal line: the pattern quoted and made printable (it is moderators' input)."""
    from bot.terminal import one_line

    where = f"#{e.id}" if e.id is not None else "config"
    label = f" {e.label}" if e.label else ""
    score = f" score {e.score:.2f}" if e.kind == "term" else ""
    by = f" — {e.added_by} {e.added_at[:16]}" if e.id is not None else ""
    return f"{where} {e.kind}{label} {json.dumps(one_line(e.pattern, 120), ensure_ascii=False)}{score}{by}"


def _options(fn):
    fn = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        default=None,
        envvar="TRIAGEBOT_CONFIG",
        help="TOML config, to include the rules it sets for the server.",
    )(fn)
    fn = click.option("--server", "server", type=ServerKey(), required=True, help="The server, e.g. discord:1234.")(fn)
    return db_option()(fn)


@main.group()
def rules() -> None:
    """A server's own rules: terms and phrases flagged as sexual or racial (`*` wildcards), allow-listed
    phrases that drop the model's verdicts for a label, and exempt roles, channels and users. A running bot
    picks up changes made here within 30 seconds."""


@rules.command("add")
@_options
@click.option("--kind", type=click.Choice(KINDS), default="term", show_default=True)
@click.option(
    "--label",
    type=click.Choice(("sexual", "racial", "all")),
    default=None,
    help="sexual or racial for a term; an allow-listed phrase covers all labels unless given one.",
)
@click.option(
    "--score",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=1.0,
    show_default=True,
    help="The score a term gives (below the server's action threshold: review only, never auto-delete).",
)
@click.option("--by", "added_by", default=lambda: f"cli:{getpass.getuser()}", show_default="cli:<your user name>")
@click.argument("pattern")
def rules_add(db_path: Path, server: str, config_path: Path | None, kind: str, label: str | None, score: float, added_by: str, pattern: str) -> None:
    """Add a term, an allow-listed phrase (--kind allow) or an exemption (--kind exempt_role ID, ...)."""
    from bot.server_rules import add_rule
    from bot.store import Store

    with Store.open(db_path) as store:
        entry = add_rule(store, _settings(config_path, server), server, kind, label, pattern, added_by, score)
    click.echo(f"added {entry_line(entry)}")


@rules.command("remove")
@_options
@click.option("--label", type=click.Choice(("sexual", "racial", "all")), default=None, help="When several rules have the same pattern.")
@click.option("--by", "removed_by", default=lambda: f"cli:{getpass.getuser()}", show_default="cli:<your user name>")
@click.argument("rule")
def rules_remove(db_path: Path, server: str, config_path: Path | None, label: str | None, removed_by: str, rule: str) -> None:
    """Remove a rule added by command, by its number (#12) or its exact pattern."""
    from bot.server_rules import remove_rule
    from bot.store import Store

    with Store.open(db_path) as store:
        entry = remove_rule(store, server, rule, removed_by, label)
    click.echo(f"removed {entry_line(entry)}")


@rules.command("list")
@_options
@click.option("--json", "as_json", is_flag=True)
def rules_list(db_path: Path, server: str, config_path: Path | None, as_json: bool) -> None:
    """Every rule of the server: the config file's, then those added by command."""
    from bot.server_rules import entry_json, rule_entries
    from bot.store import Store

    with Store.open(db_path) as store:
        entries = rule_entries(store, _settings(config_path, server), server)
    for e in entries:
        click.echo(json.dumps(entry_json(e), ensure_ascii=False) if as_json else entry_line(e))
    if not entries and not as_json:
        click.echo(f"No rules for {server}.")


@rules.command("test")
@_options
@click.argument("text")
def rules_test(db_path: Path, server: str, config_path: Path | None, text: str) -> None:
    """What the server's terms and allow-listed phrases find in TEXT (no model, nothing stored)."""
    from bot.server_rules import build_rules, rule_entries
    from bot.store import Store
    from bot.terminal import one_line

    settings = _settings(config_path, server)
    with Store.open(db_path) as store:
        hits = build_rules(settings, rule_entries(store, settings, server)).matcher.match(text)
    for v in hits.verdicts:
        click.echo(one_line(f"{v.label} {v.score:.2f}: {v.reason}", 200))
    for label, why in hits.allowed.items():
        click.echo(one_line(f"{label} allow-listed: {why}", 200))
    if not hits.verdicts and not hits.allowed:
        click.echo("No rule matches.")
