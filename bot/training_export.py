"""Reviewed flags as labelled training rows (`triagebot export --training`, `triagebot train --decisions`).

Labels follow the dev data's columns (1 = positive, 0 = negative, -1 = unknown), decided per text label:

- a flag whose latest review is `confirm` or `escalate` is 1 for each text label it was flagged for;
- a flag whose latest review is `dismiss` (an appeal reversal included) is 0 for each text label it was flagged for;
- every other text label is -1, never 0: the moderator judged the claim the bot made, not the others. A
  message confirmed as sexual may also be racial, and a message dismissed as "not racial" may still be
  sexual; writing 0 there would teach the model negatives nobody asserted. The trainer skips -1 per label.

Flags that carry no text label (image re-shares, AutoMod hits, member reports) say nothing about the text
model and are skipped, as are flags with no text. Content is used only while retained: purged flags are
skipped and counted. The same message text reviewed twice gives one row, labelled by its latest review.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Iterable

from bot.export import neutralise_cell
from bot.precision import outcome
from classifiers.base import TEXT_LABELS

from bot.store import PURGED  # what a purge leaves in excerpts and reasons

if TYPE_CHECKING:
    from bot.store import DecidedFlag, FlagView, Store

log = logging.getLogger(__name__)

#: The dev data's columns first (classifiers/data.py reads them), then where each row came from.
COLUMNS: tuple[str, ...] = ("text", "lang", *TEXT_LABELS, "source", "server", "content_sha256")
#: The source name training rows from decisions carry; no evaluation fold tests on it (classifiers/train.py).
DECISIONS_SOURCE = "decisions"


@dataclass(frozen=True)
class TrainingRow:
    """One labelled text from a moderator's decision."""

    text: str
    labels: dict[str, int]  # every text label: 1, 0 or -1
    server: str
    content_sha256: str
    reviewed_at: str = ""

    def csv_cells(self) -> list[str]:
        cells = [self.text, "und", *(str(self.labels[label]) for label in TEXT_LABELS), DECISIONS_SOURCE, self.server, self.content_sha256]
        return [neutralise_cell(c) for c in cells]


@dataclass
class TrainingSummary:
    """What an export wrote and what it skipped, and why (shown by the CLI and recorded in the model card)."""

    rows: int = 0
    purged: int = 0
    no_text: int = 0
    no_text_label: int = 0
    undecided: int = 0
    duplicates: int = 0
    positives: dict[str, int] = field(default_factory=lambda: {label: 0 for label in TEXT_LABELS})
    negatives: dict[str, int] = field(default_factory=lambda: {label: 0 for label in TEXT_LABELS})
    servers: set[str] = field(default_factory=set)

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "skipped_purged": self.purged,
            "skipped_no_text": self.no_text,
            "skipped_no_text_label": self.no_text_label,
            "skipped_undecided": self.undecided,
            "duplicates_merged": self.duplicates,
            "positives": dict(self.positives),
            "negatives": dict(self.negatives),
            "servers": sorted(self.servers),
        }

    def text(self) -> str:
        skipped = [
            f"{n} {why}"
            for n, why in (
                (self.purged, "purged (content erased)"),
                (self.no_text, "without text"),
                (self.no_text_label, "without a text label"),
                (self.duplicates, "repeated texts merged"),
            )
            if n
        ]
        per = ", ".join(f"{label} {self.positives[label]}+/{self.negatives[label]}-" for label in TEXT_LABELS)
        return f"{self.rows} training row(s) ({per}) from {len(self.servers)} server(s)" + ("; skipped " + ", ".join(skipped) if skipped else "")


def training_labels(flag: "DecidedFlag | FlagView") -> dict[str, int] | None:
    """The row's labels from its latest review, or None when the review or the flag says nothing about text."""
    ok = outcome((flag.last_review or {}).get("decision"))
    if ok is None:
        return None
    flagged = [label for label in TEXT_LABELS if label in flag.labels]
    if not flagged:
        return {}
    return {label: (int(ok) if label in flagged else -1) for label in TEXT_LABELS}


def text_sha256(text: str) -> str:
    """The hash rows are matched by (export and training): of the text as exported, so truncated excerpts match too."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def training_rows(flags: Iterable["DecidedFlag | FlagView"], summary: TrainingSummary | None = None) -> list[TrainingRow]:
    """Reviewed flags -> labelled rows, one per distinct text (the latest review wins), in first-seen order."""
    summary = summary if summary is not None else TrainingSummary()
    rows: dict[str, TrainingRow] = {}
    for f in flags:
        labels = training_labels(f)
        if labels is None:
            summary.undecided += 1
            continue
        if f.excerpt == PURGED:
            summary.purged += 1
            continue
        if not labels:
            summary.no_text_label += 1
            continue
        text = f.excerpt or ""
        if not text.strip():
            summary.no_text += 1
            continue
        key = text_sha256(text)
        row = TrainingRow(text, labels, f.server, key, (f.last_review or {}).get("at", ""))
        old = rows.get(key)
        if old is not None:
            summary.duplicates += 1
            if old.reviewed_at > row.reviewed_at:
                continue
        rows[key] = row
    out = list(rows.values())
    count(out, summary)
    return out


def count(rows: Iterable[TrainingRow], summary: TrainingSummary | None = None) -> TrainingSummary:
    """Fill `summary` (or a new one) with the rows' count, servers and per-label positives and negatives."""
    summary = summary if summary is not None else TrainingSummary()
    summary.rows = 0
    for r in rows:
        summary.rows += 1
        if r.server:
            summary.servers.add(r.server)
        for label, v in r.labels.items():
            if v == 1:
                summary.positives[label] += 1
            elif v == 0:
                summary.negatives[label] += 1
    return summary


def decision_rows(store: "Store", server: str | None = None) -> tuple[list[TrainingRow], TrainingSummary]:
    """Every reviewed flag of `server` (or of all servers) as training rows, with the summary."""
    summary = TrainingSummary()
    servers = [server] if server else store.servers()
    flags = (f for s in servers for f in store.decided_flags(s))
    return training_rows(flags, summary), summary


def write_training_csv(rows: Iterable[TrainingRow], out: IO[str]) -> int:
    """Write rows as CSV, every cell formula-neutralised like the evidence export; returns the count."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    n = 0
    for r in rows:
        w.writerow(r.csv_cells())
        n += 1
    return n


def _unneutralise(cell: str) -> str:
    """Undo neutralise_cell exactly: its quote is there iff quoting the rest gives this cell back."""
    if cell.startswith("'") and neutralise_cell(cell[1:]) == cell:
        return cell[1:]
    return cell


def read_training_csv(path: Path) -> list[TrainingRow]:
    """Rows written by :func:`write_training_csv` (so a model can be trained away from the bot's database)."""
    out: list[TrainingRow] = []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for raw in csv.DictReader(fh):
            text = _unneutralise(raw.get("text") or "")
            if not text.strip():
                continue
            labels = {}
            for label in TEXT_LABELS:
                v = (raw.get(label) or "").strip()
                labels[label] = int(v) if v in ("1", "0") else -1
            out.append(TrainingRow(text, labels, _unneutralise(raw.get("server") or ""), text_sha256(text)))
    return out
