"""Undo the disguises people use to slip abuse past filters, keeping the original for display.

Characters: NFKC (stdlib, C speed) folds fullwidth and mathematical alphanumerics; look-alikes from
every script come from Unicode's UTS #39 confusables data and invisible characters are found by
category (:mod:`classifiers.confusables`); a short hand table adds stylistic Cyrillic/Greek readings
UTS #39 does not list (``и`` as ``u``). Leetspeak must be *context-aware* (``kita2`` is Indonesian
reduplication, ``2nd`` is not leet, ``@name`` is a mention, ``|`` is ``l`` only inside a word).

Pipeline (each step is cheap; per-token work is cached):

1. sanitise: lone surrogates -> U+FFFD, cut to :data:`HEAD_CHARS` + :data:`TAIL_CHARS` chars;
2. HTML entities, NFKC, lower-case, accents stripped, confusables folded, zero-width/control removed;
3. URLs, mentions and dataset placeholders (``USER``, ``URL``, ``RT``, ``\\xf0..`` byte strings) dropped;
4. spaced-out letters re-joined (``b o k e p``, ``s.e.x``, ``s-e-x``);
5. per token: masked lexicon terms (``sl*t``, ``b**kep``, ``f#ck``), leetspeak, squashing of repeated
   letters, Indonesian reduplication (``kata2``), slang/alay spellings (``yg`` -> ``yang``), and for
   strong lexicon terms only: swapped or dropped letters (``bokpe``, ``kontl``) and run-together words
   (``sendnudes``).

Per-token work is cached in byte-bounded LRU caches (:data:`CACHE_BYTES` each), see
:mod:`classifiers.cache`.

:class:`Normalized` keeps, for every output word, the original fragment it came from, so a reason can
say ``"b0k3p" → bokep``.
"""

from __future__ import annotations

from functools import lru_cache

import html
import logging
import re
import unicodedata
from dataclasses import dataclass

from classifiers.cache import ByteLRU
from classifiers.confusables import FoldTable

log = logging.getLogger(__name__)

#: Texts longer than HEAD_CHARS + TAIL_CHARS are cut to their first HEAD_CHARS and last TAIL_CHARS
#: characters, so a slur appended after a wall of filler is still seen.
HEAD_CHARS = 4000
TAIL_CHARS = 1000
#: Byte budget of each of the two per-token caches (fold, normalise); worst case stated in the README.
CACHE_BYTES = 16 * 1024 * 1024

# Cyrillic and Greek letters that look like Latin ones (lower and upper case), plus a few symbols.
_CONFUSABLES = {
    # Cyrillic
    "а": "a",
    "в": "b",
    "с": "c",
    "ԁ": "d",
    "е": "e",
    "ё": "e",
    "һ": "h",
    "і": "i",
    "ї": "i",
    "ј": "j",
    "к": "k",
    "ӏ": "l",
    "м": "m",
    "н": "h",
    "о": "o",
    "р": "p",
    "ԛ": "q",
    "г": "r",
    "ѕ": "s",
    "т": "t",
    "и": "u",
    "ц": "u",
    "ѵ": "v",
    "ԝ": "w",
    "х": "x",
    "у": "y",
    "з": "3",
    "ь": "b",
    "б": "6",
    "ч": "4",
    "п": "n",
    "л": "n",
    "д": "d",
    "ш": "w",
    "щ": "w",
    "я": "r",
    "ы": "bi",
    "ю": "io",
    "ф": "o",
    "А": "a",
    "В": "b",
    "С": "c",
    "Е": "e",
    "Ё": "e",
    "Н": "h",
    "І": "i",
    "Ї": "i",
    "Ј": "j",
    "К": "k",
    "М": "m",
    "О": "o",
    "Р": "p",
    "Ѕ": "s",
    "Т": "t",
    "Х": "x",
    "У": "y",
    "Ү": "y",
    "ү": "y",
    "Ԁ": "d",
    "Ԛ": "q",
    "Ԝ": "w",
    "З": "3",
    "Ь": "b",
    "Б": "6",
    "Г": "r",
    "П": "n",
    "Л": "n",
    # Greek
    "α": "a",
    "β": "b",
    "γ": "y",
    "δ": "d",
    "ε": "e",
    "ζ": "z",
    "η": "n",
    "θ": "o",
    "ι": "i",
    "κ": "k",
    "λ": "l",
    "μ": "u",
    "ν": "v",
    "ο": "o",
    "π": "n",
    "ρ": "p",
    "σ": "o",
    "ς": "s",
    "τ": "t",
    "υ": "u",
    "φ": "o",
    "χ": "x",
    "ψ": "w",
    "ω": "w",
    "Α": "a",
    "Β": "b",
    "Ε": "e",
    "Ζ": "z",
    "Η": "h",
    "Ι": "i",
    "Κ": "k",
    "Μ": "m",
    "Ν": "n",
    "Ο": "o",
    "Ρ": "p",
    "Τ": "t",
    "Υ": "y",
    "Χ": "x",
    # Latin extensions / IPA / symbols that NFKC leaves alone
    "ı": "i",
    "ȷ": "j",
    "ɑ": "a",
    "ɡ": "g",
    "ɩ": "i",
    "ɪ": "i",
    "ʀ": "r",
    "ʏ": "y",
    "ᴀ": "a",
    "ʙ": "b",
    "ᴄ": "c",
    "ᴅ": "d",
    "ᴇ": "e",
    "ɢ": "g",
    "ʜ": "h",
    "ᴊ": "j",
    "ᴋ": "k",
    "ʟ": "l",
    "ᴍ": "m",
    "ɴ": "n",
    "ᴏ": "o",
    "ᴘ": "p",
    "ꜱ": "s",
    "ᴛ": "t",
    "ᴜ": "u",
    "ᴠ": "v",
    "ᴡ": "w",
    "ᴢ": "z",
    "ø": "o",
    "Ø": "o",
    "đ": "d",
    "ł": "l",
    "Ł": "l",
    "ß": "ss",
    "æ": "ae",
    "œ": "oe",
    "þ": "th",
    "ð": "d",
    "€": "e",
    "£": "l",
    "¥": "y",
    "©": "c",
    "®": "r",
    "¡": "i",
    "∪": "u",
    "∩": "n",
    "×": "x",
}
# Explicit entries win; anything else non-ASCII is looked up on first sight (UTS #39, invisibles by
# category, controls), see classifiers/confusables.py. ASCII controls become spaces.
_TABLE = FoldTable({ord(k): v for k, v in _CONFUSABLES.items()})
_TABLE.update({c: " " for c in range(0x20) if c not in (0x0A,)})
_TABLE.update({0x7F: " ", 0xFFFD: " ", 0x0A: " "})
_TABLE.update({c: " " for c in range(0x80, 0xA0)})
_TABLE.update({c: chr(c) for c in range(0x20, 0x7F)})

_SURROGATE = re.compile("[\ud800-\udfff]")
_SEGMENT = re.compile(r"\s{2,}|\n")
_BYTE_ESCAPES = re.compile(r"(?:\\x[0-9a-fA-F]{2})+|\\u[0-9a-fA-F]{4}|\\n")
_URL = re.compile(r"(?:https?://|www\.)\S+|\[?url\]?", re.I)
_MENTION = re.compile(r"(?<![\w@])@[a-z0-9_]{2,}:?")
_PLACEHOLDER = frozenset({"user", "[user]", "<user>", "rt", "url", "[url]", "<url>", "&amp;", "amp"})
_SEPARATED = re.compile(r"^(?:[^\W_][.\-_*·•|/,~+]){2,}[^\W_][.\-_*·•|/,~+]?$")
_WORD = re.compile(r"[^\W_]+|[\U0001F300-\U0001FAFF\u2600-\u27BF]")
_REPEAT3 = re.compile(r"(.)\1{2,}")
_REPEAT2 = re.compile(r"(.)\1+")
_REDUP = re.compile(r"^([a-z]{2,})2$")
_MASK_CHARS = frozenset("*#._-")
_EDGE_PUNCT = ",.!?;:\"'()[]"
_MASKED = re.compile(r"^[a-z0-9]+(?:[*#._\-]+[a-z0-9]+)+$")  # masks inside a word only: "pak." is not "paki"
_MASK_SPLIT = re.compile(r"([*#._\-]+)")
_UNIT = re.compile(r"^\d+(?:st|nd|rd|th|am|pm|an|k|rb|jt|m|x|s|gb|mb|km|kg|cm|mm|p|h|d|y|yo|y/o|an)?$")

# Characters read as letters when written inside a word ("b0k3p", "s3x", "h@ram", "$ex", "n!gga").
_LEET = {
    "0": "o",
    "1": "i",
    "3": "e",
    "4": "a",
    "5": "s",
    "7": "t",
    "8": "b",
    "9": "g",
    "@": "a",
    "$": "s",
    "!": "i",
    "|": "l",
    "+": "t",
    "¢": "c",
    "(": "c",
    "<": "c",
}
_LEET_CHARS = frozenset(_LEET)

# Indonesian slang / alay spellings -> standard forms (hand-written; only unambiguous ones).
SLANG: dict[str, str] = {
    # spellings of group words seen in Indonesian chat (p/f and y/j swaps, old spelling)
    "sifit": "sipit",
    "jahudi": "yahudi",
    "tionghwa": "tionghoa",
    "yg": "yang",
    "ygy": "yang",
    "dgn": "dengan",
    "dg": "dengan",
    "bgt": "banget",
    "bngt": "banget",
    "gk": "gak",
    "ga": "gak",
    "nggak": "gak",
    "ngga": "gak",
    "enggak": "gak",
    "engga": "gak",
    "gak": "gak",
    "kagak": "gak",
    "tdk": "tidak",
    "g": "gak",
    "sdh": "sudah",
    "udh": "udah",
    "dah": "udah",
    "blm": "belum",
    "blom": "belum",
    "krn": "karena",
    "karna": "karena",
    "tp": "tapi",
    "tpi": "tapi",
    "jg": "juga",
    "sm": "sama",
    "sy": "saya",
    "aq": "aku",
    "aku": "aku",
    "ak": "aku",
    "gw": "gue",
    "gua": "gue",
    "w": "gue",
    "lu": "lo",
    "lo": "lo",
    "elu": "lo",
    "loe": "lo",
    "lw": "lo",
    "elo": "lo",
    "km": "kamu",
    "kmu": "kamu",
    "u": "you",
    "ur": "your",
    "r": "are",
    "pls": "please",
    "plz": "please",
    "plis": "please",
    "pic": "picture",
    "pics": "pictures",
    "pix": "pictures",
    "vid": "video",
    "vids": "videos",
    "nekad": "nekat",
    "ama": "sama",
    "utk": "untuk",
    "bwt": "buat",
    "org": "orang",
    "orng": "orang",
    "klo": "kalau",
    "kalo": "kalau",
    "kl": "kalau",
    "sj": "saja",
    "aja": "saja",
    "ajah": "saja",
    "dr": "dari",
    "dri": "dari",
    "skrg": "sekarang",
    "skrang": "sekarang",
    "bs": "bisa",
    "bsa": "bisa",
    "lg": "lagi",
    "lgi": "lagi",
    "mls": "malas",
    "males": "malas",
    "bkn": "bukan",
    "jd": "jadi",
    "jdi": "jadi",
    "dpt": "dapat",
    "dapet": "dapat",
    "knp": "kenapa",
    "np": "kenapa",
    "gmn": "gimana",
    "gmna": "gimana",
    "sbg": "sebagai",
    "spt": "seperti",
    "kyk": "kayak",
    "kyak": "kayak",
    "kek": "kayak",
    "ky": "kayak",
    "emg": "memang",
    "emang": "memang",
    "mmg": "memang",
    "bnyk": "banyak",
    "byk": "banyak",
    "trs": "terus",
    "trus": "terus",
    "sampe": "sampai",
    "ampe": "sampai",
    "cuma": "cuma",
    "cm": "cuma",
    "doang": "doang",
    "tau": "tahu",
    "tw": "tahu",
    "liat": "lihat",
    "ngeliat": "melihat",
    "pengen": "pengin",
    "pgn": "pengin",
    "mau": "mau",
    "mo": "mau",
    "tetek": "tetek",
    "toket": "toket",
    "tt": "tetek",
    "memek": "memek",
    "mmk": "memek",
    "kntl": "kontol",
    "kntol": "kontol",
    "kontl": "kontol",
    "ngntd": "ngentot",
    "ngentod": "ngentot",
    "ngentt": "ngentot",
    "ngntt": "ngentot",
    "entot": "ngentot",
    "ewe": "ngewe",
    "colmek": "colmek",
    "sangek": "sange",
    "sangean": "sange",
    "bkp": "bokep",
    "bokeb": "bokep",
    "b0kep": "bokep",
    "lonthe": "lonte",
    "lontong": "lontong",
    "perek": "perek",
    "pecun": "pecun",
    "jablay": "jablay",
    "cokin": "cokin",
    "ckn": "cokin",
    "cindo": "cindo",
    "aseng": "aseng",
    "asu": "asu",
    "anjg": "anjing",
    "anjir": "anjing",
    "anjay": "anjay",
    "ajg": "anjing",
    "njing": "anjing",
    "bgst": "bangsat",
    "bngst": "bangsat",
    "bangsad": "bangsat",
    "tolol": "tolol",
    "goblok": "goblok",
    "gblk": "goblok",
    "gobl0k": "goblok",
    "pny": "punya",
    "pnya": "punya",
    "sih": "sih",
    "dong": "dong",
    "donk": "dong",
    "dunk": "dong",
    "dnk": "dong",
    "nih": "nih",
    "yuk": "yuk",
    "yok": "yuk",
    "nudez": "nudes",
    "noodz": "nudes",
    "nood": "nude",
    "noods": "nudes",
    "newds": "nudes",
    "nudess": "nudes",
    "secks": "sex",
    "seks": "seks",
    "sexy": "sexy",
    "seggs": "sex",
    "segs": "sex",
    "s3ggs": "sex",
    "tittys": "titties",
    "tiddies": "titties",
    "titty": "titties",
    "boobies": "boobs",
    "bewbs": "boobs",
    "n1gga": "nigga",
    "nibba": "nigga",
    "nigg": "nigger",
    "niga": "nigga",
}


@dataclass(frozen=True, slots=True)
class Normalized:
    """A text after normalisation, with each output word traceable to the original fragment."""

    original: str
    text: str
    words: tuple[str, ...]
    origins: tuple[str, ...]
    truncated: bool = False

    def shown(self, index: int) -> str:
        """How a moderator sees word `index`: ``"b0k3p" → bokep`` if disguised, else ``"bokep"``."""
        word, origin = self.words[index], self.origins[index]
        plain = _plain(origin)
        if plain == word or word in plain.split():
            return f'"{word}"'
        return f'"{_clip(origin)}" → {word}'

    def shown_span(self, start: int, end: int) -> str:
        """Like :meth:`shown` for a phrase of words ``[start, end)``."""
        if end - start <= 1:
            return self.shown(start)
        words = " ".join(self.words[start:end])
        origins: list[str] = []
        for o in self.origins[start:end]:
            if not origins or origins[-1] != o:
                origins.append(o)
        origin = " ".join(origins)
        if _plain(origin) == words and words in origin.lower():
            return f'"{words}"'
        return f'"{_clip(origin)}" → {words}'


def _clip(s: str, n: int = 40) -> str:
    s = "".join(ch if ch.isprintable() else " " for ch in s)
    return s if len(s) <= n else s[: n - 1] + "…"


def _plain(s: str) -> str:
    return " ".join(_WORD.findall(s.lower()))


def sanitize(text: object) -> tuple[str, bool]:
    """Any input -> a valid str of bounded length; returns (text, truncated). Never raises."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    if _SURROGATE.search(text):
        # pairs written as two code points are joined; lone halves become U+FFFD
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    truncated = len(text) > HEAD_CHARS + TAIL_CHARS
    if truncated:
        text = text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]
    return text, truncated


def _fold(text: str) -> str:
    """Character-level folding: entities, NFKC, case, accents, confusables, invisibles."""
    if "&" in text:
        text = html.unescape(text)
    if "\\" in text:
        text = _BYTE_ESCAPES.sub(" ", text)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
        text = text.translate(_TABLE)
        decomposed = unicodedata.normalize("NFD", text)
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
        text = text.lower().translate(_TABLE)
    else:
        text = text.translate(_TABLE).lower()
    return text


def _join_spaced(items: list[tuple[str, int]], raws: list[str]) -> list[tuple[str, str]]:
    """Re-join runs of >= 3 one-letter tokens ("b o k e p") into one token.

    `items` are (token, index of the raw whitespace token it came from); returns (token, origin) where
    the origin is the raw text, each raw token once (``n i g g e r`` keeps both ``g``)."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(items)
    while i < n:
        if len(items[i][0]) == 1 and items[i][0] not in _NOT_LETTER:
            j = i
            while j < n and len(items[j][0]) == 1 and items[j][0] not in _NOT_LETTER:
                j += 1
            if j - i >= 3:
                idx = list(dict.fromkeys(k for _, k in items[i:j]))
                out.append(("".join(t for t, _ in items[i:j]), " ".join(raws[k] for k in idx)))
                i = j
                continue
        out.append((items[i][0], raws[items[i][1]]))
        i += 1
    return out


_NOT_LETTER = frozenset("-–—.,!?:;\"'()[]{}/&*#~")


_FOLD_CACHE: ByteLRU[str, tuple[str, ...]] = ByteLRU(CACHE_BYTES)
_NORM_CACHE: ByteLRU[str, tuple[str, ...]] = ByteLRU(CACHE_BYTES)


def _fold_token(raw: str) -> tuple[str, ...]:
    """One original whitespace token -> folded sub-tokens (URLs dropped). Cached."""
    return _FOLD_CACHE.get_or_compute(raw, _fold_token_uncached)


def _fold_token_uncached(raw: str) -> tuple[str, ...]:
    folded = _fold(raw)
    if "http" in folded or "www." in folded or "url" in folded:
        folded = _URL.sub(" ", folded)
    return tuple(folded.split())


def _deleet(tok: str, known: frozenset[str]) -> str:
    """Map leet characters inside a word; leading/trailing ones only if that yields a known term."""
    if not any(c in _LEET_CHARS for c in tok) or _UNIT.match(tok) or tok.isdigit():
        return tok
    if not any(c.isalpha() for c in tok):
        return tok
    if "|" in tok:
        tok = tok.strip("|")  # a bar at the edge of a word is punctuation, never a letter ("it!|")
    full = "".join(_LEET.get(c, c) for c in tok)
    core = full.strip("!$@+(<.,?")
    if core in known or _squash(core, known) in known:
        return core
    chars = list(tok)
    n = len(chars)
    # interior only: the previous char is a letter and a letter follows (possibly after more leet)
    for i in range(1, n - 1):
        if chars[i] in _LEET and chars[i - 1].isalpha():
            j = i + 1
            while j < n and chars[j] in _LEET:
                j += 1
            if j < n and chars[j].isalpha():
                chars[i] = _LEET[chars[i]]
    return "".join(chars)


def _squash(word: str, known: frozenset[str]) -> str:
    """Runs of 3+ identical letters -> 2; -> 1 when that gives a known term ("bokeeep" -> bokep)."""
    two = _REPEAT3.sub(r"\1\1", word)
    if two in known:
        return two
    one = _REPEAT2.sub(r"\1", two)
    if one != two and one in known:
        return one
    return two


def _norm_token(tok: str) -> tuple[str, ...]:
    """One whitespace token (already folded) -> normalised words. Cached: chat vocabularies repeat."""
    return _NORM_CACHE.get_or_compute(tok, _norm_token_uncached)


def _unmask(tok: str, vocab: "_Vocab") -> str | None:
    """``sl*t`` / ``b**kep`` / ``f#ck`` -> the one lexicon word that fits, else None.

    A run of k ``*`` or ``#`` inside a word stands for 1..k letters (at most 3) and may resolve to any
    lexicon word. ``.``, ``-`` and ``_`` are also ordinary punctuation ("so...i", "e-mail", "P.O"), so
    only a single one of them counts, and only for a strong term (``sl.t``, ``b-kep``). A mask at
    either end is punctuation (``bangsa.`` is not ``bangsat``). At least two letters must be visible
    and the answer must be unique."""
    if not _MASKED.match(tok) or sum(c.isalpha() for c in tok) < 2 or not tok[0].isalpha():
        return None
    parts = []
    strong_only = False
    for run in _MASK_SPLIT.split(tok):
        if not run:
            continue
        if run[0] in _MASK_CHARS:
            if any(c in ".-_" for c in run):
                if len(run) > 1:
                    return None
                strong_only = True
            parts.append(f"[a-z]{{1,{min(len(run), 3)}}}")
        else:  # digits between visible letters are leet here too ("k0nt*l")
            parts.append(re.escape("".join(_LEET.get(c, c) if c.isdigit() else c for c in run)))
    pattern = re.compile("".join(parts))
    found = {w for w in vocab.by_first.get(tok[0], ()) if pattern.fullmatch(w)}
    strong = found & vocab.strong
    if strong_only:
        found = strong
    if len(found) == 1:
        return found.pop()
    if len(strong) == 1:
        return strong.pop()
    # people mask the word that carries the abuse or names the target, not its context: "b*t*k" is
    # "batak" (a group name, evidence in a rule) sooner than "batik" (a word that only lowers a score)
    evidence = found & vocab.evidence
    return evidence.pop() if len(evidence) == 1 else None


def _split_joined(w: str, vocab: "_Vocab") -> tuple[str, str] | None:
    """``sendnudes`` -> (send, nudes): one part a strong lexicon term (>= 4 letters), the other a
    lexicon word of >= 4 letters, so ``therapist`` is never ``the rapist``."""
    n = len(w)
    for i in range(4, n - 3):
        a, b = w[:i], w[i:]
        if (a in vocab.strong and b in vocab.known) or (b in vocab.strong and a in vocab.known):
            return a, b
    return None


def _norm_token_uncached(tok: str) -> tuple[str, ...]:
    vocab = _vocab()
    known = vocab.known
    if _MENTION.match(tok) and not tok[1:].strip(":").isdigit():
        cand = "a" + tok[1:].rstrip(":")
        if cand in known or _deleet(cand, known) in known:
            tok = cand
        else:
            return ()
    if tok in _PLACEHOLDER:
        return ()
    if "*" in tok or "#" in tok:
        # punctuation next to a masked word is not part of it ("c*na," "(p*p*a)"): without this the
        # word's mask never resolves and its letters are joined ("ppa")
        tok = tok.strip(_EDGE_PUNCT) or tok
    m = _SEPARATED.match(tok)
    if m:
        joined = "".join(c for c in tok if c.isalnum())
        # "s*n*a" is a masked "sunda" more often than a spaced-out "sna": a `*`/`#` between single letters
        # is read as a mask when the letters alone are no known word and the mask fits one lexicon word
        masked = None if joined in known or not any(c in "*#" for c in tok) else _unmask(tok, vocab)
        tok = masked or joined
    elif any(c in _MASK_CHARS for c in tok):
        tok = _unmask(tok, vocab) or tok
    tok = _deleet(tok, known)
    words: list[str] = []
    for w in _WORD.findall(tok):
        if w in _PLACEHOLDER:
            continue
        r = _REDUP.match(w)
        if r:
            base = SLANG.get(r.group(1), r.group(1))
            words.extend((base, base))
            continue
        w = _squash(w, known)
        w = SLANG.get(w, w)
        if w not in known and len(w) >= 5 and w.isalpha():
            fixed = vocab.typo.get(w)
            if fixed is not None:
                w = fixed
            elif len(w) >= 8:
                split = _split_joined(w, vocab)
                if split:
                    words.extend(split)
                    continue
        words.append(w)
    return tuple(words)


class _Vocab:
    """Lexicon-derived word sets the normaliser trusts: all words, strong terms, typo variants."""

    __slots__ = ("known", "strong", "evidence", "typo", "by_first")

    def __init__(self, known: frozenset[str], strong: frozenset[str], evidence: frozenset[str] = frozenset()):
        self.known = known
        self.strong = strong
        self.evidence = evidence
        self.by_first: dict[str, list[str]] = {}
        for w in known:
            if w.isalpha():
                self.by_first.setdefault(w[0], []).append(w)
        typo: dict[str, str | None] = {}
        blocked = known | frozenset(SLANG)
        for term in strong:
            if not term.isalpha() or len(term) < 5:
                continue
            variants = {term[:i] + term[i + 1] + term[i] + term[i + 2 :] for i in range(len(term) - 1)}
            if len(term) >= 7:  # shorter ones collide with real words (breast/beast, korean/koran)
                variants |= {term[:i] + term[i + 1 :] for i in range(1, len(term) - 1)}  # ends kept
            for v in variants - {term} - blocked:
                typo[v] = term if typo.get(v, term) == term else None  # ambiguous -> dropped
        self.typo = {k: v for k, v in typo.items() if v is not None}


_VOCAB: _Vocab | None = None


def _vocab() -> _Vocab:
    global _VOCAB
    if _VOCAB is None:
        known = _known_terms()
        try:
            from classifiers.lexicon import evidence_words, strong_words

            strong = frozenset(strong_words()) & known
            evidence = frozenset(evidence_words()) & known
        except Exception:
            log.exception("lexicon unavailable for normalisation; continuing without it")
            strong = evidence = frozenset()
        _VOCAB = _Vocab(known, strong, evidence)
    return _VOCAB


_KNOWN: frozenset[str] | None = None


def _known_terms() -> frozenset[str]:
    """Single-word lexicon terms, used to accept leet/squash readings that would otherwise be risky."""
    global _KNOWN
    if _KNOWN is None:
        try:
            from classifiers.lexicon import known_words

            _KNOWN = frozenset(known_words()) | frozenset(SLANG.values())
        except Exception:  # a broken lexicon must not break normalisation
            log.exception("lexicon unavailable for normalisation; continuing without it")
            _KNOWN = frozenset(SLANG.values())
    return _KNOWN


def normalize(text: object) -> Normalized:
    """Normalise `text` for matching and modelling. Never raises; see the module docstring.

    The last few results are kept: in the bot the model and then the server's rules normalise the same
    message one after the other, and the second call is then free. (Normalized is immutable, so sharing it
    is safe; at most 4 texts of at most 5,000 characters are held, keys included.)
    """
    if type(text) is str and len(text) <= 5000:
        return _normalize_recent(text)
    return _normalize(text)


@lru_cache(maxsize=4)
def _normalize_recent(text: str) -> Normalized:
    return _normalize(text)


def _normalize(text: object) -> Normalized:
    original, truncated = sanitize(text)
    words: list[str] = []
    origins: list[str] = []
    # a run of 2+ spaces (or a line break) separates spaced-out words: "s e n d  n u d e s"
    segments = _SEGMENT.split(original) if "  " in original or "\n" in original else (original,)
    for segment in segments:
        raws = segment.split()
        items = [(tok, k) for k, raw in enumerate(raws) for tok in _fold_token(raw)]
        for tok, origin in _join_spaced(items, raws):
            for w in _norm_token(tok):
                words.append(w)
                origins.append(origin)
    return Normalized(original=original, text=" ".join(words), words=tuple(words), origins=tuple(origins), truncated=truncated)


def normalize_text(text: object) -> str:
    """Just the normalised string (what the model's vectorisers see)."""
    return normalize(text).text
