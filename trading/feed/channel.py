"""What the feed's channel integrations share: a listener on the client, one
subscription, a reading task, and a clean stop (unsubscribe, stop listening)."""

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from trading.feed.aio import cancel_and_wait
from trading.kalshi.subscriptions import Subscription
from trading.kalshi.ws import KalshiWebSocket

logger = logging.getLogger(__name__)


class ChannelFeed:
    """Subclasses name ``channels`` and the message ``types`` they read, and implement ``process``."""

    channels: tuple[str, ...] = ()
    types: tuple[type, ...] = ()

    def __init__(self, client: KalshiWebSocket, tickers: Sequence[str] = ()) -> None:
        self.client = client
        self.tickers = list(tickers)
        self._listener = client.listen(*self.types)
        self._subscription: Subscription | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._read(), name=f"feed-{'-'.join(self.channels)}")
        self._subscription = await self.client.subscribe(list(self.channels), self.tickers)

    async def stop(self) -> None:
        if self._subscription is not None and self.client.connected.is_set():
            try:
                await self.client.unsubscribe(self._subscription)
            except (ConnectionError, TimeoutError) as exc:
                logger.warning("unsubscribe from %s failed: %s", ", ".join(self.channels), exc)
        self._subscription = None
        self.client.unlisten(self._listener)
        if self._task is not None:
            await cancel_and_wait([self._task])

    async def follow(self, tickers: Sequence[str]) -> None:
        """Add markets to the subscription (``update_subscription`` ``add_markets``)."""
        new = [t for t in tickers if t not in self.tickers]
        self.tickers.extend(new)
        if new and self._subscription is not None:
            await self.client.add_markets(self._subscription, new)

    async def unfollow(self, tickers: Sequence[str]) -> None:
        """Take markets off the subscription (``update_subscription`` ``delete_markets``)."""
        gone = [t for t in tickers if t in self.tickers]
        self.tickers[:] = [t for t in self.tickers if t not in gone]
        if gone and self._subscription is not None:
            await self.client.delete_markets(self._subscription, gone)

    @property
    def listener_dropped(self) -> int:
        return self._listener.dropped

    async def _read(self) -> None:
        while True:
            msg = await self._listener.get()
            try:
                await self.process(msg)
            except Exception:
                logger.exception("%s feed: failed on %s", ", ".join(self.channels), type(msg).__name__)

    async def process(self, msg: Any) -> None:
        raise NotImplementedError
