"""Indonesian and English: every message exists in both, with the same placeholders, and the right one is used."""
import string

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


@pytest.mark.parametrize("server, locale, expected", [
    ("en", None, "en"), ("id", None, "id"), ("en", "id", "id"), ("id", "en-US", "en"), ("en", "id-ID", "id"),
    ("id", "pt-BR", "id"), ("en", "", "en"), (None, None, "en"), ("xx", "zz", "en"), ("en", "ID_id", "id"),
])
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
