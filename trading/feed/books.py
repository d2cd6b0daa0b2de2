"""Order-book integration: the Kalshi client keeps one exact book per market (snapshot
+ deltas, resync on gaps); this follows which markets are connected, notices a
reconnection once every market has re-snapshotted on the new connection, and owns
the books' health (message age, lag behind the exchange, markets without a snapshot
after the start-up grace).
"""

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from trading.feed.channel import ChannelFeed
from trading.health import ComponentHealth, Criticality
from trading.kalshi import messages as m
from trading.kalshi.ws import ORDERBOOK_CHANNEL, KalshiWebSocket
from trading.orderbook import OrderBook

logger = logging.getLogger(__name__)


@dataclass
class MarketFeedState:
    snapshots: int = 0
    deltas: int = 0
    last_message: float | None = None  # monotonic
    exchange_ts: float | None = None  # Unix seconds of the newest applied change, from the exchange


class OrderbookFeed(ChannelFeed):
    """Reads the client's book messages (already applied to ``client.books``) and keeps the bookkeeping."""

    channels = (ORDERBOOK_CHANNEL,)
    types = (m.OrderbookSnapshot, m.OrderbookDelta)

    def __init__(
        self,
        client: KalshiWebSocket,
        tickers: Sequence[str],
        *,
        on_change: Callable[[str], None],
        on_reconnected: Callable[[int], Any],
        startup_grace: float,
        max_age: float,
        max_lag: float,
    ) -> None:
        super().__init__(client, tickers)
        self.on_change = on_change
        self.on_reconnected = on_reconnected
        self.startup_grace = startup_grace
        self.max_age = max_age
        self.max_lag = max_lag
        # Wall-clock time when the newest delta was applied minus the exchange's time of it.
        self._lag: float | None = None
        self.markets = {ticker: MarketFeedState() for ticker in self.tickers}
        self.reconnections = 0
        self._connection = 0  # the client's connect count the books are being built on
        self._connection_reported = 1  # the first connection is not a reconnection
        self._awaiting: set[str] = set()
        self._started = time.monotonic()
        self._last_message: float | None = None

    async def start(self) -> None:
        self._started = time.monotonic()
        await super().start()

    async def follow(self, tickers: Sequence[str]) -> None:
        for ticker in tickers:
            self.markets.setdefault(ticker, MarketFeedState())
        await super().follow(tickers)

    async def unfollow(self, tickers: Sequence[str]) -> None:
        await super().unfollow(tickers)
        self._awaiting.difference_update(tickers)

    def get(self, ticker: str) -> OrderBook | None:
        """The live book (read-only by convention: only the client writes it)."""
        return self.client.books.get(ticker)

    def all_synced(self) -> bool:
        return all((book := self.client.books.get(t)) is not None and not book.stale for t in self.tickers)

    async def process(self, msg: m.OrderbookSnapshot | m.OrderbookDelta) -> None:
        self.handle(msg)

    def handle(self, msg: m.OrderbookSnapshot | m.OrderbookDelta) -> None:
        ticker = msg.msg.market_ticker
        state = self.markets.get(ticker)
        if state is None:
            return
        now = time.monotonic()
        state.last_message = self._last_message = now
        if isinstance(msg, m.OrderbookSnapshot):
            state.snapshots += 1
            self._snapshot_seen(ticker)
        else:
            state.deltas += 1
            if msg.msg.ts_ms is not None:
                state.exchange_ts = msg.msg.ts_ms / 1000
                self._lag = time.time() - state.exchange_ts
        self.on_change(ticker)

    def _snapshot_seen(self, ticker: str) -> None:
        connection = self.client.metrics.connects
        if connection != self._connection:
            # A new connection: every market must re-snapshot before the books are whole again.
            self._connection = connection
            self._awaiting = set(self.tickers)
        self._awaiting.discard(ticker)
        if not self._awaiting and connection > 1 and self._connection_reported < connection:
            self._connection_reported = connection
            self.reconnections += 1
            for state in self.markets.values():
                state.snapshots, state.deltas = 1, 0
            logger.info("orderbooks: all %d markets re-snapshotted after reconnect", len(self.tickers))
            self.on_reconnected(len(self.tickers))

    def health(self) -> ComponentHealth:
        now = time.monotonic()
        books = self.client.books
        missing = [t for t in self.tickers if (b := books.get(t)) is None or b.snapshots == 0]
        stale = [t for t in self.tickers if (b := books.get(t)) is not None and b.stale and b.snapshots > 0]
        age = None if self._last_message is None else now - self._last_message
        in_grace = now - self._started < self.startup_grace
        problems = []
        if not self.client.connected.is_set():
            problems.append("exchange disconnected")
        if missing and not in_grace:
            problems.append(f"no snapshot for {len(missing)} market(s): {', '.join(missing[:5])}")
        if age is not None and age > self.max_age:
            problems.append(f"no book message for {age:.0f} s")
        elif age is None and not in_grace:
            problems.append("no book message yet")
        if self._lag is not None and self._lag > self.max_lag:
            problems.append(f"{self._lag:.1f} s behind the exchange")
        return ComponentHealth(
            "orderbooks",
            not problems,
            Criticality.CRITICAL,
            "; ".join(problems) if problems else f"{len(self.tickers) - len(missing) - len(stale)} markets in sync",
            {
                "markets": len(self.tickers),
                "markets_connected": len(self.tickers) - len(missing) - len(stale),
                "resyncing": stale,
                "message_age_s": None if age is None else round(age, 3),
                "lag_s": None if self._lag is None else round(self._lag, 3),
                "reconnections": self.reconnections,
                "snapshots": sum(s.snapshots for s in self.markets.values()),
                "deltas": sum(s.deltas for s in self.markets.values()),
                "in_startup_grace": in_grace,
            },
        )
