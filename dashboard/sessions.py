"""The browsers' session and user on ``/ws/events/``, without a wrapper around ``send``.

Channels' ``SessionMiddleware`` wraps every ``send`` of the connection to save a
modified session and set its cookie on ``http.response.start``, a message a
WebSocket never sends. On a socket that forwards thousands of broadcasts a second
that wrapper was ~10 % of daphne's CPU (bench/README.md, fanout), for nothing. So
the WebSocket stack puts the same session in the scope and passes ``send`` through.
Nothing on this socket changes the session: logging in and out happen over HTTP.

The user in the scope is read once, at connect; ``session_user`` reads it again,
so that a socket follows its session (logout, password change, deactivation,
expiry) instead of the moment it was opened.
"""

import hashlib
from importlib import import_module
from typing import Any

from channels.auth import AuthMiddleware, get_user
from channels.sessions import CookieMiddleware
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser


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


async def session_user(session_key: str | None) -> AbstractBaseUser | None:
    """The user session ``session_key`` is logged in as now, read afresh from the
    session store and the database; None once the session has ended (logged out,
    expired, its password hash outdated, the user deactivated or deleted)."""
    if not session_key:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = await get_user({"session": store})
    return user if user.is_authenticated else None


def session_fingerprint(session_key: str | None) -> str:
    """A session key's digest: what says "this session ended" between processes, since
    the key itself is a password-equivalent that must not travel or be logged."""
    return hashlib.sha256((session_key or "").encode()).hexdigest()
