"""Which markets a runner follows: the given tickers, or the most active open ones."""

import pytest

from tests.simulators import quiet_simulator
from tests.trading.feed.harness import sim_client
from trading.feed.markets import NoMarkets, UnknownMarkets, explicit_markets, select_markets
from trading.kalshi.rest import KalshiRestClient


def test_explicit_tickers_are_kept_in_order_without_repeats_or_blanks():
    assert explicit_markets([" KXFED-27JAN-T4.25", "B", "", "KXFED-27JAN-T4.25 "]) == ["KXFED-27JAN-T4.25", "B"]


async def test_most_active_open_markets_from_rest():
    async with quiet_simulator(6, seed=5) as sim:
        sim.step(3000)
        async with KalshiRestClient(sim.rest_url, sim_client(sim.ws_url).signer) as rest:
            chosen = await select_markets(explicit=(), count=3, rest=rest)
            given = await select_markets(explicit=sim.exchange.tickers[4:1:-2], count=3, rest=rest)
            with pytest.raises(UnknownMarkets, match="no market X-1, X-2: check --markets"):
                await select_markets(explicit=[sim.exchange.tickers[0], "X-1", "X-2"], count=3, rest=rest)
    volume = {ticker: market.volume_24h for ticker, market in sim.exchange.markets.items()}
    assert len(chosen) == 3
    assert sorted(volume.values(), reverse=True)[:3] == [volume[t] for t in chosen]
    assert given == [sim.exchange.tickers[4], sim.exchange.tickers[2]]


async def test_nothing_to_follow_is_a_clear_error():
    with pytest.raises(NoMarkets, match="no REST client"):
        await select_markets(explicit=[], count=3, rest=None)
