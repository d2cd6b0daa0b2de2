"""Running the feed as a process: choose the markets, build the clients and the runner,
become the active runner for them (or wait as a hot standby, everything built), run
until told to stop, stop gracefully. ``manage.py run_feeds`` and ``run_all`` call ``serve``."""

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings

from trading import publisher
from trading.config import FeedConfig
from trading.feed.lock import AdvisoryLock, market_set_name, needs_lock
from trading.feed.markets import NoMarkets, UnknownMarkets, select_markets
from trading.feed.recording import FrameRecorder, record_dir_from
from trading.feed.runner import FeedRunner
from trading.kalshi.errors import KalshiApiError, KalshiResponseError, KalshiTransportError
from trading.kalshi.rest import KalshiRestClient
from trading.kalshi.ws import KalshiWebSocket

logger = logging.getLogger(__name__)

# How long the last sends may take at shutdown.
FLUSH_TIMEOUT = 5.0


class StartupFailed(Exception):
    """The runner cannot start; the message says why in one line, for the command to print."""


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
    record: Path | None = None,
) -> str:
    """Run one feed runner until ``stop`` is requested (or its lock is lost); returns why it ended.

    ``StartupFailed`` when the markets cannot be chosen (none open, unknown tickers, the
    exchange unreachable after the REST client's retries): a runner starts with a known
    set of markets or not at all. ``record`` (else ``FEED_RECORD_DIR``) records every raw
    frame the exchange sends (trading.feed.recording)."""
    pub = publisher.get_publisher()
    # Sync publishes (state rows, whales) go out on this loop: one loop per process,
    # which is also what the in-memory channel layer needs.
    pub.attach(asyncio.get_running_loop())
    own_rest = rest is None
    rest = rest or KalshiRestClient.from_settings()
    market_set = market_set_name(explicit, count)
    lock = AdvisoryLock(market_set) if needs_lock() else None
    config = config or settings.FEED
    folder = record_dir_from(str(record) if record else None, config.record_dir)
    recorder = FrameRecorder(folder, keep_hours=config.record_keep_hours) if folder else None
    try:
        # A hot standby has done all of this before it gets the lock, so a takeover
        # only connects, subscribes and backfills.
        tickers = await _markets(explicit, count, rest)
        # A feed runner never gives up on the exchange: it backs off (up to a minute) and reports error meanwhile.
        client = client or KalshiWebSocket.from_settings(max_attempts=0)
        client.recorder = recorder
        runner = FeedRunner(
            client,
            tickers,
            config,
            rest=rest,
            market_set=market_set,
            components=[*([lock] if lock else []), *([recorder] if recorder else [])],
            replace_closed=not explicit,
            # Given tickers narrow everything to them; else the whole exchange's trades and quotes.
            exchange_wide=not explicit,
        )
        if lock is not None and not await _acquire(lock, stop):
            return "stopped while standing by"
        return await _run_active(runner, stop, lock)
    finally:
        if recorder is not None:
            recorder.close()
        if lock is not None:
            await lock.release()
        if own_rest:
            await rest.aclose()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pub.drained(), FLUSH_TIMEOUT)


async def _markets(explicit: Sequence[str], count: int, rest: KalshiRestClient) -> list[str]:
    try:
        return await select_markets(explicit=explicit, count=count, rest=rest)
    except (NoMarkets, UnknownMarkets) as exc:
        raise StartupFailed(str(exc)) from None
    except (KalshiApiError, KalshiResponseError, KalshiTransportError) as exc:
        logger.error("listing markets failed: %s", exc)
        raise StartupFailed(
            f"the exchange at {rest.rest_url} did not list its markets (after {rest.max_retries} retries): {exc}"
        ) from None


async def _acquire(lock: AdvisoryLock, stop: Stop) -> bool:
    """Wait for the lock or the stop, whichever comes first; True when this runner is active."""
    acquiring = asyncio.ensure_future(lock.acquire())
    stopping = asyncio.ensure_future(stop.event.wait())
    await asyncio.wait({acquiring, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not acquiring.done():
        acquiring.cancel()
        return False
    return True


async def _run_active(runner: FeedRunner, stop: Stop, lock: AdvisoryLock | None) -> str:
    waits: dict[asyncio.Future[Any], str] = {asyncio.ensure_future(stop.event.wait()): "stop"}
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
