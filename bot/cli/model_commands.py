"""`triagebot classify | train | eval`: thin wrappers over classifiers.text/train/evaluate."""
from __future__ import annotations

import csv
import json
import logging
import sys
from pathlib import Path
from typing import Iterator

import click

from bot.cli.app import main

log = logging.getLogger(__name__)


def _read_input(path: Path) -> Iterator[str]:
    """Texts from .txt (one per line), .csv (`text` column) or .jsonl (`text` field)."""
    suffix = path.suffix.lower()
    if suffix == ".txt":
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                line = line.rstrip("\r\n")
                if line.strip():
                    yield line
    elif suffix == ".csv":
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        with open(path, newline="", encoding="utf-8", errors="replace") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or "text" not in reader.fieldnames:
                raise click.BadParameter(f"{path.name} has no 'text' column (columns: {reader.fieldnames})",
                                         param_hint="--input")
            for row in reader:
                yield row["text"] or ""
    elif suffix == ".jsonl":
        with open(path, encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise click.BadParameter(f"{path.name} line {n}: not JSON ({exc.msg})", param_hint="--input")
                if not isinstance(obj, dict) or "text" not in obj:
                    raise click.BadParameter(f"{path.name} line {n}: no 'text' field", param_hint="--input")
                yield str(obj["text"])
    else:
        raise click.BadParameter(f"unsupported file type {suffix or '(none)'!r}; use .txt, .csv or .jsonl",
                                 param_hint="--input")


@main.command("classify")
@click.argument("texts", nargs=-1)
@click.option("--input", "input_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A .txt (one message per line), .csv (`text` column) or .jsonl (`text` field) file.")
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table", show_default=True)
@click.option("--model", "model_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Model file (default: the shipped model).")
def classify_cmd(texts: tuple[str, ...], input_file: Path | None, fmt: str, model_path: Path | None) -> None:
    """Score messages for sexual and racial harassment with the shipped text model."""
    from classifiers.text import ModelNotFoundError, TextClassifier

    items = list(texts)
    if input_file is not None:
        items.extend(_read_input(input_file))
    if not items:
        raise click.UsageError("give TEXT arguments or --input FILE")
    try:
        model = TextClassifier.load(model_path)
    except ModelNotFoundError as exc:
        raise click.ClickException(str(exc))
    for text, verdicts in zip(items, model.classify_batch(items, n_jobs=0)):
        scores = {v.label: round(v.score, 4) for v in verdicts}
        labels = [v.label for v in verdicts if v.score >= model.thresholds[v.label]]
        reasons = [f"{v.label}: {v.reason}" for v in verdicts if v.label in labels and v.reason]
        if fmt == "jsonl":
            click.echo(json.dumps({"text": text, "scores": scores, "labels": labels, "reasons": reasons},
                                  ensure_ascii=False))
        else:
            shown = text if len(text) <= 60 else text[:59] + "…"
            shown = "".join(c if c.isprintable() else " " for c in shown)
            click.echo(f"{shown:<60}  sexual={scores['sexual']:.3f} racial={scores['racial']:.3f}  "
                       f"{','.join(labels) or '-'}  {' | '.join(reasons)}")


@main.command("lean-model")
@click.option("--model", "model_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The skops model to derive from (default: the shipped model).")
def lean_model_cmd(model_path: Path | None) -> None:
    """Rebuild model_lean.npz (what `run` and `classify` load) from model.skops, after retraining or merging a new model."""
    from classifiers.text import ModelCardError, ModelNotFoundError, write_lean

    try:
        out = write_lean(model_path)
    except (ModelNotFoundError, ModelCardError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {out}")


@main.command("train")
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Directory of labelled CSVs (text,lang,sexual,racial,source).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write model.skops and the model cards (default: the package's classifiers/resources/).")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def train_cmd(data_dir: Path, out_dir: Path | None, no_progress: bool) -> None:
    """Train the text model reproducibly and write its model card."""
    from classifiers.train import train

    try:
        card = train(data_dir, out_dir, progress=not no_progress)
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc))
    click.echo(f"wrote {card['model_file']} ({card['model_bytes'] / 1e6:.1f} MB), thresholds {card['thresholds']}")
    for m in card["loso"]:
        click.echo(f"  {m['fold']:<28} {m['label']:<7} {m['lang']}  AUC {m['roc_auc']}  recall {m['recall']}  FPR {m['fpr']}")


@main.command("eval")
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("eval_out"),
              show_default=True, help="Where to write the PR curve PNG and confusion tables.")
@click.option("--model", "model_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def eval_cmd(data_dir: Path, out_dir: Path, model_path: Path | None) -> None:
    """Metrics per label x language on DIR, a PR-curve PNG and confusion tables."""
    from classifiers.evaluate import evaluate, format_report
    from classifiers.text import ModelNotFoundError

    try:
        report = evaluate(data_dir, model_path=model_path, out_dir=out_dir)
    except ModelNotFoundError as exc:
        raise click.ClickException(str(exc))
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc))
    click.echo(format_report(report))
