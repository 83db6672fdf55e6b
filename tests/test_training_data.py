"""Label mapping of the dev sources (classifiers/data.py), on tiny hand-made copies of their layouts."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from classifiers.base import TEXT_LABELS
from classifiers.data import load_dir, load_handwritten

SEX, RACE = TEXT_LABELS.index("sexual"), TEXT_LABELS.index("racial")


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


DAVIDSON = [  # text, count, hate, offensive, neither, class -> expected (sexual, racial)
    ("nice weather for a walk", 3, 0, 0, 3, 2, (0, 0)),
    ("looks like a porch monkey to me", 3, 0, 1, 2, 2, (-1, -1)),  # split "neither": not benign
    ("go back to africa you n-word", 3, 2, 1, 0, 0, (-1, 1)),  # hate + group: silver racial
    ("you are a faggot", 3, 3, 0, 0, 0, (-1, -1)),  # hate, no ethnic group: stays unknown
    ("stupid hoe", 3, 0, 3, 0, 1, (-1, -1)),  # offensive only
]
NETIFIER = [  # text, pornografi, sara, radikalisme, pencemaran -> expected (sexual, racial)
    ("usir cina dari sini", 0, 1, 0, 0, (0, 1)),  # SARA + ethnic group: silver racial
    ("dasar kafir sesat", 0, 1, 0, 0, (0, -1)),  # SARA about religion only: unknown
    ("bakar gedungnya", 0, 0, 1, 0, (0, -1)),  # radicalism: racial unknown
    ("jawaban yang bagus", 0, 0, 0, 0, (0, 0)),  # "jawab" must not match "jawa"
    ("kirim foto bugil", 1, 0, 0, 0, (1, 0)),
]


@pytest.fixture()
def dev_dir(tmp_path: Path) -> Path:
    cols = ["text", "lang", "sexual", "racial", "source"]
    _write(tmp_path / "davidson2017_en.csv", cols, [[t, "en", 0 if c == 2 else -1, 0 if c == 2 else -1, "davidson2017_en"] for t, _, _, _, _, c, _ in DAVIDSON])
    _write(
        tmp_path / "meta" / "davidson2017_en_orig.csv",
        ["text", "Unnamed: 0", "count", "hate_speech", "offensive_language", "neither", "class"],
        [[t, i, n, h, o, ne, c] for i, (t, n, h, o, ne, c, _) in enumerate(DAVIDSON)],
    )
    _write(tmp_path / "netifier_id.csv", cols, [[t, "id", p, -1 if s else 0, "netifier_id"] for t, p, s, _, _, _ in NETIFIER])
    _write(
        tmp_path / "meta" / "netifier_id_orig.csv",
        ["text", "source", "pornografi", "sara", "radikalisme", "pencemaran_nama_baik", "orig_split"],
        [[t, "kaskus", p, s, r, pc, "train"] for t, p, s, r, pc, _ in NETIFIER],
    )
    return tmp_path


@pytest.mark.parametrize("source, table", [("davidson2017_en", DAVIDSON), ("netifier_id", NETIFIER)])
def test_meta_remapping(dev_dir: Path, source: str, table: list) -> None:
    ds = load_dir(dev_dir)
    got = {t: (int(y[SEX]), int(y[RACE])) for t, s, y in zip(ds.texts, ds.sources, ds.Y) if s == source}
    assert got == {row[0]: row[-1] for row in table}


def test_meta_is_optional(dev_dir: Path) -> None:
    """Without meta/ the README mapping is used as is (split 'neither' rows stay 0/0)."""
    ds = load_dir(dev_dir, use_meta=False)
    i = ds.texts.index("looks like a porch monkey to me")
    assert list(ds.Y[i]) == [0, 0]


def test_meta_with_wrong_row_count_is_ignored(dev_dir: Path) -> None:
    meta = dev_dir / "meta" / "netifier_id_orig.csv"
    meta.write_text(meta.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    ds = load_dir(dev_dir)
    i = ds.texts.index("usir cina dari sini")
    assert ds.Y[i, RACE] == -1


def test_handwritten_examples_are_well_formed() -> None:
    hw = load_handwritten()
    assert len(hw) > 500
    assert set(np.unique(hw.langs)) == {"en", "id"}
    assert np.isin(hw.Y, (-1, 0, 1)).all()
    for j in range(len(TEXT_LABELS)):
        for lang in ("en", "id"):
            col = hw.Y[hw.langs == lang, j]
            assert (col == 1).sum() >= 50 and (col == 0).sum() >= 50, (TEXT_LABELS[j], lang)
    assert all(t.strip() for t in hw.texts)


def _ds(rows: list[tuple[str, str, int, int]]):
    from classifiers.data import Dataset

    return Dataset(
        [r[0] for r in rows],
        np.asarray([r[1] for r in rows], dtype=object),
        np.asarray(["handwritten"] * len(rows), dtype=object),
        np.asarray([[r[2], r[3]] for r in rows], dtype=np.int8).reshape(len(rows), 2),
    )


@pytest.mark.parametrize(
    "text, lang, racial, copies",
    [
        ("orang madura itu maling semua", "id", 1, 3),
        ("aku bangga jadi orang batak", "id", 0, 3),
        ("papuans are animals", "en", 1, 3),
        ("orang cina dan orang jawa", "id", 1, 0),  # two groups: not swapped
        ("dasar cokin", "id", 1, 0),  # a slur belongs to one group: not swapped
        ("", "id", 0, 0),
        ("kirim foto bugil", "id", -1, 0),  # racial unknown: not swapped
    ],
)
def test_group_swap_keeps_label_and_changes_group(text: str, lang: str, racial: int, copies: int) -> None:
    from classifiers.data import augment_group_swaps

    out = augment_group_swaps(_ds([(text, lang, 0, racial)]))
    extra = out.texts[1:]
    assert len(extra) == copies
    assert len(set(extra)) == copies and text not in extra
    assert (out.Y[1:, 1] == racial).all()


def test_no_group_dominates_handwritten_racial_positives() -> None:
    from classifiers.data import augment_group_swaps, group_shares, load_handwritten

    ds = augment_group_swaps(load_handwritten())
    for lang in ("id", "en"):
        shares = group_shares(ds, lang)
        assert shares and max(shares.values()) <= 0.20, shares


@pytest.mark.parametrize(
    "text, remapped",
    [
        ("heh kontol jangan sok lu", True),
        ("jembut lebat banget", True),
        ("memek kamu basah say", False),
        ("bokep gratis klik link", False),
        ("kirim foto bugil", False),
        ("", False),
    ],
)
def test_netifier_policy_remap(text: str, remapped: bool) -> None:
    from classifiers.data import _policy_sexual_netifier

    ds = _ds([(text, "id", 1, 0)])
    assert _policy_sexual_netifier(ds) == int(remapped)
    assert ds.Y[0, 0] == (-1 if remapped else 1)
