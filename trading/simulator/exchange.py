"""The simulated exchange: the matching engine with its account (trading.simulator.matching)
and the market maker that moves its books (trading.simulator.market_maker), on one seeded
random generator, so a seed fixes the whole stream. Free of sockets: tests drive it directly.
"""

import random
from datetime import UTC, datetime

from trading.simulator.market_maker import MarketMaker
from trading.simulator.markets import make_markets
from trading.simulator.matching import MatchingEngine
from trading.simulator.records import SimTrade


class Exchange(MatchingEngine):
    """All markets, books and the one account, with other participants trading on them."""

    def __init__(self, *, markets: int = 5, seed: int = 1, whale_rate: float = 0.02, balance_cents: int = 100_000):
        if markets < 1:
            raise ValueError("the simulator needs at least one market")
        rng = random.Random(seed)
        super().__init__(make_markets(markets, rng, datetime.now(UTC)), rng=rng, balance_cents=balance_cents)
        self.market_maker = MarketMaker(self, whale_rate=whale_rate)
        self.events.clear()

    def step(self, count: int = 1) -> None:
        """``count`` market-data messages' worth of the market maker's random walk."""
        self.market_maker.step(count)

    def whale(self, ticker: str, *, count: int | None = None, taker_outcome_side: str | None = None) -> SimTrade:
        """A whale trade now (for tests and demos); ``count`` in count units."""
        return self.market_maker.whale(ticker, count=count, taker_outcome_side=taker_outcome_side)
