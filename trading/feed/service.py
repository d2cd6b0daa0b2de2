"""Running the feed as a process: choose the markets, become the active runner
for them (or wait as a hot standby), run until told to stop, stop gracefully.
``manage.py run_feeds`` and ``run_all`` call ``serve``."""

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence

from trading import publisher
from trading.feed.lock import AdvisoryLock, market_set_name, needs_lock
from trading.feed.markets import select_markets
from trading.feed.runner import FeedConfig, FeedRunner
from trading.kalshi.rest import KalshiRestClient
from trading.kalshi.ws import KalshiWebSocket

logger = logging.getLogger(__name__)

# How long the last sends may take at shutdown.
FLUSH_TIMEOUT = 5.0


class Stop:
    """Why and when to stop: set by a signal handler or by the caller."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.reason = "stop requested"

    def request(self, reason: str) -> None:
        self.reason = reason
        self.event.set()

    def on_signals(self) -> None:
        """SIGTERM and SIGINT stop gracefully (unsubscribe, flush, ``shutdown`` persisted)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request, sig.name)


async def serve(
    *,
    explicit: Sequence[str],
    count: int,
    stop: Stop,
    config: FeedConfig | None = None,
    client: KalshiWebSocket | None = None,
    rest: KalshiRestClient | None = None,
) -> str:
    """Run one feed runner until ``stop`` is requested (or its lock is lost); returns why it ended."""
    pub = publisher.get_publisher()
    # Sync publishes (state rows, whales) go out on this loop: one loop per process,
    # which is also what the in-memory channel layer needs.
    pub.attach(asyncio.get_running_loop())
    lock = AdvisoryLock(market_set_name(explicit, count)) if needs_lock() else None
    if lock is not None:
        acquiring = asyncio.ensure_future(lock.acquire())
        stopping = asyncio.ensure_future(stop.event.wait())
        await asyncio.wait({acquiring, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not acquiring.done():
            acquiring.cancel()
            await lock.release()
            return "stopped while standing by"
        stopping.cancel()
    try:
        return await _run_active(explicit, count, stop, config or FeedConfig.from_settings(), client, rest, lock)
    finally:
        if lock is not None:
            await lock.release()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pub.drained(), FLUSH_TIMEOUT)


async def _run_active(
    explicit: Sequence[str],
    count: int,
    stop: Stop,
    config: FeedConfig,
    client: KalshiWebSocket | None,
    rest: KalshiRestClient | None,
    lock: AdvisoryLock | None,
) -> str:
    if explicit or rest is not None:
        tickers = await select_markets(explicit=explicit, count=count, rest=rest)
    else:
        async with KalshiRestClient.from_settings() as own_rest:
            tickers = await select_markets(explicit=(), count=count, rest=own_rest)
    # A feed runner never gives up on the exchange: it backs off (up to a minute) and reports error meanwhile.
    client = client or KalshiWebSocket.from_settings(max_attempts=0)
    runner = FeedRunner(client, tickers, config, components=[lock] if lock else [])
    waits = {asyncio.ensure_future(stop.event.wait()): "stop"}
    if lock is not None:
        waits[asyncio.ensure_future(lock.watch())] = "feed lock lost"
    reason = stop.reason
    try:
        await runner.start()
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        reason = stop.reason if waits[done.pop()] == "stop" else "feed lock lost"
    finally:
        for waiter in waits:
            waiter.cancel()
        await runner.stop(reason)
    return reason
