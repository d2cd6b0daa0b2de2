"""Whale detection: which public trades are big enough to consider following.

A trade is a whale when its notional (count x the price of the side the taker
bought, PROTOCOL.md 6.2) reaches ``WHALE_MIN_NOTIONAL`` dollars, or is at least
``WHALE_RELATIVE_FACTOR`` times the market's rolling median trade notional
(once the market has ``MIN_SAMPLES`` trades, so a quiet market's first trades
don't all count as whales). The rule, the recent-whale queue and the tracker are
plain Python; persisting a whale and handing it to execution is the service
``trading.feed.whale_services.record_whale``.
"""

import time
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trading import units
from trading.feed.bus import TradeReceived
from trading.health import ComponentHealth, Criticality

# Trades per market in the rolling median: enough to be stable against one odd
# print, short enough to follow a market whose activity changes during the day.
MEDIAN_WINDOW = 200
# Below this many trades in the window the relative rule does not apply.
MIN_SAMPLES = 20
# Markets whose windows are kept at once: watching the whole exchange, every market
# that trades gets a window (~9 KB each), so the least recently traded market's
# window goes first beyond this (~45 MB). Kalshi lists a few thousand open markets,
# and far fewer trade in any hour: an evicted market is one quiet for a long while,
# and it only loses its median for its next MIN_SAMPLES trades.
MAX_MARKETS = 5_000
# Whales the feed shows as "recent": at most this many, none older than this.
QUEUE_SIZE = 200
QUEUE_MAX_AGE = 15 * 60.0
# A failure to record a whale keeps the tracker unhealthy (critical) this long.
FAILURE_WINDOW = 60.0
# The price step a whale's "levels swept" are counted in: Kalshi's default grid
# (linear_cent); a market on a finer grid still reads as cents, comparable across markets.
LEVEL_STEP = 100


@dataclass(frozen=True, slots=True)
class WhaleVerdict:
    notional: int  # micro-dollars
    median: int | None  # the market's median before this trade, micro-dollars
    reason: str  # "absolute" or "relative"
    # Features for the strategy report (trading.outcomes): the trade's notional percentile
    # among the market's recent trades, and how far (1/10,000 $, in the whale's direction)
    # and over how many cent levels it moved the price from the market's previous print.
    percentile: int | None = None
    impact: int | None = None
    levels: int | None = None


def trade_notional(trade: TradeReceived) -> int:
    """Micro-dollars the taker paid: count x the price of the outcome it bought."""
    price = trade.yes_price if trade.taker_side == "yes" else units.ONE_DOLLAR - trade.yes_price
    return units.notional(price, trade.count)


class RollingMedian:
    """Median of the last ``size`` values. Every public trade passes through here, so
    it keeps a sorted copy beside the arrival order: two bisects a trade, not a sort."""

    __slots__ = ("_order", "_size", "_sorted")

    def __init__(self, size: int) -> None:
        self._size = size
        self._order: deque[int] = deque()
        self._sorted: list[int] = []

    def __len__(self) -> int:
        return len(self._order)

    def add(self, value: int) -> None:
        if len(self._order) == self._size:
            del self._sorted[bisect_left(self._sorted, self._order.popleft())]
        self._order.append(value)
        insort(self._sorted, value)

    def percentile(self, value: int) -> int | None:
        """Percent of the window strictly below ``value``; None for an empty window."""
        if not self._sorted:
            return None
        return 100 * bisect_left(self._sorted, value) // len(self._sorted)

    def median(self) -> int:
        values, mid = self._sorted, len(self._sorted) // 2
        return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) // 2


class WhaleRule:
    """Per-market rolling medians and the two thresholds. No Django, no I/O."""

    def __init__(
        self,
        *,
        min_notional: int,
        relative_factor: float,
        window: int = MEDIAN_WINDOW,
        max_markets: int = MAX_MARKETS,
    ) -> None:
        if min_notional <= 0 or relative_factor <= 1:
            raise ValueError("whale thresholds: min_notional must be > 0 and relative_factor > 1")
        self.min_notional = min_notional
        self.relative_factor = relative_factor
        self.window = window
        self.max_markets = max_markets
        self.evicted = 0  # market windows dropped to stay within max_markets
        # Insertion-ordered by last trade: the first entry is the least recently traded market.
        self._history: dict[str, RollingMedian] = {}
        self._last_price: dict[str, int] = {}

    def __len__(self) -> int:
        """Markets with a window now."""
        return len(self._history)

    def observe(self, trade: TradeReceived) -> WhaleVerdict | None:
        """Judge ``trade`` against the market's past trades, then add it to them."""
        notional = trade_notional(trade)
        history = self._history.pop(trade.ticker, None)
        if history is None:
            history = RollingMedian(self.window)
            if len(self._history) >= self.max_markets:
                del self._history[next(iter(self._history))]
                self.evicted += 1
        self._history[trade.ticker] = history
        median = history.median() if len(history) >= MIN_SAMPLES else None
        previous = self._last_price.get(trade.ticker)
        self._last_price[trade.ticker] = trade.yes_price
        if notional >= self.min_notional:
            reason = "absolute"
        elif median is not None and median > 0 and notional >= self.relative_factor * median:
            reason = "relative"
        else:
            history.add(notional)
            return None
        percentile = history.percentile(notional)
        history.add(notional)
        impact = None
        if previous is not None:
            impact = trade.yes_price - previous if trade.taker_side == "yes" else previous - trade.yes_price
        levels = None if impact is None else max(impact, 0) // LEVEL_STEP + 1
        return WhaleVerdict(notional, median, reason, percentile, impact, levels)

    def reset(self) -> None:
        self._history.clear()
        self._last_price.clear()


class WhaleQueue:
    """The whales the feed saw recently, bounded by count and pruned by age."""

    def __init__(self, *, size: int = QUEUE_SIZE, max_age: float = QUEUE_MAX_AGE) -> None:
        self._items: deque[tuple[float, dict[str, Any]]] = deque()
        self.size = size
        self.max_age = max_age
        self.overflow = 0
        self.pruned = 0

    def add(self, whale: dict[str, Any], now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.prune(now)
        if len(self._items) >= self.size:
            self._items.popleft()
            self.overflow += 1
        self._items.append((now, whale))

    def prune(self, now: float | None = None) -> None:
        cutoff = (time.time() if now is None else now) - self.max_age
        while self._items and self._items[0][0] < cutoff:
            self._items.popleft()
            self.pruned += 1

    def items(self) -> list[dict[str, Any]]:
        """Newest first."""
        return [whale for _, whale in reversed(self._items)]

    def __len__(self) -> int:
        return len(self._items)


class WhaleTracker:
    """Applies the rule to the feed's trades; owns the recent-whale queue and its health."""

    def __init__(
        self,
        rule: WhaleRule,
        queue: WhaleQueue | None = None,
        *,
        quote: Callable[[str], tuple[Any, ...] | None] = lambda ticker: None,
    ) -> None:
        """``quote(ticker)``: the market's (bid, ask, last, ts) now (trading.feed.prices), shown with its whales."""
        self.rule = rule
        self.queue = queue or WhaleQueue()
        self.quote = quote
        self.trades_seen = 0
        self.whales = 0
        self.duplicates = 0
        self.record_failures = 0
        self.last_failure_at = 0.0
        self.last_error = ""

    def judge(self, trade: TradeReceived) -> WhaleVerdict | None:
        self.trades_seen += 1
        return self.rule.observe(trade)

    def recorded(self, whale: dict[str, Any] | None, verdict: WhaleVerdict) -> None:
        """``whale`` is ``selectors.whale_dict`` of the new row, None for a trade recorded before."""
        if whale is None:
            self.duplicates += 1
            return
        self.whales += 1
        self.queue.add(
            {**whale, "median_notional": verdict.median, "rule": verdict.reason},
            whale["detected_at"],
        )

    def quote_of(self, ticker: str) -> dict[str, Any] | None:
        """The market's quote now, as recorded with a whale: ``{"bid", "ask", "last", "ts"}`` or None."""
        quote = self.quote(ticker)
        return None if quote is None else dict(zip(("bid", "ask", "last", "ts"), quote, strict=True))

    def failed(self, exc: BaseException) -> None:
        self.record_failures += 1
        self.last_failure_at = time.monotonic()
        self.last_error = f"{type(exc).__name__}: {exc}"

    def health(self) -> ComponentHealth:
        self.queue.prune()
        failing = self.record_failures > 0 and time.monotonic() - self.last_failure_at < FAILURE_WINDOW
        return ComponentHealth(
            "whale_tracker",
            not failing,
            Criticality.CRITICAL,
            self.last_error if failing else "",
            {
                "trades_seen": self.trades_seen,
                "whales": self.whales,
                "duplicates": self.duplicates,
                "record_failures": self.record_failures,
                "queue": len(self.queue),
                "queue_overflow": self.queue.overflow,
                "markets": len(self.rule),
                "markets_evicted": self.rule.evicted,
                "min_notional": self.rule.min_notional,
                "relative_factor": self.rule.relative_factor,
            },
        )
