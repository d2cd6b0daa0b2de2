"""The simulated exchange: the matching engine with its account (trading.simulator.matching),
the market maker that moves its books (trading.simulator.market_maker) and the markets'
lives (trading.simulator.lifecycle), on one seeded
random generator, so a seed fixes the whole stream. Free of sockets: tests drive it directly.
"""

import random
from datetime import UTC, datetime

from trading.orderbook import NO, YES
from trading.simulator.lifecycle import Lifecycle
from trading.simulator.market_maker import MarketMaker
from trading.simulator.markets import make_markets
from trading.simulator.matching import MatchingEngine
from trading.simulator.records import RESTING, SimSettlement, SimTrade
from trading.units import ONE_DOLLAR


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

    # ----- the exchange as a whole: cancel-all, trading pauses, the expiry clock ----------

    def cancel_all(self) -> int:
        """Every resting order of the account, canceled; how many."""
        resting = [o.order_id for o in self.account.orders.values() if o.status == RESTING]
        for order_id in resting:
            self.cancel_order(order_id)
        return len(resting)

    def set_trading(self, active: bool) -> None:
        """Exchange-wide trading pause (``exchange/status`` ``trading_active``): new orders and
        amends are refused while paused, cancels still go; orders placed with
        ``cancel_order_on_pause`` are canceled when the pause begins."""
        if self.trading_active and not active:
            for order in list(self.account.orders.values()):
                if order.status == RESTING and order.cancel_order_on_pause:
                    self.cancel_order(order.order_id, reason="HaltCancel")
        self.trading_active = active

    def portfolio_value(self) -> int:
        """Micro-dollars the open positions are worth at the bids of their own sides."""
        value = 0
        for position in self.account.positions.values():
            yes_bid, _, yes_ask, _ = self.best(position.ticker)
            if position.position > 0 and yes_bid is not None:
                value += yes_bid * position.position
            elif position.position < 0 and yes_ask is not None:
                value += (ONE_DOLLAR - yes_ask) * -position.position
        return value

    def set_book(self, ticker: str, *, yes: dict[int, int], no: dict[int, int]) -> None:
        """Replace a market's simulated liquidity with these levels ({price: size}, NO at NO
        prices) for a test scenario. Emitted as deltas, so subscribed books stay exact;
        the account's resting orders stay in their queues."""
        for side, wanted in ((YES, yes), (NO, no)):
            for price in list(self.queues[ticker][side]):
                self.remove_level(ticker, side, price)
            for price, size in sorted(wanted.items()):
                self.add_liquidity(ticker, side, price, size)
