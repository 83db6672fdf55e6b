"""The lean model artefact: sklearn-identical n-grams, exact save/load, stale or broken files refused."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from classifiers import lean
from classifiers.text import ModelCardError, TextClassifier, default_model_path
from tests.conftest import needs_model

TEXTS = [
    "",
    " ",
    "a",
    "ab",
    "kirim foto bugilnya dong",
    "dasar  cina\t\tlonte",
    "s e n d  n u d e s",
    "b0k3p 🙂 ѕеnd",
    "x" * 5000,
    "kata " * 2000,
    "\u200b\u00a0spasi\u3000lebar",
    "ch1ng-ch0ng go home!!",
]


@pytest.mark.parametrize("ngram_range", [(2, 5), (1, 1), (3, 3), (1, 6)])
@pytest.mark.parametrize("text", TEXTS, ids=lambda t: repr(t[:20]))
def test_char_wb_ngrams_equal_sklearn(text: str, ngram_range: tuple[int, int]) -> None:
    analyzer = TfidfVectorizer(analyzer="char_wb", ngram_range=ngram_range, lowercase=False).build_analyzer()
    assert lean.char_wb_ngrams(text, ngram_range) == analyzer(text)


def _tiny(sha: str = "ab" * 32) -> lean.LeanModel:
    block = lean.LeanBlock(
        "word",
        "word12",
        (1, 2),
        True,
        ["kirim", "foto", "kirim foto", "ünï", ""],
        np.array([1.5, 2.0, 3.25, 1.0, 0.1]),
        np.arange(10, dtype=np.float64).reshape(5, 2) / 7,
    )
    return lean.LeanModel(("sexual", "racial"), [block], [-1.25, 0.5], [(-1.1, 0.2), None], ["r1"], 3.0, np.array([[0.5, -0.5]]), [[-0.1, 0.0]], sha)


def test_save_load_round_trip_is_exact(tmp_path: Path) -> None:
    model = _tiny()
    lean.save(model, tmp_path / "m.npz")
    got = lean.load(tmp_path / "m.npz")
    assert (got.labels, got.intercepts, got.calib, got.lex_names, got.lex_scale, got.priors_logkeep, got.model_sha256) == (
        model.labels,
        model.intercepts,
        model.calib,
        model.lex_names,
        model.lex_scale,
        model.priors_logkeep,
        model.model_sha256,
    )
    b, m = got.blocks[0], model.blocks[0]
    assert (b.name, b.kind, b.ngram_range, b.sublinear, b.terms) == (m.name, m.kind, m.ngram_range, m.sublinear, m.terms)
    assert np.array_equal(b.idf, m.idf) and np.array_equal(b.W, m.W) and np.array_equal(got.lex_W, model.lex_W)


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04" + b"\x00" * 100])
def test_broken_file_is_a_lean_model_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "m.npz").write_bytes(content)
    with pytest.raises(lean.LeanModelError):
        lean.load(tmp_path / "m.npz")


def test_newline_in_a_term_is_refused(tmp_path: Path) -> None:
    model = _tiny()
    model.blocks[0].terms[0] = "two\nlines"
    with pytest.raises(lean.LeanModelError, match="newline"):
        lean.save(model, tmp_path / "m.npz")


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    for name in ("model.skops", "model_card.json", lean.LEAN_NAME):
        shutil.copy(default_model_path().with_name(name), tmp_path / name)
    return tmp_path


@needs_model
@pytest.mark.parametrize("damage", ["stale", "garbage", "missing"])
def test_stale_or_broken_lean_file_falls_back_to_skops(model_dir: Path, damage: str) -> None:
    path = model_dir / lean.LEAN_NAME
    if damage == "stale":
        lean.save(lean.load(path).__class__(**{**lean.load(path).__dict__, "model_sha256": "0" * 64}), path)
    elif damage == "garbage":
        path.write_bytes(b"garbage")
    else:
        path.unlink()
    model = TextClassifier.load(model_dir / "model.skops")
    assert model.pipeline is not None  # fell back to the (slow, correct) skops pipeline
    with pytest.raises((ModelCardError, FileNotFoundError)):
        TextClassifier.load(path)  # asking for the lean file itself is an error, not a silent fallback


@needs_model
def test_lean_load_imports_neither_sklearn_nor_skops() -> None:
    code = (
        "import sys; from classifiers.text import TextClassifier; m = TextClassifier.load(); m.classify_batch(['hello']); "
        "print(sorted({k.split('.')[0] for k in sys.modules} & {'sklearn', 'skops', 'scipy', 'pandas'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@needs_model
def test_lean_model_command_reproduces_the_shipped_file_byte_for_byte(model_dir: Path) -> None:
    """Regeneration is one command and deterministic: rebuilding from the shipped skops gives the shipped file."""
    from click.testing import CliRunner

    from bot.cli import main

    (model_dir / lean.LEAN_NAME).unlink()
    result = CliRunner().invoke(main, ["lean-model", "--model", str(model_dir / "model.skops")])
    assert result.exit_code == 0, result.output
    assert (model_dir / lean.LEAN_NAME).read_bytes() == default_model_path().with_name(lean.LEAN_NAME).read_bytes()


@pytest.mark.parametrize(
    "files, code, fragment",
    [
        ({}, 2, "does not exist"),
        ({"model.skops": b"not a model"}, 1, "model card not found"),
        ({"model.skops": b"", "model_card.json": b'{"labels": ["sexual"], "thresholds": {}}'}, 1, "model card labels"),
    ],
)
def test_lean_model_command_errors(tmp_path: Path, files: dict[str, bytes], code: int, fragment: str) -> None:
    from click.testing import CliRunner

    from bot.cli import main

    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    result = CliRunner().invoke(main, ["lean-model", "--model", str(tmp_path / "model.skops")])
    assert result.exit_code == code and fragment in result.output, result.output
    assert not (tmp_path / lean.LEAN_NAME).exists()
