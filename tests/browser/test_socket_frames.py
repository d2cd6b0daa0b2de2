"""The events socket through a real daphne (no browser): what in-process communicators
cannot show, a server's 1 MiB frame limit and the handshake's Origin and Host headers."""

import asyncio
import time

import orjson
import pytest
import websockets
from asgiref.sync import sync_to_async

from dashboard.replay_pages import PAGE_BYTES
from trading import events, publisher

pytestmark = [pytest.mark.needs_postgres, pytest.mark.needs_redis, pytest.mark.django_db(transaction=True)]


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
