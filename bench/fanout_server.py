"""The ASGI application bench/fanout.py runs under daphne: the project's own, with
the events consumer taught one more group message, so the same run can compare
serializing a broadcast once (the project's way) with serializing it per browser.

``{"type": "broadcast", "text": ...}`` is the project's path, unchanged.
``{"type": "broadcast.data", "event": {...}}`` is the per-client path: every
consumer encodes the event itself with the stdlib ``json``, as Channels'
``AsyncJsonWebsocketConsumer.send_json`` does.
"""

import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "v3site.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from dashboard.consumers import EventsConsumer  # noqa: E402


class PerClientConsumer(EventsConsumer):
    def on_group_message(self, message: dict) -> None:
        if message["type"] == "broadcast.data":
            self.queue(json.dumps(message["event"]))
        else:
            super().on_group_message(message)


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter([path("ws/events/", PerClientConsumer.as_asgi())]))
        ),
    }
)
