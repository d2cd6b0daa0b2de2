"""ASGI entry point: HTTP through Django, WebSockets through Channels behind the
same-origin check (dashboard.origin) and the session/auth middleware (dashboard.sessions)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "v3site.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from dashboard.origin import SameOriginValidator  # noqa: E402  (needs the app registry ready)
from dashboard.routing import websocket_urlpatterns  # noqa: E402
from dashboard.sessions import websocket_auth  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginValidator(websocket_auth(URLRouter(websocket_urlpatterns))),
    }
)
