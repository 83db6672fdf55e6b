"""The per-server hash chain: appending audited rows, heads to witness, and verification against live rows."""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

from bot import audit_chain as chain
from bot.audit_chain import GENESIS, ChainReport, canonical, chain_hash
from bot.store.base import _chunks
from bot.store.connection import Connection


class AuditStore(Connection):
    """The audit chain every evidence write appends to in its own transaction."""

    def _audit(self, server: str, kind: str, ref_id: int, payload: Mapping[str, Any], created_at: str) -> str:
        conn = self.db.conn
        row = conn.execute("SELECT seq, row_hash FROM audit WHERE server = ? ORDER BY seq DESC LIMIT 1", (server,)).fetchone()
        seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
        body = canonical(payload)
        h = chain_hash(prev, server, seq, kind, ref_id, body, created_at)
        conn.execute(
            "INSERT INTO audit (server, seq, kind, ref_id, payload, prev_hash, row_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (server, seq, kind, ref_id, body, prev, h, created_at),
        )
        return h

    def chain_head(self, server: str) -> str:
        row = self.db.conn.execute("SELECT row_hash FROM audit WHERE server = ? ORDER BY seq DESC LIMIT 1", (server,)).fetchone()
        return row[0] if row else GENESIS

    def audit_hashes(self, server: str, kind: str, ref_ids: Sequence[int]) -> dict[int, str]:
        """Latest chain hash per referenced row, for exports."""
        out: dict[int, str] = {}
        for chunk in _chunks(list(ref_ids), 500):
            q = f"SELECT ref_id, row_hash FROM audit WHERE server = ? AND kind = ? AND ref_id IN ({','.join('?' * len(chunk))}) ORDER BY seq"
            for ref, h in self.db.conn.execute(q, (server, kind, *chunk)):
                out[ref] = h
        return out

    def verify_chain(self, server: str | None = None, expect_head: tuple[str, int | None] | None = None) -> list[ChainReport]:
        """Recompute every server's chain and compare every audited field with the live rows.

        `expect_head` (hash, count) is a head witnessed outside the database; with it a cut-off tail or a
        rewritten chain is caught. Without `server` it must be found in one of the chains.
        """
        servers = [server] if server else [r[0] for r in self.db.conn.execute("SELECT DISTINCT server FROM audit ORDER BY server")]
        reports = [chain.verify(s, self._audit_rows(s), self._live_rows(s), expect_head if server else None) for s in servers]
        if expect_head and not server:
            holder = self.head_server(expect_head[0])
            if holder is None:
                reports.append(chain.verify("(any server)", [], chain.LiveRows(), expect_head))
            else:
                i = servers.index(holder)
                reports[i] = chain.verify(holder, self._audit_rows(holder), self._live_rows(holder), expect_head)
        return reports

    def head_server(self, row_hash: str) -> str | None:
        row = self.db.conn.execute("SELECT server FROM audit WHERE row_hash = ? LIMIT 1", (row_hash,)).fetchone()
        return row[0] if row else None

    def chain_anchor(self, server: str) -> tuple[str, int, str | None]:
        """The head to witness outside the database: (hash, row count, time of the last row)."""
        row = self.db.conn.execute("SELECT row_hash, seq, created_at FROM audit WHERE server = ? ORDER BY seq DESC LIMIT 1", (server,)).fetchone()
        return (row[0], row[1], row[2]) if row else (GENESIS, 0, None)

    def _audit_rows(self, server: str) -> Iterator[chain.AuditRow]:
        return self.db.conn.execute("SELECT seq, kind, ref_id, payload, prev_hash, row_hash, created_at FROM audit WHERE server = ? ORDER BY id", (server,))

    def _live_rows(self, server: str) -> chain.LiveRows:
        """One server's evidence rows, loaded whole for the replay (about 1 KB per flag)."""
        c = self.db.conn
        live = chain.LiveRows()

        def load(table: str, cols: str) -> dict[int, dict[str, Any]]:
            cur = c.execute(f"SELECT id, {cols} FROM {table} WHERE server = ?", (server,))
            names = [d[0] for d in cur.description]
            return {r[0]: dict(zip(names, r)) for r in cur}

        live.flags = load(
            "flags",
            "server, platform, channel_id, message_id, author_id, content_sha256, excerpt, targets, labels, "
            "max_score, source, status, report_count, dry_run, message_time, created_at, content_purged_at",
        )
        live.reports = load("reports", "server, flag_id, reporter_id, reason, created_at")
        live.reviews = load("reviews", "server, flag_id, decision, reviewer_id, note, created_at")
        live.holds = load("holds", "target, target_id, reason, placed_by, released_by")
        live.appeals = load("appeals", "server, flag_id, incident_id, appellant_id, text, lang, status, decided_by, decided_at, note, created_at")
        live.actions = load(
            "actions", "server, flag_id, kind, actor, automatic, dry_run, target_user, duration_s, reason, status, detail, created_at, completed_at"
        )
        for fid, label, score, reason, det in c.execute(
            "SELECT v.flag_id, v.label, v.score, v.reason, v.detector FROM verdicts v JOIN flags f ON f.id = v.flag_id WHERE f.server = ? ORDER BY v.id",
            (server,),
        ):
            live.verdicts.setdefault(fid, []).append((label, score, reason, det))
        return live

    def audit_rows_for_flags(self, server: str, flag_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        """Every audit row about each flag (its own, its reports', reviews', actions' and appeals'), in chain order,
        so an export carries what is needed to recompute its rows' hashes without the database."""
        out: dict[int, list[dict[str, Any]]] = {}
        for chunk in _chunks(list(flag_ids), 400):
            marks = ",".join("?" * len(chunk))
            cols = "a.seq, a.kind, a.ref_id, a.payload, a.prev_hash, a.row_hash, a.created_at"
            q = (
                f"SELECT {cols}, a.ref_id FROM audit a WHERE a.server = ? AND a.kind IN ('flag', 'flag_update', 'purge') "
                f"AND a.ref_id IN ({marks}) "
                f"UNION ALL SELECT {cols}, r.flag_id FROM audit a JOIN reports r ON r.id = a.ref_id "
                f"WHERE a.server = ? AND a.kind = 'report' AND r.flag_id IN ({marks}) "
                f"UNION ALL SELECT {cols}, r.flag_id FROM audit a JOIN reviews r ON r.id = a.ref_id "
                f"WHERE a.server = ? AND a.kind = 'review' AND r.flag_id IN ({marks}) "
                f"UNION ALL SELECT {cols}, x.flag_id FROM audit a JOIN actions x ON x.id = a.ref_id "
                f"WHERE a.server = ? AND a.kind IN ('action', 'action_result') AND x.flag_id IN ({marks}) "
                f"UNION ALL SELECT {cols}, p.flag_id FROM audit a JOIN appeals p ON p.id = a.ref_id "
                f"WHERE a.server = ? AND a.kind IN ('appeal', 'appeal_decision') AND p.flag_id IN ({marks}) ORDER BY 1"
            )
            for seq, kind, ref, payload, prev, h, at, fid in self.db.conn.execute(q, (server, *chunk) * 5):
                out.setdefault(fid, []).append(
                    {"seq": seq, "kind": kind, "ref_id": ref, "payload": payload, "prev_hash": prev, "row_hash": h, "created_at": at}
                )
        return out
