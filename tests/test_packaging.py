"""The wheel must carry every file the code loads at run time: pyproject's package-data has to cover them."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest

from bot.demo import DEMO_DIR
from classifiers.data import HANDWRITTEN_DIR
from classifiers.lexicon import LEXICON_DIR
from classifiers.text import default_model_path

REPO = Path(__file__).resolve().parents[1]
PACKAGE_DATA: dict[str, list[str]] = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]


def declared(path: Path) -> bool:
    """Is `path` (a file in the checkout) matched by a package-data glob of its top-level package?"""
    rel = path.resolve().relative_to(REPO)
    package, inside = rel.parts[0], Path(*rel.parts[1:]).as_posix()
    return any(fnmatch.fnmatch(inside, g) and inside.count("/") == g.count("/") for g in PACKAGE_DATA.get(package, []))


def shipped_files() -> list[Path]:
    return sorted(p for pkg in ("bot", "classifiers") for p in (REPO / pkg / "resources").rglob("*") if p.is_file() and "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", shipped_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_resource_file_is_declared(path: Path) -> None:
    assert declared(path), f"{path.relative_to(REPO)} is not in [tool.setuptools.package-data]"


@pytest.mark.parametrize(
    "directory, pattern",
    [
        (LEXICON_DIR, "*.toml"),
        (HANDWRITTEN_DIR, "*.csv"),
        (DEMO_DIR, "*.jsonl"),
    ],
)
def test_directories_the_code_reads_are_packaged_and_not_empty(directory: Path, pattern: str) -> None:
    files = sorted(directory.glob(pattern))
    assert files, f"nothing matches {pattern} in {directory}"
    assert all(declared(f) for f in files)


@pytest.mark.parametrize("name", ["model.skops", "model_card.json", "MODEL_CARD.md"])
def test_model_files_are_packaged(name: str) -> None:
    path = default_model_path().with_name(name)
    assert path.exists() and declared(path)


@pytest.mark.parametrize(
    "path, expected",
    [
        (REPO / "classifiers" / "resources" / "lexicons" / "new.toml", True),
        (REPO / "classifiers" / "resources" / "lexicons" / "new.txt", False),
        (REPO / "classifiers" / "resources" / "stray" / "x.toml", False),
        (REPO / "bot" / "resources" / "demo" / "chat.jsonl", True),
        (REPO / "bot" / "resources" / "other.jsonl", False),
    ],
)
def test_declared_matches_globs_per_directory(path: Path, expected: bool) -> None:
    assert declared(path) is expected
