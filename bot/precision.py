"""Precision of the bot's flags as its moderators judged them, and a threshold each server could move to.

A flag's *latest* review decides: `confirm` or `escalate` is a true positive, `dismiss` a false positive.
An appeal that is upheld against the flag (a reversal) records a new `dismiss` review whose note starts
with "appeal reversed", so a reversal counts as a false positive with no special case. Flags never
reviewed are left out: precision here is "of what moderators looked at", never of everything flagged.

Pure functions over reviewed flags (`Store.decided_flags`, or any :class:`~bot.store.FlagView`).
Nothing here changes a setting: a suggested threshold is printed with the command that would apply it.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Iterable, Sequence

from bot.terminal import one_line
from classifiers.base import TEXT_LABELS

from bot.store import PURGED  # what a purge leaves in excerpts and reasons

if TYPE_CHECKING:
    from bot.store import DecidedFlag, FlagView, Store

log = logging.getLogger(__name__)

#: Review decisions that say the flag was right / wrong.
TRUE_POSITIVE: frozenset[str] = frozenset({"confirm", "escalate"})
FALSE_POSITIVE: frozenset[str] = frozenset({"dismiss"})
#: How an appeal reversal's review note starts (the appeals module writes it).
APPEAL_REVERSED = "appeal reversed"
#: Defaults for the suggested threshold: the precision a server wants and the decisions it needs first.
DEFAULT_TARGET = 0.8
DEFAULT_MIN_DECISIONS = 30
#: 95% two-sided normal quantile for the Wilson interval.
Z95 = 1.959963984540054


def outcome(decision: str | None) -> bool | None:
    """True for a true positive, False for a false positive, None when the decision says neither."""
    if decision in TRUE_POSITIVE:
        return True
    if decision in FALSE_POSITIVE:
        return False
    return None


def wilson(tp: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for tp/n: honest at small n and at 0 or 1, unlike p ± z·se. (0, 1) when n = 0."""
    if n <= 0:
        return 0.0, 1.0
    p = tp / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if tp == 0 else max(0.0, centre - half)  # exact ends: rounding must not exclude p itself
    hi = 1.0 if tp == n else min(1.0, centre + half)
    return lo, hi


@dataclass(frozen=True)
class Precision:
    """Confirmed vs dismissed counts for one key (a label, a detector or a reason term)."""

    key: str
    tp: int
    fp: int

    @property
    def n(self) -> int:
        return self.tp + self.fp

    @property
    def precision(self) -> float | None:
        return self.tp / self.n if self.n else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.tp, self.n)

    def as_dict(self) -> dict:
        lo, hi = self.interval
        p = self.precision
        return {
            "key": self.key,
            "n": self.n,
            "confirmed": self.tp,
            "dismissed": self.fp,
            "precision": None if p is None else round(p, 4),
            "ci95": [round(lo, 4), round(hi, 4)],
        }


@dataclass(frozen=True)
class Suggestion:
    """The lowest threshold for one label whose reviewed flags reach `target` precision with ≥ `min_decisions`."""

    server: str
    label: str
    decisions: int  # reviewed flags carrying this label
    target: float
    min_decisions: int
    threshold: float | None = None
    precision: float | None = None  # at the suggested threshold
    support: int = 0  # reviewed flags at or above it
    lowest_seen: float | None = None  # the lowest score any reviewed flag of this label had
    why_not: str = ""
    best: tuple[float, float, int] | None = None  # when no threshold reaches the target: (threshold, precision, flags) of the best

    def text(self) -> str:
        """One line for the CLI and the bots (plain text; callers escape for their markup)."""
        if self.threshold is None:
            return f"{self.label}: {self.why_not}"
        floor = (
            f"; no reviewed flag scored below {self.lowest_seen:.2f}, so lower thresholds are untested"
            if self.lowest_seen is not None and self.threshold <= self.lowest_seen
            else ""
        )
        return (
            f"{self.label}: suggested threshold {self.threshold:.2f} (precision {self.precision:.2f} on "
            f"{self.support} reviewed flags at or above it; target {self.target:.2f}){floor}"
        )

    def apply_command(self) -> str:
        """How a person would apply it: nothing here applies a threshold automatically."""
        if self.threshold is None:
            return ""
        platform, _, sid = self.server.partition(":")
        value = f"{self.threshold:.2f}"
        if platform == "discord":
            return f"/triage setup {self.label}:{value}"
        if platform == "telegram":
            return f"/setup threshold {self.label} {value}"
        return f'config: [servers."{self.server}".thresholds] {self.label} = {value}'

    def as_dict(self) -> dict:
        d = asdict(self)
        d["apply"] = self.apply_command()
        return d


@dataclass(frozen=True)
class PrecisionReport:
    """One server's precision figures from its reviews."""

    server: str
    reviewed: int
    confirmed: int
    dismissed: int
    appeal_reversals: int
    by_label: tuple[Precision, ...]
    by_detector: tuple[Precision, ...]
    by_term: tuple[Precision, ...]
    suggestions: tuple[Suggestion, ...] = field(default=())

    def as_dict(self) -> dict:
        return {
            "server": self.server,
            "reviewed": self.reviewed,
            "confirmed": self.confirmed,
            "dismissed": self.dismissed,
            "appeal_reversals": self.appeal_reversals,
            "by_label": [p.as_dict() for p in self.by_label],
            "by_detector": [p.as_dict() for p in self.by_detector],
            "by_term": [p.as_dict() for p in self.by_term],
            "suggestions": [s.as_dict() for s in self.suggestions],
        }


def reason_terms(reason: str) -> list[str]:
    """The terms a text reason names, as keys: `"b0k3p" → bokep; "kirim foto"` gives ["bokep", "kirim foto"].

    Reasons join their parts with "; "; a part may show the message's spelling then "→" and the lexicon
    form, which is the key (so every spelling of one rule counts together)."""
    if not reason or reason == PURGED:
        return []
    out: list[str] = []
    for part in reason.split("; "):
        if "→" in part:
            part = part.rsplit("→", 1)[1]
        key = " ".join(part.strip().strip("\"“”'").lower().split())
        if key and key not in out:
            out.append(key)
    return out


def _top_detectors(flag: "DecidedFlag | FlagView") -> set[str]:
    """The detectors that carried the flag: per flagged label, those with the highest score (ties all count)."""
    out: set[str] = set()
    for label in flag.labels:
        vs = [v for v in flag.verdicts if v.label == label and v.score > 0]
        if vs:
            top = max(v.score for v in vs)
            out |= {v.detector for v in vs if v.score == top}
    return out


def _terms(flag: "DecidedFlag | FlagView") -> set[str]:
    """label:term keys from the reasons of the flag's text labels (model, lexicon, server rules)."""
    out: set[str] = set()
    for v in flag.verdicts:
        if v.label in flag.labels and v.label in TEXT_LABELS:
            out |= {f"{v.label}:{t}" for t in reason_terms(v.reason)}
    return out


def _table(counts: dict[str, list[int]]) -> tuple[Precision, ...]:
    rows = [Precision(k, tp, fp) for k, (tp, fp) in counts.items()]
    return tuple(sorted(rows, key=lambda p: (-p.n, p.key)))


def suggest_threshold(
    server: str, label: str, scored: Sequence[tuple[float, bool]], target: float = DEFAULT_TARGET, min_decisions: int = DEFAULT_MIN_DECISIONS
) -> Suggestion:
    """The lowest threshold t (on a 0.01 grid) whose reviewed flags with score ≥ t have precision ≥ `target`
    and number at least `min_decisions`. `scored` is (the flag's score for `label`, was it a true positive)."""
    base = Suggestion(server, label, len(scored), target, min_decisions, lowest_seen=min((s for s, _ in scored), default=None))
    if len(scored) < min_decisions:
        return _with(base, why_not=f"not enough decisions yet ({len(scored)} of {min_decisions})")
    ranked = sorted(scored, key=lambda x: -x[0])
    candidates = sorted({_grid(s) for s, _ in ranked}, reverse=True)
    best: tuple[float, float, int] | None = None
    best_any: tuple[float, float, int] | None = None
    i = tp = 0
    for t in candidates:  # descending: extend the set of flags at or above t
        while i < len(ranked) and ranked[i][0] >= t:
            tp += ranked[i][1]
            i += 1
        if i >= min_decisions:
            p = tp / i
            if best_any is None or p > best_any[1]:
                best_any = (t, p, i)
            if p >= target:
                best = (t, p, i)
    if best is None:
        if best_any is None:
            return _with(base, why_not=f"not enough decisions yet ({len(scored)} of {min_decisions})")
        return _with(
            base,
            best=best_any,
            why_not=(
                f"no threshold reaches precision {target:.2f} with at least {min_decisions} "
                f"decisions (best {best_any[1]:.2f} at {best_any[0]:.2f}, {best_any[2]} flags)"
            ),
        )
    return _with(base, threshold=best[0], precision=round(best[1], 4), support=best[2])


def _grid(score: float) -> float:
    """The 0.01 step at or below `score`: a threshold there still admits the flag (policy flags at score >= threshold)."""
    t = round(score, 2)
    return t if t <= score else round(t - 0.01, 2)


def _with(s: Suggestion, **kw) -> Suggestion:
    return replace(s, **kw)


def precision_report(
    server: str, flags: Iterable["DecidedFlag | FlagView"], target: float = DEFAULT_TARGET, min_decisions: int = DEFAULT_MIN_DECISIONS
) -> PrecisionReport:
    """Count one server's reviewed flags by label, detector and reason term, and suggest a threshold per text label."""
    by_label: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_det: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_term: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    scored: dict[str, list[tuple[float, bool]]] = {label: [] for label in TEXT_LABELS}
    reviewed = confirmed = dismissed = reversals = 0
    for f in flags:
        last = f.last_review or {}
        ok = outcome(last.get("decision"))
        if ok is None:
            continue
        reviewed += 1
        confirmed += ok
        dismissed += not ok
        reversals += (not ok) and str(last.get("note", "")).lower().startswith(APPEAL_REVERSED)
        col = 0 if ok else 1
        for label in f.labels:
            by_label[label][col] += 1
        for det in _top_detectors(f):
            by_det[det][col] += 1
        for term in _terms(f):
            by_term[term][col] += 1
        scores = f.scores
        for label in TEXT_LABELS:
            if label in f.labels and label in scores:
                scored[label].append((scores[label], ok))
    suggestions = tuple(suggest_threshold(server, label, scored[label], target, min_decisions) for label in TEXT_LABELS)
    return PrecisionReport(server, reviewed, confirmed, dismissed, reversals, _table(by_label), _table(by_det), _table(by_term), suggestions)


def precision_reports(
    store: "Store", server: str | None = None, target: float = DEFAULT_TARGET, min_decisions: int = DEFAULT_MIN_DECISIONS
) -> list[PrecisionReport]:
    """A report per server (or just `server`), from the store's reviewed flags."""
    servers = [server] if server else store.servers()
    return [precision_report(s, store.decided_flags(s), target, min_decisions) for s in servers]


def report_text(r: PrecisionReport, terms: int = 15) -> str:
    """Plain-text tables for the CLI; terms shown are the most-reviewed `terms`."""
    lines = [
        f"{r.server}: {r.reviewed} reviewed flag(s), {r.confirmed} confirmed/escalated, {r.dismissed} dismissed"
        + (f" ({r.appeal_reversals} by appeal reversal)" if r.appeal_reversals else "")
    ]
    if not r.reviewed:
        lines.append("  no reviewed flags yet: precision needs moderators' decisions")
    for title, rows in (("label", r.by_label), ("detector", r.by_detector), ("term", r.by_term[:terms])):
        if not rows:
            continue
        keys = [one_line(p.key, 40) for p in rows]  # terms are message text: no terminal escapes
        width = max(len(title), *(len(k) for k in keys))
        lines.append(f"  {title:<{width}}  {'n':>5}  {'conf':>5}  {'dism':>5}  precision  95% interval")
        for p, key in zip(rows, keys):
            lo, hi = p.interval
            lines.append(f"  {key:<{width}}  {p.n:>5}  {p.tp:>5}  {p.fp:>5}  {p.precision:>9.2f}  {lo:.2f}–{hi:.2f}")
        if title == "term" and len(r.by_term) > terms:
            lines.append(f"  … {len(r.by_term) - terms} more term(s) (--json lists all)")
    for s in r.suggestions:
        lines.append("  " + s.text())
        if s.threshold is not None:
            lines.append(f"    to apply: {s.apply_command()}")
    return "\n".join(lines)


#: The bots' stats read at most this many of a server's most recent reviewed flags (the CLI reads all), so
#: the command stays well under a second on the event loop (benchmarks/bench_decisions.py).
BOT_RECENT_DECISIONS = 5000


def precision_summary(store: "Store", server: str, lang: str = "en", newest: int = BOT_RECENT_DECISIONS) -> list[str]:
    """The bots' stats lines for one server, from its `newest` reviewed flags, in `lang` (plain text: callers escape it)."""
    from bot.stats_text import precision_lines

    return precision_lines(precision_report(server, store.decided_flags(server, newest=newest)), lang, newest)
