"""Which markets a feed runner follows: the tickers it is given (``--markets`` /
``V3_MARKETS``), or the most active open markets the exchange lists."""

import logging
from collections.abc import Sequence

from trading.kalshi.rest import KalshiRestClient

logger = logging.getLogger(__name__)


class NoMarkets(Exception):
    """Nothing to follow: no tickers were given and the exchange lists no open market."""


class UnknownMarkets(Exception):
    """Tickers the exchange does not list: subscribing to them would fail (Kalshi error 8)."""


def explicit_markets(tickers: Sequence[str]) -> list[str]:
    """Tickers as given, stripped and without repeats, in their order."""
    return list(dict.fromkeys(t.strip() for t in tickers if t.strip()))


async def most_active_markets(rest: KalshiRestClient, count: int) -> list[str]:
    """The ``count`` open markets with the most 24 h volume (then total volume, then ticker)."""
    markets = await rest.markets(status="open")
    ranked = sorted(markets, key=lambda market: (-market.volume_24h, -market.volume, market.ticker))
    return [market.ticker for market in ranked[:count]]


async def check_known(rest: KalshiRestClient, tickers: Sequence[str]) -> None:
    """Refuse tickers the exchange does not list, before anything subscribes to them."""
    listed = {market.ticker for market in await rest.markets(tickers=",".join(tickers))}
    unknown = [ticker for ticker in tickers if ticker not in listed]
    if unknown:
        raise UnknownMarkets(f"the exchange lists no market {', '.join(unknown)}: check --markets / V3_MARKETS")


async def select_markets(*, explicit: Sequence[str], count: int, rest: KalshiRestClient | None) -> list[str]:
    """The given tickers (checked with the exchange when ``rest`` is given), else the most active."""
    tickers = explicit_markets(explicit)
    if tickers and rest is not None:
        await check_known(rest, tickers)
    if not tickers:
        if rest is None:
            raise NoMarkets("no markets given and no REST client to find the most active ones")
        tickers = await most_active_markets(rest, count)
    if not tickers:
        raise NoMarkets("the exchange lists no open market; give tickers with --markets or V3_MARKETS")
    logger.info("following %d markets: %s", len(tickers), ", ".join(tickers))
    return tickers
