"""Score a labelled directory with a trained model: metrics per label x language, PR curves, confusions.

Note: evaluating the shipped model on the dev data it was trained on gives in-sample numbers; the
honest cross-source numbers are the leave-one-source-out ones in the model card (``train``).
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from classifiers.base import TEXT_LABELS
from classifiers.data import load_dir
from classifiers.text import TextClassifier

log = logging.getLogger(__name__)


def evaluate(data_dir: str | Path, model_path: str | Path | None = None, out_dir: str | Path = "eval_out") -> dict:
    """Metrics per label x language (and per source) at the model's thresholds; writes PNG + tables."""
    model = TextClassifier.load(model_path)
    ds = load_dir(data_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    S = np.array([[s[lab] for lab in TEXT_LABELS] for s in model.scores_batch(ds.texts, n_jobs=0)]).reshape(len(ds), len(TEXT_LABELS))
    rows: list[dict] = []
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for j, label in enumerate(TEXT_LABELS):
        t = model.thresholds[label]
        for lang in sorted(set(ds.langs)):
            for src in [None, *sorted(set(ds.sources[ds.langs == lang]))]:
                m = (ds.langs == lang) & (ds.Y[:, j] != -1)
                if src is not None:
                    m &= ds.sources == src
                y, s = ds.Y[m, j], S[m, j]
                if not len(y):
                    continue
                pred = s >= t
                tp, fp = int((pred & (y == 1)).sum()), int((pred & (y == 0)).sum())
                fn, tn = int((~pred & (y == 1)).sum()), int((~pred & (y == 0)).sum())
                both = 0 < y.sum() < len(y)
                row = {
                    "label": label,
                    "lang": lang,
                    "source": src or "all",
                    "n": int(len(y)),
                    "positives": int(y.sum()),
                    "threshold": t,
                    "tp": tp,
                    "fp": fp,
                    "fn": fn,
                    "tn": tn,
                    "precision": round(tp / (tp + fp), 4) if tp + fp else None,
                    "recall": round(tp / (tp + fn), 4) if tp + fn else None,
                    "fpr": round(fp / (fp + tn), 4) if fp + tn else None,
                    "roc_auc": round(float(roc_auc_score(y, s)), 4) if both else None,
                    "avg_precision": round(float(average_precision_score(y, s)), 4) if both else None,
                }
                rows.append(row)
                if src is None and both:
                    p, r, _ = precision_recall_curve(y, s)
                    curves[f"{label}/{lang}"] = (r, p)
    report = {
        "model": str(model.path),
        "data": str(data_dir),
        "rows": len(ds),
        "thresholds": model.thresholds,
        "metrics": rows,
        "pr_curve": str(out_dir / "pr_curve.png") if curves else None,
    }
    _write_tables(rows, out_dir)
    if curves:
        _plot(curves, out_dir / "pr_curve.png")
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def _write_tables(rows: list[dict], out_dir: Path) -> None:
    with open(out_dir / "confusion.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["label"])
        w.writeheader()
        w.writerows(rows)
    (out_dir / "confusion.md").write_text(format_table(rows) + "\n", encoding="utf-8")


def _plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5))
    for name, (r, p) in curves.items():
        ax.plot(r, p, label=name)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title("Precision-recall per label/language")
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def format_table(rows: list[dict]) -> str:
    head = "| label | lang | source | n | pos | TP | FP | FN | TN | precision | recall | FPR | ROC-AUC |"
    lines = [head, "|" + "---|" * 13]
    for r in rows:
        lines.append(
            f"| {r['label']} | {r['lang']} | {r['source']} | {r['n']} | {r['positives']} | {r['tp']} | "
            f"{r['fp']} | {r['fn']} | {r['tn']} | {r['precision']} | {r['recall']} | {r['fpr']} | {r['roc_auc']} |"
        )
    return "\n".join(lines)


def format_report(report: dict) -> str:
    """What `triagebot eval` prints."""
    return (
        f"model {report['model']} on {report['data']} ({report['rows']} rows), thresholds {report['thresholds']}\n"
        + format_table(report["metrics"])
        + (f"\nPR curve: {report['pr_curve']}" if report["pr_curve"] else "")
    )
