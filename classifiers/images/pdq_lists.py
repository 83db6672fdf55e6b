"""PDQ hash lists in the CSV form hash-matching tools exchange: `hash,quality,label` per line.

That is what Meta's reference hasher prints (`pdq-photo-hasher`: 64 hex digits, quality 0-100,
then the file name or an id) and what hash-sharing programs import. Exported labels are opaque
(`triagebot-<entry>`, shared by a picture's rotated/flipped rows): no note, no member id, nothing about the person leaves.
Parsing is strict about hashes and quality and tolerant about the rest (a header line, comment
lines, extra columns, CRLF), so a partner's list imports or says exactly which line is wrong.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from classifiers.errors import TriagebotError
from classifiers.images import pdq

log = logging.getLogger(__name__)

#: below this quality hash-sharing programs treat a PDQ hash as unreliable (flat or tiny images)
MIN_QUALITY = 50
_LABEL_OK = re.compile(r"[^A-Za-z0-9._:+-]")


class HashListError(TriagebotError, ValueError):
    """A hash list line that is not `hash,quality[,label]`."""


@dataclass(frozen=True)
class HashGroup:
    """The hashes of one picture in an imported list (rows sharing a label), or of one row."""

    label: str
    hashes: np.ndarray  # (n, 32) uint8
    quality: np.ndarray  # (n,) uint8


def export_rows(entries: Iterable[tuple[int, np.ndarray, np.ndarray]], dihedral: bool = False) -> list[str]:
    """CSV lines (no header, as the reference hasher prints) for (entry id, pdq hashes, qualities).

    Only the untransformed hash of each entry unless `dihedral`; partner programs usually hash
    the dihedral variants of the *query* themselves."""
    out = []
    for entry_id, hashes, quality in entries:
        n = len(hashes) if dihedral else min(1, len(hashes))
        for i in range(n):  # one label for all of a picture's rows, as the reference's dihedral output
            out.append(f"{pdq.to_hex(hashes[i])},{int(quality[i])},triagebot-{int(entry_id)}")
    return out


def _clean_label(s: str) -> str:
    return _LABEL_OK.sub("_", s.strip())[:80]


def parse(text: str, min_quality: int = MIN_QUALITY) -> tuple[list[HashGroup], int]:
    """Hash groups of a CSV hash list, and how many rows were skipped for low quality.

    Rows that share a non-empty label form one group (one picture, several transforms); a
    row without a label is its own picture. Raises `HashListError` naming the bad line."""
    groups: dict[str, tuple[list[np.ndarray], list[int]]] = {}
    low = 0
    for lineno, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        first = row[0].strip().lower()
        if lineno == 1 and first in ("hash", "pdq", "signal", "signal_value"):
            continue  # a header
        try:
            h = pdq.from_hex(first)
        except ValueError as e:
            raise HashListError(f"line {lineno}: {e}") from None
        try:
            q = int(row[1]) if len(row) > 1 and row[1].strip() else 100
        except ValueError:
            raise HashListError(f"line {lineno}: quality must be a whole number 0-100, not {row[1][:20]!r}") from None
        if not 0 <= q <= 100:
            raise HashListError(f"line {lineno}: quality {q} is outside 0-100")
        if q < min_quality:
            low += 1
            continue
        label = _clean_label(row[2]) if len(row) > 2 else ""
        key = label or f"line-{lineno}"
        hs, qs = groups.setdefault(key, ([], []))
        hs.append(h)
        qs.append(q)
    out = [HashGroup(k, np.stack(hs), np.array(qs, np.uint8)) for k, (hs, qs) in groups.items()]
    return out, low


def records(group: HashGroup) -> list[tuple[str, bytes]]:
    """Bank records for an imported picture: PDQ hashes only (no hashes of ours, no keypoints),
    so it is matched on PDQ distance alone (classifiers/images/bank.py)."""
    from classifiers.images.bank import FORMAT_VERSION

    meta = {"v": FORMAT_VERSION, "orb_size": [0, 0], "n_hash": 0, "imported": True}
    return [
        ("meta", json.dumps(meta, sort_keys=True).encode()),
        ("hash256", b""),
        ("hash_variants", b""),
        ("orb_xy", b""),
        ("orb_desc", b""),
        ("pdq", np.ascontiguousarray(group.hashes, np.uint8).tobytes()),
        ("pdq_quality", np.ascontiguousarray(group.quality, np.uint8).tobytes()),
    ]


def entry_pdq(records_: Sequence[tuple[str, bytes]]) -> tuple[np.ndarray, np.ndarray]:
    """(hashes, qualities) of a stored entry's PDQ records; empty for entries made before PDQ."""
    rec = {k: bytes(v) for k, v in records_}
    h = np.frombuffer(rec.get("pdq", b""), np.uint8)
    q = np.frombuffer(rec.get("pdq_quality", b""), np.uint8)
    if h.size % 32 or h.size // 32 != q.size:
        return np.zeros((0, 32), np.uint8), np.zeros(0, np.uint8)
    return h.reshape(-1, 32), q


__all__ = ["MIN_QUALITY", "HashGroup", "HashListError", "entry_pdq", "export_rows", "parse", "records"]
