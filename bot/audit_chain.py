"""The audit chain's format and its check: what each audit row commits to, and the replay that `verify` runs.

Pure functions over plain rows (no SQL, no store), so the CLI's `verify`, backups and `verify-export`
share one definition of a valid chain.

Payload versions: rows written before format 2 have no `"v"` key and commit only to ids and times;
they are still hash-checked and their few fields compared with the live rows ("version 1"). Rows with
`"v": 2` commit to every evidence field. Content that a privacy purge may erase (excerpt, verdict
reasons, report reasons, appeal texts) is committed to as a SHA-256 and compared only while it is not purged.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

log = logging.getLogger(__name__)

GENESIS = "0" * 64
FORMAT = 2


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(obj: Any) -> str:
    """The one JSON spelling that hashes are taken over (sorted keys, no spaces, UTF-8)."""
    return _CANONICAL.encode(obj)


def chain_hash(prev_hash: str, server: str, seq: int, kind: str, ref_id: int, payload: str, created_at: str) -> str:
    body = canonical([prev_hash, server, seq, kind, ref_id, payload, created_at])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def text_sha256(text: str | None) -> str | None:
    """SHA-256 of text that may later be purged; None stays None."""
    return None if text is None else hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# ---- what each audit row commits to (format 2) --------------------------------------------
def verdict_evidence(rows: Sequence[tuple[str, float, str, str]]) -> list[list[Any]]:
    """Verdict rows (label, score, reason, detector) as committed: the reason only as a hash (it can be purged)."""
    return [[label, float(score), text_sha256(reason), detector] for label, score, reason, detector in rows]


def flag_evidence(
    *,
    server: str,
    platform: str,
    channel_id: str,
    message_id: str,
    author_id: str,
    content_sha256: str,
    excerpt: str | None,
    targets: str,
    labels: str,
    max_score: float,
    source: str,
    dry_run: int,
    message_time: str,
    created_at: str,
    verdicts: Sequence[tuple[str, float, str, str]],
) -> dict[str, Any]:
    """A new flag: every column a court would rely on, as stored."""
    return {
        "v": FORMAT,
        "server": server,
        "platform": platform,
        "channel_id": channel_id,
        "message_id": message_id,
        "author_id": author_id,
        "content_sha256": content_sha256,
        "excerpt_sha256": text_sha256(excerpt),
        "targets": targets,
        "labels": labels,
        "max_score": float(max_score),
        "source": source,
        "dry_run": int(dry_run),
        "message_time": message_time,
        "created_at": created_at,
        "verdicts": verdict_evidence(verdicts),
    }


def flag_update_evidence(
    *, labels: str, max_score: float, excerpt: str | None, edited: bool, verdicts: Sequence[tuple[str, float, str, str]]
) -> dict[str, Any]:
    """A flag seen again: its labels and top score after the update, a new excerpt (edits only), verdicts added."""
    return {
        "v": FORMAT,
        "labels": labels,
        "max_score": float(max_score),
        "edited": bool(edited),
        "excerpt_sha256": text_sha256(excerpt) if edited else None,
        "verdicts": verdict_evidence(verdicts),
    }


def report_evidence(*, server: str, flag_id: int, reporter_id: str, reason: str, created_at: str) -> dict[str, Any]:
    return {"v": FORMAT, "server": server, "flag_id": flag_id, "reporter_id": reporter_id, "reason_sha256": text_sha256(reason), "created_at": created_at}


def review_evidence(*, server: str, flag_id: int, decision: str, reviewer_id: str, note: str, status: str, created_at: str) -> dict[str, Any]:
    """A review and the flag status it set."""
    return {
        "v": FORMAT,
        "server": server,
        "flag_id": flag_id,
        "decision": decision,
        "reviewer_id": reviewer_id,
        "note": note,
        "status": status,
        "created_at": created_at,
    }


def action_evidence(
    *,
    server: str,
    flag_id: int | None,
    kind: str,
    actor: str,
    automatic: int,
    dry_run: int,
    target_user: str | None,
    duration_s: int | None,
    reason: str,
    created_at: str,
) -> dict[str, Any]:
    return {
        "v": FORMAT,
        "server": server,
        "flag_id": flag_id,
        "kind": kind,
        "actor": actor,
        "automatic": int(automatic),
        "dry_run": int(dry_run),
        "target_user": target_user,
        "duration_s": duration_s,
        "reason": reason,
        "created_at": created_at,
    }


def action_result_evidence(*, status: str, detail: str, completed_at: str) -> dict[str, Any]:
    return {"v": FORMAT, "status": status, "detail": detail, "completed_at": completed_at}


def hold_evidence(*, target: str, target_id: int, by: str, reason: str, active: bool) -> dict[str, Any]:
    """A legal hold placed (active) or lifted on a flag or incident."""
    return {"v": FORMAT, "target": target, "target_id": target_id, "by": by, "reason": reason, "active": bool(active)}


def appeal_evidence(*, server: str, flag_id: int, incident_id: int | None, appellant_id: str, text: str, lang: str, created_at: str) -> dict[str, Any]:
    """A member's appeal: whose, against which flag, and a hash of what they wrote."""
    return {
        "v": FORMAT,
        "server": server,
        "flag_id": flag_id,
        "incident_id": incident_id,
        "appellant_id": appellant_id,
        "text_sha256": text_sha256(text),
        "lang": lang,
        "created_at": created_at,
    }


def appeal_decision_evidence(*, status: str, decided_by: str, decided_at: str, note: str) -> dict[str, Any]:
    """A moderator upheld or reversed an appeal."""
    return {"v": FORMAT, "status": status, "decided_by": decided_by, "decided_at": decided_at, "note": note}


# ---- verification --------------------------------------------------------------------------
@dataclass(frozen=True)
class ChainProblem:
    server: str
    seq: int  # 0: a live row that no audit row accounts for
    kind: str
    ref_id: int
    problem: str

    def __str__(self) -> str:
        if self.seq == 0:
            return f"{self.server}: {self.kind} #{self.ref_id}: {self.problem}"
        return f"{self.server}: audit row {self.seq} ({self.kind} #{self.ref_id}): {self.problem}"


@dataclass(frozen=True)
class ChainReport:
    server: str
    rows: int
    head: str
    problem: ChainProblem | None = None
    head_time: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass
class LiveRows:
    """One server's evidence rows as they are now (loaded by the store)."""

    flags: dict[int, dict[str, Any]] = field(default_factory=dict)
    verdicts: dict[int, list[tuple[str, float, str, str]]] = field(default_factory=dict)
    reports: dict[int, dict[str, Any]] = field(default_factory=dict)
    reviews: dict[int, dict[str, Any]] = field(default_factory=dict)
    actions: dict[int, dict[str, Any]] = field(default_factory=dict)
    holds: dict[int, dict[str, Any]] = field(default_factory=dict)
    appeals: dict[int, dict[str, Any]] = field(default_factory=dict)


AuditRow = tuple[int, str, int, str, str, str, str]  # seq, kind, ref_id, payload, prev_hash, row_hash, created_at

_V1_TABLES = {"flag": "flags", "report": "reports", "review": "reviews", "action": "actions", "hold": "holds", "appeal": "appeals"}
_TABLES = ("flags", "reports", "reviews", "actions", "holds", "appeals")
# version-1 rows: the columns their payload held, compared as before format 2
_V1_COLUMNS = {
    "flags": ("server", "channel_id", "message_id", "author_id", "content_sha256", "source", "created_at"),
    "reports": ("server", "flag_id", "reporter_id", "created_at"),
    "reviews": ("server", "flag_id", "decision", "reviewer_id", "note", "created_at"),
    "actions": ("server", "flag_id", "kind", "actor", "dry_run", "created_at"),
}


class _Expect:
    """Expected value of one live field and the audit row that last set it."""

    __slots__ = ("value", "seq", "kind", "ref")

    def __init__(self, value: Any, seq: int, kind: str, ref: int) -> None:
        self.value, self.seq, self.kind, self.ref = value, seq, kind, ref


def parse_head(text: str) -> tuple[str, int | None]:
    """`HASH` or `HASH:COUNT` (as printed by `verify`, anchors and manifests) -> (hash, count)."""
    h, _, count = text.strip().partition(":")
    h = h.lower()
    if len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
        raise ValueError(f"{text!r} is not a chain head (64 hex digits, optionally :COUNT)")
    if count and not count.isdigit():
        raise ValueError(f"{text!r}: the count after ':' must be a whole number")
    return h, int(count) if count else None


def verify(server: str, rows: Iterable[AuditRow], live: LiveRows, expect_head: tuple[str, int | None] | None = None) -> ChainReport:
    """Replay `server`'s audit rows (in insertion order) against the live rows; report the first difference.

    The replay builds about ten small objects per audit row and frees none until the end, which makes
    the cyclic garbage collector rescan them over and over (half the time at 100,000 rows); it is paused.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _verify(server, rows, live, expect_head)
    finally:
        if enabled:
            gc.enable()


def _verify(server: str, rows: Iterable[AuditRow], live: LiveRows, expect_head: tuple[str, int | None] | None) -> ChainReport:
    prev, n, head_time = GENESIS, 0, None
    problems: list[ChainProblem] = []
    fields: dict[tuple[str, int, str], _Expect] = {}  # (table, id, column) -> expected
    audited: dict[str, dict[int, tuple[int, str]]] = {t: {} for t in _TABLES}
    verdicts: dict[int, tuple[list[list[Any]], int, str]] = {}  # flag -> (expected rows, setter seq, kind); format 2 only
    report_counts: dict[int, _Expect] = {}
    purged: dict[int, int] = {}  # flag -> seq of its purge row
    seen_head = False

    def setf(table: str, rid: int, col: str, value: Any, seq: int, kind: str, ref: int) -> None:
        fields[(table, rid, col)] = _Expect(value, seq, kind, ref)

    for seq, kind, ref_id, payload, prev_hash, row_hash, created_at in rows:
        n += 1

        def bad(problem: str) -> ChainProblem:
            return ChainProblem(server, seq, kind, ref_id, problem)

        if seq != n:
            problems.append(bad(f"sequence jumps from {n - 1} to {seq} (a row was deleted or reordered)"))
            break
        if prev_hash != prev:
            problems.append(bad("does not link to the previous row (a row was deleted, inserted or reordered)"))
            break
        if chain_hash(prev, server, seq, kind, ref_id, payload, created_at) != row_hash:
            problems.append(bad("hash does not match its contents (the audit row was altered)"))
            break
        prev, head_time = row_hash, created_at
        if expect_head and row_hash == expect_head[0]:
            seen_head = expect_head[1] is None or expect_head[1] == seq
        try:
            p = json.loads(payload)
        except ValueError:
            problems.append(bad("payload is not JSON"))
            break
        if not isinstance(p, dict):
            problems.append(bad("payload is not a JSON object"))
            break
        v2 = p.get("v") == FORMAT
        table = _V1_TABLES.get(kind)
        if table is not None:
            audited[table].setdefault(ref_id, (seq, kind))
        if kind == "purge":
            purged[ref_id] = seq
            setf("flags", ref_id, "purged", True, seq, kind, ref_id)
            continue
        if not v2:
            if table in _V1_COLUMNS:
                live_row = getattr(live, table).get(ref_id)
                if live_row is None:
                    problems.append(bad(f"{table} row #{ref_id} is missing (deleted)"))
                    continue
                for col in _V1_COLUMNS[table]:
                    if col in p and live_row[col] != p[col]:
                        problems.append(bad(f"{table} row #{ref_id} column {col} differs from the audited value"))
                        break
            continue
        if kind == "flag":
            for col in (
                "server",
                "platform",
                "channel_id",
                "message_id",
                "author_id",
                "content_sha256",
                "targets",
                "labels",
                "max_score",
                "source",
                "dry_run",
                "message_time",
                "created_at",
                "excerpt_sha256",
            ):
                setf("flags", ref_id, col, p[col], seq, kind, ref_id)
            setf("flags", ref_id, "status", "pending", seq, kind, ref_id)
            setf("flags", ref_id, "purged", False, seq, kind, ref_id)
            verdicts[ref_id] = (list(p["verdicts"]), seq, kind)
            report_counts[ref_id] = _Expect(0, seq, kind, ref_id)
        elif kind == "flag_update":
            setf("flags", ref_id, "labels", p["labels"], seq, kind, ref_id)
            setf("flags", ref_id, "max_score", p["max_score"], seq, kind, ref_id)
            if p.get("edited"):
                setf("flags", ref_id, "excerpt_sha256", p["excerpt_sha256"], seq, kind, ref_id)
            if ref_id in verdicts:
                old = verdicts[ref_id][0]
                verdicts[ref_id] = (old + list(p["verdicts"]), seq, kind)
        elif kind == "report":
            for col in ("server", "flag_id", "reporter_id", "reason_sha256", "created_at"):
                setf("reports", ref_id, col, p[col], seq, kind, ref_id)
            rc = report_counts.get(p["flag_id"])
            if rc is not None:
                report_counts[p["flag_id"]] = _Expect(rc.value + 1, seq, kind, ref_id)
        elif kind == "review":
            for col in ("server", "flag_id", "decision", "reviewer_id", "note", "created_at"):
                setf("reviews", ref_id, col, p[col], seq, kind, ref_id)
            setf("flags", p["flag_id"], "status", p["status"], seq, kind, ref_id)
        elif kind == "action":
            for col in ("server", "flag_id", "kind", "actor", "automatic", "dry_run", "target_user", "duration_s", "reason", "created_at"):
                setf("actions", ref_id, col, p[col], seq, kind, ref_id)
            setf("actions", ref_id, "status", "pending", seq, kind, ref_id)
            setf("actions", ref_id, "detail", "", seq, kind, ref_id)
        elif kind in ("hold", "hold_release"):
            for col, key in (("target", "target"), ("target_id", "target_id"), ("reason", "reason")):
                setf("holds", ref_id, col, p[key], seq, kind, ref_id)
            setf("holds", ref_id, "placed_by" if p["active"] else "released_by", p["by"], seq, kind, ref_id)
            if p["active"]:
                setf("holds", ref_id, "released_by", None, seq, kind, ref_id)
        elif kind == "action_result":
            for col in ("status", "detail", "completed_at"):
                setf("actions", ref_id, col, p[col], seq, kind, ref_id)
        elif kind == "appeal":
            for col in ("server", "flag_id", "incident_id", "appellant_id", "text_sha256", "lang", "created_at"):
                setf("appeals", ref_id, col, p[col], seq, kind, ref_id)
            for col, value in (("status", "open"), ("decided_by", None), ("decided_at", None), ("note", "")):
                setf("appeals", ref_id, col, value, seq, kind, ref_id)
        elif kind == "appeal_decision":
            for col in ("status", "decided_by", "decided_at", "note"):
                setf("appeals", ref_id, col, p[col], seq, kind, ref_id)

    if problems:  # the chain itself is broken: the replay stopped there, so live rows cannot be judged past it
        return ChainReport(server, n - 1, prev, problems[0], head_time)
    # live rows against what the chain says they must be
    for (table, rid, col), exp in fields.items():
        row = getattr(live, table).get(rid)
        if row is None:
            problems.append(ChainProblem(server, exp.seq, exp.kind, exp.ref, f"{table} row #{rid} is missing (deleted)"))
            continue
        if col == "excerpt_sha256" and rid in purged or col in ("reason_sha256", "text_sha256") and row["flag_id"] in purged:
            continue  # purged content (an appeal's text goes with its flag's): erased on purpose, only its hash remains
        actual = _live_value(table, row, col)
        if actual != exp.value:
            problems.append(ChainProblem(server, exp.seq, exp.kind, exp.ref, f"{table} row #{rid} {_name(col)} differs from the audited value"))
    for fid, (expected, seq, kind) in verdicts.items():
        if fid not in live.flags:
            continue
        actual = verdict_evidence(live.verdicts.get(fid, []))
        if fid in purged:
            expected = [e[:2] + [None] + e[3:] for e in expected]
            actual = [a[:2] + [None] + a[3:] for a in actual]
        if actual != expected:
            problems.append(
                ChainProblem(server, seq, kind, fid, f"flags row #{fid} verdicts (label, score, reason or detector) differ from the audited values")
            )
    for fid, exp in report_counts.items():
        row = live.flags.get(fid)
        if row is not None and row["report_count"] != exp.value:
            problems.append(ChainProblem(server, exp.seq, exp.kind, exp.ref, f"flags row #{fid} report_count differs from the audited reports"))
    for table in _TABLES:
        for rid in getattr(live, table):
            if rid not in audited[table]:
                problems.append(ChainProblem(server, 0, table, rid, "has no audit row (inserted outside triagebot)"))
                break
    if expect_head and not seen_head:
        h, count = expect_head
        at = f" at row {count}" if count else ""
        problems.append(
            ChainProblem(server, n, "head", n, f"the witnessed head {h[:16]}…{at} is not in the chain (rows were cut off the end or the chain was rewritten)")
        )
    if not problems:
        return ChainReport(server, n, prev, None, head_time)
    first = min(problems, key=lambda p: (p.seq == 0, p.seq))
    return ChainReport(server, n, prev, first, head_time)


def _live_value(table: str, row: Mapping[str, Any], col: str) -> Any:
    if col == "excerpt_sha256":
        return text_sha256(row["excerpt"])
    if col == "reason_sha256":
        return text_sha256(row["reason"])
    if col == "text_sha256":
        return text_sha256(row["text"])
    if col == "purged":
        return row["content_purged_at"] is not None
    return row[col]


def _name(col: str) -> str:
    return {"excerpt_sha256": "excerpt", "reason_sha256": "reason", "text_sha256": "text", "purged": "content_purged_at"}.get(col, f"column {col}")
