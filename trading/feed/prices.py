"""Every market's bid, ask and last price, from Kalshi's ``ticker`` channel (PROTOCOL.md
6.3), without an order book per market. Watching the whole exchange, the runner keeps
books only where they matter (trading.feed.book_markets); this is what it knows of the
other markets, for the whale queue, the decisions' context and outcome markouts.

Read API (small on purpose; other parts of the project build on it)::

    quote = runner.prices.get(ticker)   # Quote(bid, ask, last, ts) or None (never seen)
    quote.bid, quote.ask, quote.last    # YES prices in 1/10,000 dollars (trading.units), or None
    quote.ts                            # Unix seconds of the exchange's last update

One small tuple per market, at most ``MAX_MARKETS`` of them (the least recently
updated is forgotten first, counted in ``evicted``).
"""

from typing import Any, ClassVar, NamedTuple

from trading.feed.channel import ChannelFeed
from trading.health import ComponentHealth, Criticality
from trading.kalshi import messages as m
from trading.kalshi.ws import KalshiWebSocket

TICKER_CHANNEL = "ticker"
# Kalshi lists some thousands of open markets (tens of thousands with multivariate
# ones); a quote is ~150 bytes, so this bounds the cache near 3 MB while holding
# every market a runner sees in a day.
MAX_MARKETS = 20_000


class Quote(NamedTuple):
    """A market's top of book and last trade price, YES terms, from its latest ``ticker`` message."""

    bid: int | None
    ask: int | None
    last: int | None
    ts: float


class PriceCache:
    """Quotes by market ticker, bounded; plain Python (no I/O), so a unit test can drive it."""

    def __init__(self, max_markets: int = MAX_MARKETS) -> None:
        self.max_markets = max_markets
        self.updates = 0
        self.evicted = 0
        # Insertion-ordered by last update: the first entry is the least recently updated market.
        self._quotes: dict[str, Quote] = {}

    def get(self, ticker: str) -> Quote | None:
        return self._quotes.get(ticker)

    def __len__(self) -> int:
        return len(self._quotes)

    def update(self, body: m.TickerBody) -> None:
        quotes = self._quotes
        if quotes.pop(body.market_ticker, None) is None and len(quotes) >= self.max_markets:
            del quotes[next(iter(quotes))]
            self.evicted += 1
        quotes[body.market_ticker] = Quote(body.yes_bid, body.yes_ask, body.price, body.ts_ms / 1000)
        self.updates += 1

    def to_dict(self) -> dict[str, Any]:
        return {"markets": len(self._quotes), "updates": self.updates, "evicted": self.evicted}


class TickerFeed(ChannelFeed):
    """The ``ticker`` channel into a ``PriceCache``: every market's (no tickers), or the given ones.
    Kalshi sends each requested market's current quote at once (``send_initial_snapshot``), so
    prices are known from the start, not from each market's next change."""

    channels = (TICKER_CHANNEL,)
    types = (m.Ticker,)
    options: ClassVar[dict[str, Any]] = {"send_initial_snapshot": True}

    def __init__(self, client: KalshiWebSocket, tickers: tuple[str, ...] | list[str] = (), *, prices: PriceCache):
        super().__init__(client, tickers)
        self.prices = prices

    async def process(self, msg: m.Ticker) -> None:
        self.prices.update(msg.msg)

    def health(self) -> ComponentHealth:
        return ComponentHealth(
            "prices",
            True,
            Criticality.NON_CRITICAL,
            "",
            {**self.prices.to_dict(), "listener_dropped": self.listener_dropped},
        )
