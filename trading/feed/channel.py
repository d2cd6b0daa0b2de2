"""What the feed's channel integrations share: a listener on the client, one
subscription, a reading task, and a clean stop (unsubscribe, stop listening)."""

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, ClassVar

from trading.feed.aio import cancel_and_wait
from trading.kalshi.subscriptions import Subscription
from trading.kalshi.ws import KalshiWebSocket

logger = logging.getLogger(__name__)


class ChannelFeed:
    """Subclasses name ``channels`` and the message ``types`` they read, and implement ``process``;
    ``options`` go with the subscribe command."""

    channels: tuple[str, ...] = ()
    types: tuple[type, ...] = ()
    options: ClassVar[dict[str, Any]] = {}

    def __init__(self, client: KalshiWebSocket, tickers: Sequence[str] = ()) -> None:
        self.client = client
        self.tickers = list(tickers)
        self._listener = client.listen(*self.types)
        self._subscription: Subscription | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._read(), name=f"feed-{'-'.join(self.channels)}")
        self._subscription = await self.client.subscribe(list(self.channels), self.tickers, **self.options)

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
