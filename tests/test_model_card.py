"""The shipped model card matches the shipped model and this environment."""

from __future__ import annotations

import hashlib
import json

import pytest
import sklearn

from classifiers.base import TEXT_LABELS
from classifiers.lexicon import lexicon_sha256
from classifiers.text import default_model_path
from tests.conftest import DEV_DATA, needs_dev_data, needs_model

MODEL = default_model_path()
CARD = MODEL.with_name("model_card.json")
pytestmark = needs_model


@pytest.fixture(scope="module")
def card() -> dict:
    return json.loads(CARD.read_text(encoding="utf-8"))


def test_hash_matches_file(card: dict) -> None:
    assert hashlib.sha256(MODEL.read_bytes()).hexdigest() == card["model_sha256"]
    assert MODEL.stat().st_size == card["model_bytes"]


def test_size_within_budget() -> None:
    assert MODEL.stat().st_size <= 50 * 1024 * 1024


@pytest.mark.parametrize("label", TEXT_LABELS)
def test_thresholds_present(card: dict, label: str) -> None:
    assert 0.0 < card["thresholds"][label] < 1.0


def test_labels_and_versions(card: dict) -> None:
    assert card["labels"] == list(TEXT_LABELS)
    assert card["sklearn_version"].split(".")[:2] == sklearn.__version__.split(".")[:2]
    assert card["lexicon_sha256"] == lexicon_sha256()


@pytest.mark.parametrize("key", ["sources", "data_files", "loso", "handwritten_examples", "rows", "fpr_budget"])
def test_card_fields(card: dict, key: str) -> None:
    assert card[key] or card[key] == 0


def test_sources_have_licences(card: dict) -> None:
    for name, info in card["sources"].items():
        assert info["licence"] and info["licence"] != "unknown", name


def test_data_files_hashed(card: dict) -> None:
    for name, info in card["data_files"].items():
        assert len(info["sha256"]) == 64 and info["rows"] > 0, name


def test_markdown_card_mentions_thresholds(card: dict) -> None:
    md = MODEL.with_name("MODEL_CARD.md").read_text(encoding="utf-8")
    for label, t in card["thresholds"].items():
        assert f"`{label}` = {t}" in md


@pytest.mark.devdata
@needs_dev_data
def test_card_hashes_match_dev_data(card: dict) -> None:
    """The committed model was trained on exactly the dev files present (else: retrain)."""
    for name, info in card["data_files"].items():
        if name.startswith("handwritten/"):
            path = MODEL.parent / name
        else:
            path = DEV_DATA / name
        assert path.exists(), name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == info["sha256"], name


@pytest.mark.parametrize("label", TEXT_LABELS)
def test_review_and_action_thresholds_bracket_the_shipped_one(card: dict, label: str) -> None:
    review, action = card["operating_points"]["review"][label], card["operating_points"]["action"][label]
    assert 0.0 < review["threshold"] <= card["thresholds"][label] <= action["threshold"] < 1.0
    for point in (review, action):
        assert 0.0 <= point["benign_fpr_max"] <= point["fpr_budget"] + 0.001  # the stated rate meets its budget
        assert point["recall"] and all(0.0 <= r <= 1.0 for r in point["recall"].values())
