"""Character folding for matching: Unicode UTS #39 confusables and invisible characters, by rule not by list.

Why generated: a hand-typed look-alike table always misses a script (Armenian ``nսdes``, Cherokee
``ᏚᎬᏁᎠ``). The mapping here comes from the ``confusables.txt`` data of Unicode Technical Standard #39
as shipped (JSON) by the ``confusable-homoglyphs`` package: every single non-ASCII character that UTS #39
says is confusable with one ASCII letter or digit folds to it. Invisible characters are found by
Unicode category (``Cf`` format characters) plus the other default-ignorable code points named in
DerivedCoreProperties.txt (variation selectors, Hangul fillers, tags...), not by a list of examples.

The table is a ``dict`` subclass filled on first sight of a character (``str.translate`` calls
``__missing__``), so import costs nothing and only characters that fold are ever stored (at most
the ~1,300 confusables + the invisible ones met, and at most :data:`MAX_IDENTITY_ENTRIES` others).
"""

from __future__ import annotations

import json
import logging
import unicodedata
from functools import lru_cache

log = logging.getLogger(__name__)

#: Default-ignorable code points that are not category Cf (Unicode DerivedCoreProperties.txt,
#: Default_Ignorable_Code_Point: Other_Default_Ignorable_Code_Point + variation selectors).
_IGNORABLE_RANGES = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
    (0x2065, 0x2065),
    (0x1BCA0, 0x1BCA3),
)


def is_invisible(ch: str) -> bool:
    """True for format characters (Cf) and other default-ignorable code points."""
    if unicodedata.category(ch) == "Cf":
        return True
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _IGNORABLE_RANGES)


@lru_cache(maxsize=1)
def uts39_ascii() -> dict[str, str]:
    """{non-ASCII char: ASCII letter/digit it is confusable with}, from the UTS #39 data.

    A character confusable with both a letter and a digit keeps the letter (chat spells words). A
    capital that UTS #39 reads as ``l`` (Greek Iota, Cyrillic Palochka) reads as ``i``: it stands for
    a capital I, which the lower-cased text would have as ``i``.
    """
    try:
        import confusable_homoglyphs
        from importlib.resources import files

        raw = json.loads(files(confusable_homoglyphs).joinpath("confusables.json").read_text(encoding="utf-8"))
    except Exception:  # missing optional data must not break normalisation
        log.exception("UTS #39 confusables unavailable; only the built-in look-alike table is used")
        return {}
    cands: dict[str, set[str]] = {}
    for key, entries in raw.items():
        for e in entries:
            other = e.get("c", "")
            for a, b in ((key, other), (other, key)):
                if len(a) == 1 and len(b) == 1 and not a.isascii() and b.isascii() and b.isalnum():
                    cands.setdefault(a, set()).add(b)
    out: dict[str, str] = {}
    for ch, targets in cands.items():
        letters = sorted(t for t in targets if t.isalpha()) or sorted(targets)
        t = letters[0]
        if t in "lI" and ch.isupper():
            t = "i"
        out[ch] = t.lower()
    return out


#: Characters that do not fold are remembered as unchanged up to this many table entries (~1 MB).
MAX_IDENTITY_ENTRIES = 8192


class FoldTable(dict):
    """A ``str.translate`` table: explicit entries first, then UTS #39 confusables, invisibles, controls."""

    def __missing__(self, cp: int) -> str | None:
        ch = chr(cp)
        conf = uts39_ascii()
        got = conf.get(ch)
        if got is None and ch != ch.upper() and len(ch.upper()) == 1:
            got = conf.get(ch.upper())  # Cherokee small letters: their capitals are in the data
        if got is not None:
            self[cp] = got
            return got
        if is_invisible(ch):
            self[cp] = None
            return None
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Zl", "Zp", "Cs", "Co", "Cn"):
            self[cp] = " "
            return " "
        if len(self) < MAX_IDENTITY_ENTRIES:
            self[cp] = ch  # remembered as unchanged, so a frequent letter (é, 中) is looked up once
            return ch
        raise LookupError(cp)  # unchanged, not stored: hostile text cannot grow the table past the cap
