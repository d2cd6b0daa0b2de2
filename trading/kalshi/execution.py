"""The exchange gateway (trading.exchange.Gateway) over Kalshi's REST API: book
and market reads for decisions, orders, fills, positions and balance.

Errors become the gateway's: an exchange that could not be asked (unreachable,
throttled, 5xx) is ``ExchangeError``, an order it refused is ``OrderRejected``.
"""

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from trading.exchange import (
    BookView,
    ExchangeError,
    ExchangeOrder,
    ExchangePosition,
    FillReport,
    MarketView,
    OrderRejected,
    Placed,
    PlaceRequest,
    SettlementReport,
)
from trading.kalshi import rest
from trading.kalshi.parsing import (
    book_levels,
    book_view,
    exchange_order,
    exchange_position,
    fill_report,
    market_view,
    settlement_report,
)

T = TypeVar("T")


async def _call(call: Callable[[], Awaitable[T]]) -> T:
    """The client's errors as the gateway's: unreachable/throttled/5xx -> ExchangeError."""
    try:
        return await call()
    except (rest.KalshiTransportError, rest.KalshiResponseError) as exc:
        raise ExchangeError(str(exc)) from exc
    except rest.KalshiApiError as exc:
        if exc.status == 429 or exc.status >= 500:
            raise ExchangeError(str(exc)) from exc
        raise


async def _read(call: Callable[[], Awaitable[T]]) -> T:
    """Market data for a decision: any failure (a 404 for an unknown market too) means no book."""
    try:
        return await _call(call)
    except rest.KalshiApiError as exc:
        raise ExchangeError(str(exc)) from exc


# A market's status, close time and tick grid change rarely (a close-date update, a
# halt): cached this long per market, they save one REST read per whale. A market
# closed in the meantime is refused by the exchange, so the order fails, not worse.
MARKET_TTL = 30.0
# Markets cached at most; the oldest entry goes first (bounded like everything else).
MARKET_CACHE_SIZE = 2_000


class MarketData:
    """Book and market reads over REST, shared by every gateway that reads Kalshi's books."""

    def __init__(self, client: rest.KalshiRestClient) -> None:
        self.client = client
        self._markets: dict[str, tuple[float, MarketView]] = {}

    async def levels(self, ticker: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The whole book now as (YES bids, NO bids), ascending; ``ExchangeError`` when it cannot be read."""
        return book_levels(await _read(lambda: self.client.orderbook(ticker)))

    async def book(self, ticker: str) -> BookView:
        # The book can be from any moment after the request was sent.
        sent = time.time()
        return book_view(ticker, await _read(lambda: self.client.orderbook(ticker)), sent)

    async def market(self, ticker: str) -> MarketView:
        now = time.monotonic()
        cached = self._markets.get(ticker)
        if cached is not None and now - cached[0] < MARKET_TTL:
            return cached[1]
        view = market_view(await _read(lambda: self.client.market(ticker)))
        self._markets.pop(ticker, None)
        if len(self._markets) >= MARKET_CACHE_SIZE:
            self._markets.pop(next(iter(self._markets)))
        self._markets[ticker] = (now, view)
        return view


class RestGateway(MarketData):
    """Orders on the exchange itself: the simulator (paper) or Kalshi (live)."""

    has_account = True

    async def place(self, request: PlaceRequest) -> Placed:
        try:
            ack = await _call(
                lambda: self.client.create_order(
                    ticker=request.ticker,
                    side=request.side,
                    count=request.count,
                    price=request.price,
                    time_in_force=request.time_in_force,
                    client_order_id=request.client_order_id,
                    expiration_time=request.expiration_ts,
                )
            )
        except rest.KalshiApiError as exc:
            if exc.status == 409 and exc.is_code("order_already_exists"):
                # Placed by an earlier run whose answer was lost (a crash, a retry): that order is ours.
                found = await self.find_order(request.client_order_id, request.ticker)
                if found is None:
                    # The exchange has it but does not list it (yet): not a rejection; ask again later.
                    raise ExchangeError(f"{request.client_order_id} exists on the exchange but is not listed") from exc
                remaining = found.remaining_count if found.status == "resting" else 0
                return Placed(found.order_id, found.fill_count, remaining)
            raise OrderRejected(exc.code or str(exc.status), exc.message or str(exc)) from exc
        return Placed(ack.order_id, int(ack.fill_count), int(ack.remaining_count))

    async def cancel(self, order_id: str, ticker: str) -> bool:
        try:
            await _call(lambda: self.client.cancel_order(order_id, market_ticker=ticker))
        except rest.KalshiApiError as exc:
            if exc.status == 404:
                return False  # already canceled, executed or unknown: dead either way
            raise ExchangeError(str(exc)) from exc
        return True

    async def order(self, order_id: str) -> ExchangeOrder | None:
        try:
            return exchange_order(await _call(lambda: self.client.order(order_id)))
        except rest.KalshiApiError as exc:
            if exc.status == 404:
                return None
            raise ExchangeError(str(exc)) from exc

    async def find_order(self, client_order_id: str, ticker: str) -> ExchangeOrder | None:
        found = await _call(lambda: self.client.find_order(client_order_id, ticker=ticker))
        return None if found is None else exchange_order(found)

    async def open_orders(self) -> list[ExchangeOrder]:
        return [exchange_order(o) for o in await _call(lambda: self.client.orders(status="resting"))]

    async def fills(self, order_id: str) -> list[FillReport]:
        return [fill_report(f) for f in await _call(lambda: self.client.fills(order_id=order_id))]

    async def positions(self) -> list[ExchangePosition]:
        positions = await _call(lambda: self.client.positions())
        return [exchange_position(p) for p in positions.market_positions]

    async def balance(self) -> int:
        return int((await _call(lambda: self.client.balance())).cash)

    async def settlements(self, since: float | None = None) -> list[SettlementReport]:
        min_ts = None if since is None else int(since)
        return [settlement_report(s) for s in await _call(lambda: self.client.settlements(min_ts=min_ts))]
