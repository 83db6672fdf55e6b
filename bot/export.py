"""CSV / JSON / NDJSON evidence exports with a manifest, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from tqdm import tqdm

from bot.models import utcnow
from bot.signing import key_path_for, load_or_create_key, sign_manifest
from bot.store import AppealView, FlagFilter, FlagView, Store, iso

if TYPE_CHECKING:
    from _typeshed import SupportsWrite  # anything with write(bytes): a file, stdout's buffer, the CLI's echo

log = logging.getLogger(__name__)

FORMATS = ("csv", "json", "ndjson")
#: OWASP CSV injection: cells starting with these are formulas in spreadsheet apps.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: what spreadsheets also read as a formula start once leading blanks and quotes are skipped (full-width too)
_FORMULA_CHARS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
#: skipped before looking for a formula start: whitespace (NBSP, ideographic space, newlines) and quotes
_LEADING = " \t\r\n\v\f\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u200b\u2028\u2029\u202f\u205f\u3000\ufeff\"'`\u2018\u2019\u201c\u201d"
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?([eE][+-]?\d+)?")

CSV_COLUMNS = [
    "id",
    "server",
    "platform",
    "channel_id",
    "message_id",
    "author_id",
    "author_name",
    "excerpt",
    "link",
    "labels",
    "max_score",
    "scores",
    "reasons",
    "source",
    "status",
    "report_count",
    "report_reasons",
    "reporters",
    "reviews",
    "actions",
    "appeals",
    "incident_id",
    "message_time",
    "created_at",
    "content_sha256",
    "content_purged",
    "legal_hold",
    "row_hash",
    "audit",
]
#: manifest format: 2 adds per-row audit rows, chain anchors and the Ed25519 signature
MANIFEST_VERSION = 2


def neutralise_cell(value: Any) -> str:
    """Prefix a quote so spreadsheets show the text instead of running it.

    A cell is a formula risk when its first character after blanks and quotes (NBSP and newlines
    included) is = + - @ or their full-width forms; plain numbers such as a Telegram chat id
    (-1001234567890) are left as they are, so the column still sorts and matches.
    """
    s = "" if value is None else str(value)
    if not s or _PLAIN_NUMBER.fullmatch(s):
        return s
    if s.startswith(("\t", "\r")) or s.lstrip(_LEADING)[:1] in _FORMULA_CHARS:
        return "'" + s
    return s


@dataclass(frozen=True)
class ExportResult:
    data: bytes
    filename: str
    manifest: dict[str, Any]

    @property
    def manifest_json(self) -> bytes:
        return (json.dumps(self.manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _audit_for_export(rows: list[dict], include_reporters: bool) -> list[dict]:
    """The flag's audit rows; report rows lose their payload (it names the reporter) unless reporters are included.

    A redacted row still links its neighbours through its hashes; only its own hash cannot be recomputed.
    """
    if include_reporters:
        return rows
    return [{**r, "payload": None, "redacted": "reporter"} if r["kind"] == "report" else r for r in rows]


def _row(
    flag: FlagView,
    reviews: list[dict],
    actions: list[dict],
    reports: list[dict],
    row_hash: str | None,
    content_sha: str | None,
    include_reporters: bool,
    audit: list[dict] | None = None,
    held: bool = False,
    appeals: list[AppealView] | None = None,
) -> dict[str, Any]:
    return {
        "id": flag.id,
        "server": flag.server,
        "platform": flag.platform,
        "channel_id": flag.channel_id,
        "message_id": flag.message_id,
        "author_id": flag.author_id,
        "author_name": flag.author_name,
        "excerpt": flag.excerpt,
        "link": flag.link,
        "labels": list(flag.labels),
        "max_score": round(flag.max_score, 4),
        "scores": {k: round(v, 4) for k, v in flag.scores.items()},
        "reasons": list(flag.reasons),
        "source": flag.source,
        "status": flag.status,
        "report_count": flag.report_count,
        "report_reasons": [r["reason"] for r in reports if r["reason"]],
        **({"reporters": [r["reporter"] for r in reports]} if include_reporters else {}),
        "reviews": [{k: r[k] for k in ("decision", "reviewer", "note", "at")} for r in reviews],
        "actions": [
            {
                "kind": a["kind"],
                "actor": a["actor"],
                "automatic": bool(a["automatic"]),
                "dry_run": bool(a["dry_run"]),
                "status": a["status"],
                "detail": a["detail"],
                "at": a["created_at"],
            }
            for a in actions
        ],
        "appeals": [
            {
                "id": p.id,
                "appellant_id": p.appellant_id,
                "text": p.text,
                "lang": p.lang,
                "status": p.status,
                "decided_by": p.decided_by,
                "decided_at": iso(p.decided_at) if p.decided_at else None,
                "note": p.note,
                "at": iso(p.created_at),
            }
            for p in appeals or []
        ],
        "incident_id": flag.incident_id,
        "message_time": iso(flag.message_time),
        "created_at": iso(flag.created_at),
        "content_sha256": content_sha,
        "content_purged": flag.excerpt == "[purged]",
        "legal_hold": held,
        "row_hash": row_hash,
        "audit": _audit_for_export(audit or [], include_reporters),
    }


def iter_rows(store: Store, which: FlagFilter, include_reporters: bool = False, progress: bool = False) -> Iterator[dict[str, Any]]:
    """Export rows in id order, for the flags `which` covers (one case, one server, or every server)."""
    total = store.count_flags(which)
    bar = tqdm(total=total, desc="exporting", unit="flag", disable=not progress or total < 1000, leave=False)
    batch: list[FlagView] = []

    def flush() -> Iterator[dict[str, Any]]:
        by_server: dict[str, list[FlagView]] = {}
        for f in batch:
            by_server.setdefault(f.server, []).append(f)
        for srv, flags in by_server.items():
            ids = [f.id for f in flags]
            reviews, actions, reports = store.reviews_for(srv, ids), store.actions_by_flag(srv, ids), store.reports_by_flag(srv, ids)
            hashes = store.audit_hashes(srv, "flag", ids)
            payload_sha = store.flag_content_hashes(srv, ids)
            audit = store.audit_rows_for_flags(srv, ids)
            held = store.held_flag_ids(srv)
            appeals = store.appeals_by_flag(srv, ids)
            for f in flags:
                yield _row(
                    f,
                    reviews.get(f.id, []),
                    actions.get(f.id, []),
                    reports.get(f.id, []),
                    hashes.get(f.id),
                    payload_sha.get(f.id),
                    include_reporters,
                    audit.get(f.id, []),
                    f.id in held,
                    appeals.get(f.id, []),
                )
        bar.update(len(batch))

    try:
        for flag in store.iter_flags(which):
            batch.append(flag)
            if len(batch) >= 500:
                yield from sorted(flush(), key=lambda r: r["id"])
                batch = []
        if batch:
            yield from sorted(flush(), key=lambda r: r["id"])
    finally:
        bar.close()


def _csv_row(row: dict[str, Any]) -> list[str]:
    def flat(key: str) -> Any:
        v = row.get(key)
        if key == "scores":
            return json.dumps(v, sort_keys=True)
        if key in ("labels", "reasons", "report_reasons", "reporters"):
            return " | ".join(v or [])
        if key == "reviews":
            return " | ".join(f"{r['decision']} by {r['reviewer']} at {r['at']}" + (f": {r['note']}" if r["note"] else "") for r in v or [])
        if key in ("audit", "appeals"):  # JSON: appeal texts are free text, so " | " cannot separate them
            return json.dumps(v, ensure_ascii=False, sort_keys=True)
        if key == "appeals":
            return " | ".join(
                f"#{p['id']} {p['status']}" + (f" by {p['decided_by']} at {p['decided_at']}" if p["decided_by"] else "") + f": {p['text']}" for p in v or []
            )
        if key == "actions":
            return " | ".join(f"{a['kind']}:{a['status']} by {a['actor']}" + (" (dry-run)" if a["dry_run"] else "") for a in v or [])
        return v

    return [neutralise_cell(flat(k)) for k in CSV_COLUMNS]


def write_export(
    store: Store,
    out: SupportsWrite[bytes],
    fmt: str,
    which: FlagFilter | str | None,
    include_reporters: bool = False,
    progress: bool = False,
    key_path: Path | None = None,
) -> dict[str, Any]:
    """Stream the export to `out` (binary) and return its manifest, signed with the deployment's key.

    Rows, their audit rows and the heads come from one read snapshot, so they agree with each other.
    The key is `key_path`, else $TRIAGEBOT_SIGNING_KEY, else `<db>.signing-key` (made on first use).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (expected one of {', '.join(FORMATS)})")
    with store.read_snapshot():
        manifest = _write_unsigned(store, out, fmt, which if isinstance(which, FlagFilter) else FlagFilter(server=which), include_reporters, progress)
    if key_path is None:
        if store.path is None:
            log.warning("export of an in-memory store is not signed (no key location)")
            return manifest
        key_path = key_path_for(store.path)
    return sign_manifest(manifest, load_or_create_key(key_path))


def _write_unsigned(
    store: Store,
    out: SupportsWrite[bytes],
    fmt: str,
    which: FlagFilter,
    include_reporters: bool,
    progress: bool,
) -> dict[str, Any]:
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (expected one of {', '.join(FORMATS)})")
    digest = hashlib.sha256()
    count = 0
    first: str | None = None
    last: str | None = None
    servers: set[str] = set()

    def emit(chunk: str) -> None:
        b = chunk.encode("utf-8")
        digest.update(b)
        out.write(b)

    columns = CSV_COLUMNS if include_reporters else [c for c in CSV_COLUMNS if c != "reporters"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    if fmt == "csv":
        writer.writerow(columns)
    elif fmt == "json":
        emit("[\n")
    if fmt == "csv":
        emit(buf.getvalue())
        buf.seek(0)
        buf.truncate()
    for row in iter_rows(store, which, include_reporters, progress):
        count += 1
        servers.add(row["server"])
        first = row["created_at"] if first is None or row["created_at"] < first else first
        last = row["created_at"] if last is None or row["created_at"] > last else last
        if fmt == "csv":
            cells = _csv_row(row)
            writer.writerow([c for c, name in zip(cells, CSV_COLUMNS) if name in columns])
            emit(buf.getvalue())
            buf.seek(0)
            buf.truncate()
        elif fmt == "json":
            emit(("," if count > 1 else "") + json.dumps(row, ensure_ascii=False) + "\n")
        else:
            emit(json.dumps(row, ensure_ascii=False) + "\n")
    if fmt == "json":
        emit("]\n")
    scope = [which.server] if which.server else sorted(servers)
    anchors = {s: store.chain_anchor(s) for s in scope}
    return {
        "manifest_version": MANIFEST_VERSION,
        "format": fmt,
        "sha256": digest.hexdigest(),
        "rows": count,
        "time_range": {"first": first, "last": last},
        "filters": {**which.manifest(), "include_reporters": include_reporters},
        "chain_heads": {s: a[0] for s, a in anchors.items()},
        "anchors": {s: {"head": h, "rows": n, "at": at} for s, (h, n, at) in anchors.items()},
        "exported_at": iso(utcnow()),
        "verify": "`triagebot verify-export FILE` checks the file hash, every row's audit hashes and links, and the signature; "
        "`triagebot verify --expect-head HEAD:ROWS` on the database proves nothing was cut since",
    }


def export_bytes(store: Store, fmt: str, which: FlagFilter | str, include_reporters: bool = False) -> ExportResult:
    """One server's export (or one case in it) in memory, for the bots' /export commands."""
    which = which if isinstance(which, FlagFilter) else FlagFilter(server=which)
    if which.server is None:
        raise ValueError("a bot's export is always of one server")
    buf = io.BytesIO()
    manifest = write_export(store, buf, fmt, which, include_reporters)
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    safe_server = which.server.replace(":", "_").replace("-", "m")
    case = f"-incident{int(which.incident)}" if which.incident is not None else ""
    if which.target is not None:
        case += "-member" + re.sub(r"[^0-9A-Za-z]", "", which.target)[:32]
    return ExportResult(buf.getvalue(), f"triagebot-{safe_server}{case}-{stamp}.{fmt}", manifest)
