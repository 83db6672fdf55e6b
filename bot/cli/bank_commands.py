"""`triagebot bank list|remove`: see and withdraw registered pictures (only their fingerprints are kept)."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from bot.cli.image_commands import BankScope, bank
from bot.cli.options import db_option

log = logging.getLogger(__name__)


@bank.command("list")
@db_option()
@click.option("--server", "scope", type=BankScope(), default=None, help="Only this bank scope (a server key, `shared` or `cli`).")
@click.option("--registered-by", default=None, help="Only entries this member registered.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def bank_list(db_path: Path, scope: str | None, registered_by: str | None, as_json: bool) -> None:
    """List bank entries, newest first: id, scope, date, who registered it and the note. No image is kept."""
    from bot.store import Store
    from bot.terminal import one_line

    with Store.open(db_path) as store:
        rows = store.bank_list(scope, registered_by)
    for r in rows:
        if as_json:
            click.echo(json.dumps(r, ensure_ascii=False))
        else:
            click.echo(one_line(f"#{r['id']} {r['scope']} {r['created_at'][:16]} by {r['registered_by'] or '?'} "
                                f"({r['source']}): {r['note']}", 160))
    if not rows and not as_json:
        click.echo("The bank is empty." if scope is None and registered_by is None else "No matching entries.")


@bank.command("remove")
@db_option()
@click.argument("entry_ids", nargs=-1, required=True, type=click.IntRange(min=1))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def bank_remove(db_path: Path, entry_ids: tuple[int, ...], yes: bool) -> None:
    """Remove entries and all their hashes (e.g. a victim withdraws a picture). Re-shares stop matching."""
    from bot.store import Store

    if not yes:
        click.confirm(f"Remove {len(entry_ids)} bank entr{'y' if len(entry_ids) == 1 else 'ies'} for good?", abort=True)
    missing = []
    with Store.open(db_path) as store:
        for entry_id in entry_ids:
            if store.remove_bank_entry(entry_id):
                click.echo(f"removed #{entry_id}")
            else:
                missing.append(entry_id)
    if missing:
        raise click.ClickException(f"no bank entry {', '.join(f'#{i}' for i in missing)}")
