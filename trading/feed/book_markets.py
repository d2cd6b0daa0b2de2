"""Books where they matter. Watching the whole exchange's trades and tickers, a runner
keeps order books only for the markets where an exact book is worth its deltas:

1. its own market set (``V3_MARKETS``, or the ``FEED_MARKET_COUNT`` most active),
2. markets where the account holds a position or has an order resting,
3. markets a dashboard user watches (trading.feed.watches),
4. markets with a whale in the last ``FEED_BOOK_WHALE_WINDOW`` seconds,

in that order of priority, at most ``FEED_MAX_BOOKS`` (what the cap leaves out is
counted, the oldest whales first). ``wanted_books`` is the rule, plain Python;
``BookKeeper`` applies it on the runner's loop: at once when a whale is recorded,
and every ``REFRESH_INTERVAL`` for the database's part (positions, orders, watches),
adding and removing markets on the one connection (trading.feed.books).
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from asgiref.sync import sync_to_async

from trading import selectors
from trading.feed.books import OrderbookFeed
from trading.feed.bus import WhaleDetected
from trading.feed.threads import fresh_connection
from trading.health import ComponentHealth, Criticality

logger = logging.getLogger(__name__)

# How often positions, resting orders and watched markets are read again: a market
# panel opened in a browser gets its book within about this long, and the runner
# pays three indexed queries a second.
REFRESH_INTERVAL = 1.0


def wanted_books(
    *,
    static: Sequence[str],
    held: Iterable[str],
    watched: Iterable[str],
    whales: dict[str, float],
    now: float,
    window: float,
    limit: int,
) -> tuple[list[str], int]:
    """The markets to keep books for, in priority order, and how many the ``limit`` left out.
    ``whales`` maps a market to the Unix time of its latest whale."""
    recent = sorted((t for t, at in whales.items() if now - at <= window), key=lambda t: -whales[t])
    wanted = list(dict.fromkeys([*static, *sorted(held), *sorted(watched), *recent]))
    return wanted[:limit], max(0, len(wanted) - limit)


@fresh_connection
def _interest() -> tuple[set[str], set[str]]:
    return selectors.held_markets(), selectors.watched_markets()


class BookKeeper:
    """Keeps ``books`` on ``wanted_books``; the runner starts ``run`` once the books feed has started."""

    def __init__(
        self,
        books: OrderbookFeed,
        *,
        static: Sequence[str],
        window: float,
        limit: int,
        on_removed: Callable[[list[str]], None] = lambda tickers: None,
    ) -> None:
        """``on_removed(tickers)`` after books were removed: what else was kept for them can go."""
        self.books = books
        self.on_removed = on_removed
        self.static = list(static)
        self.window = window
        self.limit = limit
        self.whales: dict[str, float] = {}  # market -> Unix time of its latest whale, pruned past the window
        self.held: set[str] = set()
        self.watched: set[str] = set()
        self.capped = 0  # markets the limit left out at the last refresh
        self.added = 0
        self.removed = 0
        self.failures = 0
        self.last_error = ""
        self._wake = asyncio.Event()

    def whale_seen(self, event: WhaleDetected) -> None:
        """A bus subscriber: the whale's market gets its book at once."""
        self.whales[event.ticker] = time.time()
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                self.held, self.watched = await sync_to_async(_interest)()
            except Exception as exc:  # the database away: keep the books as they are, try again
                self._failed("reading positions, orders and watched markets", exc)
            await self.refresh()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), REFRESH_INTERVAL)

    async def refresh(self) -> None:
        """Add the markets now wanted and remove the ones no longer wanted; never raises."""
        now = time.time()
        self.whales = {t: at for t, at in self.whales.items() if now - at <= self.window}
        wanted, self.capped = wanted_books(
            static=self.static,
            held=self.held,
            watched=self.watched,
            whales=self.whales,
            now=now,
            window=self.window,
            limit=self.limit,
        )
        keep = set(wanted)
        try:
            gone = await self.books.remove([t for t in self.books.tickers if t not in keep])
            new = await self.books.add(wanted)
        except (ConnectionError, TimeoutError) as exc:
            # The subscription already holds the change; the next connection carries it.
            self._failed("changing the book subscription", exc)
            return
        self.added += len(new)
        self.removed += len(gone)
        if gone:
            self.on_removed(gone)
        if new or gone:
            logger.info("books: +%d -%d, %d kept (%s)", len(new), len(gone), len(self.books.tickers), ", ".join(new))
        self.last_error = ""

    def _failed(self, what: str, exc: BaseException) -> None:
        self.failures += 1
        self.last_error = f"{what}: {type(exc).__name__}: {exc}"
        logger.warning("book keeper: %s", self.last_error)

    def to_dict(self) -> dict[str, Any]:
        return {
            "books": len(self.books.tickers),
            "static": len(self.static),
            "held": len(self.held),
            "watched": len(self.watched),
            "whale_markets": len(self.whales),
            "limit": self.limit,
            "capped": self.capped,
            "added": self.added,
            "removed": self.removed,
            "failures": self.failures,
        }

    def health(self) -> ComponentHealth:
        problems = [self.last_error] if self.last_error else []
        if self.capped:
            problems.append(f"{self.capped} market(s) wanted a book beyond FEED_MAX_BOOKS={self.limit}")
        return ComponentHealth(
            "book_keeper", not problems, Criticality.NON_CRITICAL, "; ".join(problems), self.to_dict()
        )
