"""The re-share bank: match new uploads against images a moderator or a victim registered.

Why this shape (measured in benchmarks/bench_images.py):
* A single global perceptual hash (PDQ-style) misses crops: cutting 10% off one side
  moves every DCT coefficient. So each *bank* image is hashed in ~88 variants: as is and
  border-trimmed, centred/one-sided/corner crops of 5-20%, +-2.5/5 degree rotations, and
  mirrors. The *query* is hashed only "as a whole", in up to 10 views peeled from its
  framing (classifiers/images/framing.py: uniform borders and letterboxing, caption bands,
  the photo inside a chat screenshot, up to three layers deep), plus each picture of a
  collage (classifiers/images/collage.py). A cropped re-share lands near a crop variant.
* Hashes are 256-bit DCT hashes (PDQ-like, numpy + Pillow, no OpenCV needed) compared by
  vectorised XOR + popcount over column-major uint64 arrays: ~1.5 ms per query view
  against 880k stored hashes (10,000 entries).
* Every candidate is confirmed by geometric verification (classifiers/images/geometry.py:
  one RANSAC homography over ORB keypoint pairs, with thresholds on inliers, their ratio,
  their spread over both images and the warp's shape), hash hits included; a near hash only
  lowers the inliers needed. Candidates come from the TOP_K nearest hashes and, for what
  defeats the hash (deep crops, collages, phone screenshots), from a keypoint-descriptor index
  (classifiers/images/feature_index.py), so the cost does not grow with a scan of the bank.
  A bank picture's keypoints include a quarter from its centre half at twice the scale
  (`bank_keypoints`): what a crop of 25% per side leaves, blown up to the upload's size.
  A smooth bank image (too few corners at the usual FAST threshold) gets its keypoints from a
  lower threshold, and so does a smooth query; only when its verification fails is it accepted
  on its hash alone (<= HASH_ACCEPT).
  Without OpenCV (no `images` extra) matching is hash-only.
* PDQ hashes (classifiers/images/pdq.py) of each entry and its 7 rotations/flips are stored
  for exchange with hash-sharing programs; imported PDQ-only entries match on PDQ distance.

Nothing here stores images: `Fingerprint.to_records()` yields hashes and ORB keypoints
(positions + binary descriptors) only. Storage is the caller's job (bot/store/bank.py).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from PIL import Image

from classifiers.base import Verdict
from classifiers.images import collage, geometry, pdq
from classifiers.images.decode import DEFAULT_LIMITS, DecodedImage, Limits, decode
from classifiers.images.feature_index import FeatureIndex, top_candidates
from classifiers.images.framing import V_BANDS, V_CONTENT, V_FULL, V_TILE, boxes_differ, estimate_tilt, trim_uniform, whole_views
from classifiers.images.pixels import as_rgb, downscale, gray

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
HASH_BITS = 256
HASH_BYTES = HASH_BITS // 8
_WORK_SIDE = 256  # hashing works on a <= 256 px copy: cheap, and detail above it is noise
_ORB_SIDE_BANK = 512
_PDQ_SIDE = 512  # PDQ's own filter averages far coarser than this (the 512-px astronaut hashes the same as the original)
ORB_FEATURES_BANK = 400  # per bank picture, of which ...
#: ... these from its centre half, detected in a frame of its own: a crop of 25% off each side is that
#: half blown up twice, and its fine corners are below what the whole picture's 512-px frame resolves
#: (without them, 3 of 12 such crops failed verification; the rest of the budget covers the picture)
ORB_FEATURES_ZOOM = 100
ORB_FEATURES_QUERY = 700

# Variant codes (low 6 bits); bit 7 marks the mirrored image.
V_CENTRE, V_LEFT, V_RIGHT, V_TOP, V_BOTTOM, V_CORNER = 8, 9, 10, 11, 12, 13
V_ROT_FILL, V_ROT_CROP = 16, 17  # small rotations: black-filled canvas / inscribed crop
_ANGLES = (-5.0, -2.5, 2.5, 5.0)
MIRROR = 0x80
_WHOLE = (V_FULL, V_CONTENT, V_BANDS, V_TILE)

# Thresholds (out of 256 bits), tuned on the benchmark: true matches had median distance 6,
# 95th percentile 42; unrelated images' nearest entry was >= 64 (1st percentile 86).
HASH_STRICT = 44  # accept on the hash alone at or below this distance
HASH_ACCEPT = 56  # up to here, accept on the hash if ORB cannot judge (textureless images)
HASH_CANDIDATE = 88  # entries this near (and among the TOP_K nearest) get an ORB check (true rescues: <= 68)
#: beyond this, a candidate is checked only when it came from the whole upload (view 0). Each of up to
#: 14 views of an upload meets 880,000 stored hashes at 10,000 entries, so their random tail reaches
#: 84-88 bits; in the benchmark 85% of a distractor's candidates there came from peeled views, each
#: costing its own keypoint pass and check, and every true hit beyond 76 bits came from view 0
HASH_TAIL = 76
TOP_K = 4
FEATURE_K = 4  # entries with the most local-feature votes that get verified (per mirror side)
FEATURE_MIN_VOTES = 5  # an entry with fewer votes is not worth a geometric check (unrelated entries get 1-4 in a 10,000-entry bank)
#: the same for a smooth entry: its keypoints come from a low FAST threshold, their descriptors are
#: generic (near many other entries' smooth patches), so a true query's votes are spread thin
FEATURE_MIN_VOTES_SMOOTH = 3
DUP_DISTANCE = 24  # registering an image this near (whole-image hashes) to an entry reuses the entry
PDQ_MATCH = 31  # imported PDQ lists: the distance hash-sharing programs use by default
ORB_MIN_INLIERS = 10
ORB_MIN_FEATURES = 80  # a bank image with fewer keypoints than this can't be ORB-verified
ORB_RATIO = 0.8


# --------------------------------------------------------------------------------------
# image preparation
# --------------------------------------------------------------------------------------


def _cv2() -> Any:
    """OpenCV, only for the ORB stage (it comes with the `images` extra)."""
    import cv2

    cv2.setNumThreads(1)
    return cv2


@functools.lru_cache(maxsize=1)
def orb_available() -> bool:
    """Hashing needs only Pillow/numpy/scipy; the ORB second stage needs OpenCV. Without
    it, matching is hash-only (crops, borders, captions, JPEG still match; rotations and
    chat screenshots mostly don't)."""
    ok = importlib.util.find_spec("cv2") is not None
    if not ok:
        log.warning("OpenCV not installed: re-share matching is hash-only (install triagebot[images])")
    return ok


# --------------------------------------------------------------------------------------
# hashing
# --------------------------------------------------------------------------------------

_N = 64
_K = 16
_DCT = np.array([[np.cos(np.pi * (2 * x + 1) * u / (2 * _N)) for x in range(_N)] for u in range(1, _K + 1)], dtype=np.float32)


def dct_hash(gray: np.ndarray) -> np.ndarray:
    """256-bit PDQ-style hash of a grayscale float image: 64x64 area-resample, 16x16
    low-frequency DCT block (DC excluded), median threshold. Returns 32 uint8."""
    h, w = gray.shape
    resample = Image.Resampling.BOX if (h >= _N and w >= _N) else Image.Resampling.BILINEAR
    small = np.asarray(Image.fromarray(np.ascontiguousarray(gray, np.float32), "F").resize((_N, _N), resample))
    coef = _DCT @ small @ _DCT.T
    bits = (coef > np.median(coef)).reshape(-1)
    return np.packbits(bits)


def _crop_boxes(w: int, h: int) -> list[tuple[int, tuple[int, int, int, int]]]:
    """The bank-side crop variants: centred, one-sided and corner crops of 5-20%."""
    out: list[tuple[int, tuple[int, int, int, int]]] = []
    for f in (0.06, 0.12, 0.18):
        dx, dy = round(w * f / 2), round(h * f / 2)
        out.append((V_CENTRE, (dx, dy, w - dx, h - dy)))
    for f in (0.05, 0.1, 0.15, 0.2):
        dx, dy = round(w * f), round(h * f)
        out += [
            (V_LEFT, (dx, 0, w, h)),
            (V_RIGHT, (0, 0, w - dx, h)),
            (V_TOP, (0, dy, w, h)),
            (V_BOTTOM, (0, 0, w, h - dy)),
        ]
    for f in (0.1, 0.2):
        dx, dy = round(w * f), round(h * f)
        out += [
            (V_CORNER, (dx, dy, w, h)),
            (V_CORNER, (0, dy, w - dx, h)),
            (V_CORNER, (dx, 0, w, h - dy)),
            (V_CORNER, (0, 0, w - dx, h - dy)),
        ]
    return out


def _rotations(g: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Rotated copies of a grayscale base: what a re-sharer's 'straighten' slider produces,
    either on an enlarged black canvas or cropped to the largest upright rectangle."""
    h, w = g.shape
    im = Image.fromarray(np.ascontiguousarray(g, np.float32), "F")
    out = []
    for ang in _ANGLES:
        s = np.sin(np.deg2rad(abs(ang)))
        out.append((V_ROT_FILL, np.asarray(im.rotate(ang, Image.Resampling.BILINEAR, expand=True, fillcolor=0))))
        # same-size rotation, then crop away the filled corners (inscribed box)
        same = np.asarray(im.rotate(ang, Image.Resampling.BILINEAR, expand=False, fillcolor=0))
        dx, dy = int(np.ceil(h * s / 2 + 1)), int(np.ceil(w * s / 2 + 1))
        dx, dy = min(dx, w // 4), min(dy, h // 4)
        out.append((V_ROT_FILL, same))
        out.append((V_ROT_CROP, same[dy : h - dy, dx : w - dx]))
    return out


# --------------------------------------------------------------------------------------
# fingerprints
# --------------------------------------------------------------------------------------


@dataclass
class Fingerprint:
    """Compact, image-free features of one image.

    `hashes` (n x 32 uint8) with `variants` (n uint8 codes); ORB keypoints (`orb_xy`,
    `orb_desc`) in a frame of `orb_size` pixels. The ORB part is computed lazily from
    a private working copy when the fingerprint was made from pixels; the working copy
    is never serialised.
    """

    hashes: np.ndarray
    variants: np.ndarray
    orb_size: tuple[int, int] = (0, 0)
    #: PDQ hashes (n x 32 uint8, print order) and their quality (n uint8): the original and its
    #: seven rotations/flips for a bank entry, the whole image for a query; what `bank export` shares
    pdq: np.ndarray = field(default_factory=lambda: np.zeros((0, HASH_BYTES), np.uint8))
    pdq_quality: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    _orb_xy: np.ndarray | None = None
    _orb_desc: np.ndarray | None = None
    _orb_threshold: int = 12
    _work: np.ndarray | None = field(default=None, repr=False)  # trimmed RGB, for bank ORB
    _query: np.ndarray | None = field(default=None, repr=False)  # whole RGB, for query ORB
    _qorb: dict[tuple[bool, int], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)
    _view_boxes: list[tuple[int, int, int, int]] = field(default_factory=list, repr=False)  # full-res, per whole view
    #: where a pixel-free query gets its ORB from: (mirrored, view) -> (xy, desc); the image
    #: worker that still holds the upload (classifiers/images/worker.py)
    _orb_source: Callable[[bool, int], tuple[np.ndarray, np.ndarray]] | None = field(default=None, repr=False)

    @property
    def whole_mask(self) -> np.ndarray:
        return np.isin(self.variants & 0x3F, _WHOLE) & ((self.variants & MIRROR) == 0)

    def _ensure_orb(self) -> None:
        if self._orb_desc is None:
            if self._work is None:
                self._orb_xy = np.zeros((0, 2), np.float32)
                self._orb_desc = np.zeros((0, 32), np.uint8)
                return
            self._orb_xy, self._orb_desc, self._orb_threshold, self.orb_size = bank_keypoints(self._work)

    @property
    def orb_threshold(self) -> int:
        """The FAST threshold the keypoints came from: below the first of `_FAST_THRESHOLDS` for
        a smooth picture, which may then also match on its hash alone (see `BankIndex.match`)."""
        self._ensure_orb()
        return self._orb_threshold

    @property
    def orb_xy(self) -> np.ndarray:
        self._ensure_orb()
        assert self._orb_xy is not None
        return self._orb_xy

    @property
    def orb_desc(self) -> np.ndarray:
        self._ensure_orb()
        assert self._orb_desc is not None
        return self._orb_desc

    def query_orb(self, mirrored: bool = False, view: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """ORB of one whole-image view of the query (the one whose hash came nearest), in
        the same 512-px frame as the bank's, so a plain re-share matches at scale 1 and a
        screenshot's UI text does not crowd out the photo's keypoints. Cached."""
        key = (mirrored, view)
        if key not in self._qorb:
            if self._query is None and self._orb_source is not None:
                self._qorb[key] = self._orb_source(mirrored, view)
            elif self._query is None:
                if mirrored:  # descriptors are not mirror-invariant: without pixels we cannot redo them
                    return self.orb_xy[:0], self.orb_desc[:0]
                self._qorb[key] = (self.orb_xy, self.orb_desc)
            else:
                derived = self._derived_orb(mirrored, view)
                if derived is not None:
                    self._qorb[key] = derived
                else:
                    img = self._query
                    if 0 <= view < len(self._view_boxes):
                        x0, y0, x1, y1 = self._view_boxes[view]
                        img = img[y0:y1, x0:x1]
                    g = downscale(img, _ORB_SIDE_BANK, upscale_to=_ORB_SIDE_BANK)
                    if mirrored:
                        g = np.ascontiguousarray(g[:, ::-1])
                    self._qorb[key] = _orb(g, ORB_FEATURES_QUERY)
        return self._qorb[key]

    def _derived_orb(self, mirrored: bool, view: int) -> tuple[np.ndarray, np.ndarray] | None:
        """A peeled view's keypoints taken from the whole query's, when the view keeps at least
        `_DERIVE_MIN` of each side: ORB's pyramid already covers that change of scale, so a second
        detection would find about the same keypoints and cost ~6 ms per query. None when the view
        is smaller (the photo inside a screenshot): that one needs its own, larger frame."""
        if view <= 0 or self._query is None or view >= len(self._view_boxes):
            return None
        h, w = self._query.shape[:2]
        x0, y0, x1, y1 = self._view_boxes[view]
        if (x1 - x0) < _DERIVE_MIN * w or (y1 - y0) < _DERIVE_MIN * h:
            return None
        xy, desc = self.query_orb(mirrored, 0)
        s = _ORB_SIDE_BANK / max(h, w)  # the whole query's ORB frame (see `_downscale`)
        bx0, bx1 = x0 * s, x1 * s
        if mirrored:
            bx0, bx1 = (w - x1) * s, (w - x0) * s
        keep = (xy[:, 0] >= bx0) & (xy[:, 0] < bx1) & (xy[:, 1] >= y0 * s) & (xy[:, 1] < y1 * s)
        return xy[keep] - np.array([bx0, y0 * s], np.float32), desc[keep]

    def drop_pixels(self) -> None:
        """Forget the working copies (ORB is computed first so records stay complete)."""
        self._ensure_orb()
        self._work = None
        self._query = None
        self._qorb.clear()

    def to_records(self) -> list[tuple[str, bytes]]:
        """(kind, blob) pairs for storage. Hashes and keypoints only, never pixels."""
        self._ensure_orb()
        meta = {"v": FORMAT_VERSION, "orb_size": list(self.orb_size), "n_hash": int(len(self.hashes)), "fast": int(self.orb_threshold)}
        return [
            ("meta", json.dumps(meta, sort_keys=True).encode()),
            ("hash256", np.ascontiguousarray(self.hashes, np.uint8).tobytes()),
            ("hash_variants", np.ascontiguousarray(self.variants, np.uint8).tobytes()),
            ("orb_xy", np.ascontiguousarray(self.orb_xy, np.float16).tobytes()),
            ("orb_desc", np.ascontiguousarray(self.orb_desc, np.uint8).tobytes()),
            ("pdq", np.ascontiguousarray(self.pdq, np.uint8).tobytes()),
            ("pdq_quality", np.ascontiguousarray(self.pdq_quality, np.uint8).tobytes()),
        ]

    @classmethod
    def from_records(cls, records: Iterable[tuple[str, bytes]]) -> Fingerprint:
        """Inverse of `to_records`; raises ValueError on a version or length mismatch."""
        rec = {k: bytes(v) for k, v in records}
        try:
            meta = json.loads(rec["meta"])
        except (KeyError, ValueError) as e:
            raise ValueError("fingerprint records lack a valid 'meta' record") from e
        if meta.get("v") != FORMAT_VERSION:
            raise ValueError(f"fingerprint format v{meta.get('v')} is not supported (want v{FORMAT_VERSION})")
        hashes = np.frombuffer(rec.get("hash256", b""), np.uint8)
        variants = np.frombuffer(rec.get("hash_variants", b""), np.uint8).copy()
        if hashes.size % HASH_BYTES or hashes.size // HASH_BYTES != variants.size:
            raise ValueError("fingerprint hash records have inconsistent lengths")
        xy = np.frombuffer(rec.get("orb_xy", b""), np.float16).astype(np.float32)
        desc = np.frombuffer(rec.get("orb_desc", b""), np.uint8)
        if xy.size % 2 or desc.size % 32 or xy.size // 2 != desc.size // 32:
            raise ValueError("fingerprint ORB records have inconsistent lengths")
        pdq_h = np.frombuffer(rec.get("pdq", b""), np.uint8)
        pdq_q = np.frombuffer(rec.get("pdq_quality", b""), np.uint8).copy()
        if pdq_h.size % HASH_BYTES or pdq_h.size // HASH_BYTES != pdq_q.size:
            raise ValueError("fingerprint PDQ records have inconsistent lengths")
        w, h = meta.get("orb_size", [0, 0])
        return cls(
            pdq=pdq_h.reshape(-1, HASH_BYTES).copy(),
            pdq_quality=pdq_q,
            hashes=hashes.reshape(-1, HASH_BYTES).copy(),
            variants=variants,
            orb_size=(int(w), int(h)),
            _orb_threshold=int(meta.get("fast", _FAST_THRESHOLDS[0])),  # entries stored before it was recorded: the first pass
            _orb_xy=xy.reshape(-1, 2),
            _orb_desc=desc.reshape(-1, 32).copy(),
        )


def bank_keypoints(work: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, tuple[int, int]]:
    """A bank picture's keypoints (xy, descriptors, FAST threshold, frame size): the whole picture
    in a 512-px frame, plus `ORB_FEATURES_ZOOM` from its centre half in a frame of its own, placed
    in the whole picture's frame. The threshold is the whole picture's (see `orb_threshold`)."""
    g = downscale(work, _ORB_SIDE_BANK, upscale_to=_ORB_SIDE_BANK)
    h, w = work.shape[:2]
    y0, x0 = h // 4, w // 4
    centre = work[y0 : h - y0, x0 : w - x0]
    zoom = ORB_FEATURES_ZOOM if min(centre.shape[:2]) >= 16 else 0  # a tiny picture: the whole budget for the whole
    xy, desc, threshold = _orb_detect(g, ORB_FEATURES_BANK - zoom)
    if zoom:
        gz = downscale(centre, _ORB_SIDE_BANK, upscale_to=_ORB_SIDE_BANK)
        zxy, zdesc, _ = _orb_detect(gz, zoom)
        sx, sy = g.shape[1] / w, g.shape[0] / h  # work pixels -> the whole picture's frame
        zxy = zxy * np.array([sx * centre.shape[1] / gz.shape[1], sy * centre.shape[0] / gz.shape[0]], np.float32)
        xy = np.concatenate([xy, zxy + np.array([x0 * sx, y0 * sy], np.float32)])
        desc = np.concatenate([desc, zdesc])
    return xy, desc, threshold, (g.shape[1], g.shape[0])


def _orb(gray_or_rgb: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """`_orb_detect` without the threshold."""
    xy, desc, _ = _orb_detect(gray_or_rgb, n)
    return xy, desc


def _orb_detect(gray_or_rgb: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Up to `n` ORB keypoints spread over a 4x4 grid (the strongest of each cell first).

    Why the grid: ORB's own pick is the globally strongest corners, which crowd into the
    busiest part of a picture; a deep crop that cuts that part away would leave the bank
    entry with nothing to match. Spread keypoints keep every region of the image findable."""
    if not orb_available():
        return np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), _FAST_THRESHOLDS[0]
    cv2 = _cv2()
    g = np.ascontiguousarray(gray_or_rgb if gray_or_rgb.ndim == 2 else cv2.cvtColor(gray_or_rgb, cv2.COLOR_RGB2GRAY))
    for threshold in _FAST_THRESHOLDS:
        orb = cv2.ORB_create(nfeatures=3 * n, scaleFactor=1.2, nlevels=8, edgeThreshold=19, patchSize=19, fastThreshold=threshold)
        kps, desc = orb.detectAndCompute(g, None)
        if len(kps) >= n // 2:
            break
    if desc is None or not kps:
        return np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), threshold
    xy = np.array([k.pt for k in kps], np.float32)
    if len(kps) > n:
        resp = np.array([k.response for k in kps], np.float32)
        h, w = g.shape[:2]
        cell = np.minimum(xy[:, 1] * _GRID // max(h, 1), _GRID - 1) * _GRID + np.minimum(xy[:, 0] * _GRID // max(w, 1), _GRID - 1)
        order = np.lexsort((-resp, cell))  # by cell, strongest first within a cell
        rank = np.empty(len(kps), np.int64)
        cs = cell[order].astype(np.int64)
        first = np.searchsorted(cs, cs, side="left")
        rank[order] = np.arange(len(kps)) - first  # rank of each keypoint inside its cell
        keep = np.lexsort((-resp, rank))[:n]  # round-robin over cells, strongest first
        xy, desc = xy[keep], desc[keep]
    return xy, desc, threshold


_GRID = 4
#: FAST corner thresholds, tried in turn while a picture has fewer than half the keypoints wanted:
#: a smooth picture (a clock on a plain wall) has a few dozen corners at 12, too few to verify a
#: deep crop of it, but a few hundred at 6 or 3; busy pictures never get past the first pass
_FAST_THRESHOLDS = (12, 6, 3)


_DERIVE_MIN = 0.75  # a peeled view keeping this much of each side reuses the whole query's keypoints


def fingerprint(img: DecodedImage | np.ndarray | Any, *, bank_variants: bool = True, query_pdq: bool = True) -> Fingerprint:
    """Features of one image (a decoded upload, an RGB/gray array or a PIL image).

    With `bank_variants` (the default) the crop variants and mirrors are hashed too,
    which is what a bank entry needs; queries only need the whole-image views
    (`bank_variants=False`, ~10x fewer hashes). `BankIndex.match` uses only the whole
    views of whatever it is given, so either works as a query. A query's PDQ hash is matched only
    against imported hash lists: `query_pdq=False` (`BankIndex.matches_pdq` is false) skips it.
    """
    rgb = as_rgb(img)
    small = downscale(rgb, _WORK_SIDE)
    sh, sw = small.shape[:2]
    full = trim_uniform(small)
    x0, y0, x1, y1 = full
    views = whole_views(small)
    luma = gray(small)
    hashes: list[np.ndarray] = []
    codes: list[int] = []
    boxes: list[tuple[int, int, int, int]] = []
    whole0 = (0, 0, sw, sh)
    for code, box in views:
        if any(not boxes_differ(box, b, sw, sh, 0.01) for b in boxes):
            continue
        a, b, c, d = box
        boxes.append(box)
        hashes.append(dct_hash(luma[b:d, a:c]))
        codes.append(code)
    if not bank_variants:
        # each picture of a collage on its own (classifiers/images/collage.py), found on full-size lines
        sx, sy = sw / rgb.shape[1], sh / rgb.shape[0]
        for tx0, ty0, tx1, ty1 in collage.tiles(rgb):
            box = (int(tx0 * sx), int(ty0 * sy), max(int(tx0 * sx) + 1, round(tx1 * sx)), max(int(ty0 * sy) + 1, round(ty1 * sy)))
            if min(box[2] - box[0], box[3] - box[1]) < 16 or not all(boxes_differ(box, b, sw, sh) for b in boxes):
                continue
            boxes.append(box)
            hashes.append(dct_hash(luma[box[1] : box[3], box[0] : box[2]]))
            codes.append(V_TILE)
    view_boxes_full: list[tuple[int, int, int, int] | None] = []
    if not bank_variants:
        tilt = estimate_tilt(small)
        if tilt:
            # hash the framing views of the straightened query too; ORB (rotation-invariant)
            # uses the whole query for these
            ds = np.asarray(Image.fromarray(small).rotate(tilt, Image.Resampling.BILINEAR, expand=True, fillcolor=(0, 0, 0)))
            dgray = gray(ds)
            for code, (a, b, c, d) in whole_views(ds, max_views=5)[1:]:
                hashes.append(dct_hash(dgray[b:d, a:c]))
                codes.append(code)
                view_boxes_full.append(None)
    if bank_variants:
        bases = [whole0] + ([full] if boxes_differ(whole0, full, sw, sh, 0.01) else [])
        for bx0, by0, bx1, by1 in bases:
            g = luma[by0:by1, bx0:bx1]
            gm = np.ascontiguousarray(g[:, ::-1])
            hh, ww = g.shape
            hashes.append(dct_hash(gm))
            codes.append(V_FULL | MIRROR)
            for code, (a, b, c, d) in _crop_boxes(ww, hh):
                hashes.append(dct_hash(g[b:d, a:c]))
                codes.append(code)
                # the mirrored image's crop of the mirrored box
                hashes.append(dct_hash(gm[b:d, ww - c : ww - a]))
                codes.append(code | MIRROR)
            for code, rg in _rotations(g):
                hashes.append(dct_hash(rg))
                codes.append(code)
    # ORB works on full-resolution pixels: the trimmed image for the bank, each whole view for queries
    fx = rgb.shape[1] / sw
    fy = rgb.shape[0] / sh

    def up(b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        return round(b[0] * fx), round(b[1] * fy), round(b[2] * fx), round(b[3] * fy)

    ux0, uy0, ux1, uy1 = up(full)
    work = rgb[uy0:uy1, ux0:ux1]
    # a query's PDQ (matched only against imported lists, within 31 bits) comes from the 256-px copy
    # already at hand; a bank entry's, which other programs will match against, from a 512-px one
    if bank_variants:
        pdq_views, pdq_q = pdq.dihedral_hashes(downscale(rgb, _PDQ_SIDE))
        pdq_hashes = [h for _, h in pdq_views]
    elif query_pdq:
        h0, pdq_q = pdq.pdq_hash(small)
        pdq_hashes = [h0]
    else:  # ~1.5 ms a query, for nothing when the bank holds no imported list
        pdq_hashes, pdq_q = [], 0
    return Fingerprint(
        pdq=np.stack(pdq_hashes) if pdq_hashes else np.zeros((0, HASH_BYTES), np.uint8),
        pdq_quality=np.full(len(pdq_hashes), pdq_q, np.uint8),
        hashes=np.stack(hashes).astype(np.uint8),
        variants=np.array(codes, np.uint8),
        _work=work if bank_variants else None,
        _query=rgb,
        _view_boxes=[up(b) for b in boxes] + [(0, 0, rgb.shape[1], rgb.shape[0]) for _ in view_boxes_full],
    )


# --------------------------------------------------------------------------------------
# index
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Match:
    """A bank hit. `method` says how the candidate was found: `hash` (global hash near a
    stored variant), `orb` (local-feature vote), `smooth` (hash only: a bank image too
    smooth for keypoints) or `pdq` (an imported PDQ hash list). `distance` is the hash
    distance (bits of 256) when there is one, `inliers` the verified keypoint pairs;
    `score` in [0, 1] is a confidence for the verdict."""

    entry_id: int
    method: Literal["hash", "orb", "smooth", "pdq"]
    distance: int | None = None
    inliers: int | None = None
    score: float = 1.0


def _hash_score(d: int) -> float:
    return round(max(0.5, 1.0 - 0.5 * d / HASH_CANDIDATE), 3)


def _orb_score(n: int) -> float:
    return round(min(1.0, 0.6 + 0.4 * n / 60), 3)


def orb_inliers(
    bank_xy: np.ndarray,
    bank_desc: np.ndarray,
    q_xy: np.ndarray,
    q_desc: np.ndarray,
) -> int:
    """Verified keypoint pairs between a bank image and a query (0 unless the geometry passes)."""
    if not orb_available():
        return 0
    g = geometry.verify(bank_xy, bank_desc, q_xy, q_desc)
    return g.inliers if g is not None and g.passes() else 0


_BLOCK = 65536


def _min_distances(cols: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Per bank row (columns of `cols`, (4, M) uint64): the smallest Hamming distance to any query
    view (rows of `q`, (V, 4) uint64). About 2.6 ms per view at 10,000 entries (880,000 rows)."""
    m = cols.shape[1]
    best = np.full(m, 65535, np.uint16)
    blk = min(m, _BLOCK)  # blocks of rows, so the scratch arrays stay in cache while every view passes
    tmp = np.empty(blk, np.uint64)
    acc = np.empty(blk, np.uint16)  # 256 would wrap a uint8 to 0 (a photo's negative!)
    cnt = np.empty(blk, np.uint16)
    for s0 in range(0, m, blk):
        s1 = min(m, s0 + blk)
        n = s1 - s0
        c, bb, t, a, ct = cols[:, s0:s1], best[s0:s1], tmp[:n], acc[:n], cnt[:n]
        for row in q:
            np.bitwise_xor(c[0], row[0], out=t)
            np.bitwise_count(t, out=a)
            for j in range(1, 4):
                np.bitwise_xor(c[j], row[j], out=t)
                np.bitwise_count(t, out=ct)
                a += ct
            np.minimum(bb, a, out=bb)
    return best


def _release_freed_memory() -> None:
    """Hand the freed per-entry descriptor copies back to the OS (glibc keeps small freed blocks:
    ~120 MB of resident memory at 10,000 entries otherwise). A no-op where there is no glibc."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _subset_of(desc: np.ndarray, whole: np.ndarray) -> bool:
    """Whether every descriptor of `desc` is also one of `whole`'s (a derived view's keypoints)."""
    if len(desc) == 0 or len(whole) == 0:
        return len(desc) == 0
    a = np.ascontiguousarray(desc, np.uint8).view(np.uint64)[:, 0]
    b = np.ascontiguousarray(whole, np.uint8).view(np.uint64)[:, 0]
    return bool(np.isin(a, b).all())


_FEATURE_DELTA = 256  # entries added since the last full feature-index build, indexed apart


@dataclass(frozen=True)
class _Snapshot:
    cols: np.ndarray  # (4, M) uint64: hash words, column-major for fast XOR+popcount
    variants: np.ndarray  # (M,) uint8 variant codes
    starts: np.ndarray  # first row of each entry
    ids: tuple[int, ...]
    orb: tuple[tuple[np.ndarray, np.ndarray], ...]
    smooth: tuple[bool, ...]  # per entry: keypoints only from a lower FAST threshold, or too few
    min_votes: np.ndarray  # per entry: the votes it needs to be verified as a local-feature candidate
    features: FeatureIndex  # entry positions [0, len(features_main)) ...
    features_new: FeatureIndex  # ... and the entries added since, indexed apart (cheap to rebuild)
    n_main: int

    def feature_votes(self, q_desc: np.ndarray) -> np.ndarray:
        return np.concatenate([self.features.votes(q_desc), self.features_new.votes(q_desc)])

    pdq: np.ndarray  # (P, 4) uint64 PDQ hashes of hash-only (imported) entries
    pdq_pos: np.ndarray  # (P,) their entry positions


class BankIndex:
    """In-memory index over bank fingerprints; build it from the store at start-up.

    Thread-safe for concurrent `match` calls with occasional `add`/`remove`.
    """

    def __init__(
        self,
        hash_strict: int = HASH_STRICT,
        hash_accept: int = HASH_ACCEPT,
        hash_candidate: int = HASH_CANDIDATE,
        top_k: int = TOP_K,
        orb_min_inliers: int = ORB_MIN_INLIERS,
        feature_k: int = FEATURE_K,
        thresholds: geometry.Thresholds | None = None,
        pdq_threshold: int = PDQ_MATCH,
        mirror_features: bool = False,
    ) -> None:
        self.hash_strict = hash_strict
        self.hash_accept = hash_accept
        self.hash_candidate = hash_candidate
        self.top_k = top_k
        self.feature_k = feature_k
        self.pdq_threshold = pdq_threshold
        #: also search local features of the mirrored query (costs a second ORB pass; mirrored
        #: copies are found by the hash variants unless they are also deeply cropped)
        self.mirror_features = mirror_features
        self.thresholds = thresholds or geometry.Thresholds(min_inliers=orb_min_inliers)
        self._ids: list[int] = []
        self._pos: dict[int, int] = {}
        self._hash_parts: list[np.ndarray] = []
        self._var_parts: list[np.ndarray] = []
        self._orb: list[tuple[np.ndarray, np.ndarray]] = []
        self._smooth: list[bool] = []  # too smooth for the first FAST pass: may match on its hash alone
        self._pdq: list[np.ndarray] = []
        self._snap: _Snapshot | None = None
        # the big feature index is rebuilt only after a removal or when many entries were added
        self._feat_main: FeatureIndex | None = None
        self._feat_n = 0
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, entry_id: int, fp: Fingerprint) -> None:
        """Register (or replace) one entry. Only hashes and ORB data are kept."""
        with self._lock:
            if entry_id in self._pos:
                self.remove(entry_id)
            self._pos[entry_id] = len(self._ids)
            self._ids.append(entry_id)
            self._hash_parts.append(np.ascontiguousarray(fp.hashes, np.uint8))
            self._var_parts.append(np.asarray(fp.variants, np.uint8))
            self._orb.append((fp.orb_xy.astype(np.float16), np.ascontiguousarray(fp.orb_desc, np.uint8)))
            self._smooth.append(len(fp.orb_desc) < ORB_MIN_FEATURES or fp.orb_threshold < _FAST_THRESHOLDS[0])
            self._pdq.append(np.ascontiguousarray(fp.pdq, np.uint8).reshape(-1, HASH_BYTES))
            self._snap = None

    def add_records(self, entry_id: int, records: Iterable[tuple[str, bytes]]) -> None:
        """`add` straight from the store's blobs."""
        self.add(entry_id, Fingerprint.from_records(records))

    def remove(self, entry_id: int) -> bool:
        """Forget an entry (e.g. the victim withdrew it). Returns whether it was present."""
        with self._lock:
            i = self._pos.pop(entry_id, None)
            if i is None:
                return False
            for lst in (self._ids, self._hash_parts, self._var_parts, self._orb, self._smooth, self._pdq):
                del lst[i]
            self._pos = {e: j for j, e in enumerate(self._ids)}
            self._snap = None
            self._feat_main = None
            return True

    def _build(self) -> _Snapshot:
        """Immutable arrays for matching, rebuilt after a change; a `match` running while an
        entry is added or removed keeps using the snapshot it started with."""
        with self._lock:
            if self._snap is None:
                if self._hash_parts:
                    h = np.concatenate(self._hash_parts)
                    counts = np.array([len(p) for p in self._hash_parts])
                    variants = np.concatenate(self._var_parts)
                else:
                    h = np.zeros((0, HASH_BYTES), np.uint8)
                    counts = np.zeros(0, int)
                    variants = np.zeros(0, np.uint8)
                n = len(self._orb)
                if self._feat_main is None or self._feat_n > n or n - self._feat_n > _FEATURE_DELTA:
                    self._feat_main = FeatureIndex()
                    self._feat_main.build([d for _, d in self._orb])
                    self._feat_n = n
                    # keep one copy of the descriptors: the entries' become views into the index's
                    self._orb = [(xy, self._feat_main.descriptors(i)) for i, (xy, _) in enumerate(self._orb)]
                    _release_freed_memory()
                feats_new = FeatureIndex()
                feats_new.build([d for _, d in self._orb[self._feat_n :]])
                # PDQ is matched on its own only for entries that have nothing else (imported lists)
                only = [i for i, p in enumerate(self._hash_parts) if len(p) == 0 and len(self._pdq[i])]
                pdq = np.concatenate([self._pdq[i] for i in only]) if only else np.zeros((0, HASH_BYTES), np.uint8)
                pdq_pos = np.concatenate([np.full(len(self._pdq[i]), i, np.int64) for i in only]) if only else np.zeros(0, np.int64)
                self._snap = _Snapshot(
                    cols=np.ascontiguousarray(h.view(np.uint64).T),
                    variants=variants,
                    starts=np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64),
                    ids=tuple(self._ids),
                    orb=tuple(self._orb),
                    smooth=tuple(self._smooth),
                    min_votes=np.where(np.array(self._smooth, bool), FEATURE_MIN_VOTES_SMOOTH, FEATURE_MIN_VOTES).astype(np.float64),
                    features=self._feat_main,
                    features_new=feats_new,
                    n_main=self._feat_n,
                    pdq=np.ascontiguousarray(pdq).view(np.uint64).reshape(-1, 4),
                    pdq_pos=pdq_pos,
                )
            return self._snap

    def nearest(self, fp: Fingerprint, snap: _Snapshot | None = None) -> list[tuple[int, int, bool, int]]:
        """(entry position, best distance, mirrored, query view) for the `top_k` nearest
        entries; `mirrored` and `view` come from the closest (bank variant, query view) pair."""
        snap = snap or self._build()
        cols, variants, starts = snap.cols, snap.variants, snap.starts
        m = cols.shape[1]
        if m == 0:
            return []
        q = np.ascontiguousarray(fp.hashes[fp.whole_mask], np.uint8).view(np.uint64)
        if len(q) == 0:
            q = np.ascontiguousarray(fp.hashes[:1], np.uint8).view(np.uint64)
        if len(q) == 0:
            return []
        best = _min_distances(cols, q)
        # entries without any hash of ours (imported PDQ lists) have an empty slice: skip them
        ends = np.append(starts[1:], m)
        has = ends > starts
        per_entry = np.full(len(starts), 65535, np.int64)
        if has.any():
            per_entry[has] = np.minimum.reduceat(best, starts[has])
        k = min(self.top_k, len(per_entry))
        top = np.argpartition(per_entry, k - 1)[:k]
        top = top[np.argsort(per_entry[top], kind="stable")]
        out = []
        for e in top:
            s, s_end = int(starts[e]), int(ends[e])
            if s_end <= s:
                continue
            sub = cols[:, s:s_end]
            d = np.stack([np.bitwise_count(sub ^ row[:, None]).sum(axis=0) for row in q])  # (views, rows)
            qi, r = np.unravel_index(int(np.argmin(d)), d.shape)
            out.append((int(e), int(per_entry[e]), bool(variants[s + int(r)] & MIRROR), int(qi)))
        return out

    def _verified(self, bank: tuple[np.ndarray, np.ndarray], query: tuple[np.ndarray, np.ndarray], hash_agrees: bool) -> int:
        """Inliers of a passing geometric check, else 0."""
        g = geometry.verify(bank[0].astype(np.float32), bank[1], query[0], query[1])
        if g is None:
            return 0
        ok = g.passes(self.thresholds, hash_agrees)
        log.debug("verify: %s -> %s", g, ok)
        return g.inliers if ok else 0

    def match(self, fp: Fingerprint) -> Match | None:
        """Best bank match for a query fingerprint, or None.

        Candidates come from two places: the `top_k` entries whose stored hash variants are
        nearest to the query's whole-image hashes (within `hash_candidate`), and the
        `feature_k` entries with the most local-feature votes (deep crops, collages, heavy
        framing), for the query as is and mirrored. *Every* candidate must pass geometric
        verification (classifiers/images/geometry.py); a strong hash hit only lowers the
        number of inliers needed. The one exception: a bank image too smooth for the first
        keypoint pass (`Fingerprint.orb_threshold`) is, when verification fails, matched on a
        hash distance of at most `hash_accept`.
        """
        snap = self._build()
        if not snap.ids:
            return None
        ids, orb = snap.ids, snap.orb
        pdq_hit = self._match_pdq(fp, snap)
        if not orb_available():  # no OpenCV (no `images` extra): hash-only, as every bank image were smooth
            near = self.nearest(fp, snap)
            if near and near[0][1] <= self.hash_accept:
                return Match(ids[near[0][0]], "hash", distance=near[0][1], score=_hash_score(near[0][1]))
            return pdq_hit
        near = self.nearest(fp, snap)
        # entries already verified against the whole query (per mirror side): not worth a second try
        verified: dict[bool, set[int]] = {False: set(), True: set()}
        best: tuple[int, int, int | None, str] | None = None  # (pos, inliers, distance, method)
        for pos, d, mirrored, view in near:
            if d > self.hash_candidate:
                break
            if d > HASH_TAIL and view != 0:
                continue  # the random tail of a peeled view: not worth that view's keypoint pass
            if len(orb[pos][1]) < ORB_MIN_FEATURES:
                continue
            if view == 0:
                verified[mirrored].add(pos)
            n = self._verified(orb[pos], fp.query_orb(mirrored, view), d <= self.hash_strict)
            if n and (best is None or n > best[1]):
                best = (pos, n, d, "hash")
                if n >= 2 * self.thresholds.min_inliers:
                    break
        if best is None:
            # the whole query, then its first peeled view (the photo inside a screenshot, a collage
            # without its margins), whose keypoints come out at a usable size; each view is its own search
            views = (0, 1) if int(fp.whole_mask.sum()) > 1 else (0,)
            for mirrored, view in [(m, v) for m in ((False, True) if self.mirror_features else (False,)) for v in views]:
                q = fp.query_orb(mirrored, view)
                # a peeled view with its own keypoints may pass where the whole query failed; one whose
                # keypoints were derived from the whole query's (`Fingerprint._derived_orb`) would only
                # vote again with some of the same descriptors
                if view and _subset_of(q[1], fp.query_orb(mirrored, 0)[1]):
                    continue
                votes = snap.feature_votes(q[1])
                done = verified[mirrored] if view == 0 else set()
                for pos in top_candidates(votes, self.feature_k, exclude=sorted(done), min_votes=snap.min_votes):
                    if view == 0:
                        verified[mirrored].add(pos)
                    n = self._verified(orb[pos], q, False)
                    if n and (best is None or n > best[1]):
                        best = (pos, n, None, "orb")
                if best is not None:
                    break
        if best is not None:
            bpos, bn, bd, how = best
            return Match(ids[bpos], "hash" if how == "hash" else "orb", distance=bd, inliers=bn, score=_orb_score(bn))
        if near:
            pos0, d0 = near[0][0], near[0][1]
            if d0 <= self.hash_accept and snap.smooth[pos0]:
                return Match(ids[pos0], "smooth", distance=d0, score=_hash_score(d0))
        return pdq_hit

    def duplicates(self, fp: Fingerprint) -> list[int]:
        """Entry ids of near-identical images (best first): what registering `fp` again would
        duplicate. Near-identical means the whole-image hashes are within `DUP_DISTANCE` bits
        and, where both have keypoints, a verified warp of about the same size; a crop or a
        screenshot of an entry is a re-share, not a duplicate, and gets its own entry."""
        snap = self._build()
        if not snap.ids:
            return []
        whole = Fingerprint(hashes=fp.hashes[fp.whole_mask], variants=fp.variants[fp.whole_mask])
        out = []
        for pos, d, mirrored, _view in self.nearest(whole, snap):
            if d > DUP_DISTANCE or mirrored:
                continue
            bxy, bdesc = snap.orb[pos]
            if len(bdesc) >= ORB_MIN_FEATURES and len(fp.orb_desc) >= ORB_MIN_FEATURES and orb_available():
                g = geometry.verify(bxy.astype(np.float32), bdesc, fp.orb_xy.astype(np.float32), fp.orb_desc)
                if g is None or not g.passes(self.thresholds, True) or not 0.8 <= g.scale <= 1.25:
                    continue
            out.append(snap.ids[pos])
        return out

    @property
    def matches_pdq(self) -> bool:
        """Whether the bank holds imported PDQ-only entries, so a query needs its PDQ hash."""
        return bool(len(self._build().pdq))

    def _match_pdq(self, fp: Fingerprint, snap: _Snapshot) -> Match | None:
        """Imported PDQ-only entries: the query's PDQ within `pdq_threshold` bits."""
        if not len(snap.pdq) or not len(fp.pdq):
            return None
        q = np.ascontiguousarray(fp.pdq, np.uint8).reshape(-1, HASH_BYTES).view(np.uint64)
        d = np.min(np.stack([np.bitwise_count(snap.pdq ^ row).sum(axis=1) for row in q]), axis=0)
        i = int(np.argmin(d))
        if int(d[i]) > self.pdq_threshold:
            return None
        return Match(snap.ids[int(snap.pdq_pos[i])], "pdq", distance=int(d[i]), score=_hash_score(int(d[i])))


# --------------------------------------------------------------------------------------
# detector
# --------------------------------------------------------------------------------------


class BankDetector:
    """`ImageDetector` for the `reshare` label against one `BankIndex`."""

    name = "image_bank"

    def __init__(self, index: BankIndex, limits: Limits = DEFAULT_LIMITS) -> None:
        self.index = index
        self.limits = limits

    def match_decoded(self, img: DecodedImage) -> Match | None:
        """Check every sampled frame; the first hit wins."""
        for frame in img.frames:
            m = self.index.match(fingerprint(frame, bank_variants=False, query_pdq=self.index.matches_pdq))
            if m is not None:
                return m
        return None

    def classify_decoded(self, img: DecodedImage) -> list[Verdict]:
        m = self.match_decoded(img)
        return [] if m is None else [match_verdict(m)]

    def classify_image(self, data: bytes) -> list[Verdict]:
        """Decode safely, then match. Raises `ImageRejected` for refused input."""
        return self.classify_decoded(decode(data, self.limits))


def match_verdict(m: Match) -> Verdict:
    """The moderator-facing verdict for a bank hit."""
    if m.inliers:
        how = f"{m.inliers} matching keypoints" + (f", hash distance {m.distance}/{HASH_BITS}" if m.distance is not None else "")
    elif m.method == "pdq":
        how = f"imported PDQ hash, distance {m.distance}/{HASH_BITS}"
    else:
        how = f"hash distance {m.distance}/{HASH_BITS}"
    return Verdict("reshare", m.score, f"matches re-share bank entry #{m.entry_id} ({how})", "image_bank")


def index_from_entries(entries: Sequence[tuple[int, Iterable[tuple[str, bytes]]]], **kwargs: Any) -> BankIndex:
    """Build an index from `store.bank_entries(...)` output; bad records are skipped and logged."""
    idx = BankIndex(**kwargs)
    for entry_id, records in entries:
        try:
            idx.add_records(entry_id, records)
        except ValueError as e:
            log.warning("bank entry #%s skipped: %s", entry_id, e)
    return idx


__all__ = [
    "BankDetector",
    "BankIndex",
    "Fingerprint",
    "Match",
    "bank_keypoints",
    "dct_hash",
    "fingerprint",
    "index_from_entries",
    "match_verdict",
    "orb_inliers",
]
