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


@pytest.mark.parametrize(
    "name, content",
    [
        ("in.txt", "send nudes\nselamat pagi\n"),
        ("in.csv", "id,text\n1,send nudes\n2,selamat pagi\n"),
        ("in.jsonl", '{"text": "send nudes"}\n{"text": "selamat pagi"}\n'),
    ],
)
def test_classify_input_files(trained: Path, tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    result = run("classify", "--input", str(path), "--format", "jsonl", "--model", str(trained / "model.skops"))
    assert result.exit_code == 0, result.output
    assert [json.loads(x)["text"] for x in result.output.splitlines()] == ["send nudes", "selamat pagi"]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("in.pdf", "x", "unsupported file type"),
        ("in", "x", "unsupported file type"),
        ("in.csv", "message\nhello\n", "no 'text' column"),
        ("in.csv", "", "no 'text' column"),
    ],
)
def test_classify_bad_input_is_a_usage_error(trained: Path, tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    result = run("classify", "--input", str(path), "--model", str(trained / "model.skops"))
    assert result.exit_code == 2
    assert message in result.output


DEEP = '{"text": "hi", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"

#: (file name, bytes, texts scored in order, {line: error fragment}); stdin when the name is "-".
INPUTS = [
    ("in.txt", b"\xef\xbb\xbfsend nudes\nselamat pagi\n", ["send nudes", "selamat pagi"], {}),
    ("in.csv", b"\xef\xbb\xbftext,id\nsend nudes,1\nselamat pagi,2\n", ["send nudes", "selamat pagi"], {}),
    ("in.csv", b'\xef\xbb\xbf"text"\r\n"dasar cina, pulang sana"\r\n', ["dasar cina, pulang sana"], {}),
    ("in.jsonl", b'\xef\xbb\xbf{"text": "send nudes"}\n{"text": "selamat pagi"}\n', ["send nudes", "selamat pagi"], {}),
    ("in.txt", b"caf\xe9 \xff\xfe ok\n", ["caf\ufffd \ufffd\ufffd ok"], {}),
    ("in.jsonl", b'{"text": "lone \\ud800 surrogate"}\n', ["lone \ufffd surrogate"], {}),
    ("in.jsonl", b'{"text": "\\ud83d\\ude00 pair"}\n', ["\U0001f600 pair"], {}),
    (
        "in.jsonl",
        b'{"text": "ok"}\n{"text": null}\n{"text": 5}\n{"text": ["a"]}\n{"text": "kirim foto"}\n',
        ["ok", "kirim foto"],
        {2: "'text' is null", 3: "'text' is a number", 4: "'text' is a list"},
    ),
    ("in.jsonl", b'{"msg": "hi"}\nnot json\n\n{"text": "fine"}\n', ["fine"], {1: "no 'text' field", 2: "not JSON"}),
    ("in.jsonl", DEEP.encode() + b'\n{"text": "after"}\n', ["after"], {1: "nested deeper than 64"}),
    ("in.jsonl", b'{"text": "a", "n": ' + b"9" * 5000 + b"}\n", [], {1: "not JSON"}),
    ("in.jsonl", b'{"text": "[[[[ not nesting {{{{ ' + b"[" * 200 + b'"}\n', ["[[[[ not nesting {{{{ " + "[" * 200], {}),
    ("in.csv", b"id,text\n1\n2,selamat pagi\n", ["selamat pagi"], {2: "no value in the 'text' column"}),
    ("in.txt", ("x" * 100_000 + "\n").encode(), ["x" * 100_000], {}),
    ("-", b"\xef\xbb\xbfsend nudes\n\nselamat \xc0pagi\n", ["send nudes", "selamat \ufffdpagi"], {}),
]


@pytest.mark.parametrize("name, data, texts, errors", INPUTS)
def test_classify_input_real_users_have(trained: Path, tmp_path: Path, name: str, data: bytes, texts: list[str], errors: dict[int, str]) -> None:
    """BOMs, stdin, invalid UTF-8, surrogates, null/non-string texts, nesting: every text is scored or its
    line is named; output is valid UTF-8 JSON; exit 1 only when a line failed, after the rest is scored."""
    if name == "-":
        args, stdin = ["--input", "-"], data
    else:
        (tmp_path / name).write_bytes(data)
        args, stdin = ["--input", str(tmp_path / name)], None
    result = CliRunner().invoke(main, ["classify", *args, "--format", "jsonl", "--model", str(trained / "model.skops")], input=stdin, catch_exceptions=False)
    rows = [json.loads(line) for line in result.stdout_bytes.decode("utf-8").splitlines()]
    assert [r["text"] for r in rows if "text" in r] == texts
    assert {r["line"]: r["error"] for r in rows if "error" in r}.keys() == errors.keys()
    for r in rows:
        if "error" in r:
            assert errors[r["line"]] in r["error"] and f"line {r['line']}" in r["error"]
    assert result.exit_code == (1 if errors else 0), result.output
    if errors:
        assert result.stderr.strip() == f"Error: {len(errors)} of {len(texts) + len(errors)} input lines failed (see the error lines above)"


@pytest.mark.parametrize(
    "fmt, data, texts",
    [
        ("jsonl", b'{"text": "send nudes"}\n', ["send nudes"]),
        ("csv", b"text\nselamat pagi\n", ["selamat pagi"]),
        ("txt", b"one\ntwo\n", ["one", "two"]),
    ],
)
def test_classify_stdin_with_input_format(trained: Path, fmt: str, data: bytes, texts: list[str]) -> None:
    result = CliRunner().invoke(
        main,
        ["classify", "--input", "-", "--input-format", fmt, "--format", "jsonl", "--model", str(trained / "model.skops")],
        input=data,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert [json.loads(x)["text"] for x in result.stdout.splitlines()] == texts


@pytest.mark.parametrize(
    "arg, shown",
    [
        ("caf\udce9 kirim foto", "caf\ufffd kirim foto"),  # a Latin-1 byte in argv, as Python decodes it
        ("\udcff\udcfe", "\ufffd\ufffd"),
        ("", ""),
        ("dasar \u0441ina", "dasar \u0441ina"),  # Cyrillic look-alike kept as is
    ],
)
@pytest.mark.parametrize("fmt", ["jsonl", "table"])
def test_classify_arguments_with_undecodable_bytes(trained: Path, arg: str, shown: str, fmt: str) -> None:
    result = CliRunner().invoke(main, ["classify", arg, "--format", fmt, "--model", str(trained / "model.skops")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = result.stdout_bytes.decode("utf-8")
    if fmt == "jsonl":
        assert json.loads(out)["text"] == shown
    else:
        assert out.startswith(shown)


def _garbage_model(tmp_path: Path, trained: Path, case: str) -> Path:
    model = tmp_path / "model.skops"
    card = json.loads((trained / "model_card.json").read_text())
    if case == "no card":
        model.write_bytes(b"\x00garbage")
    elif case == "card not JSON":
        model.write_bytes((trained / "model.skops").read_bytes())
        (tmp_path / "model_card.json").write_bytes(b"{not json")
    elif case == "card not UTF-8":
        model.write_bytes((trained / "model.skops").read_bytes())
        (tmp_path / "model_card.json").write_bytes(b"\xff\xfe{}")
    elif case == "card a list":
        model.write_bytes((trained / "model.skops").read_bytes())
        (tmp_path / "model_card.json").write_text("[1, 2]")
    elif case == "card wrong shapes":
        model.write_bytes((trained / "model.skops").read_bytes())
        (tmp_path / "model_card.json").write_text(json.dumps({**card, "labels": 5}))
    elif case == "model garbage, card's sha256":
        model.write_bytes(b"PK\x03\x04 garbage")
        (tmp_path / "model_card.json").write_text(json.dumps(card))
    elif case == "model garbage, card without sha256":
        model.write_bytes(b"PK\x03\x04 garbage")
        card.pop("model_sha256", None)
        (tmp_path / "model_card.json").write_text(json.dumps(card))
    elif case == "model truncated zip":
        model.write_bytes((trained / "model.skops").read_bytes()[:2000])
        card.pop("model_sha256", None)
        (tmp_path / "model_card.json").write_text(json.dumps(card))
    else:
        raise AssertionError(case)
    return model


@pytest.mark.parametrize(
    "case, fragment",
    [
        ("no card", "model card not found"),
        ("card not JSON", "not a readable model card"),
        ("card not UTF-8", "not a readable model card"),
        ("card a list", "not a model card"),
        ("card wrong shapes", "model card"),
        ("model garbage, card's sha256", "does not match the sha256"),
        ("model garbage, card without sha256", "not a triagebot model file"),
        ("model truncated zip", "not a triagebot model file"),
    ],
)
def test_garbage_model_file_is_one_line(trained: Path, tmp_path: Path, case: str, fragment: str) -> None:
    model = _garbage_model(tmp_path, trained, case)
    result = CliRunner().invoke(main, ["classify", "hello", "--model", str(model)], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: ") and fragment in line


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


@pytest.mark.parametrize(
    "change, code, fragment",
    [
        ("bom", 0, None),
        ("invalid utf-8", 1, "not UTF-8 text"),
        ("no text column", 1, "needs a 'text' column"),
        ("no csv", 1, "no *.csv files"),
    ],
)
def test_train_data_problems_are_one_line(tmp_path: Path, change: str, code: int, fragment: str | None) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for f in TINY.glob("*.csv"):
        raw = f.read_bytes()
        if f.name == "chat_en.csv":
            raw = {
                "bom": b"\xef\xbb\xbf" + raw,
                "invalid utf-8": raw.replace(b"naked", b"nak\xffed"),
                "no text column": raw.replace(b"text,", b"message,", 1),
            }.get(change, raw)
        if change != "no csv":
            (data / f.name).write_bytes(raw)
    result = CliRunner().invoke(main, ["train", "--data", str(data), "--out", str(tmp_path / "out"), "--no-progress"], catch_exceptions=False)
    assert result.exit_code == code, result.output
    if fragment:
        (line,) = result.stderr.splitlines()
        assert line.startswith("Error: ") and fragment in line
