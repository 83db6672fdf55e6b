"""verify-export, key, anchor: thin wrappers over the evidence modules (export_check, signing, anchors)."""

from __future__ import annotations

import getpass
import json
import logging
from pathlib import Path

import click

from bot import anchors
from bot.cli.app import main
from bot.cli.options import db_option, server_option
from bot.cli.queue_commands import db
from bot.export_check import check_export
from bot.signing import key_path_for, load_or_create_key, public_key_text
from bot.store import Store
from bot.terminal import one_line

log = logging.getLogger(__name__)


@main.command("verify-export")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--manifest",
    "manifest_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="The manifest (default: FILE.manifest.json).",
)
@click.option("--public-key", default=None, help="The key the export must be signed with (from `triagebot key show` or an anchor).")
def verify_export(file: Path, manifest_path: Path | None, public_key: str | None) -> None:
    """Check an export without the database: file SHA-256, signature, each row's audit hashes and links. Exit 1 if anything fails."""
    mpath = manifest_path or file.with_name(file.name + ".manifest.json")
    if not mpath.exists():
        raise click.ClickException(f"no manifest at {mpath}; pass --manifest")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise click.ClickException(f"{mpath} is not a JSON manifest") from None
    if not isinstance(manifest, dict):
        raise click.ClickException(f"{mpath} is not a JSON manifest")
    result = check_export(file.read_bytes(), manifest, public_key)
    for problem in result.problems:
        click.echo(f"FAIL: {problem}")
    if not result.ok:
        raise SystemExit(1)
    heads = ", ".join(f"{s} {a['head']}:{a['rows']}" for s, a in (manifest.get("anchors") or {}).items())
    click.echo(f"OK: {result.rows} rows, {result.audit_rows} audit rows ({result.redacted} redacted), signed by {result.public_key}; head {heads}")
    if not public_key:
        click.echo("compare the key above with the one from `triagebot key show` or your anchor posts")


@main.group()
def key() -> None:
    """The Ed25519 key that signs export manifests (kept outside the database)."""


@key.command("show")
@db_option(must_exist=False)
def key_show(db_path: Path) -> None:
    """Print the public key (creates the key pair on first use: $TRIAGEBOT_SIGNING_KEY or DB.signing-key)."""
    path = key_path_for(db_path)
    click.echo(public_key_text(load_or_create_key(path)))
    click.echo(f"private key: {path} (keep it out of backups you hand over; keep a copy of it safe)", err=True)


@main.command()
@db_option()
@server_option()
def anchor(db_path: Path, server: str | None) -> None:
    """Print each server's chain head to keep outside the database (the same text the bots post)."""
    with Store.open(db_path) as store:
        keys = [server] if server else store.servers()
        for s in keys:
            click.echo(anchors.anchor_text(store, s))


@main.group()
def hold() -> None:
    """Legal holds: a held flag or incident is never purged, by request or by retention."""


def _hold_target(store: Store, flag_id: int | None, incident_id: int | None) -> tuple[str, str, int]:
    if (flag_id is None) == (incident_id is None):
        raise click.UsageError("give exactly one of --flag N or --incident N")
    if flag_id is not None:
        target, ident, server = "flag", flag_id, store.flag_server(flag_id)
    else:
        assert incident_id is not None  # exactly one was given (checked above)
        target, ident, server = "incident", incident_id, store.incident_server(incident_id)
    if server is None:
        raise click.ClickException(f"no {target} #{ident}")
    return server, target, ident


@hold.command("add")
@db_option()
@click.option("--flag", "flag_id", type=int, default=None)
@click.option("--incident", "incident_id", type=int, default=None)
@click.option("--reason", default="", help="Why (case number, request); logged in the audit chain.")
@click.option("--by", "by", default=lambda: f"cli:{getpass.getuser()}", show_default="cli:<your user name>")
def hold_add(db_path: Path, flag_id: int | None, incident_id: int | None, reason: str, by: str) -> None:
    """Place a legal hold on a flag or an incident (all its flags)."""
    with Store.open(db_path) as store:
        server, target, ident = _hold_target(store, flag_id, incident_id)
        hold_id = store.add_hold(server, target, ident, by, reason)
        click.echo(f"hold #{hold_id} on {target} #{ident} in {server}")


@hold.command("remove")
@db_option()
@click.option("--flag", "flag_id", type=int, default=None)
@click.option("--incident", "incident_id", type=int, default=None)
@click.option("--by", "by", default=lambda: f"cli:{getpass.getuser()}", show_default="cli:<your user name>")
def hold_remove(db_path: Path, flag_id: int | None, incident_id: int | None, by: str) -> None:
    """Lift the legal hold on a flag or an incident."""
    with Store.open(db_path) as store:
        server, target, ident = _hold_target(store, flag_id, incident_id)
        n = store.release_hold(server, target, ident, by)
        click.echo(f"lifted the hold on {target} #{ident}" if n else f"{target} #{ident} was not held")


@hold.command("list")
@db_option()
@server_option()
@click.option("--all", "show_all", is_flag=True, help="Include lifted holds.")
def hold_list(db_path: Path, server: str | None, show_all: bool) -> None:
    """Active legal holds (with --all, lifted ones too)."""
    with Store.open(db_path) as store:
        rows = store.holds(server, active_only=not show_all)
    if not rows:
        click.echo("no holds")
    for h in rows:  # reasons and names are typed by people: one printable line each
        state = f"lifted {h['released_at']} by {one_line(h['released_by'], 80)}" if h["released_at"] else "active"
        click.echo(
            f"#{h['id']} {h['server']} {h['target']} #{h['target_id']}: {state}; placed {h['placed_at']} by "
            f"{one_line(h['placed_by'], 80)}" + (f"; reason: {one_line(h['reason'], 300)}" if h["reason"] else "")
        )


@db.command("backup")
@db_option()
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
def db_backup(db_path: Path, dest: Path) -> None:
    """Copy the database while the bot runs (SQLite backup API), verify the copy's chain and print its heads."""
    with Store.open(db_path) as store:
        store.backup(dest)
    with Store.open(dest) as copy:
        reports = copy.verify_chain()
    for r in reports:
        click.echo(f"{r.server}: {'OK' if r.ok else 'BROKEN at ' + str(r.problem)}, {r.rows} rows, head {r.head}:{r.rows}")
    if not all(r.ok for r in reports):
        raise click.ClickException(f"the backup {dest} was written but its chain does not verify (see above)")
    click.echo(f"backup written to {dest}")
