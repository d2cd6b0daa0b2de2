"""Kalshi Trade API v2 REST client (PROTOCOL.md 8-9): signed, rate limited, retried.

Public API (the execution layer places orders through this)::

    async with KalshiRestClient.from_settings() as rest:     # or KalshiRestClient(url, signer)
        markets = await rest.markets(status="open")          # every page (cursor loop, repeat guard)
        market = await rest.market(ticker)
        book = await rest.orderbook(ticker)                  # Orderbook(yes=[(price, count)], no=[...])
        trades = await rest.trades(ticker=ticker, max_items=100)
        balance = await rest.balance()
        positions = await rest.positions()                   # Positions(market_positions, event_positions)
        orders = await rest.orders(ticker=ticker, status="resting"); order = await rest.order(order_id)
        ack = await rest.create_order(ticker=t, side="bid", count=1000, price=4400,
                                      time_in_force="good_till_canceled", client_order_id="v3-dec-1-a")
        cancel = await rest.cancel_order(order_id, market_ticker=t)
        fills = await rest.fills(order_id=order_id)
        settlements = await rest.settlements()               # the account's settled markets
        await rest.amend_order(order_id, ticker=t, side="bid", price=4500, count=1500)
        await rest.decrease_order(order_id, reduce_by=500)   # or reduce_to=
        slots = await rest.batch_create_orders([NewOrder(...), ...]); await rest.batch_cancel_orders([id, ...])
        await rest.cancel_all_orders()
        status = await rest.exchange_status(); schedule = await rest.exchange_schedule()
        events = await rest.events(status="open"); event = await rest.event(event_ticker)
        series = await rest.series_list(); one = await rest.series(series_ticker)
        rest.health()                                        # unhealthy while requests keep failing

Requests go through trading.kalshi.transport (signing, rate limits of
trading.kalshi.rate_limits, retries, paging). Responses are the msgspec structs of
trading.kalshi.schemas.rest, holding
trading.units integers; a response that lacks a required field or has a wrong
type raises ``KalshiResponseError`` rather than being half-read. Every error
body shape Kalshi sends (nested, flat, bare, and the 429 string) becomes
``KalshiApiError(status, code, message, details)`` (trading.kalshi.errors).

Safety of retries: reads are retried on 429, 5xx and transport errors with
exponential backoff and jitter. An order create is retried only as the *same*
request, with the same ``client_order_id`` (one is generated when the caller gives
none), so Kalshi's idempotency guarantees at most one order; a 409
``order_already_exists`` on a retry means an earlier attempt landed, and the
client returns that order (looked up by ``client_order_id``) with
``recovered=True``. A 409 on the first attempt is the caller reusing an id: it
raises ``KalshiApiError`` and ``find_order()`` is there to look it up. When every
retry of a create failed (``KalshiTransportError``, or 429/5xx after ``max_retries``)
the order may or may not exist: ``find_order(client_order_id)`` tells. Batch creates,
amends and decreases are retried on 429 only (refused before anything happened).
"""

import contextlib
import logging
import uuid
from collections.abc import Sequence
from typing import Any

import orjson

from trading.exchange import BookSide, TimeInForce
from trading.kalshi.errors import KalshiApiError
from trading.kalshi.rate_limits import CANCEL_COST, DEFAULT_COST, GET_ORDER_COST
from trading.kalshi.schemas.rest import (
    AmendAck,
    Balance,
    BatchCanceled,
    BatchCancelResponse,
    BatchCreated,
    BatchCreateResponse,
    CancelAck,
    DecreaseAck,
    Event,
    EventPosition,
    EventResponse,
    EventsPage,
    ExchangeStatus,
    Fill,
    FillsPage,
    Market,
    MarketPosition,
    MarketResponse,
    MarketsPage,
    NewOrder,
    Order,
    OrderAck,
    Orderbook,
    OrderbookResponse,
    OrderResponse,
    OrdersPage,
    Positions,
    PositionsPage,
    PublicTrade,
    Schedule,
    ScheduleResponse,
    SelfTradePrevention,
    Series,
    SeriesList,
    SeriesResponse,
    Settlement,
    SettlementsPage,
    TradesPage,
)
from trading.kalshi.transport import RestTransport, Retry, collect
from trading.units import format_count, format_price

log = logging.getLogger(__name__)

# Page sizes: markets and trades allow 1,000; the portfolio lists document a 100 default;
# events allow 200.
MARKET_PAGE = 1_000
PORTFOLIO_PAGE = 100
EVENTS_PAGE = 200

# ---- the client -------------------------------------------------------------------


class KalshiRestClient(RestTransport):
    """Kalshi's Trade API v2, one method per call (the transport is trading.kalshi.transport)."""

    @classmethod
    def from_settings(cls, **options: Any) -> "KalshiRestClient":
        """A client for the configured environment (trading.kalshi.environments)."""
        from trading.kalshi.environments import kalshi_endpoints

        endpoints = kalshi_endpoints()
        return cls(endpoints.rest_url, endpoints.signer, **options)

    async def __aenter__(self) -> "KalshiRestClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ---- market data --------------------------------------------------------------

    async def markets(self, *, max_items: int | None = None, **filters: Any) -> list[Market]:
        """``GET /markets``, every page; filters as Kalshi names them (``status="open"``, ``tickers=...``)."""
        return await collect(self._pages("/markets", MarketsPage, "markets", filters, MARKET_PAGE), max_items)

    async def market(self, ticker: str) -> Market:
        return (await self._get(f"/markets/{ticker}", MarketResponse)).market

    async def orderbook(self, ticker: str, depth: int = 0) -> Orderbook:
        params = {"depth": depth} if depth else None
        return (await self._get(f"/markets/{ticker}/orderbook", OrderbookResponse, params)).orderbook

    async def trades(self, *, max_items: int | None = None, **filters: Any) -> list[PublicTrade]:
        """``GET /markets/trades`` (``ticker``, ``min_ts``, ``max_ts`` in Unix seconds)."""
        return await collect(self._pages("/markets/trades", TradesPage, "trades", filters, MARKET_PAGE), max_items)

    # ---- portfolio ----------------------------------------------------------------

    async def balance(self) -> Balance:
        return await self._get("/portfolio/balance", Balance)

    async def positions(self, **filters: Any) -> Positions:
        market_positions: list[MarketPosition] = []
        event_positions: list[EventPosition] = []
        async for page in self._page_objects("/portfolio/positions", PositionsPage, filters, PORTFOLIO_PAGE):
            market_positions.extend(page.market_positions)
            event_positions.extend(page.event_positions)
        return Positions(market_positions, event_positions)

    async def orders(self, *, max_items: int | None = None, **filters: Any) -> list[Order]:
        """``GET /portfolio/orders`` (``ticker``, ``event_ticker``, ``status``, ``min_ts``, ``max_ts``)."""
        return await collect(self._pages("/portfolio/orders", OrdersPage, "orders", filters, PORTFOLIO_PAGE), max_items)

    async def order(self, order_id: str) -> Order:
        return (await self._get(f"/portfolio/orders/{order_id}", OrderResponse, cost=GET_ORDER_COST)).order

    async def fills(self, *, max_items: int | None = None, **filters: Any) -> list[Fill]:
        """``GET /portfolio/fills`` (``ticker``, ``order_id``, ``min_ts``, ``max_ts``)."""
        return await collect(self._pages("/portfolio/fills", FillsPage, "fills", filters, PORTFOLIO_PAGE), max_items)

    async def settlements(self, *, max_items: int | None = None, **filters: Any) -> list[Settlement]:
        """``GET /portfolio/settlements`` (``ticker``, ``event_ticker``, ``min_ts``, ``max_ts``), newest first."""
        return await collect(
            self._pages("/portfolio/settlements", SettlementsPage, "settlements", filters, PORTFOLIO_PAGE), max_items
        )

    async def find_order(self, client_order_id: str, *, ticker: str | None = None) -> Order | None:
        """The order placed with ``client_order_id`` (Kalshi has no filter for it: scan, by ticker if known)."""
        filters = {"ticker": ticker} if ticker else {}
        async with contextlib.aclosing(
            self._pages("/portfolio/orders", OrdersPage, "orders", filters, PORTFOLIO_PAGE)
        ) as orders:
            async for order in orders:
                if order.client_order_id == client_order_id:
                    return order
        return None

    # ---- orders -------------------------------------------------------------------

    async def create_order(
        self,
        *,
        ticker: str,
        side: BookSide,
        count: int,
        price: int,
        time_in_force: TimeInForce,
        client_order_id: str | None = None,
        self_trade_prevention_type: SelfTradePrevention = "taker_at_cross",
        post_only: bool | None = None,
        reduce_only: bool | None = None,
        expiration_time: int | None = None,
        cancel_order_on_pause: bool | None = None,
        subaccount: int | None = None,
    ) -> OrderAck:
        """``POST /portfolio/events/orders``: ``side`` on the YES book, ``price`` the YES price
        (1/10,000 $), ``count`` in 1/100 contracts. Never places a second order on retry."""
        request = NewOrder(
            ticker=ticker,
            side=side,
            count=count,
            price=price,
            time_in_force=time_in_force,
            client_order_id=client_order_id or f"v3-{uuid.uuid4()}",
            self_trade_prevention_type=self_trade_prevention_type,
            post_only=post_only,
            reduce_only=reduce_only,
            expiration_time=expiration_time,
            cancel_order_on_pause=cancel_order_on_pause,
            subaccount=subaccount,
        )
        body = request.body()
        client_order_id = request.client_order_id
        content = orjson.dumps(body)
        attempt = 0
        while True:
            try:
                response = await self._send("POST", "/portfolio/events/orders", content=content, write=True)
                if response.status_code in (200, 201):
                    return self._decode(OrderAck, response, "POST /portfolio/events/orders")
                raise self._error(response, retryable=True)
            except Retry as retry:
                attempt += 1
                if attempt > self.max_retries:
                    raise retry.final from None
                await self._pause("POST /portfolio/events/orders", attempt, retry.final)
            except KalshiApiError as exc:
                if attempt and exc.status == 409 and exc.is_code("order_already_exists"):
                    # An earlier attempt landed (its answer was lost): return that order.
                    order = await self.find_order(client_order_id, ticker=ticker)
                    if order is not None:
                        self.metrics.recovered_orders += 1
                        log.info("order %s was already placed by an earlier attempt", client_order_id)
                        return OrderAck.from_order(order)
                raise

    async def cancel_order(self, order_id: str, *, market_ticker: str | None = None) -> CancelAck:
        """``DELETE /portfolio/events/orders/{id}``; 404 ``not_found`` = already dead (canceled, filled, unknown)."""
        params = {"market_ticker": market_ticker} if market_ticker else None
        path = f"/portfolio/events/orders/{order_id}"
        return await self._retrying(
            "DELETE", path, CancelAck, params=params, write=True, cost=CANCEL_COST, retry_server_errors=True
        )

    async def batch_create_orders(self, orders: Sequence[NewOrder]) -> list[BatchCreated]:
        """``POST /portfolio/events/orders/batched`` (at most 20): one slot per order, in order,
        each the order's ack or its ``error``. Retried only on 429 (nothing was taken): after a
        lost answer, ``find_order`` by each client order id tells what landed."""
        content = orjson.dumps({"orders": [order.body() for order in orders]})
        path = "/portfolio/events/orders/batched"
        answer = await self._retrying(
            "POST", path, BatchCreateResponse, content=content, write=True, cost=DEFAULT_COST * len(orders)
        )
        return answer.orders

    async def batch_cancel_orders(self, order_ids: Sequence[str]) -> list[BatchCanceled]:
        """``DELETE /portfolio/events/orders/batched``: one slot per order, a dead one with its ``error``."""
        content = orjson.dumps({"orders": [{"order_id": order_id} for order_id in order_ids]})
        path = "/portfolio/events/orders/batched"
        answer = await self._retrying(
            "DELETE",
            path,
            BatchCancelResponse,
            content=content,
            write=True,
            cost=CANCEL_COST * len(order_ids),
            retry_server_errors=True,  # a cancel repeated is harmless: the second finds the order dead
        )
        return answer.orders

    async def cancel_all_orders(self) -> None:
        """``DELETE /portfolio/events/orders``: every resting order of the account (204)."""
        await self._retrying("DELETE", "/portfolio/events/orders", None, write=True, retry_server_errors=True)

    async def amend_order(
        self,
        order_id: str,
        *,
        ticker: str,
        side: BookSide,
        price: int,
        count: int,
        updated_client_order_id: str | None = None,
    ) -> AmendAck:
        """``POST .../{id}/amend``: a new YES ``price`` and/or total ``count`` (filled included)."""
        body: dict[str, Any] = {
            "ticker": ticker,
            "side": side,
            "price": format_price(price),
            "count": format_count(count),
        }
        if updated_client_order_id:
            body["updated_client_order_id"] = updated_client_order_id
        path = f"/portfolio/events/orders/{order_id}/amend"
        return await self._retrying("POST", path, AmendAck, content=orjson.dumps(body), write=True)

    async def decrease_order(
        self, order_id: str, *, reduce_by: int | None = None, reduce_to: int | None = None
    ) -> DecreaseAck:
        """``POST .../{id}/decrease`` by ``reduce_by`` or to ``reduce_to`` (one of them, 1/100 contracts)."""
        if (reduce_by is None) == (reduce_to is None):
            raise ValueError("give exactly one of reduce_by and reduce_to")
        body = (
            {"reduce_by": format_count(reduce_by)}
            if reduce_by is not None
            else {"reduce_to": format_count(reduce_to or 0)}
        )
        path = f"/portfolio/events/orders/{order_id}/decrease"
        return await self._retrying("POST", path, DecreaseAck, content=orjson.dumps(body), write=True)

    # ---- the exchange, events and series ------------------------------------------

    async def exchange_status(self) -> ExchangeStatus:
        return await self._get("/exchange/status", ExchangeStatus)

    async def exchange_schedule(self) -> Schedule:
        return (await self._get("/exchange/schedule", ScheduleResponse)).schedule

    async def events(self, *, max_items: int | None = None, **filters: Any) -> list[Event]:
        """``GET /events`` (``status``, ``series_ticker``, ``with_nested_markets``), every page."""
        return await collect(self._pages("/events", EventsPage, "events", filters, EVENTS_PAGE), max_items)

    async def event(self, event_ticker: str) -> EventResponse:
        return await self._get(f"/events/{event_ticker}", EventResponse)

    async def series_list(self, **filters: Any) -> list[Series]:
        """``GET /series`` (``category``)."""
        params = {key: value for key, value in filters.items() if value is not None} or None
        return (await self._get("/series", SeriesList, params)).series

    async def series(self, series_ticker: str) -> Series:
        return (await self._get(f"/series/{series_ticker}", SeriesResponse)).series
