"""review, export, stats, verify, purge: thin wrappers over the store, review and export modules."""

from __future__ import annotations

import getpass
import io
import json
import logging
import sys
from pathlib import Path

import click

from bot.cli.app import main
from bot.cli.options import When, db_option, server_option
from bot.cli.text_input import CleanText, clean_text
from bot import export as export_mod
from bot import precision as precision_mod
from bot import training_export
from bot import retention as retention_policy
from bot.config import load_settings
from bot.models import REVIEW_DECISIONS, STATUSES
from bot.review import review_flag
from bot.audit_chain import parse_head
from bot.store import FlagFilter, FlagView, Store
from bot.terminal import flag_detail, incident_lines, one_line, stats_text
from classifiers.base import LABELS

log = logging.getLogger(__name__)

#: One keystroke per decision (no Enter): what `review` records for each.
_KEYS = {"c": "confirm", "d": "dismiss", "e": "escalate"}
_DONE = {"confirm": "confirmed", "dismiss": "dismissed", "escalate": "escalated"}
_HELP = "[c]onfirm  [d]ismiss  [e]scalate  [s]kip  [n]ote  [q]uit"
#: Keys that end the session: q, Ctrl-C, Ctrl-D, and end of input ("").
_QUIT = ("q", "\x03", "\x04", "")


def _key() -> str:
    """One keystroke, lower-cased; without a terminal (a pipe, a script) the first character of the next line."""
    try:
        ch = click.getchar()
    except (KeyboardInterrupt, EOFError):
        return "q"
    except OSError:  # no controlling terminal: read answers line by line
        line = sys.stdin.readline()
        return (line.strip()[:1].lower() or "\n") if line else ""  # a blank line is no key; end of input quits
    return ch.lower()


@main.command()
@db_option()
@server_option()
@click.option(
    "--reviewer", type=CleanText(), default=lambda: f"cli:{getpass.getuser()}", show_default="cli:<your user name>", help="Who is reviewing (logged)."
)
@click.option("--flag", "flag_id", type=click.IntRange(1, 2**63 - 1), default=None, help="Review one flag without prompting (needs --decision).")
@click.option("--decision", type=click.Choice(REVIEW_DECISIONS), default=None, help="With --flag: the decision to record.")
@click.option("--note", type=CleanText(), default="", help="With --flag: a note for the record.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--label", type=click.Choice(LABELS), default=None, help="Only items flagged with this label.")
@click.option("--author", type=CleanText(), default=None, help="Only items by this member id.")
@click.option("--incident", type=click.IntRange(1, 2**63 - 1), default=None, help="Only the open items of this incident.")
def review(
    db_path: Path,
    server: str | None,
    reviewer: str,
    flag_id: int | None,
    decision: str | None,
    note: str,
    limit: int,
    label: str | None,
    author: str | None,
    incident: int | None,
) -> None:
    """Work through the open queue, one keystroke per item: c confirm, d dismiss, e escalate, s skip, n note, q quit."""
    if (flag_id is None) != (decision is None):
        raise click.UsageError("--flag and --decision go together")
    with Store.open(db_path) as store:
        if flag_id is not None and decision is not None:  # both or neither (checked above)
            f = review_flag(store, flag_id, decision, reviewer, note, server)
            click.echo(f"flag #{f.id}: {f.status}")
            return
        items, total = store.review_queue(server, limit=limit, label=label, author=author, incident=incident)
        filtered = label is not None or author is not None or incident is not None
        incs = [] if filtered else store.incidents(server, with_flags=True)
        if incs:
            click.echo(incident_lines(incs) + "\n")
        if not items:
            click.echo("No open items match the filters." if filtered else "The review queue is empty.")
            return
        more = total - len(items)
        click.echo(f"{total} open item(s)" + (f"; showing the oldest {len(items)}, {more} more (raise --limit)" if more else "") + f". Keys: {_HELP}")
        done = 0
        for i, f in enumerate(items, 1):
            click.echo(f"\n[{i}/{len(items)}] " + flag_detail(f))
            for line in review_history(store, f):
                click.echo(line)
            outcome = _decide(store, f, reviewer)
            if outcome == "quit":
                break
            if outcome != "skip":
                done += 1
        left = store.pending_count(server)
        click.echo(f"\nReviewed {done} item(s); {left} still open." + (f" {more} more matched beyond --limit." if more else ""))


def _decide(store: Store, f: FlagView, reviewer: str) -> str:
    """Read keys for one item until it is decided, skipped or the session ends; returns what happened."""
    note = ""
    while True:
        click.echo(f"{_HELP} > ", nl=False)
        key = _key()
        if key in _QUIT:
            click.echo("quit")
            return "quit"
        if key in ("\r", "\n", " ", "\t"):
            click.echo("")
            continue
        if key == "s":
            click.echo("skipped")
            return "skip"
        if key == "n":
            click.echo("")
            note = clean_text(click.prompt("note", default=note, show_default=bool(note)))
            continue
        if key in _KEYS:
            decision = _KEYS[key]
            review_flag(store, f.id, decision, reviewer, note, f.server)
            click.echo(f"-> {_DONE[decision]}" + (" (with note)" if note else ""))
            return decision
        click.echo(f"? {one_line(key, 4)!r} is not a key here")


def review_history(store: Store, f: FlagView) -> list[str]:
    """The reviews before the last one (flag_detail shows that) with their notes, and the notes on the flag,
    oldest first, as safe single lines."""
    lines = []
    for r in store.reviews_for(f.server, [f.id]).get(f.id, [])[:-1]:
        lines.append(
            "  earlier review: "
            + one_line(f"{r['at'][:16].replace('T', ' ')} {r['decision']} by {r['reviewer']}" + (f": {r['note']}" if r["note"] else ""), 200)
        )
    for n in store.notes(f.server, "flag", str(f.id)):
        lines.append("  note:     " + one_line(f"{n['created_at'][:16].replace('T', ' ')} {n['author_id']}: {n['text']}", 200))
    return lines


@main.command()
@db_option()
@click.option("--format", "fmt", type=click.Choice(export_mod.FORMATS), default=None, help="Evidence export format (not with --training).")
@click.option("--training", is_flag=True, help="Instead: reviewed flags as labelled training CSV (text,lang,sexual,racial,source,...).")
@server_option("Only this server's rows (recommended when handing evidence over).")
@click.option("--since", type=When(), default=None, help="Flags created at or after this time (UTC).")
@click.option("--until", type=When(), default=None, help="Flags created before this time (UTC).")
@click.option("--label", type=click.Choice(LABELS), default=None)
@click.option("--status", type=click.Choice(STATUSES), default=None)
@click.option("--incident", type=click.IntRange(min=1), default=None, help="One case: only this incident's flags.")
@click.option("--target", "target", default=None, metavar="MEMBER_ID", help="One case: only flags aimed at this member (their platform id).")
@click.option("--include-reporters", is_flag=True, help="Include reporter ids (left out by default to protect reporters).")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write here (plus OUTPUT.manifest.json) instead of standard output."
)
def export(
    db_path: Path,
    fmt: str | None,
    training: bool,
    server: str | None,
    since,
    until,
    label,
    status,
    incident: int | None,
    target: str | None,
    include_reporters: bool,
    output: Path | None,
) -> None:
    """Export flags with their verdicts, reports, reviews, actions and chain hashes, with a signed manifest.

    --incident N or --target MEMBER_ID exports one case (e.g. for the police) instead of everything.
    With --training: reviewed flags whose content is still retained, as labelled CSV for `train --decisions`.
    """
    if target is not None:
        target = target.strip()
        if not target or len(target) > 64 or not target.lstrip("-").isalnum():
            raise click.BadParameter("a member id is the platform's id: digits (Telegram ids may start with -)", param_hint="--target")
    if training:
        if fmt or since or until or label or status or include_reporters or incident or target:
            raise click.UsageError("--training takes only --server and -o (it exports every reviewed flag)")
        _export_training(db_path, server, output)
        return
    if fmt is None:
        raise click.UsageError("give --format csv|json|ndjson, or --training")
    if since and until and since >= until:
        raise click.BadParameter("--since must be before --until", param_hint="--since")
    if output is not None and not output.parent.is_dir():
        raise click.ClickException(f"the output folder {output.parent} does not exist")
    with Store.open(db_path) as store:
        if incident is not None:
            holder = store.incident_server(incident)
            if holder is None or (server is not None and holder != server):
                raise click.ClickException(f"no incident #{incident}" + (f" in {server}" if server else ""))
        which = FlagFilter(server, since, until, label, status, incident, target)
        if output is None:
            out = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else _TextOut()
            manifest = export_mod.write_export(store, out, fmt, which, include_reporters, progress=False)
            click.echo(f"{manifest['rows']} rows, sha256 {manifest['sha256']}", err=True)
            return
        with output.open("wb") as fh:
            manifest = export_mod.write_export(store, fh, fmt, which, include_reporters, progress=True)
        mpath = output.with_name(output.name + ".manifest.json")
        mpath.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        click.echo(f"wrote {manifest['rows']} rows to {output} (sha256 {manifest['sha256']}); manifest {mpath}")


def _export_training(db_path: Path, server: str | None, output: Path | None) -> None:
    if output is not None and not output.parent.is_dir():
        raise click.ClickException(f"the output folder {output.parent} does not exist")
    with Store.open(db_path) as store:
        rows, summary = training_export.decision_rows(store, server)
    if output is None:
        buf = io.StringIO()
        training_export.write_training_csv(rows, buf)
        click.echo(buf.getvalue(), nl=False)
        click.echo(summary.text(), err=True)
        return
    with output.open("w", encoding="utf-8", newline="") as fh:
        training_export.write_training_csv(rows, fh)
    click.echo(f"wrote {output}: {summary.text()}")


class _TextOut:
    """stdout without a binary buffer (click's test runner)."""

    def write(self, b: bytes) -> None:
        click.echo(b.decode("utf-8"), nl=False)


@main.command()
@db_option()
@server_option()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--precision",
    "with_precision",
    is_flag=True,
    help="Instead: precision per label, detector and reason term from reviews, and a suggested threshold per label.",
)
@click.option(
    "--target",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=precision_mod.DEFAULT_TARGET,
    show_default=True,
    help="With --precision: the precision a suggested threshold must reach.",
)
@click.option(
    "--min-decisions",
    type=click.IntRange(1, 10**6),
    default=precision_mod.DEFAULT_MIN_DECISIONS,
    show_default=True,
    help="With --precision: reviewed flags needed at or above a suggested threshold.",
)
def stats(db_path: Path, server: str | None, as_json: bool, with_precision: bool, target: float, min_decisions: int) -> None:
    """Counts of flags by status, label and source, plus reports, reviews, actions and incidents."""
    if with_precision:
        with Store.open(db_path) as store:
            reports = precision_mod.precision_reports(store, server, target, min_decisions)
        if as_json:
            click.echo(json.dumps([r.as_dict() for r in reports], indent=2, sort_keys=True, ensure_ascii=False))
        elif not reports:
            click.echo("no servers in this database")
        else:
            click.echo("\n\n".join(precision_mod.report_text(r) for r in reports))
        return
    with Store.open(db_path) as store:
        data = store.stats(server)
        if as_json:
            click.echo(json.dumps(data, indent=2, sort_keys=True))
            return
        click.echo(stats_text(data))
        incs = store.incidents(server, with_flags=True)
        if incs:
            click.echo("\n" + incident_lines(incs))


@main.command()
@db_option()
@server_option()
@click.option(
    "--expect-head",
    "expect_head",
    default=None,
    metavar="HASH[:COUNT]",
    help="A head witnessed outside the database (anchor post, export manifest): catches a cut-off or rewritten chain.",
)
def verify(db_path: Path, server: str | None, expect_head: str | None) -> None:
    """Check every server's audit hash chain and every audited field; names the first row that differs. Exit 1 if any is broken."""
    try:
        head = parse_head(expect_head) if expect_head else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expect-head") from None
    with Store.open(db_path) as store:
        reports = store.verify_chain(server, expect_head=head)
        if not reports:
            click.echo("no audit rows" + (f" for {server}" if server else ""))
            return
        broken = False
        for r in reports:
            if r.ok:
                click.echo(f"{r.server}: OK, {r.rows} rows, head {r.head}:{r.rows}")
            else:
                broken = True
                click.echo(f"{r.server}: BROKEN at {r.problem}")
        if broken:
            sys.exit(1)


@main.command()
@db_option()
@click.option("--user", "user_id", type=CleanText(), default=None, help="Erase this person's message content (a privacy request).")
@server_option("Limit to one server.")
@click.option("--retention", is_flag=True, help="Apply each server's retention_days from the config instead.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None)
@click.option("--dry-run", is_flag=True, help="Only count what would be erased.")
@click.option("--yes", is_flag=True, help="Erase without asking (needed when not at a terminal).")
@click.option("--bank", "with_bank", is_flag=True, help="With --user: also remove the re-share bank entries this person registered.")
def purge(db_path: Path, user_id: str | None, server: str | None, retention: bool, config_path: Path | None, dry_run: bool, yes: bool, with_bank: bool) -> None:
    """Erase message content but keep hashes, labels and decisions (the chain still verifies). Held flags are kept.

    `--bank` also removes the pictures the person registered (their fingerprints): asked for, not
    implied, since a victim's request to erase her messages need not withdraw her protection."""
    if bool(user_id) == retention:
        raise click.UsageError("give exactly one of --user ID or --retention")
    if with_bank and not user_id:
        raise click.UsageError("--bank goes with --user ID")
    settings = load_settings(config_path)
    with Store.open(db_path) as store:
        if user_id:
            steps = [retention_policy.RetentionStep(server or "all servers", 0, store.purge_plan(server, user_id=user_id))]
        else:
            steps = retention_policy.plan(store, settings, server)
        total = 0
        for step in steps:
            if step.plan is None:
                click.echo(f"{step.server}: retention_days = 0, kept forever")
                continue
            what = f"by user {user_id}" if user_id else f"older than {step.days} days"
            held = f"; {len(step.plan.held_ids)} under legal hold kept (flags {_ids(step.plan.held_ids)})" if step.plan.held_ids else ""
            click.echo(f"{step.server}: {step.plan.count} flag(s) {what} to erase" + (f" (flags {_ids(step.plan.flag_ids)})" if step.plan.count else "") + held)
            total += step.plan.count
        bank_ids = [r["id"] for r in store.bank_list(server, registered_by=user_id)] if with_bank and user_id else []
        if with_bank:
            click.echo(
                f"{len(bank_ids)} bank entr{'y' if len(bank_ids) == 1 else 'ies'} registered by {user_id} to remove"
                + (f" ({_ids(tuple(bank_ids))})" if bank_ids else "")
            )
        if dry_run or (total == 0 and not bank_ids):
            click.echo("dry run: nothing erased" if dry_run else "nothing to erase")
            return
        what = " and ".join(
            x
            for x in (
                f"the content of {total} flag(s)" if total else "",
                f"{len(bank_ids)} bank entr{'y' if len(bank_ids) == 1 else 'ies'}" if bank_ids else "",
            )
            if x
        )
        if not yes:
            if not sys.stdin.isatty():
                raise click.ClickException(f"nothing erased: add --yes to erase {what} (cannot be undone)")
            click.confirm(f"Erase {what}? This cannot be undone", abort=True)
        if total:
            n = sum(store.purge_content(server, plan=step.plan) for step in steps if step.plan is not None and step.plan.count)
            click.echo(f"purged content of {n} flag(s)" + (f" by user {user_id}" if user_id else " past retention"))
        if bank_ids and user_id:
            removed = store.remove_bank_entries_of(user_id, server)
            click.echo(f"removed {len(removed)} bank entr{'y' if len(removed) == 1 else 'ies'} registered by {user_id}")


def _ids(ids: tuple[int, ...], shown: int = 20) -> str:
    return ", ".join(f"#{i}" for i in ids[:shown]) + (f" and {len(ids) - shown} more" if len(ids) > shown else "")


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command()
@db_option(must_exist=False)
def migrate(db_path: Path) -> None:
    """Create the database or bring its schema up to date."""
    with Store.open(db_path, migrate=False) as store:
        applied = store.migrate()
        click.echo(f"{db_path}: schema version {store.schema_version()}" + (f" (applied {', '.join(map(str, applied))})" if applied else " (up to date)"))
