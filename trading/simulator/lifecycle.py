"""Markets' lives on the simulated exchange: open, closed at ``close_time``, determined,
settled (docs/kalshi/PROTOCOL.md 6.7 and 8), and a new market listed in place of each
settled one when markets have a lifetime.

On close every resting order of the account is canceled (``CloseCancel``) and the other
participants' liquidity leaves the book; on settlement each winning contract pays $1
through the project's one position arithmetic (trading.accounting.apply_settlement), the
position goes flat and the payout is credited. Every step is an event the server turns
into Kalshi's messages: ``market_lifecycle_v2``, ``user_order``, ``market_position``.
"""

import random
from collections.abc import Callable
from datetime import UTC, datetime

from trading.accounting import PositionState, apply_settlement
from trading.orderbook import NO, YES
from trading.simulator.markets import SimMarket, make_market
from trading.simulator.matching import MatchingEngine
from trading.simulator.records import RESTING, LifecycleChanged, OrderRejected, PositionChanged, SimSettlement, now_ms
from trading.units import ONE_DOLLAR

ACTIVE, CLOSED, DETERMINED, FINALIZED = "active", "closed", "determined", "finalized"


class Lifecycle:
    """Closes, determines and settles markets of ``engine``; lists replacements through ``on_listed``."""

    def __init__(self, engine: MatchingEngine, *, lifetime_s: float = 0.0) -> None:
        self.engine = engine
        self.lifetime_s = lifetime_s
        self.listed = len(engine.markets)  # markets ever listed: the next new ticker's index
        # Run with each new ticker when a market is listed (the market maker seeds its book).
        self.on_listed: list[Callable[[str], None]] = []

    def tick(self, now: datetime | None = None) -> list[str]:
        """Expire the account's orders whose time has come; close, determine and settle every
        active market past its ``close_time`` and, with a lifetime, list a new market for
        each. Returns the tickers settled."""
        now = now or datetime.now(UTC)
        self.engine.expire_orders(int(now.timestamp()))
        due = [m for m in self.engine.markets.values() if m.status == ACTIVE and m.close_time <= now]
        for market in due:
            self.settle(market.ticker, self._result(market))
            if self.lifetime_s:
                self.list_market(now)
        return [m.ticker for m in due]

    def settle(self, ticker: str, result: str) -> SimSettlement | None:
        """Close (if still open), determine ``result`` and settle one market now; the account's
        settlement, or None when it held nothing there. A market settles once."""
        market = self.engine.markets.get(ticker)
        if market is None:
            raise OrderRejected(404, "market_not_found")
        if result not in (YES, NO):
            raise ValueError("result must be yes or no")
        if market.status in (DETERMINED, FINALIZED):
            raise ValueError(f"market {ticker} is already {market.status}")
        if market.status == ACTIVE:
            self.close(market)
        now_s = now_ms() // 1000
        market.status, market.result = DETERMINED, result
        self.engine.events.append(LifecycleChanged(ticker, "determined", now_s))
        settlement = self._pay(market)
        market.status, market.settled_time = FINALIZED, datetime.now(UTC)
        self.engine.events.append(LifecycleChanged(ticker, "settled", now_s))
        return settlement

    def close(self, market: SimMarket) -> None:
        """Trading stops: the account's resting orders are canceled, the book empties."""
        engine = self.engine
        early = market.close_time > datetime.now(UTC)
        market.status = CLOSED
        engine.open_tickers.remove(market.ticker)
        for order in list(engine.account.orders.values()):
            if order.ticker == market.ticker and order.status == RESTING:
                engine.cancel_order(order.order_id, reason="CloseCancel")
        for side in (YES, NO):
            for price in list(engine.queues[market.ticker][side]):
                engine.remove_level(market.ticker, side, price)
        if early:
            market.close_time = datetime.now(UTC).replace(microsecond=0)
            engine.events.append(
                LifecycleChanged(market.ticker, "close_date_updated", int(market.close_time.timestamp()))
            )

    def list_market(self, now: datetime) -> SimMarket:
        """A new market, open at once, closing after the lifetime; announced as ``created``."""
        engine = self.engine
        while True:
            market = make_market(self.listed, engine.rng, now, self.lifetime_s)
            self.listed += 1
            if market.ticker not in engine.markets:
                break
        market.created_time = market.open_time = now
        engine.add_market(market)
        for callback in self.on_listed:
            callback(market.ticker)
        engine.events.append(LifecycleChanged(market.ticker, "created", int(now.timestamp())))
        return market

    def _result(self, market: SimMarket) -> str:
        """YES with the probability the market's last price gave it, as a real outcome would."""
        rng: random.Random = self.engine.rng
        return YES if rng.random() * ONE_DOLLAR < market.last_price else NO

    def _pay(self, market: SimMarket) -> SimSettlement | None:
        account = self.engine.account
        position = account.positions.get(market.ticker)
        if position is None or not position.position:
            return None
        held, cost = position.position, position.cost
        state = PositionState(position.position, position.cost, position.realized_pnl, position.fees_paid)
        effect = apply_settlement(state, result=market.result)
        position.position, position.cost = effect.state.position, effect.state.cost
        position.realized_pnl = effect.state.realized_pnl
        account.balance += effect.cash
        now = now_ms()
        position.last_updated_ms = account.updated_ms = now
        settlement = SimSettlement(
            ticker=market.ticker,
            event_ticker=market.event_ticker,
            result=market.result,
            yes_count=max(held, 0),
            yes_total_cost=cost if held > 0 else 0,
            no_count=max(-held, 0),
            no_total_cost=cost if held < 0 else 0,
            revenue=effect.cash,
            fee_cost=position.fees_paid,
            settled_ms=now,
        )
        account.settlements.append(settlement)
        self.engine.events.append(PositionChanged(position))
        return settlement
