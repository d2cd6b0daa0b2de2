"""The events socket through a real web server, uvicorn then daphne (no browser): what in-process communicators
cannot show, a server's 1 MiB frame limit and the handshake's Origin and Host headers."""

import asyncio
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import orjson
import pytest
import websockets
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from dashboard.replay_pages import PAGE_BYTES
from tests.browser.conftest import server_env
from tests.browser.server import web_server
from trading import events, publisher

pytestmark = [pytest.mark.needs_postgres, pytest.mark.needs_redis, pytest.mark.django_db(transaction=True)]

# The slow reader's server holds at most this many messages in its outbox...
OUTBOX_LIMIT = 10
# ...and is sent 10 MB, more than twice what the outbox, uvicorn's 64 KiB write buffer
# and the kernel's socket buffers (4 MB to send on loopback here) together hold.
BROADCASTS = 200
BROADCAST_BYTES = 50_000


def ws_url(server, query: str = "") -> str:
    return server.url.replace("http://", "ws://") + f"/ws/events/{query}"


def headers(cookie: bytes, origin: str) -> dict[str, str]:
    return {"Cookie": cookie.decode(), "Origin": origin}


async def recv(socket) -> str:
    """The next message; a frame the server dropped (over its limit) fails here, not in a hang."""
    try:
        async with asyncio.timeout(30):
            return await socket.recv()
    except TimeoutError:
        pytest.fail("the server sent nothing more: a frame over its 1 MiB limit was dropped?")


async def closed_too_slow(server, cookie: bytes) -> int:
    """The server's count of browsers it closed for reading too slowly, once it is not 0
    (or 0 after 30 s)."""
    async with httpx.AsyncClient(base_url=server.url, headers={"Cookie": cookie.decode()}) as client:
        for _ in range(60):
            components = (await client.get("/api/status")).raise_for_status().json()["components"]
            sockets = next(c for c in components if c["name"] == "browser_sockets")
            if sockets["metrics"]["closed_too_slow"]:
                return sockets["metrics"]["closed_too_slow"]
            await asyncio.sleep(0.5)
    return 0


def store(message: str) -> int:
    return publisher.store(events.SYSTEM_ACTIVITY, events.activity(source="test", message=message), time.time())


async def test_a_catch_up_of_over_a_megabyte_arrives_whole_through_a_real_server(server, user, session_cookie):
    """One message of it all was over daphne's 1 MiB frame limit and never arrived."""
    cookie = await sync_to_async(session_cookie)(user)

    @sync_to_async
    def history():
        seen = store("seen")
        return seen, [store(f"missed {n} " + "x" * 2_000) for n in range(600)]  # ~1.3 MB

    seen, missed = await history()
    async with websockets.connect(
        ws_url(server, f"?last_event_id={seen}"), additional_headers=headers(cookie, server.url)
    ) as socket:
        frames = [await recv(socket), await recv(socket)]
        assert orjson.loads(frames[0])["type"] == events.CONNECTION
        while orjson.loads(frames[-1])["data"]["more"]:
            frames.append(await recv(socket))
        assert sum(len(frame.encode()) for frame in frames) > 1024 * 1024
        assert all(len(frame.encode()) <= PAGE_BYTES for frame in frames)
        received = [e["id"] for frame in frames[1:] for e in orjson.loads(frame)["data"]["events"]]
        assert received == missed
        live = await publisher.apublish(events.SYSTEM_ACTIVITY, events.activity(source="test", message="live"))
        assert orjson.loads(await recv(socket))["id"] == live


async def test_a_real_server_refuses_a_page_of_another_port_on_its_host(server, user, session_cookie):
    cookie = await sync_to_async(session_cookie)(user)
    port = int(server.url.rsplit(":", 1)[1])
    other = f"http://127.0.0.1:{port + 1 if port < 65535 else port - 1}"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(ws_url(server), additional_headers=headers(cookie, other)):
            pass
    assert refused.value.response.status_code == 403
    async with websockets.connect(ws_url(server), additional_headers=headers(cookie, server.url)) as socket:
        assert orjson.loads(await recv(socket))["data"]["user"] == user.username


async def test_a_browser_that_stops_reading_is_closed_too_slow_under_uvicorn(
    transactional_db, tmp_path, user, session_cookie
):
    """uvicorn's send waits while the socket's write buffer is full, so what a browser that
    stops reading holds is bounded: its outbox fills and it is closed (4409). (daphne's
    send never waits: it would buffer every frame, so this is the default server's.)"""
    env = dict(server_env(tmp_path), DASHBOARD_OUTBOX_LIMIT=str(OUTBOX_LIMIT))
    web = web_server(env, log=tmp_path / "web.log", server="uvicorn")
    await sync_to_async(web.start)()
    try:
        cookie = await sync_to_async(session_cookie)(user)
        with stopped_reader(web, cookie):
            layer = get_channel_layer()
            for n in range(BROADCASTS):
                text = events.envelope(events.SYSTEM_ACTIVITY, {"n": n, "pad": "x" * BROADCAST_BYTES})
                await layer.group_send(events.EVENTS_GROUP, events.group_message(text))
            assert await closed_too_slow(web, cookie) == 1
    finally:
        await sync_to_async(web.close)()


@contextmanager
def stopped_reader(server, cookie: bytes) -> Iterator[socket.socket]:
    """A browser's socket that completes the handshake and then never reads again. Its
    receive buffer is set small before connecting, so that the kernel does not grow it
    (up to 32 MB here): what it holds is the server's to hold."""
    reader = socket.socket()
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    reader.settimeout(30)
    reader.connect(("127.0.0.1", server.port))
    reader.sendall(
        (
            f"GET /ws/events/ HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {server.url}\r\nCookie: {cookie.decode()}\r\n\r\n"
        ).encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += reader.recv(4096)
    assert response.startswith(b"HTTP/1.1 101"), response
    try:
        yield reader
    finally:
        reader.close()
