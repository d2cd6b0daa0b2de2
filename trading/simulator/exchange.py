"""The simulated exchange: the matching engine with its account (trading.simulator.matching),
the market maker that moves its books (trading.simulator.market_maker) and the markets'
lives (trading.simulator.lifecycle), on one seeded
random generator, so a seed fixes the whole stream. Free of sockets: tests drive it directly.
"""

import random
from datetime import UTC, datetime

from trading.simulator.lifecycle import Lifecycle
from trading.simulator.market_maker import MarketMaker
from trading.simulator.markets import make_markets
from trading.simulator.matching import MatchingEngine
from trading.simulator.records import SimSettlement, SimTrade


class Exchange(MatchingEngine):
    """All markets, books and the one account, with other participants trading on them."""

    def __init__(
        self,
        *,
        markets: int = 5,
        seed: int = 1,
        whale_rate: float = 0.02,
        balance_cents: int = 100_000,
        market_lifetime_s: float = 0.0,
    ):
        if markets < 1:
            raise ValueError("the simulator needs at least one market")
        rng = random.Random(seed)
        listed = make_markets(markets, rng, datetime.now(UTC), market_lifetime_s)
        super().__init__(listed, rng=rng, balance_cents=balance_cents)
        self.market_maker = MarketMaker(self, whale_rate=whale_rate)
        self.lifecycle = Lifecycle(self, lifetime_s=market_lifetime_s)
        self.lifecycle.on_listed.append(self.market_maker.seed_market)
        self.events.clear()

    def settle(self, ticker: str, result: str) -> SimSettlement | None:
        """Close, determine and settle ``ticker`` now (trading.simulator.lifecycle)."""
        return self.lifecycle.settle(ticker, result)

    def step(self, count: int = 1) -> None:
        """``count`` market-data messages' worth of the market maker's random walk."""
        self.market_maker.step(count)

    def whale(self, ticker: str, *, count: int | None = None, taker_outcome_side: str | None = None) -> SimTrade:
        """A whale trade now (for tests and demos); ``count`` in count units."""
        return self.market_maker.whale(ticker, count=count, taker_outcome_side=taker_outcome_side)
