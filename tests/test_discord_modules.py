"""The Discord side is split by job with no import circles, and the adapter never reaches back into the core."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PLATFORMS = REPO / "bot" / "platforms"
MODULES = sorted(PLATFORMS.glob("discord_*.py"))  # the Telegram side is checked by its own tests


def imported(path: Path) -> set[str]:
    """Every bot.platforms module `path` imports, anywhere in the file (TYPE_CHECKING and function bodies too)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "bot.platforms":
                out |= {a.name for a in node.names}
            elif node.module.startswith("bot.platforms."):
                out.add(node.module.rsplit(".", 1)[1])
        elif isinstance(node, ast.Import):
            out |= {a.name.rsplit(".", 1)[1] for a in node.names if a.name.startswith("bot.platforms.")}
    return out


def graph() -> dict[str, set[str]]:
    return {p.stem: imported(p) for p in MODULES}


def cycle_from(start: str, g: dict[str, set[str]]) -> list[str] | None:
    stack = [(start, [start])]
    while stack:
        node, path = stack.pop()
        for nxt in g.get(node, ()):
            if nxt == start:
                return path + [start]
            if nxt not in path:
                stack.append((nxt, path + [nxt]))
    return None


@pytest.mark.parametrize("module", [p.stem for p in MODULES])
def test_no_import_circle_among_discord_modules(module):
    assert cycle_from(module, graph()) is None, f"import circle: {' -> '.join(cycle_from(module, graph()) or [])}"


@pytest.mark.parametrize(
    "module,needs",
    [
        ("discord_bot", {"discord_adapter", "discord_events", "discord_commands"}),
        ("discord_adapter", {"discord_render", "discord_incident_views"}),
        ("discord_events", set()),
    ],
)
def test_split_by_job(module, needs):
    assert needs <= imported(PLATFORMS / f"{module}.py")


@pytest.mark.parametrize("name", ["pipeline", "store", "settings", "server_settings"])
def test_adapter_carries_out_actions_without_the_core(name):
    tree = ast.parse((PLATFORMS / "discord_adapter.py").read_text(encoding="utf-8"))
    used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)} | {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert name not in used


def test_the_walk_finds_the_discord_modules():
    assert {"discord_bot", "discord_adapter", "discord_events", "discord_views"} <= {p.stem for p in MODULES}
