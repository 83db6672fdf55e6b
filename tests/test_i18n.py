"""Indonesian and English: every message exists in both, with the same placeholders, and the right one is used."""

import ast
import re
import string
from pathlib import Path

import pytest

from bot import i18n
from bot.config import ConfigError, ServerSettings
from bot.models import Report
from bot.pipeline import Pipeline
from tests.conftest import KeywordDetector, RecordingAdapter, make_message, make_settings


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("lang", [lang for lang in i18n.LANGUAGES if lang != i18n.DEFAULT])
def test_catalogues_are_complete_and_agree(lang):
    en, other = i18n.catalogue("en"), i18n.catalogue(lang)
    assert set(other) == set(en), f"missing in {lang}: {sorted(set(en) - set(other))}; extra: {sorted(set(other) - set(en))}"
    for key, template in en.items():
        assert placeholders(other[key]) == placeholders(template), key
        assert other[key].strip(), key


@pytest.mark.parametrize(
    "server, locale, expected",
    [
        ("en", None, "en"),
        ("id", None, "id"),
        ("en", "id", "id"),
        ("id", "en-US", "en"),
        ("en", "id-ID", "id"),
        ("id", "pt-BR", "id"),
        ("en", "", "en"),
        (None, None, "en"),
        ("xx", "zz", "en"),
        ("en", "ID_id", "id"),
    ],
)
def test_pick_prefers_the_members_language(server, locale, expected):
    assert i18n.pick(server, locale) == expected


def test_plural_and_fallback():
    assert i18n.plural("word.message", 1) == "message" and i18n.plural("word.message", 2) == "messages"
    assert i18n.text("span.minutes", "id", n=5) == "5 menit"
    assert i18n.text("span.minutes", "xx", n=5) == "5 min"  # unknown language: English


@pytest.mark.parametrize("value", ["fr", "", 1, ["id"], None])
def test_language_setting_is_validated(value):
    with pytest.raises(ConfigError, match="language"):
        ServerSettings().with_overrides({"language": value}, "servers.x")


async def test_indonesian_server_gets_indonesian_alerts_and_replies(store, db_path):
    adapter = RecordingAdapter()
    p = Pipeline(make_settings(db_path, language="id"), store, [KeywordDetector()])
    p.adapters["discord"] = adapter
    for i in range(3):
        await p.handle(make_message(f"lewd {i}", author=f"a{i}", targets=("victim",), target_names=(("victim", "sari"),)))
    await p.moderate_incident("discord:s1", 1, "timeout", "mod1", duration_s=3600)
    await p.settle()
    alert = adapter.executed[-1].alert
    assert alert.title.startswith("Insiden: 3 pesan seksual dari 3 akun yang menyasar @sari dalam")
    assert alert.outcomes == ("3 akun di-timeout 1 jam oleh mod1",)
    assert alert.status_line == "menunggu" and alert.author_history == "0 tanda sebelumnya, 1 timeout"
    out = await p.report(Report(platform="discord", server_id="s1", reporter_id="r1", message=make_message("x")))
    assert out.message.startswith("Terima kasih")
    en = await p.report(Report(platform="discord", server_id="s1", reporter_id="r2", message=make_message("y"), locale="en-GB"))
    assert en.message.startswith("Thanks")  # the member's own language wins
    await p.stop()


# ---- every key the code uses exists (in both catalogues, by the test above) ----------------------
ROOT = Path(__file__).resolve().parents[1]
_KEY = re.compile(r"[a-z_]+(?:\.[a-z0-9_]+)+")
#: Calls whose first string argument (after a leading interaction/update, for `say`) is a catalogue key.
_KEYED_CALLS = {"text", "plural", "say", "t"}


def used_keys() -> tuple[set[str], set[str]]:
    """Catalogue keys the code names literally (i18n.text("…"), say(…, "…"), t("…"), i18n.plural("…")), and the
    prefixes of keys it builds (f"status.{status}"), from the source of bot/ and classifiers/."""
    keys: set[str] = set()
    prefixes: set[str] = set()
    for path in [*ROOT.joinpath("bot").rglob("*.py"), *ROOT.joinpath("classifiers").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if name not in _KEYED_CALLS:
                continue
            for arg in node.args[:2]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and _KEY.fullmatch(arg.value):
                    keys |= {f"{arg.value}.one", f"{arg.value}.other"} if name == "plural" else {arg.value}
                elif isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
                    head = str(arg.values[0].value)
                    if re.fullmatch(r"[a-z_]+(?:\.[a-z0-9_]+)*\.", head):
                        prefixes.add(head)
    return keys, prefixes


def test_every_key_used_in_code_exists_in_the_catalogue():
    en = i18n.catalogue("en")
    keys, prefixes = used_keys()
    assert len(keys) > 100  # the scan found the calls (a renamed helper would otherwise pass vacuously)
    assert not sorted(k for k in keys if k not in en)
    assert not sorted(p for p in prefixes if not any(k.startswith(p) for k in en))


@pytest.mark.parametrize("constant", ["bot.platforms.discord_views:BUTTONS", "bot.platforms.discord_incident_views:INCIDENT_BUTTONS"])
def test_button_label_keys_exist(constant):
    import importlib

    module, name = constant.split(":")
    rows = getattr(importlib.import_module(module), name)
    assert rows and all(key in i18n.catalogue("en") for _, key, _ in rows)


@pytest.mark.parametrize(
    "lang, key, values",
    [
        ("id", "button.warn", {}),
        ("en", "tg.footer.incident", {"incident": 3, "flag": 40}),
        ("id", "tg.unprotect.remove", {"id": 7, "date": "2026-12-05"}),
        ("id", "dc.reason.title.timeout", {"n": 2, "incident": 1, "duration": "1 jam"}),
    ],
)
def test_catalogue_texts_fill_without_leftover_braces(lang, key, values):
    out = i18n.text(key, lang, **values)
    assert out and "{" not in out and "}" not in out
