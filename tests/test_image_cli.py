"""scan-image and bank add/match through click's CliRunner."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from bot.cli import main
from tests.hostile_images import png_raw, scan_bomb

skdata = pytest.importorskip("skimage.data")
HAS_NUDENET = importlib.util.find_spec("nudenet") is not None


def _store_has_bank() -> bool:
    try:
        from bot.store import Store
    except ImportError:
        return False
    return all(hasattr(Store, a) for a in ("open", "add_bank_entry", "bank_entries"))


needs_store = pytest.mark.skipif(not _store_has_bank(), reason="bot.store lacks Store.open/add_bank_entry/bank_entries")


def run(*args: object) -> object:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def save(path: Path, arr: np.ndarray, fmt: str = "PNG", **kw: object) -> Path:
    Image.fromarray(arr).save(path, fmt, **kw)
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    a = skdata.astronaut()
    h, w = a.shape[:2]
    return {
        "original": save(tmp_path / "original.png", a),
        "cropped": save(tmp_path / "cropped.jpg", np.ascontiguousarray(a[: h * 9 // 10, w // 10 :]), "JPEG", quality=60),
        "other": save(tmp_path / "other.png", skdata.coffee()),
        "text": _write(tmp_path / "notes.jpg", b"this is not an image\n"),
        "svg": _write(tmp_path / "x.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>'),
        "empty": _write(tmp_path / "empty.png", b""),
    }


def _write(p: Path, data: bytes) -> Path:
    p.write_bytes(data)
    return p


def jsonl(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


@pytest.mark.skipif(not HAS_NUDENET, reason="nudenet not installed")
def test_scan_image_jsonl_keeps_going_after_bad_files(files: dict[str, Path]) -> None:
    r = run("scan-image", files["original"], files["text"], files["other"], files["svg"], files["empty"], "missing.png", "--format", "jsonl")
    assert r.exit_code == 1, r.output
    assert r.stderr.strip() == "Error: 4 of 6 images failed (see the error lines above)"
    rows = jsonl(r.stdout)
    assert [row["path"] for row in rows] == [
        str(files["original"]),
        str(files["text"]),
        str(files["other"]),
        str(files["svg"]),
        str(files["empty"]),
        "missing.png",
    ]
    ok = [rows[0], rows[2]]
    for row in ok:
        assert set(row) == {"path", "scores", "labels", "reasons"}
        assert 0.0 <= row["scores"]["sexual"] < 0.5 and row["labels"] == [] and row["reasons"]
    for row in (rows[1], rows[3], rows[4], rows[5]):
        assert set(row) == {"path", "error"} and row["error"]
    assert "SVG" in rows[3]["error"] and "empty" in rows[4]["error"] and "cannot read" in rows[5]["error"]


@pytest.mark.skipif(not HAS_NUDENET, reason="nudenet not installed")
def test_scan_image_table(files: dict[str, Path]) -> None:
    r = run("scan-image", files["original"], files["text"])
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    assert lines[0].startswith("path") and "sexual=" in lines[1] and "error:" in lines[2]


def test_scan_image_without_nudenet_says_so(files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from classifiers.images import nsfw

    monkeypatch.setattr(nsfw, "nudity_available", lambda: False)
    r = CliRunner().invoke(main, ["scan-image", str(files["original"])])
    assert r.exit_code != 0 and "install triagebot[images]" in r.output


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["scan-image"], "Missing argument"),
        (["scan-image", "x.png", "--format", "xml"], "xml"),
        (["bank", "add", "x.png", "--server", "slack:1"], "not a server key"),
        (["bank", "match", "--db", "nope.db", "x.png"], "does not exist"),
    ],
)
def test_usage_errors(args: list[str], fragment: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and fragment in r.output


@needs_store
def test_bank_add_then_match(files: dict[str, Path], tmp_path: Path) -> None:
    db = tmp_path / "bank.db"
    r = run("bank", "add", "--db", db, files["original"], files["text"], "--note", "reported by victim", "--format", "jsonl")
    assert r.exit_code == 1, r.output
    added, bad = jsonl(r.stdout)
    assert added["scope"] == "cli" and isinstance(added["entry"], int)
    assert set(bad) == {"path", "error"}

    r = run("bank", "match", "--db", db, files["cropped"], files["other"], files["svg"], "--format", "jsonl")
    assert r.exit_code == 1, r.output
    hit, miss, err = jsonl(r.stdout)
    assert hit["matched"] is True and hit["entry"] == added["entry"] and hit["method"] in ("hash", "orb")
    assert ("distance" in hit) if hit["method"] == "hash" else ("score" in hit)
    assert miss == {"path": str(files["other"]), "matched": False, "entry": None, "method": None}
    assert set(err) == {"path", "error"}

    r = run("bank", "match", "--db", db, files["cropped"])
    assert r.exit_code == 0 and f"entry #{added['entry']}" in r.output


@needs_store
def test_bank_scopes_are_separate(files: dict[str, Path], tmp_path: Path) -> None:
    db = tmp_path / "bank.db"
    assert run("bank", "add", "--db", db, files["original"], "--server", "discord:42").exit_code == 0
    rows = jsonl(run("bank", "match", "--db", db, files["cropped"], "--format", "jsonl").output)
    assert rows[0]["matched"] is False  # default scope is `cli`
    rows = jsonl(run("bank", "match", "--db", db, files["cropped"], "--server", "discord:42", "--format", "jsonl").output)
    assert rows[0]["matched"] is True


@needs_store
def test_bank_keeps_no_pixels(files: dict[str, Path], tmp_path: Path) -> None:
    from bot.store import Store

    db = tmp_path / "bank.db"
    run("bank", "add", "--db", db, files["original"])
    with Store.open(db) as store:
        ((_, records),) = store.bank_entries(["cli"])
    raw = files["original"].read_bytes()
    assert sum(len(b) for _, b in records) < len(raw) / 10
    assert all(raw[100:164] not in b for _, b in records)


def test_help_lists_image_commands() -> None:
    out = run("--help").output
    assert "scan-image" in out and "bank" in out
    out = run("bank", "--help").output
    assert "add" in out and "match" in out


BATCH_EXIT = [
    # command, files (keys of `files`, or a missing path), expected exit code
    (["bank", "add"], ["original"], 0),
    (["bank", "add"], ["original", "text"], 1),
    (["bank", "add"], ["text", "original"], 1),  # the failure comes first: the rest still runs
    (["bank", "add"], ["svg", "empty", "missing.png"], 1),
    (["bank", "match"], ["cropped", "other"], 0),
    (["bank", "match"], ["cropped", "empty"], 1),
    (["bank", "match"], ["missing.png", "cropped"], 1),
    (["scan-image"], ["original", "other"], 0),
    (["scan-image"], ["svg", "original"], 1),
    (["scan-image"], ["original", "text", "missing.png"], 1),
]


@needs_store
@pytest.mark.parametrize("command, names, code", BATCH_EXIT)
def test_batch_exit_code_after_the_whole_batch(command: list[str], names: list[str], code: int, files: dict[str, Path], tmp_path: Path) -> None:
    if command == ["scan-image"] and not HAS_NUDENET:
        pytest.skip("nudenet not installed")
    db = tmp_path / "bank.db"
    if command[0] == "bank":
        assert run("bank", "add", "--db", db, files["original"]).exit_code == 0
        command = command + ["--db", str(db)]
    paths = [str(files[n]) if n in files else str(tmp_path / n) for n in names]
    r = run(*command, *paths, "--format", "jsonl")
    assert r.exit_code == code, r.output
    rows = jsonl(r.stdout)
    assert [row["path"] for row in rows] == paths  # every item reported, in order
    failed = sum("error" in row for row in rows)
    assert (failed > 0) == (code == 1)
    if code:
        assert r.stderr.strip() == f"Error: {failed} of {len(paths)} images failed (see the error lines above)"
    else:
        assert r.stderr == ""


@needs_store
def test_bank_note_and_path_with_undecodable_bytes_give_valid_utf8(files: dict[str, Path], tmp_path: Path) -> None:
    """An argument with bytes that are not UTF-8 arrives as lone surrogates; output stays valid UTF-8."""
    db = tmp_path / "bank.db"
    r = run("bank", "add", "--db", db, files["original"], str(tmp_path / "caf\udce9.png"), "--note", "dari korban \udcff", "--format", "jsonl")
    assert r.exit_code == 1
    text = r.stdout_bytes.decode("utf-8")  # strict: raises on invalid UTF-8
    rows = [json.loads(line) for line in text.splitlines()]
    assert rows[1]["path"].endswith("caf\ufffd.png") and "error" in rows[1]


@pytest.mark.skipif(not HAS_NUDENET, reason="nudenet not installed")
def test_scan_image_batch_with_bombs_still_reports_the_other_files(files: dict[str, Path], tmp_path: Path) -> None:
    bomb = _write(tmp_path / "bomb.jpg", scan_bomb(4000, 4000, 1000))
    grey16 = _write(tmp_path / "grey16.png", png_raw(7000, 7000, 16, 0))
    rgba = _write(tmp_path / "rgba.png", png_raw(7000, 7000, 8, 6))
    r = run("scan-image", files["original"], bomb, grey16, rgba, files["other"], "--format", "jsonl")
    assert r.exit_code == 1 and "2 of 5 images failed" in r.stderr
    rows = jsonl(r.stdout)
    assert [row["path"] for row in rows] == [str(p) for p in (files["original"], bomb, grey16, rgba, files["other"])]
    assert "scans" in rows[1]["error"] and "MB" in rows[3]["error"]
    for row in (rows[0], rows[2], rows[4]):  # the 16-bit PNG is decoded downscaled, not refused
        assert "error" not in row and 0.0 <= row["scores"]["sexual"] <= 1.0


@needs_store
def test_bank_batches_with_a_bomb_still_handle_the_other_files(files: dict[str, Path], tmp_path: Path) -> None:
    db = tmp_path / "bank.db"
    bomb = _write(tmp_path / "bomb.jpg", scan_bomb(2000, 2000, 500))
    added = jsonl(run("bank", "add", "--db", db, files["original"], bomb, files["other"], "--format", "jsonl").stdout)
    assert [("entry" in r, "error" in r) for r in added] == [(True, False), (False, True), (True, False)]
    assert "scans" in added[1]["error"]
    rows = jsonl(run("bank", "match", "--db", db, bomb, files["cropped"], "--format", "jsonl").stdout)
    assert "scans" in rows[0]["error"] and rows[1]["matched"] and rows[1]["entry"] == added[0]["entry"]
