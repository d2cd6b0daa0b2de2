"""The feed runner (docs/architecture.md "Processes": feeds): one asyncio loop that keeps the
Kalshi WebSocket, the order books and the trade tape, detects whales, runs the
state machine and health monitor, and publishes to the browsers.

    runner = FeedRunner(client, tickers, settings.FEED, exchange_wide=True)
    await runner.start()
    runner.get_orderbook(ticker)      # the live, exact book (trading.orderbook.OrderBook), or None
    runner.prices.get(ticker)         # Quote(bid, ask, last, ts) of any market (trading.feed.prices)
    await runner.stop("SIGTERM")      # unsubscribe, flush, ``shutdown`` persisted

With ``exchange_wide`` the runner takes the whole exchange's ``trade`` and ``ticker``
streams (whales in every market, every market's quote) and keeps books for ``tickers``
and wherever else they matter (trading.feed.book_markets); without it, trades, quotes
and books are those of ``tickers`` alone (``V3_MARKETS`` narrows it so).

``manage.py run_feeds`` and ``run_all`` are thin adapters over this class.
"""

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from trading import events, publisher, selectors
from trading.config import FeedConfig
from trading.feed.aio import cancel_and_wait
from trading.feed.backfill import TradeBackfill
from trading.feed.book_markets import BookKeeper
from trading.feed.books import OrderbookFeed
from trading.feed.bus import EventBus, FeedReconnected, FillReceived, StateChanged, TradeReceived, WhaleDetected
from trading.feed.fills import FillFeed
from trading.feed.heartbeat import Heartbeat
from trading.feed.lifecycle import LifecycleFeed
from trading.feed.market_events import MarketPublisher
from trading.feed.monitor import HasHealth, HealthMonitor, StatusReporter
from trading.feed.prices import PriceCache, TickerFeed
from trading.feed.state import State, StateMachine
from trading.feed.trades import TradeFeed
from trading.feed.whales import WhaleRule, WhaleTracker
from trading.kalshi.rest import KalshiRestClient
from trading.kalshi.ws import KalshiWebSocket
from trading.orderbook import OrderBook

logger = logging.getLogger(__name__)

OWNER = "feed_runner"
# How long a graceful stop may take for each part (unsubscribe, flush, last status).
STOP_STEP_TIMEOUT = 5.0


def _trading_state() -> tuple[dict[str, Any], int | None]:
    """The account's trading state now, and the version browsers last received."""
    latest = selectors.latest_event(events.TRADING_STATE)
    return selectors.trading_state_data(), None if latest is None else latest["data"].get("version")


class FeedRunner:
    def __init__(
        self,
        client: KalshiWebSocket,
        tickers: Sequence[str],
        config: FeedConfig,
        *,
        rest: KalshiRestClient | None = None,
        market_set: str | None = None,
        components: Sequence[HasHealth] = (),
        replace_closed: bool = False,
        exchange_wide: bool = False,
    ) -> None:
        """``rest`` backfills missed trades and ``market_set`` names the heartbeat; tests
        about the live feed alone may leave them out. A market that closes is no longer
        followed; with ``replace_closed`` (markets chosen by count, not named) the next
        market listed takes its place."""
        self.client = client
        self.tickers = list(tickers)
        self.replace_closed = replace_closed
        self._market_count = len(self.tickers)
        self.config = config
        self.exchange_wide = exchange_wide
        self.started_at = time.time()
        self.bus = EventBus()
        self.machine = StateMachine(on_change=self._state_changed)
        self.prices = PriceCache()
        self.whales = WhaleTracker(
            WhaleRule(min_notional=config.whale_min_notional, relative_factor=config.whale_relative_factor),
            quote=self.prices.get,
        )
        streamed = () if exchange_wide else self.tickers  # no tickers: the whole exchange
        self.books = OrderbookFeed(
            client,
            self.tickers,
            on_change=self._book_changed,
            on_reconnected=self._reconnected,
            startup_grace=config.startup_grace,
            max_age=config.book_max_age,
            max_lag=config.book_max_lag,
        )
        self.market_events = MarketPublisher(
            self.get_orderbook,
            rate=config.market_events_per_second,
            source_ts=self._exchange_ts,
        )
        self.trades = TradeFeed(client, streamed, bus=self.bus, whales=self.whales, max_age=config.trade_max_age)
        self.quotes = TickerFeed(client, streamed, prices=self.prices)
        self.keeper = (
            BookKeeper(
                self.books,
                static=self.tickers,
                window=config.book_whale_window,
                limit=config.max_books,
                on_removed=self.market_events.forget,
            )
            if exchange_wide
            else None
        )
        self.backfill = TradeBackfill(self.trades, rest) if rest is not None else None
        self.fills = FillFeed(client, bus=self.bus)
        self.lifecycle = LifecycleFeed(client, rest=rest, on_closed=self._market_closed, on_created=self._market_listed)
        self.heartbeat = (
            Heartbeat(market_set, lambda: self.machine.state.value, interval=config.heartbeat_interval)
            if market_set is not None
            else None
        )
        self.monitor = HealthMonitor(
            [
                client,
                self.books,
                self.trades,
                self.quotes,
                self.fills,
                self.lifecycle,
                self.whales,
                self.bus,
                publisher.get_publisher(),
                *([self.backfill] if self.backfill else []),
                *([self.keeper] if self.keeper else []),
                *components,
            ],
            self.machine,
        )
        self.reporter = StatusReporter(
            self.status, load_trading_state=self._trading_state_to_send, interval=config.status_interval
        )
        self._synced = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._background: set[asyncio.Task] = set()

    # ---- reading

    def get_orderbook(self, ticker: str) -> OrderBook | None:
        """The live book of ``ticker`` (None for a market this runner keeps no book for);
        stale, and not to be used, until its snapshot came."""
        return self.books.get(ticker)

    def _exchange_ts(self, ticker: str) -> float | None:
        state = self.books.markets.get(ticker)
        return None if state is None else state.exchange_ts

    def status(self) -> dict[str, Any]:
        """The ``trader_status`` payload."""
        components = self.monitor.latest or self.monitor.check()
        return {
            "state": self.machine.state.value,
            "mode": settings.KALSHI.trading_mode,
            "uptime": round(time.time() - self.started_at, 1),
            "started_at": self.started_at,
            "exchange_connected": self.client.connected.is_set(),
            "markets": list(self.books.tickers),
            "exchange_wide": self.exchange_wide,
            "components": [c.to_dict() for c in components],
            "feed": {**self.client.metrics.to_dict(), **self.market_events.metrics()},
            "bus": {
                "queue_utilization": round(self.bus.utilization(), 4),
                "published": self.bus.published,
                "dropped": self.bus.dropped,
            },
            "whales": {"detected": self.whales.whales, "recent": self.whales.queue.items()[:10]},
            "backfill": self.backfill.to_dict() if self.backfill else None,
            "books": self.keeper.to_dict() if self.keeper else None,
            "prices": self.prices.to_dict(),
        }

    # ---- lifecycle

    async def start(self) -> None:
        self.started_at = time.time()
        await self.machine.transition(
            State.INITIALIZING,
            "connecting to the exchange",
            {"markets": self.tickers, "exchange_wide": self.exchange_wide, "url": self.client.url},
        )
        self.bus.start()
        self.bus.subscribe(TradeReceived, self._tape, owner=OWNER, name="market_tape")
        if self.keeper is not None:
            self.bus.subscribe(WhaleDetected, self.keeper.whale_seen, owner=OWNER, name="whale_books")
        self.bus.subscribe(WhaleDetected, self.reporter.trading_changed, owner=OWNER, name="trading_state")
        self.bus.subscribe(FillReceived, self.reporter.trading_changed, owner=OWNER, name="trading_state_fills")
        self.bus.subscribe(StateChanged, self._send_status, owner=OWNER, name="trader_status")
        self.bus.subscribe(FeedReconnected, self._announce_reconnection, owner=OWNER, name="reconnection")
        self.client.start()
        self._tasks = [
            asyncio.create_task(self._connect_and_sync(), name="feed-connect"),
            asyncio.create_task(self.monitor.run(), name="health-monitor"),
            asyncio.create_task(self.reporter.run_status(), name="trader-status"),
            asyncio.create_task(self.reporter.run_trading_state(), name="trading-state"),
        ]
        if self.backfill is not None:
            self._tasks.append(asyncio.create_task(self.backfill.run(), name="trade-backfill"))
        if self.heartbeat is not None:
            self._tasks.append(asyncio.create_task(self.heartbeat.run(), name="heartbeat"))

    async def _connect_and_sync(self) -> None:
        """Subscribe once connected, then ``ready`` when every book has its snapshot (or the grace is over).

        An exchange still unreachable after the start-up grace is an ``error``; the
        client keeps trying, and the runner carries on from there when it connects."""
        try:
            await asyncio.wait_for(self.client.connected.wait(), self.config.startup_grace)
        except TimeoutError:
            await self.machine.transition(State.ERROR, "exchange not reachable within the start-up grace")
            await self.client.connected.wait()
        for feed in (self.books, self.trades, self.quotes, self.fills, self.lifecycle):
            try:
                await feed.start()
            except (ConnectionError, TimeoutError) as exc:
                # The client keeps the subscription and sends it again on its next connection.
                logger.warning("subscribing %s failed (%s); it is sent again on reconnect", feed.channels, exc)
        if self.keeper is not None:
            self._tasks.append(asyncio.create_task(self.keeper.run(), name="book-keeper"))
        try:
            await asyncio.wait_for(self._synced.wait(), self.config.startup_grace)
            reason = f"all {len(self.tickers)} order books in sync"
        except TimeoutError:
            reason = "start-up grace over before every book had a snapshot"
        await self.machine.transition(State.READY, reason, self.books.health().metrics)
        # Straight on to trading (or paused): not after the trading-state throttle's second.
        await self.reporter.send_trading_state_if_changed()

    async def stop(self, reason: str) -> None:
        """Unsubscribe, flush what is pending, persist ``shutdown``; never raises."""
        await cancel_and_wait([*self._tasks, *self._background])
        self._tasks = []
        steps = [
            ("trades", self.trades.stop()),
            *([("trade marks", self.backfill.close())] if self.backfill else []),
            ("quotes", self.quotes.stop()),
            ("fills", self.fills.stop()),
            ("lifecycle", self.lifecycle.stop()),
            ("orderbooks", self.books.stop()),
            ("market events", self.market_events.flush()),
            ("bus", self._stop_bus()),
            ("state", self.machine.transition(State.SHUTDOWN, reason)),
            *([("heartbeat", self.heartbeat.send())] if self.heartbeat else []),
            ("status", self.reporter.send_status()),
            ("exchange connection", self.client.close()),
        ]
        for name, step in steps:
            try:
                await asyncio.wait_for(step, STOP_STEP_TIMEOUT)
            except Exception:
                logger.exception("feed runner stop: %s failed", name)

    async def _stop_bus(self) -> None:
        await asyncio.wait_for(self.bus.drain(), STOP_STEP_TIMEOUT)
        await self.bus.unsubscribe_all(OWNER)
        await self.bus.stop()

    # ---- reactions

    def _tape(self, trade: TradeReceived) -> None:
        """Market events go out for the markets with books (the ones browsers watch among
        them), not for every market of the exchange's trade stream."""
        if trade.ticker in self.books.markets:
            self.market_events.add_trade(trade)

    def _book_changed(self, ticker: str) -> None:
        self.market_events.mark(ticker)
        if not self._synced.is_set() and self.books.all_synced():
            self._synced.set()

    def _reconnected(self, markets: int) -> None:
        self._spawn(self.bus.publish(FeedReconnected(markets)))

    def _state_changed(self, previous: State, to: State, reason: str) -> None:
        self._spawn(self.bus.publish(StateChanged(previous.value, to.value, reason)))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _market_closed(self, ticker: str) -> None:
        """A followed market stopped trading: its book and tape are no longer read (its
        settlement still is, on the lifecycle channel)."""
        if ticker not in self.tickers:
            return
        self.tickers.remove(ticker)
        await self.books.unfollow([ticker])
        await self.trades.unfollow([ticker])
        await self._market_activity(f"market {ticker} closed: no longer followed", ticker)

    async def _market_listed(self, ticker: str) -> None:
        if not self.replace_closed or ticker in self.tickers or len(self.tickers) >= self._market_count:
            return
        self.tickers.append(ticker)
        await self.books.follow([ticker])
        await self.trades.follow([ticker])
        await self._market_activity(f"market {ticker} listed: followed in place of a closed one", ticker)

    async def _market_activity(self, message: str, ticker: str) -> None:
        await publisher.apublish(
            events.SYSTEM_ACTIVITY,
            events.activity(source="feed", message=message, details={"market_ticker": ticker, "markets": self.tickers}),
        )

    async def _announce_reconnection(self, event: FeedReconnected) -> None:
        """Every market re-snapshotted on a new connection (its metrics start over): one console line."""
        await publisher.apublish(
            events.SYSTEM_ACTIVITY,
            events.activity(
                source="feed",
                message=f"reconnected to the exchange: all {event.markets} order books re-snapshotted",
                details={"markets": event.markets, "reconnections": self.books.reconnections},
            ),
        )

    async def _send_status(self, _event: StateChanged) -> None:
        await self.reporter.send_status()

    async def _trading_state_to_send(self) -> tuple[int, dict[str, Any]] | None:
        """Follow the operator's pause/kill, and return the trading state if browsers have not seen its version."""
        data, sent_version = await sync_to_async(_trading_state)()
        if self.machine.state not in (State.STARTUP, State.INITIALIZING, State.SHUTDOWN):
            halted = data.get("paused") or data.get("killed")
            await self.machine.set_base(
                State.PAUSED if halted else State.TRADING, "trading paused" if halted else "trading enabled"
            )
        if data["version"] == sent_version:
            return None
        return data["version"], data
