"""Each followed market's recent prices, kept where every web process can read them, so
a browser that starts watching a market draws a full chart from its first second
instead of an empty one beside whale marks that span the whole width.

The feed runner's ``MarketPublisher`` adds a point per trade and per coalesced book
change (the mid), keeps the newest ``POINTS`` per market in memory, and saves them
to the ``market_history`` cache (Redis in the services shape, this process's memory
in the embedded default, where the runner and the web server are one process) at most
every ``SAVE_INTERVAL`` seconds. The events socket hands them over with the answer to
``subscribe_market``; live ``market`` events carry on from there.
"""

import logging
import time
from collections import deque

from django.core.cache import caches

logger = logging.getLogger(__name__)

CACHE = "market_history"
# The dashboard's chart keeps 300 points (static/dashboard/app.js CHART_POINTS): more
# would never be drawn.
POINTS = 300
# The chart shows ten minutes (CHART_SECONDS): one point per two seconds spreads
# POINTS over all of it, where every coalesced event (four a second) would fill them in
# 75 s.
SPACING = 2.0
# Saving a market's history costs one Redis write of ~5 KB; the newest seconds reach a
# browser in the live events anyway, so a few seconds' lag of the saved copy is unseen.
SAVE_INTERVAL = 5.0
# A history nobody refreshed for ten minutes belongs to a runner that stopped.
TTL = 600


def key(ticker: str) -> str:
    return f"prices:{ticker}"


class PriceHistory:
    """The runner's side: points per market, saved now and then."""

    def __init__(self) -> None:
        self._points: dict[str, deque[tuple[float, int]]] = {}
        self._saved_at: dict[str, float] = {}
        self.save_failures = 0

    def add(self, ticker: str, ts: float, price: int) -> None:
        points = self._points.setdefault(ticker, deque(maxlen=POINTS))
        if points and abs(ts - points[-1][0]) < SPACING:
            return
        points.append((ts, price))

    def due(self, ticker: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        return ticker in self._points and now - self._saved_at.get(ticker, float("-inf")) >= SAVE_INTERVAL

    async def save(self, ticker: str) -> None:
        """Save ``ticker``'s points; a cache that is down is counted and logged, never raised."""
        self._saved_at[ticker] = time.monotonic()
        points = sorted(self._points.get(ticker, ()))
        try:
            await caches[CACHE].aset(key(ticker), [[ts, price] for ts, price in points], TTL)
        except Exception as exc:  # the cache (Redis) down must not stop market events
            self.save_failures += 1
            logger.warning("price history of %s not saved: %s", ticker, exc)


async def load(ticker: str) -> list[list[float]]:
    """The saved points of ``ticker``, oldest first, as ``[ts, yes_price]``; empty when none."""
    try:
        return await caches[CACHE].aget(key(ticker)) or []
    except Exception as exc:  # no history is a chart that fills live, not a failed subscription
        logger.warning("price history of %s not read: %s", ticker, exc)
        return []
