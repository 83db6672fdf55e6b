"""Streaming HTTP download with a hard byte cap, shared by the adapters (attachments are hostile input)."""

from __future__ import annotations

import logging

import aiohttp

from bot.errors import TriagebotError

log = logging.getLogger(__name__)

CHUNK = 64 * 1024


class DownloadRefused(TriagebotError, ValueError):
    """The server said no, or the body is bigger than allowed."""


async def download_capped(session: aiohttp.ClientSession, url: str, max_bytes: int) -> bytes:
    """Fetch `url`, refusing before reading when the declared length is over `max_bytes`
    and stopping as soon as the body grows past it (a lying Content-Length can't get around it)."""
    async with session.get(url) as resp:
        if resp.status != 200:
            raise DownloadRefused(f"download failed with HTTP {resp.status}")
        if resp.content_length is not None and resp.content_length > max_bytes:
            raise DownloadRefused(f"file is {resp.content_length} bytes, over the {max_bytes} byte cap")
        buf = bytearray()
        async for chunk in resp.content.iter_chunked(CHUNK):
            buf += chunk
            if len(buf) > max_bytes:
                raise DownloadRefused(f"file exceeds the {max_bytes} byte cap")
        return bytes(buf)
