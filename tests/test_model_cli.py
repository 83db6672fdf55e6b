"""`triagebot classify | train | eval` on a tiny hand-written fixture dataset (tests/fixtures/tiny_data)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main

TINY = Path(__file__).parent / "fixtures" / "tiny_data"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model")
    result = CliRunner().invoke(main, ["train", "--data", str(TINY), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    return out


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_train_writes_model_and_cards(trained: Path) -> None:
    card = json.loads((trained / "model_card.json").read_text())
    assert (trained / "model.skops").exists() and (trained / "MODEL_CARD.md").exists()
    assert (trained / "model_lean.npz").exists()  # train writes the lean artefact too
    assert set(card["thresholds"]) == {"sexual", "racial"}
    assert set(card["data_files"]) >= {"chat_en.csv", "chat_id.csv"}


def test_classify_jsonl_in_order(trained: Path) -> None:
    texts = ["kirim foto telanjang dong", "selamat pagi", "dasar cina babi pulang sana"]
    result = run("classify", *texts, "--format", "jsonl", "--model", str(trained / "model.skops"))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["text"] for r in rows] == texts
    for r in rows:
        assert set(r) == {"text", "scores", "labels", "reasons"}
        assert set(r["scores"]) == {"sexual", "racial"}
        assert all(0 <= s <= 1 for s in r["scores"].values())
    assert rows[1]["labels"] == []


@pytest.mark.parametrize("name, content", [
    ("in.txt", "send nudes\nselamat pagi\n"),
    ("in.csv", "id,text\n1,send nudes\n2,selamat pagi\n"),
    ("in.jsonl", '{"text": "send nudes"}\n{"text": "selamat pagi"}\n'),
])
def test_classify_input_files(trained: Path, tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    result = run("classify", "--input", str(path), "--format", "jsonl", "--model", str(trained / "model.skops"))
    assert result.exit_code == 0, result.output
    assert [json.loads(x)["text"] for x in result.output.splitlines()] == ["send nudes", "selamat pagi"]


@pytest.mark.parametrize("name, content, message", [
    ("in.pdf", "x", "unsupported file type"),
    ("in.csv", "message\nhello\n", "no 'text' column"),
    ("in.jsonl", '{"msg": "hi"}\n', "no 'text' field"),
    ("in.jsonl", "not json\n", "not JSON"),
])
def test_classify_bad_input_is_a_usage_error(trained: Path, tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    result = run("classify", "--input", str(path), "--model", str(trained / "model.skops"))
    assert result.exit_code == 2
    assert message in result.output


def test_classify_without_text_is_a_usage_error(trained: Path) -> None:
    assert run("classify", "--model", str(trained / "model.skops")).exit_code == 2


def test_classify_missing_model_explains(tmp_path: Path) -> None:
    result = run("classify", "hi", "--model", str(tmp_path / "missing.skops"))
    assert result.exit_code == 1
    assert "triagebot train --data" in result.output


def test_classify_table(trained: Path) -> None:
    result = run("classify", "hello there", "--model", str(trained / "model.skops"))
    assert result.exit_code == 0 and "sexual=" in result.output


def test_eval_writes_curve_and_tables(trained: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    result = run("eval", "--data", str(TINY), "--out", str(out), "--model", str(trained / "model.skops"))
    assert result.exit_code == 0, result.output
    assert (out / "pr_curve.png").stat().st_size > 1000
    assert (out / "confusion.csv").exists() and (out / "confusion.md").exists()
    assert "| sexual | en |" in result.output and "| racial | id |" in result.output
