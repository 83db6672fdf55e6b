"""`triagebot note add|list`: moderators' notes on a flag, an incident or a member (audited)."""

from __future__ import annotations

import getpass
import json
import logging
from pathlib import Path

import click

from bot.cli.app import main
from bot.cli.options import ServerKey, db_option

log = logging.getLogger(__name__)


def _subject(flag: int | None, incident: int | None, member: str | None) -> tuple[str, str]:
    given = [(k, v) for k, v in (("flag", flag), ("incident", incident), ("member", member)) if v is not None]
    if len(given) != 1:
        raise click.UsageError("name exactly one of --flag, --incident or --member")
    return given[0][0], str(given[0][1])


def _subject_options(fn):
    fn = click.option("--member", default=None, help="A member id.")(fn)
    fn = click.option("--incident", type=click.IntRange(min=1), default=None, help="An incident id.")(fn)
    fn = click.option("--flag", type=click.IntRange(min=1), default=None, help="A flag id.")(fn)
    fn = click.option("--server", "server", type=ServerKey(), required=True, help="The server, e.g. discord:1234.")(fn)
    return db_option()(fn)


@main.group()
def note() -> None:
    """Moderators' notes on a flag, an incident or a member; shown on alerts, in member history and audited."""


@note.command("add")
@_subject_options
@click.option("--author", default=lambda: f"cli:{getpass.getuser()}", show_default="cli:<your user name>")
@click.argument("text")
def note_add(db_path: Path, server: str, flag: int | None, incident: int | None, member: str | None, author: str, text: str) -> None:
    """Add a note (the bots show it the next time they update the alert)."""
    from bot.store import Store

    kind, ident = _subject(flag, incident, member)
    with Store.open(db_path) as store:
        note_id = store.add_note(server, kind, ident, author, text)  # a StoreError is one line (bot/cli/app.py)
        if kind in ("flag", "incident"):  # refresh the alert; a running bot delivers it
            flag_id = int(ident) if kind == "flag" else store.incident(server, int(ident)).first_flag_id
            if flag_id is not None:
                store.enqueue_alert(server, flag_id)
    click.echo(f"note #{note_id} on {kind} {ident}")


@note.command("list")
@_subject_options
@click.option("--json", "as_json", is_flag=True)
def note_list(db_path: Path, server: str, flag: int | None, incident: int | None, member: str | None, as_json: bool) -> None:
    """The notes on one flag, incident or member, oldest first."""
    from bot.store import Store
    from bot.terminal import one_line

    kind, ident = _subject(flag, incident, member)
    with Store.open(db_path) as store:
        rows = store.notes(server, kind, ident)
    for n in rows:
        click.echo(json.dumps(n, ensure_ascii=False) if as_json else one_line(f"#{n['id']} {n['created_at'][:16]} {n['author_id']}: {n['text']}", 200))
    if not rows and not as_json:
        click.echo(f"No notes on {kind} {ident}.")
