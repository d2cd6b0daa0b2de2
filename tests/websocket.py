"""Connecting the real ASGI application's WebSocket in-process, as a browser would."""

from channels.testing import WebsocketCommunicator

from v3site.asgi import application


def events_socket(
    cookie: bytes | None = None, origin: bytes = b"http://localhost", path: str = "/ws/events/"
) -> WebsocketCommunicator:
    headers = [(b"host", b"localhost"), (b"origin", origin)]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, path, headers=headers)
