"""The browsers' session and user on ``/ws/events/``, without a wrapper around ``send``.

Channels' ``SessionMiddleware`` wraps every ``send`` of the connection to save a
modified session and set its cookie on ``http.response.start``, a message a
WebSocket never sends. On a socket that forwards thousands of broadcasts a second
that wrapper was ~10 % of daphne's CPU (bench/README.md, fanout), for nothing. So
the WebSocket stack puts the same session in the scope and passes ``send`` through.
Nothing on this socket changes the session: logging in and out happen over HTTP.
"""

from importlib import import_module
from typing import Any

from channels.auth import AuthMiddleware
from channels.sessions import CookieMiddleware
from django.conf import settings


class WebSocketSessionMiddleware:
    """``scope["session"]`` from the session cookie, as Channels' SessionMiddleware sets it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.session_store = import_module(settings.SESSION_ENGINE).SessionStore

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if "cookies" not in scope:
            raise ValueError("WebSocketSessionMiddleware needs CookieMiddleware above it")
        session = self.session_store(scope["cookies"].get(settings.SESSION_COOKIE_NAME))
        return await self.inner(dict(scope, session=session), receive, send)


def websocket_auth(inner: Any) -> Any:
    """Channels' ``AuthMiddlewareStack`` for WebSockets: cookies, session, ``scope["user"]``."""
    return CookieMiddleware(WebSocketSessionMiddleware(AuthMiddleware(inner)))
