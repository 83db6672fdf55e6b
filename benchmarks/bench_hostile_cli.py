"""Hostile-input sweep of the CLI: runs ~240 invocations (hostile files, stdin, arguments with undecodable
bytes, out-of-range times, hostile TOML configs) through click's CliRunner and lists every one that ends in
a traceback or writes output that is not valid UTF-8 (platform tokens are removed from its environment):

    python benchmarks/bench_hostile_cli.py

Not a test: some cases (a NUL or a high surrogate inside a file path) cannot come from a real shell.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main

NO_TOKENS = {"DISCORD_TOKEN": None, "TELEGRAM_TOKEN": None}


def sweep() -> int:
    """Run every case; print the summary and each failure; return the failure count."""
    tmp = Path(tempfile.mkdtemp())
    db = tmp / "d.db"
    CliRunner().invoke(main, ["demo", "--db", str(db)])
    trained = Path(__file__).resolve().parents[1] / "classifiers" / "resources" / "model.skops"
    S = ["\udcff", "\ud800", "x" * 100_000, "", " ", "\x00", "=cmd|' /C calc'!A0", "-1001234567890", "\u202e", "日本", "@everyone"]
    inputs = {
        "a.txt": [b"", b"\xef\xbb\xbf", b"\xff\xfe\x00\x00", b"a\r\nb\rc\n", b"\x00" * 100, ("x" * 1_000_000).encode()],
        "a.csv": [
            b"",
            b"text\n",
            b'text\n"unterminated',
            b"\xef\xbb\xbftext\n\xff\n",
            b"text,text\n1,2\n",
            b"\x00text\n",
            b"text\n" + b"a" * 200_000 + b"\n",
            b'"text\n',
        ],
        "a.jsonl": [
            b"null\n",
            b"[]\n",
            b'{"text": {"a": 1}}\n',
            b'{"text": "\\udfff"}\n',
            b"[" * 200_000,
            b'{"text": 1e999}\n',
            b'{"text": "a"' + b"}" * 10000 + b"\n",
            b"\xff\n",
            b'{"text": "' + b"\\" * 10 + b'"}\n',
        ],
    }
    calls = []
    for name, contents in inputs.items():
        for i, c in enumerate(contents):
            p = tmp / f"{i}{name}"
            p.write_bytes(c)
            for fmt in ("jsonl", "table"):
                calls.append((["classify", "--input", str(p), "--format", fmt, "--model", str(trained)], None))
            calls.append((["classify", "--input", "-", "--input-format", name.split(".")[1], "--model", str(trained)], c))
    for s in S:
        calls += [
            (["classify", s, "--format", "jsonl", "--model", str(trained)], None),
            (["review", "--db", str(db), "--flag", "1", "--decision", "confirm", "--reviewer", s, "--note", s], None),
            (["purge", "--db", str(db), "--user", s], None),
            (["stats", "--db", str(db), "--server", s], None),
            (["stats", "--db", str(db), "--server", "discord:" + s], None),
            (["export", "--db", str(db), "--format", "csv", "--since", s], None),
            (["export", "--db", str(db), "--format", "ndjson", "--server", "demo:" + s], None),
            (["bank", "add", "--db", str(db), str(tmp / "nope.png"), "--note", s], None),
            (["bank", "match", "--db", str(db), "--server", s, str(tmp / "nope.png")], None),
            (["scan-image", str(tmp / (s[:50] or "e"))], None),
            (["classify", "hi", "--model", str(tmp / (s[:50] or "e"))], None),
            (["review", "--db", str(db)], ("c\n" + s + "\nq\n").encode("utf-8", "surrogatepass")),
        ]
    for t in ["0001-01-01T00:00+14:00", "9999-12-31T23:59-12:00", "0000-01-01", "2026-13-01", "2026-01-01T25:00", "１２３", "2026-01-01T00:00+24:00"]:
        calls += [(["export", "--db", str(db), "--format", "json", "--since", t], None), (["export", "--db", str(db), "--format", "json", "--until", t], None)]
    tomls = [
        "[defaults]\nretention_days = " + "[" * 5000,
        "[defaults]\nretention_days = " + "[" * 3000 + "]" * 3000,
        "[defaults]\ntimeout_minutes = 1e400",
        "[defaults]\nretention_days = " + "9" * 5000,
        "[storage]\npath = '.'",
        "[defaults]\nmod_channel = " + "9" * 30,
        "[thresholds]\nsexual = nan",
        "[servers]\n'discord:1' = 5",
        "[servers.'discord:\\u0000']\n",
        "\ufeff[defaults]\n",
        "[limits]\nqueue_size = -0",
        "x = {" * 2000,
    ]
    for i, t in enumerate(tomls):
        p = tmp / f"c{i}.toml"
        p.write_text(t, encoding="utf-8")
        calls += [(["purge", "--db", str(db), "--retention", "--config", str(p)], None), (["run", "--config", str(p)], None)]
    tracebacks = []
    codes = {}
    for args, stdin in calls:
        r = CliRunner().invoke(main, args, input=stdin, env=NO_TOKENS)  # `run` must never connect
        codes[r.exit_code] = codes.get(r.exit_code, 0) + 1
        if r.exception is not None and not isinstance(r.exception, SystemExit):
            tracebacks.append((args[:3], type(r.exception).__name__, str(r.exception)[:100]))
        try:
            r.stdout_bytes.decode("utf-8")
        except UnicodeDecodeError:
            tracebacks.append((args[:3], "invalid UTF-8 output", ""))
    print(len(calls), "invocations; exit codes", codes, "; tracebacks/invalid output:", len(tracebacks))
    for t in tracebacks:
        print(" ", t)
    shutil.rmtree(tmp)
    return len(tracebacks)


if __name__ == "__main__":
    raise SystemExit(1 if sweep() else 0)
