"""The ASGI server's own cost, for bench/fanout.py's ``floor`` mode: a bare ASGI
application (no Django, no Channels, no Redis, no auth) that serializes each broadcast
once and awaits every socket's ``send`` in turn, as ``websockets.broadcast`` does in
the ``bare`` mode. What ``once`` costs above this is the project's; what this costs
above ``bare`` is the server's (uvicorn or daphne).

``POST /broadcast?messages=N&rate=R`` broadcasts N events at R a second and answers
when the last one is handed to the server; ``GET /healthz`` answers 200.
"""

import asyncio
import time
from urllib.parse import parse_qs

from bench.fanout import bare_text

# Every open socket's ``send``.
sends: set = set()


async def application(scope: dict, receive, send) -> None:
    if scope["type"] == "websocket":
        await websocket(receive, send)
    elif scope["type"] == "http":
        await http(scope, receive, send)


async def websocket(receive, send) -> None:
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    sends.add(send)
    try:
        while (await receive())["type"] != "websocket.disconnect":
            pass
    finally:
        sends.discard(send)


async def http(scope: dict, receive, send) -> None:
    if scope["path"] == "/broadcast":
        query = parse_qs(scope["query_string"].decode())
        await broadcast(int(query["messages"][0]), float(query["rate"][0]))
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def broadcast(messages: int, rate: float) -> None:
    start = time.monotonic()
    for seq in range(messages):
        await asyncio.sleep(max(0.0, start + seq / rate - time.monotonic()))
        text = bare_text(seq)
        for socket_send in list(sends):
            await socket_send({"type": "websocket.send", "text": text})
