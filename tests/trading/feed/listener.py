"""A Channels group member for tests: keeps one receive running, so checking that
nothing arrived never cancels a receive (channels_redis unsubscribes on cancel)."""

import asyncio
from typing import Any

import orjson
from channels.layers import get_channel_layer

from trading import events

WAIT = 5.0


class GroupListener:
    def __init__(self, layer: Any = None) -> None:
        self.layer = layer or get_channel_layer()
        self.messages: asyncio.Queue[dict] = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self.skipped: list[dict] = []

    async def join(self, *groups: str) -> "GroupListener":
        self.channel = await self.layer.new_channel()
        for group in groups:
            await self.layer.group_add(group, self.channel)
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            await self.messages.put(await self.layer.receive(self.channel))

    async def next_message(self) -> dict:
        return await asyncio.wait_for(self.messages.get(), WAIT)

    async def next_event(self, event_type: str | None = None, **data: object) -> dict:
        """The next envelope of ``event_type`` whose data has the given items, parsed;
        the others are kept in ``skipped``."""
        while True:
            body = orjson.loads((await self.next_message())["text"])
            if (event_type is None or body["type"] == event_type) and all(
                body["data"].get(key) == value for key, value in data.items()
            ):
                return body
            self.skipped.append(body)

    async def next_activity(self, source: str, **details: object) -> dict:
        """The next ``system_activity`` from ``source`` whose details have the given items."""
        while True:
            body = await self.next_event(events.SYSTEM_ACTIVITY, source=source)
            if all(body["data"]["details"].get(key) == value for key, value in details.items()):
                return body
            self.skipped.append(body)

    async def nothing_for(self, seconds: float) -> bool:
        await asyncio.sleep(seconds)
        return self.messages.empty()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
