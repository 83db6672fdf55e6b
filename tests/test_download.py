import aiohttp
import pytest
from aiohttp import web

from bot.download import DownloadRefused, download_capped


@pytest.fixture
async def server():
    async def small(request):
        return web.Response(body=b"x" * 100)

    async def big_streamed(request):  # no Content-Length: only the running count can stop it
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(100):
            await resp.write(b"y" * 10_000)
        return resp

    app = web.Application()
    app.router.add_get("/small", small)
    app.router.add_get("/big", big_streamed)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    async with aiohttp.ClientSession() as session:
        yield session, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.mark.parametrize(
    "path, cap, expected",
    [
        ("/small", 1000, b"x" * 100),
        ("/small", 100, b"x" * 100),
        ("/small", 99, "over the 99 byte cap"),
        ("/big", 50_000, "exceeds the 50000 byte cap"),
        ("/missing", 1000, "HTTP 404"),
    ],
)
async def test_download_capped(server, path, cap, expected):
    session, base = server
    if isinstance(expected, bytes):
        assert await download_capped(session, base + path, cap) == expected
    else:
        with pytest.raises(DownloadRefused, match=expected):
            await download_capped(session, base + path, cap)
