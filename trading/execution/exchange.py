"""The gateways of trading.execution.gateway over the Kalshi REST client, and the
choice between them from the settings (see the gateway module for the rules).

One REST client per process lives on the execution loop (trading.execution.loop),
so its connection pool is reused by every task the process runs.
"""

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from django.conf import settings

from trading.execution import loop
from trading.execution.gateway import (
    ExchangeError,
    ExchangeOrder,
    ExchangePosition,
    FillReport,
    Gateway,
    OrderRejected,
    Placed,
    PlaceRequest,
)
from trading.execution.rules import BookView, MarketView
from trading.kalshi import rest
from trading.kalshi.fees import taker_fee
from trading.kalshi.hosts import sends_orders
from trading.kalshi.messages import FillBody
from trading.orderbook import OrderBook
from trading.units import ONE_DOLLAR

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


def _order(order: rest.Order) -> ExchangeOrder:
    return ExchangeOrder(
        order_id=order.order_id,
        client_order_id=order.client_order_id,
        ticker=order.ticker,
        side=order.book_side,
        price=int(order.yes_price),
        status=order.status,
        fill_count=int(order.fill_count),
        remaining_count=int(order.remaining_count),
    )


def fill_report(fill: rest.Fill) -> FillReport:
    """A REST fill (PROTOCOL.md 8) as a FillReport."""
    ts = fill.ts if fill.ts is not None else (fill.created_time.timestamp() if fill.created_time else time.time())
    return FillReport(
        trade_id=fill.trade_id,
        order_id=fill.order_id,
        market_ticker=fill.market_ticker,
        side=fill.book_side,
        yes_price=int(fill.yes_price),
        count=int(fill.count),
        fee=int(fill.fee),
        is_taker=fill.is_taker,
        ts=float(ts),
    )


def fill_from_ws(body: FillBody) -> FillReport:
    """A WebSocket ``fill`` message body (PROTOCOL.md 6.4) as a FillReport."""
    return FillReport(
        trade_id=body.trade_id,
        order_id=body.order_id,
        market_ticker=body.market_ticker,
        side=body.book_side,
        yes_price=int(body.yes_price),
        count=int(body.count),
        fee=int(body.fee),
        is_taker=body.is_taker,
        ts=body.ts_ms / 1000,
        client_order_id=body.client_order_id or "",
    )


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
    """Book and market reads over REST, shared by both gateways."""

    def __init__(self, client: rest.KalshiRestClient) -> None:
        self.client = client
        self._markets: dict[str, tuple[float, MarketView]] = {}

    async def book(self, ticker: str) -> BookView:
        # The book can be from any moment after the request was sent.
        sent = time.time()
        levels = await _read(lambda: self.client.orderbook(ticker))
        book = OrderBook(ticker)
        book.apply_snapshot([(int(p), int(c)) for p, c in levels.yes], [(int(p), int(c)) for p, c in levels.no])
        return BookView(top=book.top(), as_of=sent)

    async def market(self, ticker: str) -> MarketView:
        now = time.monotonic()
        cached = self._markets.get(ticker)
        if cached is not None and now - cached[0] < MARKET_TTL:
            return cached[1]
        market = await _read(lambda: self.client.market(ticker))
        view = MarketView(
            status=market.status,
            close_ts=market.close_time.timestamp(),
            price_ranges=tuple((int(r.start), int(r.end), int(r.step)) for r in market.price_ranges),
        )
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
            return _order(await _call(lambda: self.client.order(order_id)))
        except rest.KalshiApiError as exc:
            if exc.status == 404:
                return None
            raise ExchangeError(str(exc)) from exc

    async def find_order(self, client_order_id: str, ticker: str) -> ExchangeOrder | None:
        found = await _call(lambda: self.client.find_order(client_order_id, ticker=ticker))
        return None if found is None else _order(found)

    async def open_orders(self) -> list[ExchangeOrder]:
        return [_order(o) for o in await _call(lambda: self.client.orders(status="resting"))]

    async def fills(self, order_id: str) -> list[FillReport]:
        return [fill_report(f) for f in await _call(lambda: self.client.fills(order_id=order_id))]

    async def positions(self) -> list[ExchangePosition]:
        positions = await _call(lambda: self.client.positions())
        return [
            ExchangePosition(
                ticker=p.ticker,
                position=int(p.position),
                cost=int(p.market_exposure),
                realized_pnl=int(p.realized_pnl),
                fees_paid=int(p.fees_paid),
            )
            for p in positions.market_positions
        ]

    async def balance(self) -> int:
        return int((await _call(lambda: self.client.balance())).cash)


class PaperBookGateway(MarketData):
    """Paper trading on demo/prod: no order ever reaches the exchange. A follow fills
    at once against the book copy read now, level by level up to its limit, as a
    taker with Kalshi's taker fee; what does not cross is canceled (paper orders
    never rest, since nothing would match them later)."""

    has_account = False

    async def place(self, request: PlaceRequest) -> Placed:
        levels = await _read(lambda: self.client.orderbook(request.ticker))
        # A bid takes NO bids (asks at 1 - p), best first; an ask takes YES bids, best first.
        if request.side == "bid":
            asks = sorted((ONE_DOLLAR - int(p), int(c)) for p, c in levels.no)
            crossing = [(p, c) for p, c in asks if p <= request.price]
        else:
            crossing = [(int(p), int(c)) for p, c in sorted(levels.yes, reverse=True) if int(p) >= request.price]
        left, fills, now = request.count, [], time.time()
        for price, size in crossing:
            if left <= 0:
                break
            qty = min(left, size)
            left -= qty
            fills.append(
                FillReport(
                    trade_id=f"paper-{request.client_order_id}-{len(fills) + 1}",
                    order_id=f"paper-{request.client_order_id}",
                    market_ticker=request.ticker,
                    side=request.side,
                    yes_price=price,
                    count=qty,
                    fee=taker_fee(qty, price),
                    is_taker=True,
                    ts=now,
                    client_order_id=request.client_order_id,
                )
            )
        return Placed(f"paper-{request.client_order_id}", request.count - left, 0, tuple(fills))

    async def cancel(self, order_id: str, ticker: str) -> bool:
        return False  # paper orders never rest

    async def order(self, order_id: str) -> ExchangeOrder | None:
        return None

    async def find_order(self, client_order_id: str, ticker: str) -> ExchangeOrder | None:
        return None

    async def open_orders(self) -> list[ExchangeOrder]:
        return []

    async def fills(self, order_id: str) -> list[FillReport]:
        return []

    async def positions(self) -> list[ExchangePosition]:
        return []

    async def balance(self) -> int:
        return 0


def gateway() -> Gateway:
    """This process's gateway for the current settings (one per settings combination)."""
    paper_on_book = not sends_orders(kalshi_env=settings.KALSHI.env, trading_mode=settings.KALSHI.trading_mode)
    key = f"gateway:{settings.KALSHI.trading_mode}:{settings.KALSHI.env}:{settings.KALSHI.api_url}"

    def make() -> Gateway:
        client = rest.KalshiRestClient.from_settings()
        return PaperBookGateway(client) if paper_on_book else RestGateway(client)

    return loop.loop_value(key, make)
