"""The simulated market's other participants: a seeded random walk of adds, cancels and
trades on the matching engine's books, so a seed fixes the whole market-data stream.

Each step is one market-data message (a delta, or a trade with its delta); sizes are
heavy-tailed and whales come at ``whale_rate`` of the trades.
"""

import random

from trading.orderbook import NO, YES
from trading.simulator.matching import MatchingEngine
from trading.simulator.records import SimTrade
from trading.units import COUNT_SCALE, ONE_DOLLAR

# Random-walk tuning. These shares keep books about 5-25 levels deep on each side.
TRADE_SHARE = 0.12
ADD_SHARE = 0.50
MIN_LEVELS = 4
MAX_LEVELS = 25
# Pareto tail index for sizes: 1.5 gives the "mostly small, rarely huge" shape of
# real trade tapes (finite mean, infinite variance).
PARETO_ALPHA = 1.5
MAX_TRADE_CONTRACTS = 5_000
MAX_ADD_CONTRACTS = 20_000
WHALE_CONTRACTS = (10_000, 50_000)


class MarketMaker:
    """Moves every market of ``engine`` around its own mid price; shares the engine's rng."""

    def __init__(self, engine: MatchingEngine, *, whale_rate: float) -> None:
        self.engine = engine
        self.rng: random.Random = engine.rng
        self.whale_rate = whale_rate
        self.mids: dict[str, int] = {}
        for ticker in engine.markets:
            self.seed_market(ticker)

    def seed_market(self, ticker: str) -> None:
        """A mid price and a few levels a side for a market (at start, or newly listed)."""
        market = self.engine.markets[ticker]
        grid = market.grid.prices
        self.mids[ticker] = grid[len(grid) // 4 + self.rng.randrange(len(grid) // 2)]
        for _ in range(MIN_LEVELS * 2):
            self._random_add(ticker, side=YES)
            self._random_add(ticker, side=NO)
        yes_bid, _, yes_ask, _ = self.engine.best(ticker)
        market.previous_yes_bid, market.previous_yes_ask = yes_bid or 0, yes_ask or ONE_DOLLAR
        market.previous_price = market.last_price = self.mids[ticker]

    def step(self, count: int = 1) -> None:
        """``count`` market-data messages' worth of random walk, on the markets still open."""
        rng, tickers = self.rng, self.engine.open_tickers
        if not tickers:
            return
        for _ in range(count):
            ticker = tickers[rng.randrange(len(tickers))]
            r = rng.random()
            if r < TRADE_SHARE:
                whale = rng.random() < self.whale_rate
                self._random_trade(ticker, YES if rng.random() < 0.5 else NO, whale=whale)
            elif r < TRADE_SHARE + ADD_SHARE:
                self._random_add(ticker)
            else:
                self._random_cancel(ticker)

    def whale(self, ticker: str, *, count: int | None = None, taker_outcome_side: str | None = None) -> SimTrade:
        """A whale trade now (for tests and demos); ``count`` in count units."""
        side = taker_outcome_side or (YES if self.rng.random() < 0.5 else NO)
        return self._random_trade(ticker, side, whale=True, count=count)

    def _size(self, cap: int, scale: float = 1.0) -> int:
        contracts = min(cap, max(1, int(scale * self.rng.paretovariate(PARETO_ALPHA))))
        return contracts * COUNT_SCALE

    def _random_add(self, ticker: str, side: str | None = None) -> None:
        rng, queues, grid = self.rng, self.engine.queues[ticker], self.engine.markets[ticker].grid
        if side is None:
            yes_n, no_n = len(queues[YES]), len(queues[NO])
            side = YES if yes_n < MIN_LEVELS else NO if no_n < MIN_LEVELS else (YES if rng.random() < 0.5 else NO)
        if rng.random() < 0.1:
            moved = grid.offset(self.mids[ticker], 1 if rng.random() < 0.5 else -1)
            if moved is not None and grid.prices[3] <= moved <= grid.prices[-4]:
                self.mids[ticker] = moved
        mid = self.mids[ticker]
        # Bids rest below the mid on their own side's price scale, never crossing the other side.
        top = mid if side == YES else ONE_DOLLAR - mid
        other = queues[NO if side == YES else YES]
        if other:
            top = min(top, ONE_DOLLAR - max(other))
        price = grid.offset(top, -(1 + int(rng.expovariate(0.4)))) or grid.offset(top, -1)
        if price is None:
            return
        if len(queues[side]) >= MAX_LEVELS and price not in queues[side]:
            self.engine.remove_level(ticker, side, min(queues[side]))
            return
        self.engine.add_liquidity(ticker, side, price, self._size(MAX_ADD_CONTRACTS, scale=20.0))

    def _random_cancel(self, ticker: str) -> None:
        rng, queues = self.rng, self.engine.queues[ticker]
        side = YES if rng.random() < 0.5 else NO
        if len(queues[side]) <= MIN_LEVELS:
            self._random_add(ticker, side)
            return
        levels = queues[side]
        price = list(levels)[rng.randrange(len(levels))]

        def how_much(size: int) -> int:
            return size if rng.random() < 0.5 else max(COUNT_SCALE, size // 2 // COUNT_SCALE * COUNT_SCALE)

        if not self.engine.cut_newest(ticker, side, price, how_much):
            self._random_add(ticker, side)

    def _random_trade(self, ticker: str, taker_side: str, *, whale: bool, count: int | None = None) -> SimTrade:
        """Another participant takes the best level opposite ``taker_side`` (buying YES takes NO bids)."""
        maker_side = NO if taker_side == YES else YES
        if count is None:
            count = self.rng.randint(*WHALE_CONTRACTS) * COUNT_SCALE if whale else self._size(MAX_TRADE_CONTRACTS, 3.0)
        if not self.engine.queues[ticker][maker_side]:
            self._random_add(ticker, maker_side)
        return self.engine.public_trade(ticker, taker_side, count)
