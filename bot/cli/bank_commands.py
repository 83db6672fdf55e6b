"""`triagebot bank list|remove|export|import`: see and withdraw registered pictures (only their fingerprints
are kept), and exchange their PDQ hashes with hash-matching programs."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from bot.cli.image_commands import BankScope, bank
from bot.cli.options import db_option
from bot.cli.text_input import CleanText

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
            click.echo(one_line(f"#{r['id']} {r['scope']} {r['created_at'][:16]} by {r['registered_by'] or '?'} ({r['source']}): {r['note']}", 160))
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


@bank.command("export")
@db_option()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["pdq"]),
    default="pdq",
    show_default=True,
    help="pdq: `hash,quality,label` lines, the CSV form hash-matching tools import.",
)
@click.option("--server", "scope", type=BankScope(), default=None, help="Only this bank scope (default: every scope).")
@click.option("--entry", "entry_ids", type=click.IntRange(min=1), multiple=True, help="Only these entries (repeatable), e.g. one victim's pictures.")
@click.option("--dihedral", is_flag=True, help="Also the 7 rotated/flipped hashes of each picture.")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-", help="File to write (default: standard output).")
def bank_export(db_path: Path, fmt: str, scope: str | None, entry_ids: tuple[int, ...], dihedral: bool, output: Any) -> None:
    """Export PDQ hashes of bank entries, to share a victim's pictures with another platform's
    hash-matching program (with her consent). Labels are opaque ids: no note or member id leaves."""
    from bot.bank_exchange import export_pdq
    from bot.store import Store

    with Store.open(db_path) as store:
        lines, skipped = export_pdq(store, scope, entry_ids, dihedral)
    for line in lines:
        output.write(line + "\n")
    click.echo(
        f"exported {len(lines)} hash(es)" + (f"; {skipped} entr{'y' if skipped == 1 else 'ies'} without PDQ (re-add them to export)" if skipped else ""),
        err=True,
    )


@bank.command("import")
@db_option(must_exist=False)
@click.argument("hash_list", type=click.File("r", encoding="utf-8-sig"))
@click.option("--server", "scope", type=BankScope(), default="cli", show_default=True, help="Bank scope to add the hashes to.")
@click.option("--min-quality", type=click.IntRange(0, 100), default=50, show_default=True, help="Skip hashes below this PDQ quality.")
@click.option("--note", type=CleanText(), default=None, help="Where the list came from (kept with each entry).")
def bank_import(db_path: Path, hash_list: Any, scope: str, min_quality: int, note: str | None) -> None:
    """Import a PDQ hash list (`hash,quality[,label]` lines; rows sharing a label are one picture).
    Imported pictures match on PDQ distance alone: there are no keypoints to verify them with."""
    import getpass

    from bot.bank_exchange import import_pdq
    from bot.store import Store

    text = hash_list.read(16 * 1024 * 1024 + 1)
    if len(text) > 16 * 1024 * 1024:
        raise click.ClickException("hash list larger than 16 MB; split it")
    with Store.open(db_path) as store:
        added, low = import_pdq(store, scope, text, min_quality, note or f"imported from {Path(hash_list.name).name}", f"cli:{getpass.getuser()}")
    click.echo(f"imported {len(added)} picture(s) into {scope}" + (f"; skipped {low} hash(es) below quality {min_quality}" if low else ""))
