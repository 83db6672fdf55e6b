"""Untrusted image work in killable worker processes, with a wall-clock timeout.

Why processes: a thread cannot be stopped. A file that makes a decoder spin (a progressive
JPEG with thousands of scans, a decoder bug nobody has found yet) would hold a bot thread
for as long as it likes. Here decoding, NudeNet and fingerprinting run in a small pool of
worker processes (one ONNX/OpenCV thread each, started lazily and reused); a job over its
time has its worker killed and replaced, and the image is refused with a reason.

Only bytes go in and only verdicts and fingerprints (hashes, keypoints) come back: pixels
never cross the process boundary. Bank matching runs in the caller against its own
in-memory index; when it needs the query's ORB keypoints for a candidate (rarely), it asks
the same worker, which still holds that upload's fingerprints, within the same deadline.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import os
import signal
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from classifiers.base import Verdict
from classifiers.errors import TriagebotError
from classifiers.images.bank import BankIndex, Fingerprint, Match, fingerprint
from classifiers.images.decode import DEFAULT_LIMITS, ImageRejected, Limits
from classifiers.images.media import decode_media, timeout_for

log = logging.getLogger(__name__)

#: refusal codes that are routine (logged at INFO): vector-only animated stickers
QUIET_CODES = frozenset({"vector_only"})
#: seconds a new worker may take to import its libraries and load NudeNet (not the job's timeout)
START_TIMEOUT = 120.0


class ImageWorkerError(TriagebotError):
    """No image worker could be started (or the pool is closed): images cannot be scanned."""


@dataclass(frozen=True)
class ScanJob:
    """What a worker is asked to do with one upload."""

    data: bytes
    nudity: bool = True  # NudeNet verdict
    query: bool = True  # query fingerprints of every sampled frame, for bank matching
    records: bool = True  # bank records of the first frame (stored if the message is flagged)
    limits: Limits = DEFAULT_LIMITS
    ocr: bool = False  # read the text in the image (only when the worker loaded the OCR engine)
    query_pdq: bool = True  # the queries' PDQ hashes (needed only when a bank holds imported lists)


@dataclass
class ScanReply:
    """What comes back: no pixels."""

    format: str
    size: tuple[int, int]
    n_frames: int
    verdicts: list[Verdict] = field(default_factory=list)
    queries: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)  # (hashes, variants, pdq) per frame
    records: list[tuple[str, bytes]] | None = None
    peak_rss: int = 0  # the worker's peak resident memory during this job (bytes; 0 if unknown)
    text: str = ""  # text read in the image (OCR), for the caller's text model
    sampled: int = 0  # frames decoded and checked


@dataclass
class ScanOutcome:
    """One upload, scanned in a worker and matched against the caller's bank indexes."""

    verdicts: list[Verdict]
    match: Match | None
    records: list[tuple[str, bytes]] | None
    format: str
    size: tuple[int, int]
    n_frames: int
    peak_rss: int
    text: str = ""
    sampled: int = 0


# --------------------------------------------------------------------------------------
# inside the worker process
# --------------------------------------------------------------------------------------


def _rss_reset() -> None:
    """Reset the kernel's peak-RSS mark so the next reading is this job's (Linux)."""
    with contextlib.suppress(OSError):
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")


def peak_rss(pid: int | str = "self") -> int:
    """VmHWM of a process in bytes, 0 where /proc is not available."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


class _WorkerState:
    """What one worker keeps between messages: the detectors and the last upload's query prints."""

    def __init__(self, nudity: bool, ocr: bool = False) -> None:
        self.nsfw: Any = None
        if nudity:
            from classifiers.images.nsfw import NsfwDetector, nudity_available

            if nudity_available():
                self.nsfw = NsfwDetector(threads=1)
                self.nsfw.load()
        self.ocr: Any = None
        if ocr:
            from classifiers.images.ocr import OcrEngine, ocr_available

            if ocr_available():
                self.ocr = OcrEngine(threads=1)
                self.ocr.load()
        self.queries: list[Fingerprint] = []
        # import and touch everything once (scipy, OpenCV's ORB), so no image pays for it in its timeout
        fingerprint(np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)).to_records()

    def scan(self, job: ScanJob) -> ScanReply:
        self.queries = []
        _rss_reset()
        img = decode_media(job.data, job.limits)  # a still, an animation's frames, a video's or a sticker's
        reply = ScanReply(format=img.format, size=img.size, n_frames=img.n_frames, sampled=len(img.frames))
        if job.nudity and self.nsfw is not None:
            try:
                reply.verdicts = self.nsfw.classify_decoded(img)
            except Exception as exc:  # the bank check and the records are still worth having
                log.error("nudity detector failed: %s: %s", type(exc).__name__, exc)
        if job.query:
            # One query per sampled frame (a video or GIF can hide the picture in a later frame). This is the
            # seam for vPDQ-style matching: per-frame hashes with their frame indices (img.frame_indices).
            self.queries = [fingerprint(f, bank_variants=False, query_pdq=job.query_pdq) for f in img.frames]
            reply.queries = [(q.hashes, q.variants, q.pdq) for q in self.queries]
        if job.records:
            reply.records = fingerprint(img.image).to_records()
        if job.ocr and self.ocr is not None:
            try:
                reply.text = self.ocr.read_decoded(img)
            except Exception as exc:  # the other checks' results are still worth having
                log.error("OCR failed: %s: %s", type(exc).__name__, exc)
        reply.peak_rss = peak_rss()
        return reply

    def orb(self, frame: int, mirrored: bool, view: int) -> tuple[np.ndarray, np.ndarray]:
        return self.queries[frame].query_orb(mirrored, view)


def _worker_main(conn: Any, nudity: bool, ocr: bool = False) -> None:
    """Serve jobs until the pipe closes. Errors go back as data; nothing is logged to stderr
    (the parent logs the rejection, once)."""
    logging.getLogger().addHandler(logging.NullHandler())
    logging.getLogger().setLevel(logging.CRITICAL)
    # Ctrl-C in a terminal reaches the whole process group: the parent decides, and kills us
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        pass
    try:
        state = _WorkerState(nudity, ocr)
    except Exception as exc:
        conn.send(("fail", f"worker could not start: {type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            op, args = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        try:
            if op == "scan":
                out: Any = state.scan(*args)
            elif op == "orb":
                out = state.orb(*args)
            else:
                raise ValueError(f"unknown operation {op!r}")
            conn.send(("ok", out))
        except ImageRejected as exc:
            conn.send(("rejected", (exc.reason, exc.code)))
        except MemoryError:
            conn.send(("rejected", ("image needs too much memory to process", "too_many_bytes")))
        except Exception as exc:
            conn.send(("fail", f"{type(exc).__name__}: {exc}"))


# --------------------------------------------------------------------------------------
# the caller's side
# --------------------------------------------------------------------------------------


def _context() -> multiprocessing.context.ForkServerContext | multiprocessing.context.SpawnContext:
    """forkserver where the platform has it (a replacement worker forks from a process that
    has already imported numpy/Pillow/OpenCV), spawn elsewhere; never plain fork, which would
    copy the bot's threads and open database."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["classifiers.images.worker"])
        return ctx
    return multiprocessing.get_context("spawn")


class _Worker:
    def __init__(self, proc: Any, conn: Any) -> None:
        self.proc = proc
        self.conn = conn

    @property
    def pid(self) -> int:
        return int(self.proc.pid)

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.kill()
        with contextlib.suppress(Exception):
            self.proc.join(5)
        with contextlib.suppress(Exception):
            self.conn.close()


class Session:
    """One worker, held for one upload, with one deadline for everything asked of it."""

    def __init__(self, pool: ImageWorkerPool, worker: _Worker, timeout: float) -> None:
        self.pool = pool
        self.worker = worker
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.broken = False  # killed, or left with a request in flight: never reused
        self.pending = False

    def _refuse(self, reason: str, code: str) -> ImageRejected:
        # most animated stickers are vector art: an expected skip, not a warning
        log.log(logging.INFO if code in QUIET_CODES else logging.WARNING, "image rejected (%s): %s", code, reason)
        return ImageRejected(reason, code)

    def call(self, op: str, *args: Any) -> Any:
        """Send one request and wait for its answer until the deadline; past it, the
        worker is killed and the image refused (`ImageRejected`, code `timeout`)."""
        w = self.worker
        if self.broken:
            raise ImageWorkerError("this image worker session is over")
        self.pending = True
        try:
            w.conn.send((op, args))
            ready = w.conn.poll(max(0.0, self.deadline - time.monotonic()))
            if not ready:
                peak = peak_rss(w.pid)
                self.broken = True
                self.pool._discard(w)
                raise self._refuse(
                    f"image processing took longer than {self.timeout:g} s; its worker was stopped" + (f" (peak {peak / 2**20:.0f} MB)" if peak else ""),
                    "timeout",
                )
            status, payload = w.conn.recv()
        except (EOFError, OSError) as exc:
            self.broken = True
            self.pool._discard(w)
            code = getattr(w.proc, "exitcode", None)
            raise self._refuse(f"the image worker died while processing this image (exit {code}, {type(exc).__name__})", "worker_died") from None
        self.pending = False
        if status == "ok":
            return payload
        if status == "rejected":
            reason, code = payload
            raise self._refuse(reason, code)
        # a bug of ours, not the file's fault; still one image refused, not a crash
        log.error("image worker %d failed: %s", w.pid, payload)
        raise ImageRejected(f"the image could not be processed ({payload})", "worker_failed")


def _kill_all(workers: list[_Worker]) -> None:
    while workers:
        workers.pop().kill()


class ImageWorkerPool:
    """A few worker processes for untrusted images, started on first use and reused.

    `size` jobs run at once; more callers wait for a free worker. `nudity` loads NudeNet in
    each worker when it starts (so the model load never counts against an image's timeout); `ocr`
    loads the OCR engine likewise (classifiers/images/ocr.py; ignored when the extra is missing).
    """

    def __init__(self, size: int = 2, *, nudity: bool = True, ocr: bool = False, start_timeout: float = START_TIMEOUT) -> None:
        if size < 1:
            raise ValueError("an image worker pool needs at least one worker")
        self.size = size
        self.nudity = nudity
        self.ocr = ocr
        self.start_timeout = start_timeout
        self._idle: list[_Worker] = []
        self._live = 0
        self._cond = threading.Condition()
        self._closed = False
        self.started = 0  # workers started over the pool's life (tests and metrics)
        self.killed = 0  # workers killed for running over time or dying
        # idle workers are stopped when the pool is garbage-collected or the program exits
        self._finalizer = weakref.finalize(self, _kill_all, self._idle)

    def _start(self) -> _Worker:
        ctx = _context()
        parent, child = ctx.Pipe(duplex=True)
        proc = ctx.Process(target=_worker_main, args=(child, self.nudity, self.ocr), name="triagebot-image-worker", daemon=True)
        proc.start()
        child.close()
        w = _Worker(proc, parent)
        try:
            if not parent.poll(self.start_timeout):
                raise ImageWorkerError(f"image worker did not start within {self.start_timeout:g} s")
            status, payload = parent.recv()
        except (EOFError, OSError) as exc:
            w.kill()
            raise ImageWorkerError(f"image worker exited while starting ({type(exc).__name__})") from None
        except Exception:
            w.kill()
            raise
        if status != "ready":
            w.kill()
            raise ImageWorkerError(str(payload))
        self.started += 1
        log.info("image worker %d started (nudity %s)", w.pid, "on" if self.nudity else "off")
        return w

    def _acquire(self) -> _Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise ImageWorkerError("the image worker pool is closed")
                if self._idle:
                    w = self._idle.pop()
                    if w.proc.is_alive():
                        return w
                    # died while idle (e.g. the OOM killer): no image should pay for that
                    log.warning("image worker %d died while idle (exit %s)", w.pid, w.proc.exitcode)
                    w.kill()
                    self._live -= 1
                    continue
                if self._live < self.size:
                    self._live += 1
                    break
                self._cond.wait()
        try:
            return self._start()
        except BaseException:
            with self._cond:
                self._live -= 1
                self._cond.notify()
            raise

    def _release(self, w: _Worker) -> None:
        with self._cond:
            if self._closed or not w.proc.is_alive():
                self._live -= 1
                w.kill()
            else:
                self._idle.append(w)
            self._cond.notify()

    def _discard(self, w: _Worker) -> None:
        """Kill a worker that overran or died; a new one starts on the next acquire."""
        log.warning("image worker %d killed", w.pid)
        w.kill()
        with self._cond:
            self._live -= 1
            self.killed += 1
            self._cond.notify()

    @contextlib.contextmanager
    def session(self, timeout: float) -> Iterator[Session]:
        """Hold one worker for one upload; the timeout counts from here, not from the wait."""
        w = self._acquire()
        s = Session(self, w, timeout)
        try:
            yield s
        finally:
            if s.pending and not s.broken:  # interrupted mid-request: its late answer would confuse the next job
                s.broken = True
                self._discard(w)
            if not s.broken:
                self._release(w)

    def pids(self) -> list[int]:
        """Process ids of the idle workers (for tests and the benchmark)."""
        with self._cond:
            return [w.pid for w in self._idle]

    def close(self) -> None:
        """Stop every idle worker; busy ones are stopped when their session ends."""
        with self._cond:
            self._closed = True
            idle = list(self._idle)
            self._idle.clear()
            self._live -= len(idle)
            self._cond.notify_all()
        _kill_all(idle)

    def __enter__(self) -> ImageWorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def scan(
    pool: ImageWorkerPool,
    data: bytes,
    indexes: Sequence[BankIndex] = (),
    *,
    nudity: bool = True,
    records: bool = True,
    limits: Limits = DEFAULT_LIMITS,
    timeout: float | None = None,
    ocr: bool = False,
) -> ScanOutcome:
    """Scan one upload in a worker: nudity verdicts, the first bank match over `indexes`
    (every sampled frame is tried: a GIF or video can hide the picture in a later frame), and the
    bank records of the first frame. Any media kind: stills, animations, MP4/MOV/WebM videos (with
    `Limits.video_timeout`), animated stickers. Raises `ImageRejected` (timeout included)."""
    t = timeout_for(data, limits) + (limits.ocr_timeout if ocr else 0.0) if timeout is None else timeout
    with pool.session(t) as s:
        job = ScanJob(data, nudity=nudity, query=bool(indexes), records=records, limits=limits, ocr=ocr, query_pdq=any(i.matches_pdq for i in indexes))
        reply: ScanReply = s.call("scan", job)
        match = None
        try:
            for i, (hashes, variants, pdq) in enumerate(reply.queries):
                fp = Fingerprint(hashes=hashes, variants=variants, pdq=pdq, _orb_source=functools.partial(s.call, "orb", i))
                for idx in indexes:
                    match = idx.match(fp)
                    if match is not None:
                        break
                if match is not None:
                    break
        except TriagebotError:  # the worker overran or died while asked for keypoints
            raise
        except Exception:  # a broken bank must not cost the nudity verdict
            log.exception("bank matching failed")
    return ScanOutcome(
        verdicts=list(reply.verdicts),
        match=match,
        records=reply.records,
        format=reply.format,
        size=reply.size,
        n_frames=reply.n_frames,
        peak_rss=reply.peak_rss,
        text=reply.text,
        sampled=reply.sampled,
    )


def fingerprint_records(pool: ImageWorkerPool, data: bytes, limits: Limits = DEFAULT_LIMITS) -> list[tuple[str, bytes]]:
    """Bank records (hashes + keypoints) of an image someone registers. Raises `ImageRejected`."""
    out = scan(pool, data, nudity=False, records=True, limits=limits)
    assert out.records is not None
    return out.records


__all__ = [
    "ImageRejected",
    "ImageWorkerError",
    "ImageWorkerPool",
    "ScanJob",
    "ScanOutcome",
    "ScanReply",
    "Session",
    "fingerprint_records",
    "peak_rss",
    "scan",
]
