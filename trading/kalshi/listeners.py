"""The market-data client's fan-out to its consumers: bounded queues of typed messages.

* The reader never awaits a consumer: it applies book changes itself, then offers
  each message to every interested ``Listener`` with ``put_nowait``. A full queue
  drops that message for that listener and counts it (``listener.dropped`` and
  ``metrics.drops``). For the private channels (fill, user_order, market_position)
  a drop is a missed account event: it is logged, and the consumer must reconcile
  from REST (orders, fills, positions) whenever ``listener.dropped`` grew, as it must
  after every reconnect anyway (PROTOCOL.md 6.5).
"""

import asyncio
import logging
from typing import Any

from trading.kalshi import messages as m
from trading.kalshi.feed_metrics import FeedMetrics

log = logging.getLogger(__name__)

# Listener queues: ~10 s of one busy market's deltas, so a consumer that stalls for
# a moment loses nothing, while a dead one cannot grow memory without bound.
DEFAULT_QUEUE_SIZE = 10_000
# Log every Nth drop per listener: a stalled consumer must not flood the log.
DROP_LOG_EVERY = 1_000


class Listener:
    """A bounded queue of typed messages the reader fills without waiting."""

    def __init__(self, types: frozenset[type], maxsize: int):
        self.types = types
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)
        self.dropped = 0

    async def get(self) -> Any:
        return await self.queue.get()

    def offer(self, msg: Any, metrics: FeedMetrics) -> None:
        try:
            self.queue.put_nowait(msg)
        except asyncio.QueueFull:
            self.dropped += 1
            metrics.drops += 1
            if isinstance(msg, m.PRIVATE_TYPES) or self.dropped % DROP_LOG_EVERY == 1:
                log.warning(
                    "listener queue full (%d): dropped %s (%d dropped so far)%s",
                    self.queue.maxsize,
                    type(msg).__name__,
                    self.dropped,
                    "; reconcile orders/fills/positions from REST" if isinstance(msg, m.PRIVATE_TYPES) else "",
                )


class Listeners:
    """Every listener, and by message type the ones that want it."""

    def __init__(self, metrics: FeedMetrics) -> None:
        self._metrics = metrics
        self._listeners: list[Listener] = []
        self._routes: dict[type, list[Listener]] = {}

    def add(self, types: frozenset[type], maxsize: int) -> Listener:
        listener = Listener(types, maxsize)
        self._listeners.append(listener)
        self._route()
        return listener

    def remove(self, listener: Listener) -> None:
        self._listeners.remove(listener)
        self._route()

    def deliver(self, msg: Any) -> None:
        for listener in self._routes.get(type(msg), ()):
            listener.offer(msg, self._metrics)

    def _route(self) -> None:
        self._routes = {}
        for listener in self._listeners:
            for type_ in listener.types:
                self._routes.setdefault(type_, []).append(listener)
