"""Connecting the real ASGI application's WebSocket in-process, as a browser would."""

from channels.testing import WebsocketCommunicator

from v3site.asgi import application


def events_socket(
    cookie: bytes | None = None,
    origin: bytes = b"http://localhost",
    path: str = "/ws/events/",
    host: bytes = b"localhost",
) -> WebsocketCommunicator:
    headers = [(b"host", host), (b"origin", origin)]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, path, headers=headers)
