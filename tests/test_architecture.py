"""Rules of the architecture, checked by walking the source: imports and where SQL may live."""

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = sorted(p for pkg in ("bot", "classifiers") for p in (REPO / pkg).rglob("*.py"))


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def rel(p: Path) -> str:
    return p.relative_to(REPO).as_posix()


@pytest.mark.parametrize("path", SOURCES, ids=rel)
def test_platform_libraries_only_in_adapters(path):
    if rel(path).startswith("bot/platforms/"):
        return
    bad = {m for m in imports(path) if m.split(".")[0] in ("discord", "telegram")}
    assert not bad, f"{rel(path)} imports {bad}: only bot/platforms/ may"


@pytest.mark.parametrize("path", [p for p in SOURCES if rel(p).startswith("classifiers/")], ids=rel)
def test_classifiers_do_not_import_bot(path):
    bad = {m for m in imports(path) if m.split(".")[0] == "bot"}
    assert not bad, f"{rel(path)} imports {bad}"


SQL = re.compile(r"\b(SELECT\s+.+\s+FROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX))\b", re.I)


@pytest.mark.parametrize("path", SOURCES, ids=rel)
def test_sql_only_in_the_store(path):
    if rel(path).startswith("bot/store/"):
        return
    assert not SQL.search(path.read_text(encoding="utf-8")), f"{rel(path)} contains SQL"


def test_no_module_shadows_a_platform_library():
    names = {p.name for p in SOURCES}
    assert not names & {"discord.py", "telegram.py"}


def test_the_checks_see_the_adapters():
    # guards against the walk silently finding nothing
    assert any(rel(p).startswith("bot/platforms/") for p in SOURCES)
    assert any(rel(p) == "bot/store/record.py" for p in SOURCES)
