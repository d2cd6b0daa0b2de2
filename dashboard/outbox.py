"""One browser's outgoing messages: bounded, and newest-wins for ``market`` events.

The consumer's handlers only put finished texts here; one writer task per
connection takes them out and sends them. So a browser that reads slowly holds
up nobody but itself, and what it can hold is bounded:

* a ``market`` event replaces the one still waiting for the same market (a
  stale book is worth nothing once a newer one exists);
* any other event beyond ``limit`` overflows the box; the consumer then closes
  the socket and the browser resumes by event id from the persisted history,
  which is cheaper and more honest than dropping events silently.
"""

import asyncio
from collections import OrderedDict
from itertools import count


class OutboxOverflow(Exception):
    """More messages are waiting for one browser than the outbox holds."""


class Outbox:
    """A FIFO of finished texts with per-market replacement. Single event loop only."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[object, str] = OrderedDict()
        self._seq = count()
        self._ready = asyncio.Event()
        self.coalesced = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, text: str, *, market: str | None = None) -> None:
        """Queue ``text``, a ``market`` event of ``market`` (its ticker, which the group
        message carries) or, with None, any other; raises OutboxOverflow when a
        non-market event finds the box full."""
        if market is not None and ("market", market) in self._items:
            # Newest wins, in the older one's place: the panel updates as soon as it would have.
            self._items[("market", market)] = text
            self.coalesced += 1
            return
        if len(self._items) >= self.limit:
            if market is None:
                raise OutboxOverflow(f"{len(self._items)} messages waiting")
            self.coalesced += 1
            return
        self._items[("market", market) if market is not None else next(self._seq)] = text
        self._ready.set()

    async def get(self) -> str:
        """The oldest waiting text, waiting for one if there is none."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        _, text = self._items.popitem(last=False)
        return text
