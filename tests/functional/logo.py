"""Leave-one-group-out evaluation on the functional suite (figures for the model card; not a test).

For each held-out group G: train the shipped pipeline (no LOSO) on the dev data plus the hand-written
examples *minus every hand-written or group-swapped row naming G*, then score the functional cases
about G (hateful vs non-hateful, both languages). The functional templates are never in the training
data, so every figure is also leave-all-templates-out; per-template figures are reported too.
The lexicon keeps its group names: it is the broad knowledge the product ships, not training data.

Usage: python -m tests.functional.logo --data ../shared/data/dev [--groups madura,papua] [--jobs 2]
       python -m tests.functional.logo --shipped [--card]   (the shipped model; --card records it)
"""

from __future__ import annotations

import argparse
import json
import logging
import re
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from classifiers.base import TEXT_LABELS
from classifiers.data import augment_group_swaps, load_dir, load_handwritten
from classifiers.normalize import normalize
from classifiers.train import assemble, fit
from tests.functional.generator import GROUPS, cases

log = logging.getLogger(__name__)

#: Extra spellings that name each group in training rows (so "leaving G out" leaves all of G out).
ALIASES: dict[str, tuple[str, ...]] = {
    "tionghoa": ("tionghoa", "cina", "china", "chinese", "chindo", "cindo", "aseng", "cokin", "cino", "tionghwa"),
    "papua": ("papua", "papuan", "papuans", "irian", "koteka"),
    "jawa": ("jawa", "javanese", "jawir", "jowo"),
    "madura": ("madura", "madurese", "meduro"),
    "india": ("india", "indian", "indians", "keling", "tamil"),
    "afrika": ("afrika", "african", "africans", "nigeria", "nigerian", "nigerians", "negro"),
    "arab": ("arab", "arabs", "onta"),
    "minang": ("minang", "minangkabau", "padang"),
    "bugis": ("bugis", "buginese", "makassar"),
    "ambon": ("ambon", "ambonese", "maluku"),
    "flores": ("flores", "florenese", "ntt", "timor", "sumba"),
}


def group_pattern(gid: str, gen: str) -> re.Pattern:
    names = set(ALIASES.get(gid, ())) | {gid, gen, *gen.split()}
    return re.compile(r"\b(" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")\b", re.I)


def run_group(data_dir: Path, gid: str, gen: str) -> dict:
    dev = load_dir(data_dir)
    hw = augment_group_swaps(load_handwritten())
    pat = group_pattern(gid, gen)
    keep = np.array([not pat.search(t) for t in hw.texts])
    ds = dev.concat(hw.subset(keep))
    feats, clf = fit([normalize(t).text for t in ds.texts], ds)
    pipe = assemble(feats, clf)
    test = [c for c in cases(obfuscated=True) if c.group == gid]
    j = TEXT_LABELS.index("racial")
    scores = pipe.predict_proba([c.text for c in test])[:, j]
    out = {"group": gid, "removed_rows": int((~keep).sum())}
    for lang in ("id", "en"):
        m = np.array([c.lang == lang and not c.obfuscated for c in test])
        y = np.array([c.hateful for c in test])[m]
        out[f"auc_{lang}"] = round(float(roc_auc_score(y, scores[m])), 4)
    m = np.array([c.obfuscated for c in test])
    out["auc_obfuscated"] = round(float(roc_auc_score(np.array([c.hateful for c in test])[m], scores[m])), 4)
    held = [c for c in cases(heldout=True) if c.group == gid]
    hs = pipe.predict_proba([c.text for c in held])[:, j]
    for lang in ("id", "en"):
        m = np.array([c.lang == lang for c in held])
        out[f"auc_heldout_{lang}"] = round(float(roc_auc_score(np.array([c.hateful for c in held])[m], hs[m])), 4)
    out["scores"] = {f"{c.template}{'*' if c.obfuscated else ''}": round(float(s), 4) for c, s in zip(test + held, np.concatenate([scores, hs]))}
    return out


def suite_report(model, all_cases: list, points: dict[str, float]) -> dict:
    """Racial ROC-AUC per language, plain and obfuscated, per group, and the share flagged per kind at
    each threshold in `points`, for one batch of functional cases."""
    scores = np.array([s["racial"] for s in model.scores_batch([c.text for c in all_cases])])
    hateful = np.array([c.hateful for c in all_cases])
    out: dict = {"cases": len(all_cases), "thresholds": points}
    for lang in ("id", "en"):
        for obf in (False, True):
            m = np.array([c.lang == lang and c.obfuscated == obf for c in all_cases])
            out[f"auc_{lang}{'_obfuscated' if obf else ''}"] = round(float(roc_auc_score(hateful[m], scores[m])), 4)
    per_group = {}
    for gid, _ in GROUPS:
        m = np.array([c.group == gid and not c.obfuscated for c in all_cases])
        per_group[gid] = round(float(roc_auc_score(hateful[m], scores[m])), 4)
    out["auc_per_group"] = per_group
    kinds: dict[str, list] = {}
    for c, s in zip(all_cases, scores):
        if not c.obfuscated:
            kinds.setdefault(f"{c.lang}/{c.kind}", []).append(s)
    out["flagged_share_by_kind"] = {k: {p: round(float(np.mean(np.array(v) >= t)), 3) for p, t in points.items()} for k, v in kinds.items()}
    return out


def shipped_report() -> dict:
    """The shipped model on the whole functional suite: racial ROC-AUC per language, plain and
    obfuscated, the weakest group, and the share flagged at the review/shipped/action thresholds per kind;
    the same for the held-out batch under ``"heldout"`` (never tuned on: the honest figures)."""
    from classifiers.text import TextClassifier

    model = TextClassifier.load()
    points = {"shipped": model.thresholds["racial"]}
    for key, per in model.card.get("operating_points", {}).items():
        points[key] = per["racial"]["threshold"]
    out = suite_report(model, list(cases(obfuscated=True)), points)
    out["heldout"] = suite_report(model, list(cases(obfuscated=True, heldout=True)), points)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path)
    ap.add_argument("--groups", default="")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("logo.json"))
    ap.add_argument("--shipped", action="store_true", help="report the shipped model on the suite")
    ap.add_argument("--card", action="store_true", help="record the results in data/model_card.json + MODEL_CARD.md")
    ap.add_argument("--logo-json", type=Path, default=None, help="LOGO results to record with --card")
    ap.add_argument("--logo-note", default="", help="a caveat to print under the LOGO rows")
    args = ap.parse_args()
    if args.shipped:
        report = shipped_report()
        print(json.dumps({k: v for k, v in report.items() if k not in ("flagged_share_by_kind", "heldout")}, indent=1))
        print("held-out batch:", json.dumps({k: v for k, v in report["heldout"].items() if k != "flagged_share_by_kind"}, indent=1))
        if args.card:
            from classifiers.train import record_functional

            logo = json.loads(args.logo_json.read_text()) if args.logo_json else []
            record_functional(report, [{k: v for k, v in r.items() if k != "scores"} for r in logo], logo_note=args.logo_note)
        return
    from joblib import Parallel, delayed

    wanted = set(filter(None, args.groups.split(",")))
    groups = [(g, e) for g, e in GROUPS if not wanted or g in wanted]
    results = Parallel(n_jobs=args.jobs)(delayed(run_group)(args.data, g, e) for g, e in groups)
    args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    for r in results:
        print(
            f"{r['group']}: removed {r['removed_rows']} rows; racial ROC-AUC id {r['auc_id']}, en {r['auc_en']}, "
            f"obfuscated {r['auc_obfuscated']}; held-out batch id {r['auc_heldout_id']}, en {r['auc_heldout_en']}"
        )
    for lang in ("id", "en"):
        print(f"mean {lang}: {np.mean([r[f'auc_{lang}'] for r in results]):.4f}")


if __name__ == "__main__":
    main()
