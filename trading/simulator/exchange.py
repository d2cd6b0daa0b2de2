"""The simulated exchange's state and rules, free of sockets so tests drive it directly.

* Books: one ``trading.orderbook.OrderBook`` per market (aggregated sizes, the
  exact book a client must rebuild from snapshot + deltas) plus, per level, a FIFO
  queue of resting entries for price-time priority. Simulated liquidity is queued
  as anonymous entries: other participants' orders that the account's orders
  trade against, and that random public trades may take the account's orders behind.
* Market data: ``step()`` moves the books as a seeded random walk (add, cancel,
  trade; heavy-tailed sizes; whales at ``whale_rate``), so a seed fixes the stream.
* One account: orders (CreateOrderV2 semantics, PROTOCOL.md 8), fills, positions
  (+YES / -NO), balance, fees (taker 0.07 x count x P x (1-P), rounded up to $0.0001).

Every change appends an event to ``events``; the server drains them with
``take_events()`` and turns them into wire messages. Units are trading.units
integers throughout: prices 1/10,000 $, counts 1/100 contracts, money micro-dollars.
"""

import random
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from trading.orderbook import NO, YES, OrderBook
from trading.simulator.markets import SimMarket, make_markets
from trading.units import COUNT_SCALE, ONE_DOLLAR

BID = "bid"
ASK = "ask"
TIME_IN_FORCE = ("good_till_canceled", "immediate_or_cancel", "fill_or_kill")
SELF_TRADE_PREVENTION = ("taker_at_cross", "maker")
RESTING, CANCELED, EXECUTED = "resting", "canceled", "executed"

# Random-walk tuning. Each step is one market-data message (a delta, or a trade
# with its delta); these shares keep books about 5-25 levels deep on each side.
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
# A trade takes the whole queue entry it meets; tests may compare fills exactly.
USER_ID = "3f8b2c1a-9d4e-4f6a-b2c7-8e1d0a5f4c92"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def taker_fee(count: int, yes_price: int) -> int:
    """Micro-dollars: 0.07 x count x P x (1-P), rounded up to $0.0001 (1 @ 0.52 -> 0.017500)."""
    exact_times_1e8 = 7 * count * yes_price * (ONE_DOLLAR - yes_price)  # micro-dollars x 1e6
    return -(-exact_times_1e8 // 100_000_000) * 100


class OrderRejected(Exception):
    """A create or cancel refused by the exchange: HTTP status, Kalshi error code, optional details."""

    def __init__(self, status: int, code: str, details: str = "") -> None:
        super().__init__(code)
        self.status, self.code, self.details = status, code, details


@dataclass(slots=True, eq=False)
class SimOrder:
    order_id: str
    client_order_id: str
    ticker: str
    book_side: str
    price: int  # YES price
    initial: int
    time_in_force: str
    self_trade_prevention_type: str
    created_ms: int
    remaining: int = 0
    filled: int = 0
    status: str = RESTING
    taker_fill_cost: int = 0
    maker_fill_cost: int = 0
    taker_fees: int = 0
    maker_fees: int = 0
    filled_yes_notional: int = 0
    last_update_ms: int = 0
    last_update_reason: str = ""
    expiration_time: int | None = None
    cancel_order_on_pause: bool = False
    subaccount: int = 0

    @property
    def outcome_side(self) -> str:
        return YES if self.book_side == BID else NO

    @property
    def book_key(self) -> tuple[str, int]:
        """Where the order rests: bids at YES prices on ``yes``, asks as NO bids at NO prices on ``no``."""
        return (YES, self.price) if self.book_side == BID else (NO, ONE_DOLLAR - self.price)


@dataclass(slots=True)
class SimFill:
    trade_id: str
    order_id: str
    client_order_id: str
    ticker: str
    book_side: str
    yes_price: int
    count: int
    is_taker: bool
    fee: int
    ts_ms: int
    post_position: int

    @property
    def outcome_side(self) -> str:
        return YES if self.book_side == BID else NO


@dataclass(slots=True)
class SimPosition:
    ticker: str
    event_ticker: str
    position: int = 0  # + YES, - NO, count units
    cost: int = 0  # micro-dollars paid for the open position, in its own side's prices
    realized_pnl: int = 0
    fees_paid: int = 0
    total_traded: int = 0
    volume: int = 0
    last_updated_ms: int = 0


@dataclass(slots=True, eq=False)
class Entry:
    order: SimOrder | None  # None: another participant's order
    size: int


# Events, drained by the server.
@dataclass(slots=True)
class BookDelta:
    ticker: str
    side: str
    price: int
    delta: int
    ts_ms: int
    client_order_id: str | None = None


@dataclass(slots=True)
class PublicTrade:
    trade_id: str
    ticker: str
    yes_price: int
    count: int
    taker_outcome_side: str
    ts_ms: int


@dataclass(slots=True)
class OrderChanged:
    order: SimOrder


@dataclass(slots=True)
class FillMade:
    fill: SimFill


@dataclass(slots=True)
class PositionChanged:
    position: SimPosition


Event = BookDelta | PublicTrade | OrderChanged | FillMade | PositionChanged


@dataclass
class Account:
    balance: int  # micro-dollars
    orders: dict[str, SimOrder] = field(default_factory=dict)
    client_order_ids: set[str] = field(default_factory=set)
    fills: list[SimFill] = field(default_factory=list)
    positions: dict[str, SimPosition] = field(default_factory=dict)
    updated_ms: int = field(default_factory=now_ms)


class Exchange:
    """All markets, books and the one account; synchronous, single-threaded (the event loop's)."""

    def __init__(self, *, markets: int = 5, seed: int = 1, whale_rate: float = 0.02, balance_cents: int = 100_000):
        if markets < 1:
            raise ValueError("the simulator needs at least one market")
        self.rng = random.Random(seed)
        self.whale_rate = whale_rate
        self.markets: dict[str, SimMarket] = {m.ticker: m for m in make_markets(markets, self.rng, datetime.now(UTC))}
        self.tickers = list(self.markets)
        self.books: dict[str, OrderBook] = {}
        self.queues: dict[str, dict[str, dict[int, deque[Entry]]]] = {}
        self.mids: dict[str, int] = {}
        self.trades: list[PublicTrade] = []
        self.last_trade_size: dict[str, int] = {}
        self.account = Account(balance=balance_cents * 10_000)
        self.events: list[Event] = []
        for ticker, market in self.markets.items():
            self.books[ticker] = OrderBook(ticker)
            self.books[ticker].stale = False
            self.queues[ticker] = {YES: {}, NO: {}}
            grid = market.grid.prices
            self.mids[ticker] = grid[len(grid) // 4 + self.rng.randrange(len(grid) // 2)]
            self._seed_book(ticker)
            yes_bid, _, yes_ask, _ = self.best(ticker)
            market.previous_yes_bid, market.previous_yes_ask = yes_bid or 0, yes_ask or ONE_DOLLAR
            market.previous_price = market.last_price = self.mids[ticker]
        self.events.clear()

    # ----- market data -------------------------------------------------------

    def take_events(self) -> list[Event]:
        events, self.events = self.events, []
        return events

    def step(self, count: int = 1) -> None:
        """``count`` market-data messages' worth of random walk."""
        rng = self.rng
        for _ in range(count):
            ticker = self.tickers[rng.randrange(len(self.tickers))]
            r = rng.random()
            if r < TRADE_SHARE:
                whale = rng.random() < self.whale_rate
                self._random_trade(ticker, YES if rng.random() < 0.5 else NO, whale=whale)
            elif r < TRADE_SHARE + ADD_SHARE:
                self._random_add(ticker)
            else:
                self._random_cancel(ticker)

    def whale(self, ticker: str, *, count: int | None = None, taker_outcome_side: str | None = None) -> PublicTrade:
        """A whale trade now (for tests and demos); ``count`` in count units."""
        side = taker_outcome_side or (YES if self.rng.random() < 0.5 else NO)
        return self._random_trade(ticker, side, whale=True, count=count)

    def set_book(self, ticker: str, *, yes: dict[int, int], no: dict[int, int]) -> None:
        """Replace a market's simulated liquidity with these levels ({price: size}, NO at NO
        prices) for a test scenario. Emitted as deltas, so subscribed books stay exact;
        the account's resting orders stay in their queues."""
        for side, wanted in ((YES, yes), (NO, no)):
            for price in list(self.queues[ticker][side]):
                self._remove_level(ticker, side, price)
            for price, size in sorted(wanted.items()):
                self._rest(ticker, side, price, Entry(None, size))

    def _seed_book(self, ticker: str) -> None:
        for _ in range(MIN_LEVELS * 2):
            self._random_add(ticker, side=YES)
            self._random_add(ticker, side=NO)

    def _size(self, cap: int, scale: float = 1.0) -> int:
        contracts = min(cap, max(1, int(scale * self.rng.paretovariate(PARETO_ALPHA))))
        return contracts * COUNT_SCALE

    def _random_add(self, ticker: str, side: str | None = None) -> None:
        rng, queues, grid = self.rng, self.queues[ticker], self.markets[ticker].grid
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
            self._remove_level(ticker, side, min(queues[side]))
            return
        self._rest(ticker, side, price, Entry(None, self._size(MAX_ADD_CONTRACTS, scale=20.0)))

    def _random_cancel(self, ticker: str) -> None:
        rng, queues = self.rng, self.queues[ticker]
        side = YES if rng.random() < 0.5 else NO
        if len(queues[side]) <= MIN_LEVELS:
            self._random_add(ticker, side)
            return
        levels = queues[side]
        price = list(levels)[rng.randrange(len(levels))]
        queue = levels[price]
        for entry in reversed(queue):
            if entry.order is None:
                cut = (
                    entry.size if rng.random() < 0.5 else max(COUNT_SCALE, entry.size // 2 // COUNT_SCALE * COUNT_SCALE)
                )
                cut = min(cut, entry.size)
                entry.size -= cut
                if entry.size == 0:
                    if queue[-1] is entry:
                        queue.pop()
                    else:
                        queue.remove(entry)
                self._level_changed(ticker, side, price, -cut)
                return
        self._random_add(ticker, side)

    def _remove_level(self, ticker: str, side: str, price: int) -> None:
        queue = self.queues[ticker][side][price]
        anonymous = [e for e in queue if e.order is None]
        cut = sum(e.size for e in anonymous)
        if not cut:
            return
        for entry in anonymous:
            queue.remove(entry)
        self._level_changed(ticker, side, price, -cut)

    def _random_trade(self, ticker: str, taker_side: str, *, whale: bool, count: int | None = None) -> PublicTrade:
        """Another participant takes the best level opposite ``taker_side`` (buying YES takes NO bids)."""
        maker_side = NO if taker_side == YES else YES
        queues = self.queues[ticker][maker_side]
        if count is None:
            count = self.rng.randint(*WHALE_CONTRACTS) * COUNT_SCALE if whale else self._size(MAX_TRADE_CONTRACTS, 3.0)
        if not queues:
            self._random_add(ticker, maker_side)
        price = max(queues)
        book = self.books[ticker]
        available = (book.yes if maker_side == YES else book.no)[price]
        if available < count:
            self._rest(ticker, maker_side, price, Entry(None, count - available))
        yes_price = price if maker_side == YES else ONE_DOLLAR - price
        trade = self._take(ticker, maker_side, price, count, taker=None)
        self._record_trade(ticker, yes_price, count, taker_side, trade)
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
        trade = PublicTrade(trade_id, ticker, yes_price, count, taker_side, now_ms())
        self.trades.append(trade)
        if len(self.trades) > 10_000:
            del self.trades[:5_000]
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
        expiration_time: int | None = None,
        cancel_order_on_pause: bool = False,
        subaccount: int = 0,
    ) -> SimOrder:
        """CreateOrderV2: validate, match with price-time priority, rest or cancel the rest."""
        market = self.markets.get(ticker)
        if market is None:
            raise OrderRejected(404, "market_not_found")
        if market.status != "active":
            raise OrderRejected(400, "market_inactive")
        if not market.grid.valid(price):
            raise OrderRejected(400, "invalid_price")
        if count <= 0:
            raise OrderRejected(400, "invalid_order", "count must be positive")
        if client_order_id and client_order_id in self.account.client_order_ids:
            raise OrderRejected(409, "order_already_exists")
        side_price = price if side == BID else ONE_DOLLAR - price
        if side_price * count + taker_fee(count, price) > self.account.balance:
            raise OrderRejected(400, "insufficient_balance")
        maker_side = NO if side == BID else YES
        crossing = self._crossing_levels(ticker, maker_side, price)
        if post_only and crossing:
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
        queues = self.queues[ticker][maker_side]
        if time_in_force == "fill_or_kill" and sum(e.size for p in crossing for e in queues[p]) < count:
            crossing = []
        for level in crossing:
            if not order.remaining:
                break
            if not self._match_level(order, maker_side, level):
                break
        if order.remaining and order.status == RESTING:
            if time_in_force == "good_till_canceled":
                side_key, book_price = order.book_key
                self._rest(ticker, side_key, book_price, Entry(order, order.remaining))
            else:
                order.status, order.remaining = CANCELED, 0
        self.events.append(OrderChanged(order))
        return order

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
        fee = taker_fee(qty, yes_price) if is_taker else 0
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
        """Net YES against NO: buying the side opposite to the position closes it (each
        YES+NO pair pays $1), realizing PnL against the position's average cost."""
        account = self.account
        market = self.markets[order.ticker]
        position = account.positions.get(order.ticker)
        if position is None:
            position = account.positions[order.ticker] = SimPosition(order.ticker, market.event_ticker)
        price = yes_price if order.book_side == BID else ONE_DOLLAR - yes_price
        signed = qty if order.book_side == BID else -qty
        held = abs(position.position)
        closing = min(qty, held) if position.position * signed < 0 else 0
        if closing:
            cost_share = position.cost * closing // held
            proceeds = (ONE_DOLLAR - price) * closing
            position.realized_pnl += proceeds - cost_share
            position.cost -= cost_share
            account.balance += proceeds
        opening = qty - closing
        position.cost += price * opening
        account.balance -= price * opening + fee
        position.position += signed
        position.fees_paid += fee
        position.total_traded += price * qty
        position.volume += qty
        position.last_updated_ms = now
        return position

    def cancel_order(self, order_id: str, reason: str = "") -> tuple[SimOrder, int]:
        """Take a resting order off the book and return it with the count cancelled;
        a dead or unknown order is 404 ``not_found``."""
        order = self.account.orders.get(order_id)
        if order is None or order.status != RESTING:
            raise OrderRejected(404, "not_found")
        side, price = order.book_key
        queue = self.queues[order.ticker][side][price]
        for entry in queue:
            if entry.order is order:
                queue.remove(entry)
                break
        reduced = order.remaining
        order.remaining = 0
        order.status = CANCELED
        order.last_update_ms = now_ms()
        order.last_update_reason = reason
        self._level_changed(order.ticker, side, price, -reduced, order.client_order_id or None)
        self.events.append(OrderChanged(order))
        return order, reduced

    # ----- reads --------------------------------------------------------------

    def best(self, ticker: str) -> tuple[int | None, int, int | None, int]:
        """(yes bid, its size, yes ask, its size)."""
        top = self.books[ticker].top()
        return top.yes_bid, top.yes_bid_size, top.yes_ask, top.yes_ask_size

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
