"""Loading labelled CSVs (dev sources, hand-written examples) into plain arrays.

Label mapping is the one in ``../shared/data/README.md`` with documented changes (see `_apply_meta`):
edos rows the annotators marked "not sexist" become sexual = 0 (sexual objectification is a kind of
sexism), so English `sexual` has in-domain negatives and the model cannot learn "edos style = sexual";
and two "silver" racial positives: hate rows that the README leaves at -1 because their category mixes
race with other targets, kept only where they name an ethnic group or use a racial slur. They give
each language racial positives from a second source, so racial is not learned from one source.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import re
import sys
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Callable

import numpy as np

from classifiers.base import TEXT_LABELS
from classifiers.errors import TriagebotError

log = logging.getLogger(__name__)

HANDWRITTEN_DIR = Path(str(files("classifiers") / "resources" / "handwritten"))
HANDWRITTEN_SOURCE = "handwritten"
#: Rows from moderators' decisions (`triagebot train --decisions`): trained on, never evaluated on.
DECISIONS_SOURCE = "decisions"

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass
class Dataset:
    """Parallel arrays: texts, languages, sources, labels (n, len(TEXT_LABELS)) with -1 = unknown."""

    texts: list[str]
    langs: np.ndarray
    sources: np.ndarray
    Y: np.ndarray
    files: dict[str, dict] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, mask: np.ndarray) -> "Dataset":
        idx = np.flatnonzero(mask)
        return Dataset([self.texts[i] for i in idx], self.langs[idx], self.sources[idx], self.Y[idx], self.files)

    def concat(self, other: "Dataset") -> "Dataset":
        return Dataset(
            self.texts + other.texts,
            np.concatenate([self.langs, other.langs]),
            np.concatenate([self.sources, other.sources]),
            np.vstack([self.Y, other.Y]),
            {**self.files, **other.files},
        )


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _label(value: str) -> int:
    value = (value or "").strip()
    if value in ("1", "1.0"):
        return 1
    if value in ("0", "0.0"):
        return 0
    return -1


class DataError(TriagebotError, ValueError):
    """Training or evaluation data that cannot be used (no files, no `text` column)."""


def read_labelled_csv(path: Path, default_source: str | None = None) -> Dataset:
    """A CSV with columns text, lang and any of sexual, racial, source (missing label = -1)."""
    path = Path(path)
    texts, langs, sources, ys = [], [], [], []
    with open(path, newline="", encoding="utf-8-sig") as fh:  # a BOM (Excel) is fine
        try:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or "text" not in reader.fieldnames:
                raise DataError(f"{path}: needs a 'text' column")
            for row in reader:
                texts.append(row["text"] or "")
                langs.append((row.get("lang") or "").strip() or "und")
                sources.append((row.get("source") or "").strip() or default_source or path.stem)
                ys.append([_label(row.get(lab, "")) for lab in TEXT_LABELS])
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: not UTF-8 text (bad byte near offset {exc.start} of a read block)") from None
    Y = np.asarray(ys, dtype=np.int8).reshape(len(texts), len(TEXT_LABELS))
    info = {"rows": len(texts), "sha256": sha256_file(path)}
    return Dataset(texts, np.asarray(langs, dtype=object), np.asarray(sources, dtype=object), Y, {path.name: info})


#: Ethnic/national group names and racial slurs, for the silver labels and the racial slices of the
#: model card (not the lexicon: the model's lexicon features must not decide its own training labels).
ETHNIC_ID = re.compile(
    r"\b(cina|china|cino|cindo|cokin|aseng|tionghoa|tiongkok|rrc|papua|batak|madura|"
    r"jawa|sunda|bugis|ambon|dayak|arab|onta|negro|pribumi|etnis|ras|suku|bule|yahudi|"
    r"india|keling|sipit|amoy|singkek|rohingya|myanmar)(nya|2)?\b"
)
ETHNIC_EN = re.compile(
    r"\b(nigg\w*|nig|niglets?|coons?|jungle bunn\w*|porch monkeys?|spics?|wetbacks?|beaners?|"
    r"chinks?|gooks?|pakis?|ragheads?|towelheads?|sand nigg\w*|kikes?|negro(es)?|colou?red|"
    r"mexicans?|illegals|immigrants?|africa(ns?)?|blacks?|arabs?|asians?|chinese|jews?|gyps(y|ies)|"
    r"half.breeds?|zipperheads?|ching chong|chinam[ae]n|refugees?|migrants?|shithole countr\w*)\b"
)


#: Label policy (docs/labels.md): genital words used as an expletive or insult are not `sexual`. A
#: netifier "pornografi" row whose only sexual words are genital words (no act, request, body
#: comment, ad, link or hashtag) is such a row or undecidable, so its sexual label becomes unknown.
GENITAL_ID = re.compile(
    r"\b(kontol|kont0l|k0ntol|kntl|memek|mmk|meki|titit|peler|pepek|puki|pukimak|kimak|jembut|"
    r"jmbut|tempik|itil|palkon)(nya|mu|ku|lo|lu|q)?\b",
    re.I,
)
SEXUAL_CONTENT_ID = re.compile(
    r"remas|sepong|ngentot|ngentod|entot|ngewe|\bewe|bugil|telanjang|bokep|sange|crot|muncrat|jilat|isep|hisap|"
    r"coli|colmek|ngocok|kocok|vcs|video ?call|masturbasi|porno|mesum|\bsex|\bseks|payudara|toket|tetek|pentil|"
    r"horny|desah|basah|sempit|masuk|sodok|tusuk|peju|perawan|\bml\b|open ?bo|\bbo\b|bispak|lonte|pelacur|"
    r"jablay|cabul|syur|\bhot\b|#|http|ngaceng|tegang|keras|nenen|susu|paha|pantat|cium|elus|peluk|ranjang|"
    r"kamar|hamil|ahh|mmh|emh|ssh|aah|ohh|uhh|gesek|woman on top|gaya",
    re.I,
)


def _policy_sexual_netifier(ds: Dataset) -> int:
    """sexual 1 -> -1 for rows whose only sexual words are genital words (see :data:`GENITAL_ID`)."""
    j = TEXT_LABELS.index("sexual")
    changed = 0
    for i, text in enumerate(ds.texts):
        if ds.Y[i, j] == 1 and GENITAL_ID.search(text) and not SEXUAL_CONTENT_ID.search(text):
            ds.Y[i, j] = -1
            changed += 1
    return changed


#: Apply the label-policy re-mapping of netifier "pornografi" (off only to measure its effect).
POLICY_REMAP = True


def _silver_racial(ds: Dataset, rows: list[dict], hate: Callable[[dict], bool], group: re.Pattern) -> int:
    """racial = 1 where the source's own hate category is set and the text names a group (was -1)."""
    j = TEXT_LABELS.index("racial")
    changed = 0
    for i, row in enumerate(rows):
        if ds.Y[i, j] == -1 and hate(row) and group.search(ds.texts[i].lower()):
            ds.Y[i, j] = 1
            changed += 1
    return changed


def _apply_meta(ds: Dataset, data_dir: Path, path: Path) -> None:
    """Documented re-mappings from ``meta/<source>_orig.csv`` (same row order).

    - edos: "not sexist" -> sexual = 0 (in-domain English negatives for `sexual`).
    - netifier: sexual = -1 where the only sexual words are genital words used as an expletive or
      insult (label policy, docs/labels.md; :data:`GENITAL_ID`).
    - netifier: racial = -1 also where `radikalisme` or `pencemaran_nama_baik` is 1: those rows
      often attack ethnic groups under another category, so "not SARA" is no evidence of "not racial".
      Silver: `sara` = 1 (ethnicity, religion and race mixed) and an ethnic group named -> racial = 1.
    - davidson: silver racial = 1 for "hate speech" (class 0) rows naming a group or using a racial slur;
      "neither" rows count as 0/0 only when every annotator voted "neither". A split vote is no
      evidence of benign (the split rows include "porch monkey", "kikes", "leaked nudes").
    """
    meta = data_dir / "meta" / f"{path.stem}_orig.csv"
    if path.stem not in ("edos_en", "netifier_id", "davidson2017_en") or not meta.exists():
        return
    with open(meta, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if len(rows) != len(ds):
        log.warning("%s: row count differs from %s; meta ignored", meta, path)
        return
    changed = 0
    if path.stem == "edos_en":
        j = TEXT_LABELS.index("sexual")
        for i, row in enumerate(rows):
            if row.get("label_sexist") == "not sexist" and ds.Y[i, j] == -1:
                ds.Y[i, j] = 0
                changed += 1
    elif path.stem == "netifier_id":
        j = TEXT_LABELS.index("racial")
        for i, row in enumerate(rows):
            if ds.Y[i, j] == 0 and "1" in (row.get("radikalisme"), row.get("pencemaran_nama_baik")):
                ds.Y[i, j] = -1
                changed += 1
        changed += _silver_racial(ds, rows, lambda r: r.get("sara") == "1", ETHNIC_ID)
        if POLICY_REMAP:
            changed += _policy_sexual_netifier(ds)
    else:
        changed += _silver_racial(ds, rows, lambda r: r.get("class") == "0", ETHNIC_EN)
        for i, row in enumerate(rows):
            if row.get("class") == "2" and row.get("neither") != row.get("count") and (ds.Y[i] == 0).all():
                ds.Y[i] = -1
                changed += 1
    ds.files[f"meta/{meta.name}"] = {"rows": len(rows), "sha256": sha256_file(meta)}
    log.info("%s: %d labels re-mapped from meta", path.stem, changed)


def load_dir(data_dir: str | Path, use_meta: bool = True) -> Dataset:
    """All ``*.csv`` in `data_dir` (not recursive), exact duplicates within a source dropped."""
    data_dir = Path(data_dir)
    files = sorted(data_dir.glob("*.csv"))
    if not files:
        raise DataError(f"no *.csv files in {data_dir}")
    parts = []
    for path in files:
        ds = read_labelled_csv(path)
        if use_meta:
            _apply_meta(ds, data_dir, path)
        parts.append(ds)
    out = parts[0]
    for p in parts[1:]:
        out = out.concat(p)
    return dedupe(out)


def dedupe(ds: Dataset) -> Dataset:
    """Drop repeated (source, text) rows, keeping the first."""
    seen: set[tuple[str, str]] = set()
    keep = np.zeros(len(ds), dtype=bool)
    for i, (t, s) in enumerate(zip(ds.texts, ds.sources)):
        key = (s, t.strip().lower())
        if key not in seen:
            seen.add(key)
            keep[i] = True
    return ds.subset(keep)


def load_handwritten(directory: Path = HANDWRITTEN_DIR) -> Dataset:
    """The hand-written examples shipped in the repo (``classifiers/resources/handwritten/*.csv``)."""
    parts = [read_labelled_csv(p, default_source=HANDWRITTEN_SOURCE) for p in sorted(Path(directory).glob("*.csv"))]
    if not parts:
        return Dataset([], np.asarray([], dtype=object), np.asarray([], dtype=object), np.zeros((0, len(TEXT_LABELS)), dtype=np.int8))
    out = parts[0]
    for p in parts[1:]:
        out = out.concat(p)
    out.sources[:] = HANDWRITTEN_SOURCE
    return out


#: Group names swapped by :func:`augment_group_swaps`, per language (plain names only: a slur or a
#: stereotype belongs to one group and is never moved to another).
SWAP_GROUPS: dict[str, tuple[str, ...]] = {
    "id": (
        "cina",
        "tionghoa",
        "jawa",
        "sunda",
        "madura",
        "batak",
        "minang",
        "padang",
        "bugis",
        "makassar",
        "betawi",
        "banten",
        "banjar",
        "aceh",
        "bali",
        "sasak",
        "dayak",
        "toraja",
        "nias",
        "ambon",
        "maluku",
        "manado",
        "flores",
        "timor",
        "sumba",
        "ntt",
        "papua",
        "arab",
        "india",
        "afrika",
        "nigeria",
    ),
    "en": (
        "chinese",
        "javanese",
        "sundanese",
        "madurese",
        "batak",
        "papuan",
        "papuans",
        "balinese",
        "acehnese",
        "dayak",
        "ambonese",
        "arab",
        "arabs",
        "indian",
        "indians",
        "african",
        "africans",
        "nigerian",
        "nigerians",
        "mexican",
        "mexicans",
        "asian",
        "asians",
        "somali",
        "somalis",
        "pakistani",
        "haitian",
        "filipino",
        "vietnamese",
        "korean",
        "latino",
        "latinos",
        "black",
        "blacks",
        "jewish",
        "jews",
    ),
}
_SWAP_RE = {lang: re.compile(r"\b(" + "|".join(sorted(names, key=len, reverse=True)) + r")\b", re.I) for lang, names in SWAP_GROUPS.items()}


def augment_group_swaps(ds: Dataset, copies: int = 3, seed: int = 20261205) -> Dataset:
    """Copies of racially labelled rows that name exactly one group, with that group swapped for others.

    Why: hand-written hate and its non-hateful counterparts named a few groups (mostly Chinese-
    Indonesians); swapping keeps each row's label and wording while spreading the target over every
    group, so the model learns the pattern ("X itu parasit") and not which group is usually hated.
    Positives and negatives are swapped alike, so a group name never becomes evidence by itself.
    """
    rng = np.random.default_rng(seed)
    j = TEXT_LABELS.index("racial")
    texts, langs, sources, ys = [], [], [], []
    for i, text in enumerate(ds.texts):
        lang = str(ds.langs[i])
        pattern = _SWAP_RE.get(lang)
        if pattern is None or ds.Y[i, j] == -1:
            continue
        found = {m.group(1).lower() for m in pattern.finditer(text)}
        if len(found) != 1:
            continue
        old = found.pop()
        others = [g for g in SWAP_GROUPS[lang] if g != old]
        for new in rng.choice(others, size=min(copies, len(others)), replace=False):
            texts.append(pattern.sub(str(new), text))
            langs.append(lang)
            sources.append(ds.sources[i])
            ys.append(ds.Y[i])
    if not texts:
        return ds
    extra = Dataset(
        texts, np.asarray(langs, dtype=object), np.asarray(sources, dtype=object), np.asarray(ys, dtype=ds.Y.dtype).reshape(len(texts), ds.Y.shape[1])
    )
    log.info("group-swap augmentation: %d rows", len(texts))
    return ds.concat(extra)


def group_shares(ds: Dataset, lang: str) -> dict[str, float]:
    """Share of `lang` racial positives naming each swap group (a row naming two counts for both)."""
    j = TEXT_LABELS.index("racial")
    pattern = _SWAP_RE[lang]
    pos = [t for t, l, y in zip(ds.texts, ds.langs, ds.Y[:, j]) if l == lang and y == 1]
    counts: dict[str, int] = {}
    for t in pos:
        for g in {m.group(1).lower() for m in pattern.finditer(t)}:
            counts[g] = counts.get(g, 0) + 1
    return {g: round(c / len(pos), 4) for g, c in sorted(counts.items(), key=lambda kv: -kv[1])} if pos else {}


def text_key(text: str) -> str:
    """Content hash that rows are deduplicated by across sources (case and surrounding blanks ignored)."""
    return hashlib.sha256(text.strip().lower().encode("utf-8", "replace")).hexdigest()


def decisions_dataset(texts: list[str], labels: list[list[int]]) -> Dataset:
    """Moderators' decisions as a Dataset (source DECISIONS_SOURCE, language unknown); labels are 1/0/-1 per TEXT_LABELS."""
    Y = np.asarray(labels, dtype=np.int8).reshape(len(texts), len(TEXT_LABELS))
    return Dataset(list(texts), np.asarray(["und"] * len(texts), dtype=object), np.asarray([DECISIONS_SOURCE] * len(texts), dtype=object), Y)


def merge_decisions(base: Dataset, decisions: Dataset) -> tuple[Dataset, int]:
    """`base` plus the decision rows whose content is in neither `base` nor an earlier decision row.

    Curated rows win over a decision on the same text: they were labelled to a written policy, a decision by
    one moderator in one context. Returns the merged set and how many decision rows were dropped as repeats."""
    seen = {text_key(t) for t in base.texts}
    keep = np.zeros(len(decisions), dtype=bool)
    for i, t in enumerate(decisions.texts):
        k = text_key(t)
        if k not in seen and (decisions.Y[i] != -1).any():
            seen.add(k)
            keep[i] = True
    kept = decisions.subset(keep)
    return (base.concat(kept) if len(kept) else base), int(len(decisions) - keep.sum())
