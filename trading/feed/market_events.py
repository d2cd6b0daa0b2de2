"""Coalesced ``market`` events: at most ``rate`` a second per market, whatever the
feed's message rate (docs/architecture.md: the raw feed never goes to browsers).

The first change after a quiet period goes out at once; changes during the
following interval are folded into one event at its end, which carries the book
as it is then. So a browser is never more than one interval behind, and never
receives more than ``rate`` events a second per market.
"""

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from trading import publisher
from trading.feed.bus import TradeReceived
from trading.feed.price_history import PriceHistory
from trading.orderbook import OrderBook

logger = logging.getLogger(__name__)

DEPTH_LEVELS = 5
# Trades in each event's tape: what a browser that just subscribed needs to draw one.
TAPE_SIZE = 20


def market_data(
    ticker: str, book: OrderBook | None, trades: list[dict[str, Any]], source_ts: float | None
) -> dict[str, Any]:
    """The ``market`` event payload: top of book, spread and depth in YES terms, the latest trades."""
    top = book.top() if book is not None else None
    return {
        "market_ticker": ticker,
        "stale": book is None or book.stale,
        "top": None
        if top is None
        else {
            "yes_bid": top.yes_bid,
            "yes_bid_size": top.yes_bid_size,
            "yes_ask": top.yes_ask,
            "yes_ask_size": top.yes_ask_size,
            "spread": top.spread,
        },
        "depth": book.depth(DEPTH_LEVELS) if book is not None else {"bids": [], "asks": []},
        "trades": trades,
        # The exchange time of the newest change included: lets a reader measure staleness.
        "source_ts": source_ts,
    }


class MarketPublisher:
    def __init__(
        self,
        get_book: Callable[[str], OrderBook | None],
        *,
        rate: float,
        source_ts: Callable[[str], float | None] = lambda ticker: None,
    ) -> None:
        self.get_book = get_book
        self.source_ts = source_ts
        self.interval = 1.0 / rate
        self._last_sent: dict[str, float] = {}
        self._scheduled: dict[str, asyncio.TimerHandle] = {}
        self._tapes: dict[str, deque[dict[str, Any]]] = {}
        self._tasks: set[asyncio.Task] = set()
        self.history = PriceHistory()
        self.changes = 0
        self.sent = 0

    def mark(self, ticker: str) -> None:
        """The market changed; schedule its event unless one is already due."""
        self.changes += 1
        if ticker in self._scheduled:
            return
        loop = asyncio.get_running_loop()
        delay = self._last_sent.get(ticker, 0.0) + self.interval - time.monotonic()
        self._scheduled[ticker] = loop.call_later(max(0.0, delay), self._fire, ticker)

    def add_trade(self, trade: TradeReceived) -> None:
        tape = self._tapes.setdefault(trade.ticker, deque(maxlen=TAPE_SIZE))
        self.history.add(trade.ticker, trade.ts, trade.yes_price)
        tape.appendleft(
            {
                "trade_id": trade.trade_id,
                "ts": trade.ts,
                "yes_price": trade.yes_price,
                "count": trade.count,
                "taker_side": trade.taker_side,
            }
        )
        self.mark(trade.ticker)

    def forget(self, tickers: list[str]) -> None:
        """Markets no longer booked: their tapes and send times go (a whole-exchange runner's
        books come and go with whales, and these must not grow with every market it ever booked)."""
        for ticker in tickers:
            handle = self._scheduled.pop(ticker, None)
            if handle is not None:
                handle.cancel()
            self._tapes.pop(ticker, None)
            self._last_sent.pop(ticker, None)

    def _fire(self, ticker: str) -> None:
        del self._scheduled[ticker]
        self._last_sent[ticker] = time.monotonic()
        data = market_data(ticker, self.get_book(ticker), list(self._tapes.get(ticker, ())), self.source_ts(ticker))
        top = data["top"]
        if top is not None and top["yes_bid"] is not None and top["yes_ask"] is not None:
            self.history.add(ticker, time.time(), (top["yes_bid"] + top["yes_ask"]) // 2)
        self._spawn(publisher.apublish_market(ticker, data))
        if self.history.due(ticker):
            self._spawn(self.history.save(ticker))
        self.sent += 1

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        """Send what is due now and wait for sends in flight (shutdown)."""
        for ticker, handle in list(self._scheduled.items()):
            handle.cancel()
            self._fire(ticker)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def metrics(self) -> dict[str, int]:
        return {"changes": self.changes, "events_sent": self.sent, "coalesced": self.changes - self.sent}
