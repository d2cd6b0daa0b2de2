"""The WebSocket handshake's origin check: same scheme, host and port as the page.

Browsers send cookies with a WebSocket handshake whatever page opened it, so a
socket must come from this site's own pages. Channels' AllowedHostsOriginValidator
compares the host name only: a page on another port of the same host (another
service on 127.0.0.1, say) could open a logged-in trader's socket. Here the
``Origin`` must be the origin the request itself was made to (the ``Host`` header,
which must be in ALLOWED_HOSTS, and ws -> http, wss -> https), or be listed in
CSRF_TRUSTED_ORIGINS, as Django's own CSRF check allows for forms.

daphne puts no ``scheme`` in a WebSocket's scope, so over TLS the scheme is known
the way Django knows it for HTTP requests: from SECURE_PROXY_SSL_HEADER, when the
TLS-terminating proxy sets it. Without it an ``https://`` page's socket is
refused unless its origin is in CSRF_TRUSTED_ORIGINS.
"""

import logging
from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

logger = logging.getLogger(__name__)

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin_tuple(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin, the default port filled in; None if malformed."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[parts.scheme]


def _scheme(scope: dict[str, Any], headers: dict[bytes, bytes]) -> str:
    """http or https, as the browser saw the page: the server's word (uvicorn sets the
    scope's scheme) or the trusted proxy's (SECURE_PROXY_SSL_HEADER, as for requests)."""
    if scope.get("scheme") in ("ws", "wss"):
        return "https" if scope["scheme"] == "wss" else "http"
    if settings.SECURE_PROXY_SSL_HEADER:
        meta_name, secure_value = settings.SECURE_PROXY_SSL_HEADER
        header = meta_name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1")
        # As Django: the first value when a proxy chain sent several.
        value = headers.get(header, b"").decode("latin-1").split(",")[0].strip()
        if value:
            return "https" if value == secure_value else "http"
    return "http"


def allowed_origin(scope: dict[str, Any]) -> bool:
    """Whether the handshake in ``scope`` comes from this site's own origin."""
    headers = dict(scope.get("headers", ()))
    origin = headers.get(b"origin", b"").decode("latin-1")
    host = headers.get(b"host", b"").decode("latin-1")
    domain, _ = split_domain_port(host)
    if not origin or not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    claimed = _origin_tuple(origin)
    if claimed is None:
        return False
    if claimed == _origin_tuple(f"{_scheme(scope, headers)}://{host}"):
        return True
    return claimed in {_origin_tuple(trusted) for trusted in settings.CSRF_TRUSTED_ORIGINS}


class SameOriginValidator:
    """ASGI middleware refusing WebSocket handshakes from any other origin (HTTP 403)."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not allowed_origin(scope):
            headers = dict(scope.get("headers", ()))
            logger.warning(
                "WebSocket handshake refused: origin %r is not this site (host %r)",
                headers.get(b"origin", b"").decode("latin-1")[:200],
                headers.get(b"host", b"").decode("latin-1")[:200],
            )
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
