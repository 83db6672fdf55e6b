"""PDQ, the perceptual hash that industry hash-sharing programs exchange, in numpy.

Why our own: the `pdqhash` package is an sdist that needs a C++ compiler on every machine
that installs the bot; this module follows Meta's published algorithm (ThreatExchange
`hashing.pdf` and its C++ reference) step by step, and tests/test_pdq.py checks it against
reference hashes. Steps: luminance (BT.601), a two-pass Jarosz (box) filter sized to the
image, decimation to 64x64, a 16x16 DCT block, bits above the median; quality is the image's
gradient sum (0-100; hash-sharing programs ignore hashes below ~50).

Hashes travel as 64 hex digits, word 15 first, exactly as the reference prints them, and
are kept as 32 bytes in the same order (`to_hex` / `from_hex`).
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

HASH_BITS = 256
_N = 64
_DCT = (np.sqrt(2.0 / _N) * np.cos(np.pi / 2 / _N * np.arange(1, 17)[:, None] * (2 * np.arange(_N)[None, :] + 1))).astype(np.float64)


def luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luminance as float64 (what the reference hashes)."""
    a = np.asarray(rgb)
    if a.ndim == 2:
        return a.astype(np.float64)
    a = a[..., :3].astype(np.float64)
    return a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114


def _window(old: int, new: int) -> int:
    return (old + 2 * new - 1) // (2 * new)


def _box(a: np.ndarray, full: int, axis: int) -> np.ndarray:
    """The reference's running-mean box filter along `axis`: output i averages inputs
    i - (full - half) .. i + half - 1, clipped at the edges, half = (full + 2) // 2."""
    if full <= 1:
        return a
    n = a.shape[axis]
    half = (full + 2) // 2
    i = np.arange(n)
    lo = np.clip(i - (full - half), 0, n)
    hi = np.clip(i + half, 0, n)  # exclusive
    cs = np.cumsum(a, axis=axis)
    cs = np.concatenate([np.zeros_like(np.take(cs, [0], axis=axis)), cs], axis=axis)
    s = np.take(cs, hi, axis=axis) - np.take(cs, lo, axis=axis)
    shape = [1] * a.ndim
    shape[axis] = n
    return s / (hi - lo).reshape(shape)


def _buffer64(y: np.ndarray) -> np.ndarray:
    """Jarosz-filtered (two box passes per axis) and decimated 64x64 luminance."""
    rows, cols = y.shape
    wr, wc = _window(cols, _N), _window(rows, _N)
    for _ in range(2):
        y = _box(y, wr, axis=1)
        y = _box(y, wc, axis=0)
    ri = ((np.arange(_N) + 0.5) * rows / _N).astype(np.int64)
    ci = ((np.arange(_N) + 0.5) * cols / _N).astype(np.int64)
    return y[np.ix_(ri, ci)]


def _quality(b: np.ndarray) -> int:
    dv = np.trunc(np.abs((b[:-1, :] - b[1:, :]) * 100.0 / 255.0)).sum()
    dh = np.trunc(np.abs((b[:, :-1] - b[:, 1:]) * 100.0 / 255.0)).sum()
    return int(min(100, int(dv + dh) // 90))


def pdq_hash(img: np.ndarray) -> tuple[np.ndarray, int]:
    """(32-byte hash, quality 0-100) of an RGB or grayscale image array."""
    b = _buffer(img)
    return _bits(b), _quality(b)


def _buffer(img: np.ndarray) -> np.ndarray:
    y = luma(img)
    if y.shape[0] < 1 or y.shape[1] < 1:
        raise ValueError("empty image")
    return _buffer64(y)


def _bits(b: np.ndarray) -> np.ndarray:
    coef = _DCT @ b @ _DCT.T  # 16x16
    flat = coef.reshape(-1)
    # the reference's median is Torben's: the lower middle of 256 values
    med = np.partition(flat, 127)[127]
    bits = flat > med  # bit k = i * 16 + j
    words = np.zeros(16, np.uint16)
    for w in range(16):
        v = 0
        for k in range(16):
            if bits[w * 16 + k]:
                v |= 1 << k
        words[w] = v
    return words_to_bytes(words)


def words_to_bytes(words: np.ndarray) -> np.ndarray:
    """16 uint16 words (word 0 holds bits 0-15) -> 32 bytes in print order (word 15 first, big-endian)."""
    return np.frombuffer(np.asarray(words[::-1], ">u2").tobytes(), np.uint8).copy()


def to_hex(h: np.ndarray | bytes) -> str:
    """64 lowercase hex digits, as the reference and hash-sharing programs write PDQ."""
    return bytes(np.asarray(bytearray(h) if isinstance(h, bytes) else h, np.uint8)).hex()


def from_hex(s: str) -> np.ndarray:
    """Inverse of `to_hex`; raises ValueError for anything but 64 hex digits."""
    t = s.strip().lower()
    if len(t) != 64:
        raise ValueError(f"a PDQ hash has 64 hex digits, not {len(t)}")
    return np.frombuffer(bytes.fromhex(t), np.uint8).copy()


def distance(a: np.ndarray, b: np.ndarray) -> int:
    """Hamming distance in bits."""
    return int(np.unpackbits(np.bitwise_xor(np.asarray(a, np.uint8), np.asarray(b, np.uint8))).sum())


def dihedral(img: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """The eight rotations/flips hash-sharing programs hash alongside the original."""
    out = []
    for k in range(4):
        r = np.rot90(img, k)
        out.append((f"rot{90 * k}", r))
        out.append((f"rot{90 * k}+flip", r[:, ::-1]))
    return out


#: the reference's dihedral order and names (pdq-photo-hasher --pdqdih), as positions in `dihedral`
DIHEDRAL_ORDER = (("orig", 0), ("rot90", 2), ("rot180", 4), ("rot270", 6), ("flipx", 5), ("flipy", 1), ("flipp", 7), ("flipm", 3))


def dihedral_hashes(img: np.ndarray) -> tuple[list[tuple[str, np.ndarray]], int]:
    """The 8 dihedral hashes in the reference's order and names, and the quality. As in the
    reference, the filtered 64x64 buffer is computed once and turned: 8 hashes for about the
    price of 1 (so they differ by a few bits from hashing a turned picture from scratch)."""
    b = _buffer(img)
    views = dihedral(b)
    return [(name, _bits(np.ascontiguousarray(views[k][1]))) for name, k in DIHEDRAL_ORDER], _quality(b)


__all__ = ["HASH_BITS", "dihedral", "dihedral_hashes", "distance", "from_hex", "luma", "pdq_hash", "to_hex", "words_to_bytes"]
