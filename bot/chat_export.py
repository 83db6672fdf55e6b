"""Evidence exports the bots upload in chat: built off the event loop, and fitted to the platform's upload limit.

An export of a busy server is megabytes and takes a second or more to build (about 2 KB and 0.2 ms per
flag), so it is built in a worker thread on a reader connection of its own: detection and alerts go on
meanwhile. Discord takes 10 MiB per upload in most servers and Telegram 50 MB from a bot. A file that does
not fit is zipped together with its manifest (CSV and JSON shrink several times); one that still does not
fit is not sent, and the moderator is told how to narrow it (one incident, one member, a time range) or to
run the command-line export on the bot's machine.
"""

from __future__ import annotations

import asyncio
import io
import logging
import zipfile
from dataclasses import dataclass

from bot.export import ExportResult, export_bytes
from bot.store import FlagFilter, Store

log = logging.getLogger(__name__)

#: What a Telegram bot may upload (sendDocument), per the Bot API.
TELEGRAM_UPLOAD_LIMIT = 50 * 1000 * 1000


@dataclass(frozen=True)
class ChatExport:
    """What to upload (name, bytes) and what the moderator is told."""

    files: tuple[tuple[str, bytes], ...]
    rows: int
    sha256: str
    size: int  # bytes of the export file itself
    zipped: bool = False

    @property
    def too_big(self) -> bool:
        """Nothing to upload: over the limit even zipped."""
        return not self.files


async def build(store: Store, fmt: str, which: FlagFilter, limit: int) -> ChatExport:
    """One server's export (or one case in it: `which`), packed to fit `limit` bytes."""
    if store.path is None:  # an in-memory store (tests) has no second connection to read through
        return _pack(export_bytes(store, fmt, which), limit)
    return await asyncio.to_thread(_build_in_thread, str(store.path), fmt, which, limit)


def _build_in_thread(path: str, fmt: str, which: FlagFilter, limit: int) -> ChatExport:
    reader = Store.open_reader(path)
    try:
        return _pack(export_bytes(reader, fmt, which), limit)
    finally:
        reader.close()


def _pack(result: ExportResult, limit: int) -> ChatExport:
    manifest_name = result.filename + ".manifest.json"  # where `triagebot verify-export FILE` looks for it
    manifest = result.manifest_json
    rows, sha, size = int(result.manifest["rows"]), str(result.manifest["sha256"]), len(result.data)
    if size + len(manifest) <= limit:
        return ChatExport(((result.filename, result.data), (manifest_name, manifest)), rows, sha, size)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        z.writestr(result.filename, result.data)
        z.writestr(manifest_name, manifest)
    packed = buf.getvalue()
    if len(packed) <= limit:
        log.info("export of %d bytes zipped to %d to fit the %d-byte upload limit", size, len(packed), limit)
        return ChatExport(((result.filename.rsplit(".", 1)[0] + ".zip", packed),), rows, sha, size, zipped=True)
    log.info("export of %d bytes (%d zipped) is over the %d-byte upload limit; not sent", size, len(packed), limit)
    return ChatExport((), rows, sha, size)


def megabytes(n: int) -> str:
    return f"{n / 1e6:.1f}"
