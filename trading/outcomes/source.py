"""Where markouts and results come from: the one function the outcome filler reads
prices through, so the source can change (a feed-side price cache, a recording in a
backtest) without touching the arithmetic or the filler.

Today: ``GET /markets/{ticker}`` per market over the process's REST client on the
execution loop (trading.execution.loop); it carries the YES bid, ask, last price and
the result once settled, on the simulator and on Kalshi alike.
"""

import asyncio
import logging
from collections.abc import Sequence

from django.conf import settings

from trading.exchange import MarketPrices
from trading.execution import loop
from trading.kalshi import rest
from trading.kalshi.parsing import market_prices
from trading.kalshi.schemas.rest import Market

logger = logging.getLogger(__name__)


def read_prices(tickers: Sequence[str]) -> dict[str, MarketPrices]:
    """Prices of each market that could be read now; a market that could not is left out (read next pass)."""
    key = f"outcomes-rest:{settings.KALSHI.env}:{settings.KALSHI.api_url}"  # one client per exchange, as the gateway
    client = loop.loop_value(key, rest.KalshiRestClient.from_settings)

    async def read() -> list[Market | BaseException]:
        return await asyncio.gather(*(client.market(t) for t in tickers), return_exceptions=True)

    prices = {}
    for ticker, answer in zip(tickers, loop.run(read()), strict=True):
        if isinstance(answer, BaseException):
            logger.warning("outcomes: prices of %s unavailable: %s", ticker, answer)
            continue
        prices[ticker] = market_prices(answer)
    return prices
