"""`triagebot classify | train | eval`: thin wrappers over classifiers.text/train/evaluate."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from bot.cli.app import main
from bot.cli.text_input import FORMATS, CleanText, Item, clean_text, input_format, read_items
from bot.errors import BatchFailed

log = logging.getLogger(__name__)


@main.command("classify")
@click.argument("texts", nargs=-1, type=CleanText())
@click.option(
    "--input",
    "input_file",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True),
    help="A .txt (one message per line), .csv (`text` column) or .jsonl (`text` field) file; `-` reads stdin.",
)
@click.option("--input-format", "input_fmt", type=click.Choice(FORMATS), default=None, help="Format of --input (default: from its suffix; txt for stdin).")
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table", show_default=True)
@click.option("--model", "model_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Model file (default: the shipped model).")
def classify_cmd(texts: tuple[str, ...], input_file: str | None, input_fmt: str | None, fmt: str, model_path: Path | None) -> None:
    """Score messages for sexual and racial harassment with the shipped text model.

    A bad input line (not JSON, null or non-string text, nested too deeply) gives an error row naming
    the line; the other lines are still scored, then the command exits 1.
    """
    from classifiers.text import TextClassifier

    items = [Item(0, t) for t in texts]
    if input_file is not None:
        items.extend(read_items(input_file, input_format(input_file, input_fmt)))
    if not items:
        raise click.UsageError("give TEXT arguments or --input FILE")
    model = TextClassifier.load(model_path)
    good = [it.text for it in items if it.text is not None]
    scored = iter(model.classify_batch(good, n_jobs=0)) if good else iter(())
    failed = 0
    for it in items:
        if it.error is not None or it.text is None:  # the same items `good` left out
            failed += 1
            click.echo(json.dumps({"line": it.line, "error": it.error}, ensure_ascii=False) if fmt == "jsonl" else f"error: {it.error}")
            continue
        text, verdicts = it.text, next(scored)
        scores = {v.label: round(v.score, 4) for v in verdicts}
        labels = [v.label for v in verdicts if v.score >= model.thresholds[v.label]]
        reasons = [clean_text(f"{v.label}: {v.reason}") for v in verdicts if v.label in labels and v.reason]
        if fmt == "jsonl":
            click.echo(json.dumps({"text": text, "scores": scores, "labels": labels, "reasons": reasons}, ensure_ascii=False))
        else:
            shown = text if len(text) <= 60 else text[:59] + "…"
            shown = "".join(c if c.isprintable() else " " for c in shown)
            click.echo(f"{shown:<60}  sexual={scores['sexual']:.3f} racial={scores['racial']:.3f}  {','.join(labels) or '-'}  {' | '.join(reasons)}")
    if failed:
        raise BatchFailed(failed, len(items), "input lines")


@main.command("lean-model")
@click.option(
    "--model",
    "model_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The skops model to derive from (default: the shipped model).",
)
def lean_model_cmd(model_path: Path | None) -> None:
    """Rebuild model_lean.npz (what `run` and `classify` load) from model.skops, after retraining or merging a new model."""
    from classifiers.text import write_lean

    click.echo(f"wrote {write_lean(model_path)}")  # a missing or bad model is a one-line error (TriagebotError)


@main.command("train")
@click.option(
    "--data",
    "data_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Directory of labelled CSVs (text,lang,sexual,racial,source).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write model.skops and the model cards (default: the package's classifiers/resources/).",
)
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@click.option(
    "--decisions",
    "decisions_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Fold in moderators' decisions: the bot's database, or a CSV from `export --training`.",
)
@click.option(
    "--decisions-weight",
    type=click.FloatRange(0.0, 100.0, min_open=True),
    default=None,
    help="Sample weight of a decision row (default: classifiers/train.py DECISIONS_WEIGHT).",
)
def train_cmd(data_dir: Path, out_dir: Path | None, no_progress: bool, decisions_path: Path | None, decisions_weight: float | None) -> None:
    """Train the text model reproducibly and write its model card.

    With --decisions, reviewed flags become extra training rows (never evaluation rows), recorded in the card.
    """
    from classifiers.train import train

    decisions = info = None
    if decisions_path is not None:
        decisions, info = _load_decisions(decisions_path)
        click.echo(f"decisions: {info['summary']}")
    params = {"decisions_weight": decisions_weight} if decisions_weight is not None else None
    card = train(data_dir, out_dir, progress=not no_progress, params=params, decisions=decisions, decisions_info=info)
    click.echo(f"wrote {card['model_file']} ({card['model_bytes'] / 1e6:.1f} MB), thresholds {card['thresholds']}")
    if card.get("decisions"):
        d = card["decisions"]
        click.echo(
            f"  decisions: {d['rows_used']} rows used of {d['rows_given']} (weight {d['weight']}), "
            f"from {len(d.get('servers') or [])} server(s); never evaluated on"
        )
    for m in card["loso"]:
        click.echo(f"  {m['fold']:<28} {m['label']:<7} {m['lang']}  AUC {m['roc_auc']}  recall {m['recall']}  FPR {m['fpr']}")


def _load_decisions(path: Path):
    """(Dataset, card info) from a triagebot database or an `export --training` CSV."""
    from datetime import datetime, timezone

    from bot import training_export as tx
    from bot.store import Store
    from classifiers.base import TEXT_LABELS
    from classifiers.data import decisions_dataset

    if path.suffix.lower() == ".csv":
        rows = tx.read_training_csv(path)
        summary = tx.count(rows)
        exported = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    else:
        with Store.open(path, migrate=False) as store:
            rows, summary = tx.decision_rows(store)
        exported = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    ds = decisions_dataset([r.text for r in rows], [[r.labels[label] for label in TEXT_LABELS] for r in rows])
    return ds, {"from": path.name, "servers": sorted(summary.servers), "exported_at": exported, "summary": summary.text()}


@main.command("eval")
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("eval_out"),
    show_default=True,
    help="Where to write the PR curve PNG and confusion tables.",
)
@click.option("--model", "model_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def eval_cmd(data_dir: Path, out_dir: Path, model_path: Path | None) -> None:
    """Metrics per label x language on DIR, a PR-curve PNG and confusion tables."""
    from classifiers.evaluate import evaluate, format_report

    report = evaluate(data_dir, model_path=model_path, out_dir=out_dir)
    click.echo(format_report(report))
