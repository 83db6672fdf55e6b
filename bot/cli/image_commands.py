"""scan-image and bank add/match: thin wrappers over classifiers.images and the store.

Every image is read with the same byte cap and handled by the same killable worker
process, with the same limits and timeout, as in the bots; one bad file gives an `error`
line and the batch goes on, then the command exits 1.
"""

from __future__ import annotations

import getpass
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.cli.app import main
from bot.cli.options import ServerKey, db_option
from bot.cli.text_input import CleanText, clean_text
from bot.errors import BatchFailed

if TYPE_CHECKING:  # imported inside the commands: `triagebot --help` must not load numpy/OpenCV
    from classifiers.images.bank import BankIndex, Match

log = logging.getLogger(__name__)

DEFAULT_SCOPE = "cli"
_FORMATS = click.Choice(["table", "jsonl"])


class BankScope(ServerKey):
    """A server key, or the `cli` / `shared` banks."""

    name = "SCOPE"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        if value in (DEFAULT_SCOPE, "shared"):
            return value
        return super().convert(value, param, ctx)


def load_image(path: Path) -> bytes:
    """Read one file with the byte cap; decoding happens in the worker. Failures are ImageRejected."""
    from classifiers.images.decode import DEFAULT_LIMITS, ImageRejected, read_capped

    try:
        with open(path, "rb") as f:
            return read_capped(f, DEFAULT_LIMITS.max_bytes)
    except OSError as e:
        raise ImageRejected(f"cannot read file: {e.strerror or e}", "unreadable") from None


def _emit(rows: list[dict[str, Any]], fmt: str, columns: list[tuple[str, str]]) -> None:
    if fmt == "jsonl":
        for r in rows:
            click.echo(json.dumps(r, ensure_ascii=False))
        return
    cells = [[str(r.get(key, "")) if not isinstance(r.get(key), (list, dict)) else _short(r.get(key)) for key, _ in columns] for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, (_, h) in enumerate(columns)]
    widths[-1] = len(columns[-1][1])  # last column is free text
    click.echo("  ".join(h.ljust(w) for (_, h), w in zip(columns, widths)).rstrip())
    for c in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(c, widths)).rstrip())


def _shown(path: Path) -> str:
    """The path as given, made valid UTF-8 for output (undecodable file-name bytes become U+FFFD)."""
    return clean_text(str(path))


def _fail_if_any(rows: list[dict[str, Any]], what: str) -> None:
    """After the whole batch is reported: exit 1 (one line on stderr) if any item failed."""
    failed = sum(1 for r in rows if "error" in r)
    if failed:
        raise BatchFailed(failed, len(rows), what)


def _short(v: Any) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k}={x}" for k, x in v.items())
    return "; ".join(str(x) for x in v)


@main.command("scan-image")
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=_FORMATS, default="table", show_default=True)
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.5, show_default=True, help="Score at which `sexual` is listed in labels.")
def scan_image(images: tuple[Path, ...], fmt: str, threshold: float) -> None:
    """Score images for explicit content (NudeNet); one result per image, errors included."""
    from classifiers.images import nsfw, worker
    from classifiers.images.decode import ImageRejected

    if not nsfw.nudity_available():
        raise click.ClickException(nsfw.STATUS_OFF)
    rows: list[dict[str, Any]] = []
    with worker.ImageWorkerPool(1, nudity=True) as pool:
        for path in images:
            try:
                verdicts = worker.scan(pool, load_image(path), nudity=True, records=False).verdicts
            except ImageRejected as e:
                rows.append({"path": _shown(path), "error": clean_text(e.reason)})
                continue
            scores = {v.label: round(v.score, 4) for v in verdicts}
            rows.append(
                {
                    "path": _shown(path),
                    "scores": scores,
                    "labels": [label for label, s in scores.items() if s >= threshold],
                    "reasons": [v.reason for v in verdicts],
                }
            )
    if fmt == "table":
        for r in rows:
            if "error" in r:
                r["reasons"] = ["error: " + r["error"]]
    _emit(rows, fmt, [("path", "path"), ("scores", "scores"), ("labels", "labels"), ("reasons", "reasons / error")])
    _fail_if_any(rows, "images")


@main.group()
def bank() -> None:
    """The re-share bank: register images (hashes only) and check images against it."""


def _scopes(servers: tuple[str, ...]) -> list[str]:
    return list(dict.fromkeys(servers)) or [DEFAULT_SCOPE]


@bank.command("add")
@db_option(must_exist=False)
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--note", type=CleanText(), default=None, help="Why these images are banked (kept with the entry).")
@click.option("--server", "scope", type=BankScope(), default=DEFAULT_SCOPE, show_default=True, help="Bank scope: a server key, `shared`, or `cli`.")
@click.option("--format", "fmt", type=_FORMATS, default="table", show_default=True)
def bank_add(db_path: Path, images: tuple[Path, ...], note: str | None, scope: str, fmt: str) -> None:
    """Fingerprint images and store their hashes; the images themselves are not stored.

    An image near-identical to one you already added to this scope reuses that entry (said so)."""
    from bot.store import Store
    from classifiers.images import worker
    from classifiers.images.decode import ImageRejected

    from bot.bank_registry import register
    from classifiers.images.bank import index_from_entries

    who = f"cli:{getpass.getuser()}"
    rows: list[dict[str, Any]] = []
    with Store.open(db_path) as store, worker.ImageWorkerPool(1, nudity=False) as pool:
        index = index_from_entries(store.bank_entries([scope]))
        for path in images:
            try:
                records = worker.fingerprint_records(pool, load_image(path))
            except ImageRejected as e:
                rows.append({"path": _shown(path), "error": clean_text(e.reason)})
                continue
            entry, reused = register(store, index, scope, records, note, "cli", who)
            rows.append({"path": _shown(path), "entry": entry, "scope": scope, "reused": reused})
    if fmt == "table":
        for r in rows:
            r["result"] = (f"entry #{r['entry']}" + (" (already in the bank: reused)" if r["reused"] else "")) if "entry" in r else f"error: {r['error']}"
    _emit(rows, fmt, [("path", "path"), ("scope", "scope"), ("result", "entry / error")])
    _fail_if_any(rows, "images")


def match_row(path: Path, m: Match | None) -> dict[str, Any]:
    """The `bank match` JSON object for one image."""
    row: dict[str, Any] = {"path": _shown(path), "matched": m is not None, "entry": None, "method": None}
    if m is None:
        return row
    row.update(entry=m.entry_id, method=m.method, score=m.score)
    if m.distance is not None:
        row["distance"] = m.distance
    if m.inliers is not None:
        row["inliers"] = m.inliers
    return row


@bank.command("match")
@db_option()
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--server", "servers", type=BankScope(), multiple=True, help="Bank scope(s) to search (repeatable; default: cli).")
@click.option("--format", "fmt", type=_FORMATS, default="table", show_default=True)
def bank_match(db_path: Path, images: tuple[Path, ...], servers: tuple[str, ...], fmt: str) -> None:
    """Check images against the bank; one result per image, errors included."""
    from bot.store import Store
    from classifiers.images import worker
    from classifiers.images.bank import index_from_entries
    from classifiers.images.decode import ImageRejected

    scopes = _scopes(servers)
    with Store.open(db_path) as store:
        entries = store.bank_entries(scopes)
    index: BankIndex = index_from_entries(entries)
    rows: list[dict[str, Any]] = []
    with worker.ImageWorkerPool(1, nudity=False) as pool:
        for path in images:
            try:
                m = worker.scan(pool, load_image(path), [index], nudity=False, records=False).match
            except ImageRejected as e:
                rows.append({"path": _shown(path), "error": clean_text(e.reason)})
                continue
            rows.append(match_row(path, m))
    if fmt == "table":
        for r in rows:
            if "error" in r:
                r["result"] = r["error"]
            elif r["matched"]:
                how = f"{r['inliers']} keypoints" if r.get("inliers") else f"distance {r['distance']}/256"
                r["result"] = f"entry #{r['entry']} ({r['method']}, {how})"
            else:
                r["result"] = "no match"
    _emit(rows, fmt, [("path", "path"), ("result", "match")])
    _fail_if_any(rows, "images")
