"""`triagebot member`: one member's record in one server, for moderators deciding what to do."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from bot.cli.app import main
from bot.cli.options import ServerKey, db_option

log = logging.getLogger(__name__)


@main.command()
@click.argument("user_id")
@db_option()
@click.option("--server", "server", type=ServerKey(), required=True, help="The server, e.g. discord:1234 (records never mix servers).")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="Newest flags and actions to list.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
def member(user_id: str, db_path: Path, server: str, limit: int, as_json: bool) -> None:
    """Show a member's flags, decisions, reports against them and actions taken on them, newest first."""
    from bot import member_history
    from bot.store import Store

    with Store.open(db_path) as store:
        history = store.member_history(server, user_id, limit=limit)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "server": history.server,
                    "user_id": history.user_id,
                    "summary": member_history.summary(history),
                    "flag_total": history.flag_total,
                    "by_status": dict(history.by_status),
                    "reports_against": history.reports_against,
                    "action_counts": dict(history.action_counts),
                    "flags": [
                        {
                            "id": f.id,
                            "message_time": f.message_time.isoformat(),
                            "status": f.status,
                            "labels": list(f.labels),
                            "excerpt": f.excerpt,
                            "link": f.link,
                        }
                        for f in history.flags
                    ],
                    "actions": list(history.actions),
                },
                ensure_ascii=False,
            )
        )
        return
    click.echo("\n".join(member_history.lines(history)))
