"""Check an exported file on its own, without the database: file hash, signature, audit hashes and links, row fields.

What a recipient (a lawyer, the police) runs through `triagebot verify-export`. Each export row carries
the audit rows about its flag; their hashes are recomputed, consecutive ones must link, the newest must
agree with the signed anchor, and the row's evidence fields must match what those audit rows committed to.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

from bot.audit_chain import FORMAT, chain_hash, text_sha256
from bot.export import neutralise_cell
from bot.signing import SigningKeyError, check_signature
from bot.store.base import PURGED

log = logging.getLogger(__name__)


@dataclass
class ExportCheck:
    rows: int = 0
    audit_rows: int = 0
    redacted: int = 0
    public_key: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_export(data: bytes, manifest: Mapping[str, Any], expect_key: str | None = None) -> ExportCheck:
    """Every check on an export; problems are one line each, the first ones first."""
    out = ExportCheck()
    if hashlib.sha256(data).hexdigest() != manifest.get("sha256"):
        out.problems.append("the file's SHA-256 does not match the manifest (the file was changed or is not this export)")
    try:
        out.public_key = check_signature(manifest)
    except SigningKeyError as exc:
        out.problems.append(str(exc))
    if expect_key and out.public_key and out.public_key != expect_key.strip():
        out.problems.append(f"signed by {out.public_key}, not by the expected key {expect_key.strip()}")
    try:
        rows = _parse(data, str(manifest.get("format")))
    except (ValueError, csv.Error) as exc:
        out.problems.append(f"the file cannot be read as {manifest.get('format')}: {exc}")
        return out
    out.rows = len(rows)
    if manifest.get("rows") != len(rows):
        out.problems.append(f"the file has {len(rows)} rows, the manifest says {manifest.get('rows')}")
    chains: dict[str, dict[int, dict]] = {}
    for row in rows:
        for a in row.get("audit") or []:
            out.audit_rows += 1
            server = str(row.get("server"))
            if a.get("payload") is None:
                out.redacted += 1
            elif chain_hash(a["prev_hash"], server, a["seq"], a["kind"], a["ref_id"], a["payload"], a["created_at"]) != a["row_hash"]:
                out.problems.append(f"row {row.get('id')}: audit row {a['seq']} ({a['kind']}) does not match its hash")
            chains.setdefault(server, {})[a["seq"]] = a
        problem = _row_problem(row)
        if problem:
            out.problems.append(f"row {row.get('id')}: {problem}")
    anchors = manifest.get("anchors") or {}
    for server, seqs in chains.items():
        for seq in sorted(seqs):
            nxt = seqs.get(seq + 1)
            if nxt is not None and nxt["prev_hash"] != seqs[seq]["row_hash"]:
                out.problems.append(f"{server}: audit row {seq + 1} does not link to row {seq}")
        anchor = anchors.get(server)
        if isinstance(anchor, Mapping):
            rows_field = anchor.get("rows")
            # a tampered manifest may hold anything here: a non-integer is a problem to report, not a crash
            head_rows = rows_field if isinstance(rows_field, int) else 0
            last = seqs.get(rows_field) if isinstance(rows_field, int) else None
            if last is not None and last["row_hash"] != anchor.get("head"):
                out.problems.append(f"{server}: audit row {anchor.get('rows')} differs from the manifest's head")
            if max(seqs) > head_rows:
                out.problems.append(f"{server}: audit rows newer than the manifest's head")
    return out


def _payloads(row: Mapping[str, Any], *kinds: str) -> list[dict]:
    out = []
    for a in row.get("audit") or []:
        if a.get("kind") in kinds and a.get("payload") is not None:
            p = json.loads(a["payload"])
            if isinstance(p, dict) and p.get("v") == FORMAT:
                out.append({**p, "_hash": a["row_hash"]})
    return out


def _row_problem(row: Mapping[str, Any]) -> str | None:
    """The first evidence field of an export row that disagrees with its audit rows (format 2 only)."""
    created = _payloads(row, "flag")
    if not created:
        return None
    p = created[0]
    for col in ("author_id", "channel_id", "message_id", "content_sha256", "message_time", "created_at"):
        if str(row.get(col)) != str(p[col]):
            return f"{col} differs from the audited value"
    if row.get("row_hash") not in (None, "", p["_hash"]):
        return "row_hash is not the hash of the flag's audit row"
    updates = created + _payloads(row, "flag_update")
    last = updates[-1]
    if ",".join(row.get("labels") or []) != last["labels"]:
        return "labels differ from the audited value"
    if abs(float(row.get("max_score") or 0) - round(last["max_score"], 4)) > 1e-9:
        return "max_score differs from the audited value"
    excerpt_hash = [u["excerpt_sha256"] for u in updates if u is p or u.get("edited")][-1]
    if not row.get("content_purged") and text_sha256(row.get("excerpt") or "") != excerpt_hash:
        return "excerpt differs from the audited hash"
    reviews = _payloads(row, "review")
    if [r["decision"] for r in reviews] != [r.get("decision") for r in row.get("reviews") or []]:
        return "reviews differ from the audited ones"
    if row.get("status") != (reviews[-1]["status"] if reviews else "pending"):
        return "status differs from the audited value"
    results = {a["ref_id"]: json.loads(a["payload"]).get("status") for a in row.get("audit") or [] if a.get("kind") == "action_result" and a.get("payload")}
    actions = [(a["ref_id"], json.loads(a["payload"])["kind"]) for a in row.get("audit") or [] if a.get("kind") == "action" and a.get("payload")]
    audited = [(kind, results.get(ref, "pending")) for ref, kind in actions]
    if audited != [(a.get("kind"), a.get("status")) for a in row.get("actions") or []]:
        return "actions (kind or status) differ from the audited ones"
    return _appeals_problem(row)


def _appeals_problem(row: Mapping[str, Any]) -> str | None:
    """Exported appeals must be the audited ones: same ids, appellants, texts (unless purged) and outcomes."""
    opened: dict[int, dict] = {}
    outcome: dict[int, str] = {}
    for a in row.get("audit") or []:
        if a.get("kind") in ("appeal", "appeal_decision") and a.get("payload"):
            p = json.loads(a["payload"])
            if a["kind"] == "appeal":
                opened[a["ref_id"]] = p
            else:
                outcome[a["ref_id"]] = p.get("status")
    exported = row.get("appeals")
    if exported is None:  # an export made before appeals were exported
        return None
    if sorted(opened) != sorted(int(x.get("id", 0)) for x in exported):
        return "appeals differ from the audited ones"
    for x in exported:
        p = opened[int(x["id"])]
        if str(x.get("appellant_id")) != str(p.get("appellant_id")):
            return f"appeal #{x['id']}: appellant differs from the audited value"
        if x.get("text") != PURGED and text_sha256(x.get("text") or "") != p.get("text_sha256"):
            return f"appeal #{x['id']}: text differs from the audited hash"
        if x.get("status") != outcome.get(int(x["id"]), "open"):
            return f"appeal #{x['id']}: status differs from the audited value"
    return None


def _parse(data: bytes, fmt: str) -> list[dict[str, Any]]:
    text = data.decode("utf-8")
    if fmt == "json":
        rows = json.loads(text)
        if not isinstance(rows, list):
            raise ValueError("not a JSON list")
        return rows
    if fmt == "ndjson":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if fmt == "csv":
        return [_from_csv(r) for r in csv.DictReader(io.StringIO(text, newline=""))]
    raise ValueError(f"unknown format {fmt!r}")


def _cell(value: str | None) -> str:
    """Undo the export's formula neutralisation."""
    v = value or ""
    return v[1:] if v.startswith("'") and neutralise_cell(v[1:]) == v else v


def _from_csv(r: Mapping[str, str]) -> dict[str, Any]:
    """A CSV row back in the JSON row's shape, for the fields the checks read."""

    def split(key: str) -> list[str]:
        v = _cell(r.get(key))
        return v.split(" | ") if v else []

    return {
        "id": r.get("id"),
        "server": _cell(r.get("server")),
        "author_id": _cell(r.get("author_id")),
        "channel_id": _cell(r.get("channel_id")),
        "message_id": _cell(r.get("message_id")),
        "content_sha256": r.get("content_sha256"),
        "message_time": r.get("message_time"),
        "created_at": r.get("created_at"),
        "row_hash": r.get("row_hash"),
        "labels": split("labels"),
        "max_score": r.get("max_score") or 0,
        "excerpt": _cell(r.get("excerpt")),
        "content_purged": r.get("content_purged") == "True",
        "status": r.get("status"),
        "reviews": [{"decision": x.split(" ", 1)[0]} for x in split("reviews")],
        "actions": [{"kind": x.split(":", 1)[0], "status": x.split(":", 1)[1].split(" ", 1)[0]} for x in split("actions")],
        "appeals": json.loads(_cell(r.get("appeals")) or "[]"),
        "audit": json.loads(_cell(r.get("audit")) or "[]"),
    }
