"""Fast start: every `--help` imports nothing heavy, and `classify` scores without scikit-learn or skops."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bot.cli import main
from tests.conftest import needs_model

HEAVY = {
    "sklearn",
    "skops",
    "scipy",
    "pandas",
    "numpy",
    "sqlite_utils",
    "cv2",
    "onnxruntime",
    "nudenet",
    "discord",
    "telegram",
    "aiohttp",
    "prometheus_client",
    "PIL",
}


def _all_commands() -> list[list[str]]:
    out: list[list[str]] = [[]]
    for name, cmd in sorted(main.commands.items()):
        out.append([name])
        for sub in sorted(getattr(cmd, "commands", {})):
            out.append([name, sub])
    return out


def heavy_modules_after(args: list[str]) -> set[str]:
    """Run `triagebot ARGS` in a fresh interpreter; which HEAVY top-level packages did it import?"""
    code = (
        "import sys, json\nfrom bot.cli import main\ntry:\n    main(sys.argv[1:], prog_name='triagebot')\n"
        "except SystemExit:\n    pass\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.strip().splitlines()[-1])) & HEAVY


@pytest.mark.parametrize("command", _all_commands(), ids=lambda c: " ".join(c) or "triagebot")
def test_help_imports_nothing_heavy(command: list[str]) -> None:
    assert heavy_modules_after([*command, "--help"]) == set()


def test_the_command_list_is_not_empty() -> None:
    assert {"run", "demo", "classify", "lean-model"} <= {c[0] for c in _all_commands() if c}


@needs_model
@pytest.mark.parametrize("text", ["hello", "", "kirim foto bugilnya dong", "ѕеnd nudеs"])
def test_classify_scores_without_sklearn_or_skops(text: str) -> None:
    assert heavy_modules_after(["classify", text]) == {"numpy"}
