"""Read-only look-ups for stats and exports, in bounded batches."""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from bot.store.base import iso, _chunks
from bot.store.views import FlagFilter, FlagView
from bot.store.bank import BankStore


def _where(which: FlagFilter) -> tuple[str, tuple]:
    """The WHERE clause (or "") and its arguments for a FlagFilter."""
    clauses: list[str] = []
    args: list[object] = []
    for value, clause, arg in (
        (which.server, "server = ?", which.server),
        (which.since, "created_at >= ?", iso(which.since) if which.since else None),
        (which.until, "created_at < ?", iso(which.until) if which.until else None),
        (which.label, "(',' || labels || ',') LIKE ?", f"%,{which.label},%"),
        (which.status, "status = ?", which.status),
        (which.incident, "incident_id = ?", which.incident),
        (which.target, "EXISTS (SELECT 1 FROM json_each(flags.targets) WHERE json_each.value = ?)", str(which.target)),
    ):
        if value is not None:
            clauses.append(clause)
            args.append(arg)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", tuple(args)


def _filter(which: FlagFilter | str | None) -> FlagFilter:
    return which if isinstance(which, FlagFilter) else FlagFilter(server=which)


class LookupsStore(BankStore):
    """Stats and export look-ups."""

    def stats(self, server: str | None) -> dict[str, Any]:
        where, args = ("WHERE server = ?", (server,)) if server else ("", ())
        c = self.db.conn
        by_status = dict(c.execute(f"SELECT status, COUNT(*) FROM flags {where} GROUP BY status", args).fetchall())
        by_source = dict(c.execute(f"SELECT source, COUNT(*) FROM flags {where} GROUP BY source", args).fetchall())
        labels: dict[str, int] = {}
        for (ls,) in c.execute(f"SELECT labels FROM flags {where}", args):
            for label in filter(None, ls.split(",")):
                labels[label] = labels.get(label, 0) + 1
        actions = dict(c.execute(f"SELECT kind || ':' || status, COUNT(*) FROM actions {where} GROUP BY kind, status", args).fetchall())
        inc_where = "WHERE flag_count >= 2" + (" AND server = ?" if server else "")
        return {
            "flags": sum(by_status.values()),
            "by_status": by_status,
            "by_source": by_source,
            "by_label": labels,
            "reports": c.execute(f"SELECT COUNT(*) FROM reports {where}", args).fetchone()[0],
            "reviews": c.execute(f"SELECT COUNT(*) FROM reviews {where}", args).fetchone()[0],
            "actions": actions,
            "incidents": c.execute(f"SELECT COUNT(*) FROM incidents {inc_where}", args).fetchone()[0],
            "bank_entries": self.bank_size(),
        }

    def count_flags(self, which: FlagFilter | str | None) -> int:
        """Flags matching `which` (a server key or None alone means every flag of that server, or of all)."""
        where, args = _where(_filter(which))
        return self.db.conn.execute(f"SELECT COUNT(*) FROM flags {where}", args).fetchone()[0]

    def iter_flags(self, which: FlagFilter | str | None, batch: int = 500) -> Iterator[FlagView]:
        """Flags matching `which` in id order, in batches so exports of any size use bounded memory."""
        where, args = _where(_filter(which))
        last = 0
        while True:
            joiner = " AND " if where else "WHERE "
            rows = self.db.conn.execute(f"SELECT * FROM flags {where}{joiner}id > ? ORDER BY id LIMIT ?", (*args, last, batch)).fetchall()
            if not rows:
                return
            yield from self._views(rows)
            last = rows[-1][0]

    def flag_content_hashes(self, server: str, flag_ids: Sequence[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for chunk in _chunks(list(flag_ids), 500):
            marks = ",".join("?" * len(chunk))
            out.update(self.db.conn.execute(f"SELECT id, content_sha256 FROM flags WHERE server = ? AND id IN ({marks})", (server, *chunk)).fetchall())
        return out

    def reviews_for(self, server: str, flag_ids: Sequence[int]) -> dict[int, list[dict]]:
        out: dict[int, list[dict]] = {}
        for chunk in _chunks(list(flag_ids), 500):
            marks = ",".join("?" * len(chunk))
            cur = self.db.conn.execute(
                f"SELECT id, flag_id, decision, reviewer_id, note, created_at FROM reviews WHERE server = ? AND flag_id IN ({marks}) ORDER BY id",
                (server, *chunk),
            )
            for rid, fid, dec, rev, note, at in cur:
                out.setdefault(fid, []).append({"id": rid, "decision": dec, "reviewer": rev, "note": note, "at": at})
        return out

    def actions_by_flag(self, server: str, flag_ids: Sequence[int]) -> dict[int, list[dict]]:
        out: dict[int, list[dict]] = {}
        for chunk in _chunks(list(flag_ids), 500):
            marks = ",".join("?" * len(chunk))
            cur = self.db.conn.execute(
                f"SELECT id, flag_id, kind, actor, automatic, dry_run, duration_s, status, detail, created_at FROM actions WHERE server = ? AND flag_id IN ({marks}) ORDER BY id",
                (server, *chunk),
            )
            cols = [d[0] for d in cur.description]
            for r in cur:
                d = dict(zip(cols, r))
                out.setdefault(d["flag_id"], []).append(d)
        return out

    def reports_by_flag(self, server: str, flag_ids: Sequence[int]) -> dict[int, list[dict]]:
        out: dict[int, list[dict]] = {}
        for chunk in _chunks(list(flag_ids), 500):
            marks = ",".join("?" * len(chunk))
            cur = self.db.conn.execute(
                f"SELECT id, flag_id, reporter_id, reason, created_at FROM reports WHERE server = ? AND flag_id IN ({marks}) ORDER BY id", (server, *chunk)
            )
            for rid, fid, rep, reason, at in cur:
                out.setdefault(fid, []).append({"id": rid, "reporter": rep, "reason": reason, "at": at})
        return out
