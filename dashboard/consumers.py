"""The browsers' WebSocket: authentication, groups, JSON in and out. Nothing else."""

from channels.generic.websocket import AsyncWebsocketConsumer

from trading import events

# Application close code for "log in first" (4000-4999 are the application's).
CLOSE_UNAUTHENTICATED = 4401


class EventsConsumer(AsyncWebsocketConsumer):
    groups: list[str] = []

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        await self.channel_layer.group_add(events.EVENTS_GROUP, self.channel_name)
        self.groups = [events.EVENTS_GROUP]
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in self.groups:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def broadcast(self, message: dict) -> None:
        """A group message holding a finished envelope: forward the text as it is."""
        await self.send(text_data=message["text"])
