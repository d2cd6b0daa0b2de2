"""The exchange as the trading side sees it: book and market views, orders, fills,
positions and balance in trading.units integers, and the ``Gateway`` port every
exchange connection implements.

Pure types, no wire: the Kalshi adapter (trading.kalshi.execution) parses its
REST and WebSocket schemas into them, and paper trading (trading.execution.paper)
makes them itself, so the decision, risk and reconciliation code never sees a
venue field name. Which gateway a process uses is trading.execution.gateway's choice.
"""

from dataclasses import dataclass
from typing import Literal, Protocol

from trading.orderbook import TopOfBook

# Kalshi's order vocabulary, which the project shares: bids and asks on the YES book.
BookSide = Literal["bid", "ask"]
TimeInForce = Literal["good_till_canceled", "immediate_or_cancel", "fill_or_kill"]


@dataclass(frozen=True, slots=True)
class BookView:
    """The book as the decision sees it; ``as_of`` is the latest moment it can be from."""

    top: TopOfBook
    as_of: float
    stale: bool = False


@dataclass(frozen=True, slots=True)
class MarketView:
    status: str
    close_ts: float | None
    # (start, end, step) in 1/10,000 dollars, from the market's price_ranges.
    price_ranges: tuple[tuple[int, int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class MarketPrices:
    """A market's YES quotes and last trade now (None when absent), and its result once settled."""

    yes_bid: int | None
    yes_ask: int | None
    last: int | None
    result: str  # "yes" or "no" once settled, else ""


class ExchangeError(Exception):
    """The exchange could not be asked (network, 5xx, 429): the outcome is unknown."""


class OrderRejected(Exception):
    """The exchange refused the order (4xx other than a duplicate): it does not exist there."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(frozen=True, slots=True)
class PlaceRequest:
    ticker: str
    side: BookSide
    price: int
    count: int
    client_order_id: str
    time_in_force: TimeInForce
    expiration_ts: int | None = None


@dataclass(frozen=True, slots=True)
class FillReport:
    """One fill, from the WS fill channel, REST, or a paper fill; ``side`` is the book side."""

    trade_id: str
    order_id: str
    market_ticker: str
    side: str
    yes_price: int
    count: int
    fee: int
    is_taker: bool
    ts: float
    client_order_id: str = ""


@dataclass(frozen=True, slots=True)
class Placed:
    exchange_order_id: str
    fill_count: int
    remaining_count: int
    fills: tuple[FillReport, ...] = ()  # known at once (paper fills); REST fills are read after


@dataclass(frozen=True, slots=True)
class ExchangeOrder:
    order_id: str
    client_order_id: str
    ticker: str
    side: str
    price: int
    status: str  # resting | canceled | executed
    fill_count: int
    remaining_count: int


@dataclass(frozen=True, slots=True)
class ExchangePosition:
    ticker: str
    position: int
    cost: int
    realized_pnl: int
    fees_paid: int


@dataclass(frozen=True, slots=True)
class SettlementReport:
    """A market settled: its result and, when the account held contracts there, what
    the exchange says they were (``position`` + YES / - NO, ``cost`` micro-dollars)."""

    market_ticker: str
    result: str  # yes | no
    settled_at: float  # Unix seconds
    event_ticker: str = ""
    position: int | None = None  # None: the exchange did not say (a lifecycle message)
    cost: int = 0
    fees: int = 0


class Gateway(Protocol):
    """Every method may raise ExchangeError; ``place`` also OrderRejected."""

    has_account: bool  # False for paper-on-book: nothing on the exchange to reconcile with

    async def book(self, ticker: str) -> BookView: ...
    async def market(self, ticker: str) -> MarketView: ...
    async def place(self, request: PlaceRequest) -> Placed: ...
    async def cancel(self, order_id: str, ticker: str) -> bool: ...
    async def order(self, order_id: str) -> ExchangeOrder | None: ...
    async def find_order(self, client_order_id: str, ticker: str) -> ExchangeOrder | None: ...
    async def open_orders(self) -> list[ExchangeOrder]: ...
    async def fills(self, order_id: str) -> list[FillReport]: ...
    async def positions(self) -> list[ExchangePosition]: ...
    async def balance(self) -> int: ...
    async def settlements(self, since: float | None = None) -> list[SettlementReport]: ...
