"""One entry per picture and person (`bank add` reuses a near-identical entry), and `purge --user --bank`."""

from __future__ import annotations


import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from bot.cli import main
from bot.store import Store

skdata = pytest.importorskip("skimage.data")


def _png(a: np.ndarray, path, fmt: str = "PNG", **kw) -> None:
    Image.fromarray(a).save(path, fmt, **kw)


@pytest.fixture
def pictures(tmp_path):
    cam = np.repeat(np.asarray(skdata.camera())[:, :, None], 3, axis=2)
    _png(cam, tmp_path / "camera.png")
    _png(cam, tmp_path / "camera again.jpg", "JPEG", quality=60)
    _png(np.asarray(Image.fromarray(cam).resize((300, 300))), tmp_path / "camera small.png")
    _png(cam[128:384, 128:384], tmp_path / "camera deep crop.png")
    _png(np.asarray(skdata.coffee()), tmp_path / "kopi.png")
    return tmp_path


@pytest.mark.parametrize(
    "second,reused",
    [("camera.png", True), ("camera again.jpg", True), ("camera small.png", True), ("camera deep crop.png", False), ("kopi.png", False)],
)
def test_bank_add_reuses_a_near_identical_entry(pictures, second: str, reused: bool) -> None:
    db = pictures / "t.db"
    r = CliRunner()
    first = r.invoke(main, ["bank", "add", "--db", str(db), "--format", "jsonl", str(pictures / "camera.png")])
    assert first.exit_code == 0, first.output
    out = r.invoke(main, ["bank", "add", "--db", str(db), str(pictures / second)])
    assert out.exit_code == 0, out.output
    assert ("already in the bank: reused" in out.output) == reused
    with Store.open(db) as store:
        assert store.bank_size() == (1 if reused else 2)


def _records() -> list[tuple[str, bytes]]:
    return [("meta", b'{"v": 1}'), ("hash256", b""), ("hash_variants", b""), ("orb_xy", b""), ("orb_desc", b"")]


@pytest.fixture
def bank_db(tmp_path):
    db = tmp_path / "b.db"
    with Store.open(db) as store:
        store.add_bank_entry("discord:s1", _records(), "her photo", "member", "111", protects="111")
        store.add_bank_entry("discord:s2", _records(), "foto lain", "member", "111", protects="111")
        store.add_bank_entry("discord:s1", _records(), "someone else's", "member", "222", protects="222")
    return db


@pytest.mark.parametrize(
    "args,left,said",
    [
        (["--user", "111", "--bank", "--yes"], {"222"}, "removed 2 bank entries registered by 111"),
        (["--user", "111", "--bank", "--yes", "--server", "discord:s1"], {"111", "222"}, "removed 1 bank entry registered by 111"),
        (["--user", "111", "--yes"], {"111", "222"}, "nothing to erase"),  # not asked for: her protection stays
        (["--user", "111", "--bank", "--dry-run"], {"111", "222"}, "2 bank entries registered by 111 to remove"),
        (["--user", "nobody", "--bank", "--yes"], {"111", "222"}, "0 bank entries registered by nobody"),
    ],
)
def test_purge_user_bank(bank_db, args: list[str], left: set[str], said: str) -> None:
    out = CliRunner().invoke(main, ["purge", "--db", str(bank_db), *args])
    assert out.exit_code == 0, out.output
    assert said in out.output
    with Store.open(bank_db) as store:
        assert {e["registered_by"] for e in store.bank_list()} == left


def test_purge_bank_needs_a_user(bank_db) -> None:
    out = CliRunner().invoke(main, ["purge", "--db", str(bank_db), "--retention", "--bank"])
    assert out.exit_code == 2 and "--bank goes with --user" in out.output


def test_purge_bank_asks_first_when_not_told_yes(bank_db) -> None:
    out = CliRunner().invoke(main, ["purge", "--db", str(bank_db), "--user", "111", "--bank"])
    assert out.exit_code != 0 and "add --yes to erase 2 bank entries" in out.output
    with Store.open(bank_db) as store:
        assert store.bank_size() == 3
