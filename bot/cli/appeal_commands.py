"""`triagebot appeals list|decide`: members' appeals, and the moderators' decision from the command line.

The CLI works on the database alone, so it records a decision (and a reversal's `dismiss` review) at once, but
cannot reach the platforms: lifting a timeout or ban and telling the member are logged as pending actions, which
the bot carries out if it starts within its 15-minute resume window (bot/action_runner.py); after that they are
closed as not carried out. The alert buttons (Discord, Telegram) do all of it at once.
"""

from __future__ import annotations

import getpass
import json
import logging
from pathlib import Path

import click

from bot.cli.app import main
from bot.cli.options import ServerKey, db_option

log = logging.getLogger(__name__)

STATUS_CHOICES = ("open", "upheld", "reversed", "all")


@main.group()
def appeals() -> None:
    """Members' appeals against a delete, timeout or ban: list them, uphold or reverse them."""


@appeals.command("list")
@db_option()
@click.option("--server", "server", type=ServerKey(), default=None, help="Only this server, e.g. discord:1234.")
@click.option("--status", type=click.Choice(STATUS_CHOICES), default="open", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def appeals_list(db_path: Path, server: str | None, status: str, limit: int, as_json: bool) -> None:
    """Appeals, oldest first: id, case (flag), appellant, status and their words (shown as plain text)."""
    from bot.store import APPEAL_STATUSES, Store
    from bot.terminal import one_line

    statuses = APPEAL_STATUSES if status == "all" else (status,)
    with Store.open(db_path) as store:
        rows = store.appeals(server, statuses, limit=limit + 1)
    for a in rows[:limit]:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "id": a.id,
                        "server": a.server,
                        "flag_id": a.flag_id,
                        "incident_id": a.incident_id,
                        "appellant_id": a.appellant_id,
                        "text": a.text,
                        "lang": a.lang,
                        "status": a.status,
                        "decided_by": a.decided_by,
                        "note": a.note,
                        "created_at": a.created_at.isoformat(),
                        "decided_at": a.decided_at.isoformat() if a.decided_at else None,
                    },
                    ensure_ascii=False,
                )
            )
            continue
        decided = f" by {a.decided_by}" if a.decided_by else ""
        click.echo(one_line(f"#{a.id} {a.created_at:%Y-%m-%d %H:%M} {a.server} case {a.flag_id} member {a.appellant_id} [{a.status}{decided}]: {a.text}", 240))
    if len(rows) > limit and not as_json:
        click.echo(f"… more: raise --limit (showing {limit}).")
    if not rows and not as_json:
        click.echo("No appeals." if status != "open" else "No open appeals.")


@appeals.command("decide")
@db_option()
@click.option("--server", "server", type=ServerKey(), default=None, help="The appeal's server (default: looked up from the appeal id).")
@click.option("--moderator", default=lambda: f"cli:{getpass.getuser()}", show_default="cli:<your user name>")
@click.option("--note", default="", help='Why; a reversal\'s note becomes "appeal reversed: <note>" on the flag.')
@click.argument("appeal_id", type=click.IntRange(min=1))
@click.argument("decision", type=click.Choice(["uphold", "reverse"]))
def appeals_decide(db_path: Path, server: str | None, moderator: str, note: str, appeal_id: int, decision: str) -> None:
    """Uphold or reverse appeal APPEAL_ID. A reversal records the flag as dismissed (a false positive) and logs
    lifting the member's timeout or ban; the bot carries those out and tells the member when it next starts."""
    from bot import appeals as core
    from bot.action_runner import RESUME_WINDOW
    from bot.store import Store, StoreError

    minutes = int(RESUME_WINDOW.total_seconds() // 60)
    with Store.open(db_path) as store:
        where = server or store.appeal_server(appeal_id)
        if where is None:
            raise StoreError(f"no appeal #{appeal_id}")
        appeal, undo = core.record_decision(store, where, appeal_id, decision, moderator, note)
        for action in undo:
            store.record_action(action)
        deleted = core.deleted_message(store, appeal)
        store.record_action(core.outcome_notice(core.AppealOutcome(appeal, deleted=deleted)))
        store.enqueue_alert(where, appeal.flag_id)
    click.echo(f"appeal #{appeal.id} {appeal.status} by {moderator} (case {appeal.flag_id}, member {appeal.appellant_id})")
    if appeal.status == "reversed":
        click.echo(f"flag #{appeal.flag_id} recorded as dismissed: {core.REVERSED_PREFIX}{note.strip() or f'appeal #{appeal.id}'}")
        for action in undo:
            click.echo(
                f"pending: {action.kind} member {action.user_id} (the bot carries it out if it starts within "
                f"{minutes} minutes; otherwise lift it on the platform by hand)"
            )
        if deleted:
            click.echo("A deleted message cannot come back.")
    click.echo(f"The member is told if the bot starts within {minutes} minutes (the alert buttons tell them at once).")
