"""The simulator's matching engine and its one account, free of sockets so tests drive it directly.

* Books: one ``trading.orderbook.OrderBook`` per market (aggregated sizes, the
  exact book a client must rebuild from snapshot + deltas) plus, per level, a FIFO
  queue of resting entries for price-time priority. Other participants' liquidity
  (the market maker's, trading.simulator.market_maker) rests as anonymous entries
  that the account's orders trade against, and that public trades may take the
  account's orders behind.
* One account: orders (CreateOrderV2 semantics, docs/kalshi/PROTOCOL.md 8), fills,
  positions (+YES / -NO, trading.accounting), balance, taker fees
  (trading.kalshi.fees).

Every change appends an event to ``events``; the server drains them with
``take_events()`` and turns them into wire messages. Units are trading.units
integers throughout: prices 1/10,000 $, counts 1/100 contracts, money micro-dollars.
"""

import random
import uuid
from collections import deque
from collections.abc import Callable

from trading.accounting import PositionState, apply_fill
from trading.kalshi.fees import trade_fee
from trading.orderbook import NO, YES, OrderBook
from trading.simulator.markets import SimMarket
from trading.simulator.records import (
    BID,
    CANCELED,
    EXECUTED,
    RESTING,
    Account,
    BookDelta,
    Entry,
    Event,
    FillMade,
    OrderChanged,
    OrderRejected,
    PositionChanged,
    SimFill,
    SimOrder,
    SimPosition,
    SimTrade,
    now_ms,
)
from trading.units import ONE_DOLLAR

# Public trades kept for ``GET /markets/trades``: the newest 5,000-10,000 (trimmed in halves).
MAX_TRADES = 10_000


class MatchingEngine:
    """All markets' books and the one account; synchronous, single-threaded (the event loop's).

    ``rng`` is shared with whoever drives the market (trade ids come from it), so one
    seed fixes the whole stream."""

    def __init__(self, markets: list[SimMarket], *, rng: random.Random, balance_cents: int) -> None:
        self.rng = rng
        self.markets: dict[str, SimMarket] = {}
        self.tickers: list[str] = []  # every market ever listed, in listing order
        self.open_tickers: list[str] = []  # the markets still trading
        self.books: dict[str, OrderBook] = {}
        self.queues: dict[str, dict[str, dict[int, deque[Entry]]]] = {}
        self.trades: list[SimTrade] = []
        self.last_trade_size: dict[str, int] = {}
        self.account = Account(balance=balance_cents * 10_000)
        self.trading_active = True
        self.events: list[Event] = []
        for market in markets:
            self.add_market(market)

    def add_market(self, market: SimMarket) -> None:
        """List a market: an empty book, open for trading."""
        ticker = market.ticker
        self.markets[ticker] = market
        self.tickers.append(ticker)
        self.open_tickers.append(ticker)
        self.books[ticker] = OrderBook(ticker)
        self.books[ticker].stale = False
        self.queues[ticker] = {YES: {}, NO: {}}

    def take_events(self) -> list[Event]:
        events, self.events = self.events, []
        return events

    # ----- other participants' liquidity --------------------------------------

    def add_liquidity(self, ticker: str, side: str, price: int, size: int) -> None:
        """Another participant's order of ``size`` at the back of the level's queue."""
        self._rest(ticker, side, price, Entry(None, size))

    def cut_newest(self, ticker: str, side: str, price: int, how_much: Callable[[int], int]) -> bool:
        """Cancel ``how_much(size)`` of the newest anonymous entry at a level (False: none there)."""
        queue = self.queues[ticker][side][price]
        for entry in reversed(queue):
            if entry.order is None:
                cut = min(how_much(entry.size), entry.size)
                entry.size -= cut
                if entry.size == 0:
                    if queue[-1] is entry:
                        queue.pop()
                    else:
                        queue.remove(entry)
                self._level_changed(ticker, side, price, -cut)
                return True
        return False

    def remove_level(self, ticker: str, side: str, price: int) -> None:
        """Every anonymous entry of a level; the account's resting orders stay."""
        queue = self.queues[ticker][side][price]
        anonymous = [e for e in queue if e.order is None]
        cut = sum(e.size for e in anonymous)
        if not cut:
            return
        for entry in anonymous:
            queue.remove(entry)
        self._level_changed(ticker, side, price, -cut)

    def public_trade(self, ticker: str, taker_side: str, count: int) -> SimTrade:
        """Another participant takes ``count`` from the best level opposite ``taker_side``
        (buying YES takes NO bids), topping the level up first if it is thinner."""
        maker_side = NO if taker_side == YES else YES
        price = max(self.queues[ticker][maker_side])
        book = self.books[ticker]
        available = (book.yes if maker_side == YES else book.no)[price]
        if available < count:
            self.add_liquidity(ticker, maker_side, price, count - available)
        yes_price = price if maker_side == YES else ONE_DOLLAR - price
        trade_id = self._take(ticker, maker_side, price, count, taker=None)
        self._record_trade(ticker, yes_price, count, taker_side, trade_id)
        return self.trades[-1]

    # ----- book primitives ---------------------------------------------------

    def _rest(self, ticker: str, side: str, price: int, entry: Entry) -> None:
        self.queues[ticker][side].setdefault(price, deque()).append(entry)
        coid = entry.order.client_order_id if entry.order is not None else None
        self._level_changed(ticker, side, price, entry.size, coid or None)

    def _level_changed(self, ticker: str, side: str, price: int, delta: int, coid: str | None = None) -> None:
        if not self.queues[ticker][side].get(price, True):
            del self.queues[ticker][side][price]
        self.books[ticker].apply_delta(side, price, delta)
        self.events.append(BookDelta(ticker, side, price, delta, now_ms(), coid))

    def _take(self, ticker: str, side: str, price: int, count: int, taker: SimOrder | None) -> str:
        """Fill ``count`` from the level's queue front to back; makers that are the
        account's orders get maker fills. Returns the trade id."""
        trade_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        queue = self.queues[ticker][side][price]
        yes_price = price if side == YES else ONE_DOLLAR - price
        left = count
        while left and queue:
            entry = queue[0]
            qty = min(left, entry.size)
            entry.size -= qty
            left -= qty
            if entry.size == 0:
                queue.popleft()
            if entry.order is not None:
                self._fill(entry.order, yes_price, qty, is_taker=False, trade_id=trade_id)
        taken = count - left
        coid = taker.client_order_id if taker is not None else None
        self._level_changed(ticker, side, price, -taken, coid or None)
        return trade_id

    def _record_trade(self, ticker: str, yes_price: int, count: int, taker_side: str, trade_id: str) -> None:
        trade = SimTrade(trade_id, ticker, yes_price, count, taker_side, now_ms())
        self.trades.append(trade)
        if len(self.trades) > MAX_TRADES:
            del self.trades[: MAX_TRADES // 2]
        market = self.markets[ticker]
        market.last_price = yes_price
        market.volume += count
        market.volume_24h += count
        market.open_interest += count
        self.last_trade_size[ticker] = count
        self.events.append(trade)

    # ----- the account ------------------------------------------------------

    def place_order(
        self,
        *,
        ticker: str,
        side: str,
        price: int,
        count: int,
        time_in_force: str,
        self_trade_prevention_type: str,
        client_order_id: str = "",
        post_only: bool = False,
        reduce_only: bool = False,
        expiration_time: int | None = None,
        cancel_order_on_pause: bool = False,
        subaccount: int = 0,
    ) -> SimOrder:
        """CreateOrderV2: validate, match with price-time priority, rest or cancel the rest.

        A resting order reserves what it would pay (its own side's price x its remaining
        count) from the balance, which is the *available* balance as Kalshi reports it;
        cancels, expiry, decreases and maker fills release it again."""
        market = self.markets.get(ticker)
        if market is None:
            raise OrderRejected(404, "market_not_found")
        if not self.trading_active:
            raise OrderRejected(409, "trading_is_paused")
        if market.status != "active":
            raise OrderRejected(400, "market_inactive")
        if not market.grid.valid(price):
            raise OrderRejected(400, "invalid_price")
        if count <= 0:
            raise OrderRejected(400, "invalid_order", "count must be positive")
        if expiration_time is not None and expiration_time <= now_ms() // 1000:
            raise OrderRejected(400, "invalid_order", "expiration_time is in the past")
        if client_order_id and client_order_id in self.account.client_order_ids:
            raise OrderRejected(409, "order_already_exists")
        side_price = price if side == BID else ONE_DOLLAR - price
        if side_price * count + trade_fee(count, price, taker=True) > self.account.balance:
            raise OrderRejected(400, "insufficient_balance")
        if post_only and self._crossing_levels(ticker, NO if side == BID else YES, price):
            raise OrderRejected(400, "invalid_order", "post only cross")
        now = now_ms()
        order = SimOrder(
            order_id=str(uuid.uuid4()),
            client_order_id=client_order_id,
            ticker=ticker,
            book_side=side,
            price=price,
            initial=count,
            remaining=count,
            time_in_force=time_in_force,
            self_trade_prevention_type=self_trade_prevention_type,
            created_ms=now,
            last_update_ms=now,
            expiration_time=expiration_time,
            cancel_order_on_pause=cancel_order_on_pause,
            subaccount=subaccount,
        )
        if client_order_id:
            self.account.client_order_ids.add(client_order_id)
        self.account.orders[order.order_id] = order
        capped = False
        if reduce_only:
            reducible = self._reducible(ticker, side)
            capped = reducible < count
            order.remaining = min(count, reducible)
        self._enter(order)
        if capped and order.status == CANCELED:
            order.last_update_reason = "ReduceOnlyCancel"
        self.events.append(OrderChanged(order))
        return order

    def _reducible(self, ticker: str, side: str) -> int:
        """How much an order on ``side`` can trade without growing the position (reduce_only)."""
        position = self.account.positions.get(ticker)
        held = position.position if position is not None else 0
        return max(0, -held) if side == BID else max(0, held)

    def _enter(self, order: SimOrder) -> None:
        """Match ``order`` against the book, then rest what is left (reserving its cost) or cancel it."""
        maker_side = NO if order.book_side == BID else YES
        crossing = self._crossing_levels(order.ticker, maker_side, order.price)
        queues = self.queues[order.ticker][maker_side]
        if order.time_in_force == "fill_or_kill" and sum(e.size for p in crossing for e in queues[p]) < order.remaining:
            crossing = []
        for level in crossing:
            if not order.remaining:
                break
            if not self._match_level(order, maker_side, level):
                break
        if not order.remaining and order.status == RESTING:
            order.status = CANCELED  # nothing left to rest (a reduce_only order capped at 0)
        elif order.remaining and order.status == RESTING:
            if order.time_in_force == "good_till_canceled":
                side_key, book_price = order.book_key
                self._rest(order.ticker, side_key, book_price, Entry(order, order.remaining))
                self.account.balance -= _own_price(order) * order.remaining
            else:
                order.status, order.remaining = CANCELED, 0

    def _crossing_levels(self, ticker: str, maker_side: str, yes_price: int) -> list[int]:
        """Levels of ``maker_side`` an incoming order at ``yes_price`` would trade with, best first."""
        levels = self.queues[ticker][maker_side]
        if maker_side == NO:  # incoming bid: NO bids at q cross when 1 - q <= price
            return sorted((q for q in levels if ONE_DOLLAR - q <= yes_price), reverse=True)
        return sorted((y for y in levels if y >= yes_price), reverse=True)

    def _match_level(self, order: SimOrder, maker_side: str, level: int) -> bool:
        """Trade ``order`` against one level; False when self-trade prevention stopped it."""
        queue = self.queues[order.ticker][maker_side][level]
        for entry in list(queue):
            if entry.order is None or not order.remaining:
                continue
            if order.self_trade_prevention_type == "taker_at_cross":
                self._execute(order, maker_side, level, until=entry)
                if order.remaining:
                    order.status, order.remaining = CANCELED, 0
                    order.last_update_reason = "SelfTradeCancel"
                return False
            self._execute(order, maker_side, level, until=entry)
            self.cancel_order(entry.order.order_id, reason="SelfTradeCancel")
        self._execute(order, maker_side, level, until=None)
        return True

    def _execute(self, order: SimOrder, maker_side: str, level: int, until: Entry | None) -> None:
        """Take from the level's front up to (not including) ``until``, at most the order's remaining size."""
        queue = self.queues[order.ticker][maker_side].get(level)
        if not queue:
            return
        available = 0
        for entry in queue:
            if entry is until:
                break
            available += entry.size
        qty = min(order.remaining, available)
        if not qty:
            return
        yes_price = level if maker_side == YES else ONE_DOLLAR - level
        trade_id = self._take(order.ticker, maker_side, level, qty, taker=order)
        self._fill(order, yes_price, qty, is_taker=True, trade_id=trade_id)
        self._record_trade(order.ticker, yes_price, qty, order.outcome_side, trade_id)

    def _fill(self, order: SimOrder, yes_price: int, qty: int, *, is_taker: bool, trade_id: str) -> None:
        account = self.account
        now = now_ms()
        fee = trade_fee(qty, yes_price, taker=is_taker, fee_type=self.markets[order.ticker].fee_type)
        if not is_taker:  # a resting order's reservation pays for what it buys now
            account.balance += _own_price(order) * qty
        paid = (yes_price if order.book_side == BID else ONE_DOLLAR - yes_price) * qty
        order.remaining -= qty
        order.filled += qty
        order.filled_yes_notional += yes_price * qty
        if is_taker:
            order.taker_fill_cost += paid
            order.taker_fees += fee
        else:
            order.maker_fill_cost += paid
            order.maker_fees += fee
        order.last_update_ms = now
        order.last_update_reason = "Trade"
        if not order.remaining:
            order.status = EXECUTED
        position = self._apply_position(order, yes_price, qty, fee, now)
        fill = SimFill(
            trade_id=trade_id,
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            ticker=order.ticker,
            book_side=order.book_side,
            yes_price=yes_price,
            count=qty,
            is_taker=is_taker,
            fee=fee,
            ts_ms=now,
            post_position=position.position,
        )
        account.fills.append(fill)
        account.updated_ms = now
        self.events.append(FillMade(fill))
        if not is_taker:
            self.events.append(OrderChanged(order))
        self.events.append(PositionChanged(position))

    def _apply_position(self, order: SimOrder, yes_price: int, qty: int, fee: int, now: int) -> SimPosition:
        """The fill on the account's position and balance, by the project's one position arithmetic."""
        account = self.account
        position = account.positions.get(order.ticker)
        if position is None:
            event_ticker = self.markets[order.ticker].event_ticker
            position = account.positions[order.ticker] = SimPosition(order.ticker, event_ticker)
        state = PositionState(position.position, position.cost, position.realized_pnl, position.fees_paid)
        effect = apply_fill(state, side=order.book_side, yes_price=yes_price, count=qty, fee=fee)
        position.position, position.cost = effect.state.position, effect.state.cost
        position.realized_pnl, position.fees_paid = effect.state.realized_pnl, effect.state.fees_paid
        account.balance += effect.cash
        position.total_traded += (yes_price if order.book_side == BID else ONE_DOLLAR - yes_price) * qty
        position.volume += qty
        position.last_updated_ms = now
        return position

    def cancel_order(self, order_id: str, reason: str = "") -> tuple[SimOrder, int]:
        """Take a resting order off the book and return it with the count cancelled;
        a dead or unknown order is 404 ``not_found``."""
        order = self._resting(order_id)
        reduced = order.remaining
        self._reduce(order, reduced)
        order.status = CANCELED
        order.last_update_ms = now_ms()
        order.last_update_reason = reason
        self.events.append(OrderChanged(order))
        return order, reduced

    def decrease_order(self, order_id: str, *, reduce_by: int) -> SimOrder:
        """Take ``reduce_by`` off a resting order where it stands in the queue (it keeps its
        priority); all of it cancels the order. Releases the reservation of what is taken off."""
        order = self._resting(order_id)
        if reduce_by <= 0:
            raise OrderRejected(400, "invalid_parameters", "the decrease must be positive")
        if reduce_by >= order.remaining:
            self.cancel_order(order_id, reason="Decrease")
            return order
        self._reduce(order, reduce_by)
        order.last_update_ms, order.last_update_reason = now_ms(), "Decrease"
        self.events.append(OrderChanged(order))
        return order

    def amend_order(
        self,
        order_id: str,
        *,
        ticker: str,
        side: str,
        price: int,
        count: int,
        updated_client_order_id: str = "",
    ) -> SimOrder:
        """AmendOrderV2: a new price and/or total count (filled included) for a resting order.
        A smaller count at the same price keeps the queue priority; a new price or a larger
        count takes the order off the book and enters it again, as a taker when it now crosses."""
        order = self._resting(order_id)
        if not self.trading_active:
            raise OrderRejected(409, "trading_is_paused")
        if ticker != order.ticker or side != order.book_side:
            raise OrderRejected(400, "invalid_parameters", "ticker and side must be the order's own")
        if not self.markets[ticker].grid.valid(price):
            raise OrderRejected(400, "invalid_price")
        if count <= order.filled:
            raise OrderRejected(400, "invalid_parameters", "count must exceed the filled count")
        if updated_client_order_id and updated_client_order_id in self.account.client_order_ids:
            raise OrderRejected(409, "order_already_exists")
        remaining = count - order.filled
        new_own_price = price if side == BID else ONE_DOLLAR - price
        if new_own_price * remaining - _own_price(order) * order.remaining > self.account.balance:
            raise OrderRejected(400, "insufficient_balance")
        if updated_client_order_id:
            self.account.client_order_ids.add(updated_client_order_id)
            order.client_order_id = updated_client_order_id
        order.initial = count
        order.last_update_ms, order.last_update_reason = now_ms(), "Amend"
        if price == order.price and remaining <= order.remaining:
            if remaining < order.remaining:
                self._reduce(order, order.remaining - remaining)
        else:
            self._reduce(order, order.remaining)
            order.price, order.remaining = price, remaining
            self._enter(order)
        self.events.append(OrderChanged(order))
        return order

    def _reduce(self, order: SimOrder, by: int) -> None:
        """``by`` off a resting order's queue entry (all of it: the entry leaves), reservation released."""
        side, price = order.book_key
        queue = self.queues[order.ticker][side][price]
        for entry in queue:
            if entry.order is order:
                entry.size -= by
                if not entry.size:
                    queue.remove(entry)
                break
        order.remaining -= by
        self.account.balance += _own_price(order) * by
        self._level_changed(order.ticker, side, price, -by, order.client_order_id or None)

    def expire_orders(self, now_s: int) -> int:
        """Cancel resting orders whose ``expiration_time`` has come; how many."""
        due = [
            o.order_id
            for o in self.account.orders.values()
            if o.status == RESTING and o.expiration_time is not None and o.expiration_time <= now_s
        ]
        for order_id in due:
            self.cancel_order(order_id, reason="ExpiryCancel")
        return len(due)

    def _resting(self, order_id: str) -> SimOrder:
        order = self.account.orders.get(order_id)
        if order is None or order.status != RESTING:
            raise OrderRejected(404, "not_found")
        return order

    # ----- reads --------------------------------------------------------------

    def best(self, ticker: str) -> tuple[int | None, int, int | None, int]:
        """(yes bid, its size, yes ask, its size)."""
        top = self.books[ticker].top()
        return top.yes_bid, top.yes_bid_size, top.yes_ask, top.yes_ask_size


def _own_price(order: SimOrder) -> int:
    """What one contract of ``order`` costs on its own side (a bid pays the YES price, an ask the NO price)."""
    return order.price if order.book_side == BID else ONE_DOLLAR - order.price
