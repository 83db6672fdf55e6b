"""Messages in the server's or the member's language: one catalogue per language (bot/resources/locales/*.toml).

English is complete by definition and is the fallback for anything missing. Catalogues are plain TOML with
`str.format` placeholders; tests/test_i18n.py keeps the languages' keys and placeholders identical.
"""

from __future__ import annotations

import logging
import tomllib
from functools import lru_cache
from importlib import resources
from typing import Mapping

log = logging.getLogger(__name__)

LANGUAGES: tuple[str, ...] = ("en", "id")
DEFAULT = "en"


@lru_cache(maxsize=None)
def catalogue(lang: str) -> Mapping[str, str]:
    """The messages of one language, loaded once."""
    if lang not in LANGUAGES:
        raise KeyError(f"no catalogue for {lang!r}")
    source = resources.files("bot").joinpath("resources", "locales", f"{lang}.toml")
    return tomllib.loads(source.read_text(encoding="utf-8"))


def text(key: str, lang: str = DEFAULT, **values: object) -> str:
    """The message `key` in `lang` (English if that language lacks it), with `values` filled in."""
    messages = catalogue(lang if lang in LANGUAGES else DEFAULT)
    template = messages.get(key)
    if template is None:
        template = catalogue(DEFAULT)[key]
    return template.format(**values)


def plural(key: str, n: int, lang: str = DEFAULT, **values: object) -> str:
    """`key.one` for exactly one, else `key.other`; `{n}` is filled in."""
    return text(f"{key}.{'one' if n == 1 else 'other'}", lang, n=n, **values)


def pick(server_language: str | None, member_locale: str | None = None) -> str:
    """The member's own language where the platform tells us and we have it (Discord `id`, Telegram `id-ID`),
    else the server's setting."""
    if member_locale:
        base = member_locale.replace("_", "-").split("-", 1)[0].lower()
        if base in LANGUAGES:
            return base
    return server_language if server_language in LANGUAGES else DEFAULT
