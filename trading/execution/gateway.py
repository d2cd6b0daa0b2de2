"""The exchange as the execution side sees it: book and market reads, orders,
fills, positions and balance, in trading.units integers.

Which gateway a process uses follows the settings (``gateway()``):

* ``TRADING_MODE=paper`` and ``KALSHI_ENV=sim``: the simulator over its real REST
  API (``RestGateway``), so paper orders, fills and positions are the exchange's.
* ``TRADING_MODE=paper`` and ``KALSHI_ENV=demo|prod``: ``PaperBookGateway`` reads
  the exchange's book over REST but never sends an order: a follow is filled
  locally against that book copy (what crosses the limit now fills, the rest is
  canceled), with Kalshi's taker fee.
* ``TRADING_MODE=live``: ``RestGateway`` on the configured exchange (settings
  refuse prod without ``V3_ALLOW_PROD=1``).

The "current book" of a decision: worker processes have no WebSocket, so the
book is read from REST ``GET /markets/{ticker}/orderbook`` at decision time
(one request, a few ms; sharing the feed's WebSocket books through Redis would
save it but adds a second source of truth). Its age is counted from when the
request was sent (the exchange may have taken the snapshot any time after); a
book older than ``EXEC_MAX_BOOK_AGE`` when the rules run is ``stale_book``.
Known gap: Kalshi's public market data may be edge-cached up to ~15 s
(PROTOCOL.md 6.1) and the REST client does not expose the ``Age`` header, so on
demo/prod a cached book can look fresher than it is.
"""

from dataclasses import dataclass
from typing import Protocol

from trading.execution.rules import BookView, MarketView


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
    side: str  # bid | ask on the YES book
    price: int
    count: int
    client_order_id: str
    time_in_force: str
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
