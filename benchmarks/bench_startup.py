"""Cold-start cost of the CLI: `triagebot --help`, every command's `--help`, `triagebot classify hello`,
and (if installed) alt-profanity-check's import + load + score of one message, each in a fresh process.

Usage: python benchmarks/bench_startup.py [--runs 5] [--exe PATH] [--profanity-python PATH]
(--profanity-python: an interpreter with alt-profanity-check, e.g. a separate venv, since it pins its own
scikit-learn; default: this one if it has the package.)
Prints the median and min wall time per case. Run on an idle machine for README figures; on a shared one
the min is the better estimate. Also prints which heavy modules each case imported (-X importtime).
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("sklearn", "skops", "scipy", "pandas", "numpy", "sqlite_utils", "cv2", "onnxruntime", "discord", "telegram")
PROFANITY = "from profanity_check import predict_prob; predict_prob(['hello'])"


def wall(cmd: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return times


def heavy_imports(cmd: list[str]) -> list[str]:
    """Top-level packages from HEAVY that `cmd` (an interpreter and its arguments) imports."""
    out = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], capture_output=True, text=True).stderr
    seen = {line.split("|")[-1].strip().split(".")[0] for line in out.splitlines() if line.startswith("import time:")}
    return sorted(seen & set(HEAVY))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--exe", default=shutil.which("triagebot", path=str(Path(sys.executable).parent)) or "triagebot")
    ap.add_argument("--profanity-python", default=None, help="Interpreter that has alt-profanity-check installed.")
    args = ap.parse_args()
    exe = args.exe
    # the console script is a Python file; run it through this interpreter so -X importtime works too
    cases = {
        "triagebot --help": [sys.executable, exe, "--help"],
        "triagebot run --help": [sys.executable, exe, "run", "--help"],
        "triagebot export --help": [sys.executable, exe, "export", "--help"],
        "triagebot classify hello": [sys.executable, exe, "classify", "hello"],
    }
    if args.profanity_python:
        cases["alt-profanity-check load+score"] = [args.profanity_python, "-c", PROFANITY]
    elif importlib.util.find_spec("profanity_check"):
        cases["alt-profanity-check load+score"] = [sys.executable, "-c", PROFANITY]
    else:
        print("(alt-profanity-check not installed: pip install -e '.[bench]' for the reference figure)")
    results = {}
    for name, cmd in cases.items():
        t = wall(cmd, args.runs)
        results[name] = t
        print(f"{name:<34} median {statistics.median(t):6.2f} s   min {min(t):6.2f} s   heavy imports: {', '.join(heavy_imports(cmd)) or '-'}")
    ref = results.get("alt-profanity-check load+score")
    if ref:
        print(
            f"\nclassify hello / profanity-check: {min(results['triagebot classify hello']) / min(ref):.2f}x;  "
            f"--help / profanity-check: {min(results['triagebot --help']) / min(ref):.2f}x (min times)"
        )


if __name__ == "__main__":
    main()
