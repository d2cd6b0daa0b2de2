"""The ASGI application bench/fanout.py runs under the web server: the project's own, with
the events consumer taught one more group message, so the same run can compare
serializing a broadcast once (the project's way) with serializing it per browser.

``{"type": "broadcast", "text": ...}`` is the project's path, unchanged.
``{"type": "broadcast.data", "event": {...}}`` is the per-client path: every
consumer encodes the event itself with the stdlib ``json``, as Channels'
``AsyncJsonWebsocketConsumer.send_json`` does.

``/ws/stock/`` is the textbook Channels consumer for comparison: every browser's
own channel joins the group (no per-process hub) and ``send_json`` encodes each
event per browser.
"""

import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "v3site.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.generic.websocket import AsyncJsonWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from dashboard.consumers import CLOSE_UNAUTHENTICATED, EventsConsumer  # noqa: E402
from dashboard.origin import SameOriginValidator  # noqa: E402
from dashboard.sessions import websocket_auth  # noqa: E402
from trading import events  # noqa: E402


class PerClientConsumer(EventsConsumer):
    def on_group_message(self, message: dict) -> None:
        if message["type"] == "broadcast.data":
            self.queue(json.dumps(message["event"]))
        else:
            super().on_group_message(message)


class StockConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        if not self.scope["user"].is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        await self.channel_layer.group_add(events.EVENTS_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(events.EVENTS_GROUP, self.channel_name)

    async def broadcast_data(self, message: dict) -> None:
        await self.send_json(message["event"])


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginValidator(
            websocket_auth(
                URLRouter(
                    [
                        path("ws/events/", PerClientConsumer.as_asgi()),
                        path("ws/stock/", StockConsumer.as_asgi()),
                    ]
                )
            )
        ),
    }
)
