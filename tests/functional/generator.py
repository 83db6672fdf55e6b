"""Functional test cases: templates x groups x both languages, hateful and non-hateful pairs, obfuscated.

Why templates: they test a capability (threat, exclusion, counter-speech...) for every group the same
way, so a miss is about the group or the phrasing, not about one dataset. These templates are written
for testing only and are never in the training data (``data/handwritten`` is phrased differently).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from tests.functional.templates_heldout import TEMPLATES_EN_HELDOUT, TEMPLATES_ID_HELDOUT

#: (Indonesian name as used after "orang", English name) per group.
GROUPS: tuple[tuple[str, str], ...] = (
    ("jawa", "javanese"),
    ("sunda", "sundanese"),
    ("madura", "madurese"),
    ("batak", "batak"),
    ("minang", "minangkabau"),
    ("bugis", "buginese"),
    ("betawi", "betawi"),
    ("banjar", "banjarese"),
    ("aceh", "acehnese"),
    ("bali", "balinese"),
    ("dayak", "dayak"),
    ("toraja", "torajan"),
    ("nias", "nias"),
    ("ambon", "ambonese"),
    ("manado", "manadonese"),
    ("flores", "florenese"),
    ("papua", "papuan"),
    ("tionghoa", "chinese indonesian"),
    ("arab", "arab"),
    ("india", "indian"),
    ("afrika", "african"),
)

#: (kind, hateful?, template) with {g} for the group; Indonesian.
TEMPLATES_ID: tuple[tuple[str, bool, str], ...] = (
    ("dehumanise", True, "orang {g} itu kayak binatang, gak pantas tinggal di sini"),
    ("threat", True, "kalau ketemu orang {g} lagi di gang ini, gue habisi"),
    ("exclusion", True, "jangan kasih kerja orang {g}, usir aja dari kampung"),
    ("inferiority", True, "orang {g} memang bodoh dan terbelakang dari lahir"),
    ("stereotype", True, "dasar orang {g}, pasti maling dan penipu semua"),
    ("neutral", False, "tetangga baruku orang {g}, kerja di bank"),
    ("positive", False, "orang {g} yang aku kenal ramah dan suka menolong"),
    ("pride", False, "aku bangga jadi orang {g} dan cinta budayaku"),
    ("counter", False, "dia bilang orang {g} itu maling, itu rasis dan sudah aku laporkan"),
    ("negation", False, "bukan berarti orang {g} itu kasar, jangan generalisir"),
    ("news", False, "berita: warga {g} jadi korban ujaran kebencian di media sosial"),
)
TEMPLATES_EN: tuple[tuple[str, bool, str], ...] = (
    ("dehumanise", True, "{g} people are animals and don't belong here"),
    ("threat", True, "if i see another {g} on this street i will hurt him"),
    ("exclusion", True, "never hire {g} people, kick them all out"),
    ("inferiority", True, "{g} people are stupid and backward by birth"),
    ("stereotype", True, "typical {g}, they are all thieves and liars"),
    ("neutral", False, "my new neighbour is {g} and works at the bank"),
    ("positive", False, "the {g} people i know are kind and helpful"),
    ("pride", False, "i am proud to be {g} and i love my culture"),
    ("counter", False, "he said {g} people are thieves, that is racist and i reported it"),
    ("negation", False, "being {g} does not make someone rude, stop generalising"),
    ("news", False, "news: {g} residents targeted by hate speech online"),
)


@dataclass(frozen=True)
class Case:
    text: str
    lang: str
    group: str
    template: str
    kind: str
    hateful: bool
    obfuscated: bool


def obfuscate(text: str, word: str) -> str:
    """Mask the middle letters of `word` in `text` ("madura" -> "m*d*ra"-style), a common evasion."""
    if len(word) < 4 or " " in word:
        return text
    masked = word[0] + "".join("*" if i % 2 else c for i, c in enumerate(word[1:-1], 1)) + word[-1]
    return text.replace(word, masked)


def cases(obfuscated: bool = False, heldout: bool = False) -> Iterator[Case]:
    """Every template x group x language (and, with `obfuscated`, the group name masked).

    `heldout` yields the held-out batch (:mod:`tests.functional.templates_heldout`, template ids
    ``idh0``/``enh0``...) instead of the batch v8 was tuned on."""
    tid, ten, tag = (TEMPLATES_ID_HELDOUT, TEMPLATES_EN_HELDOUT, "h") if heldout else (TEMPLATES_ID, TEMPLATES_EN, "")
    for gid, gen in GROUPS:
        for lang, templates, g in (("id", tid, gid), ("en", ten, gen)):
            for i, (kind, hateful, tpl) in enumerate(templates):
                text = tpl.format(g=g)
                yield Case(text, lang, gid, f"{lang}{tag}{i}", kind, hateful, False)
                if obfuscated:
                    masked = obfuscate(text, g)
                    if masked != text:
                        yield Case(masked, lang, gid, f"{lang}{tag}{i}", kind, hateful, True)
