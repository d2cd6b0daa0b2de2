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

Responses are the msgspec structs of trading.kalshi.schemas.rest, holding
trading.units integers; a response that lacks a required field or has a wrong
type raises ``KalshiResponseError`` rather than being half-read. Every error
body shape Kalshi sends (nested, flat, bare, and the 429 string) becomes
``KalshiApiError(status, code, message, details)``.

Safety of retries: reads are retried on 429, 5xx and transport errors with
exponential backoff and jitter. An order create is retried only as the *same*
request, with the same ``client_order_id`` (one is generated when the caller gives
none), so Kalshi's idempotency guarantees at most one order; a 409
``order_already_exists`` on a retry means an earlier attempt landed, and the
client returns that order (looked up by ``client_order_id``) with
``recovered=True``. A 409 on the first attempt is the caller reusing an id: it
raises ``KalshiApiError`` and ``find_order()`` is there to look it up. When every
retry of a create failed (``KalshiTransportError``, or 429/5xx after ``max_retries``)
the order may or may not exist: ``find_order(client_order_id)`` tells.
"""

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import msgspec
import orjson

from trading.exchange import BookSide, TimeInForce
from trading.health import ComponentHealth, Criticality
from trading.kalshi.schemas.rest import (
    DECODERS,
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
    Series,
    SeriesList,
    SeriesResponse,
    Settlement,
    SettlementsPage,
    TradesPage,
)
from trading.kalshi.signing import Signer
from trading.units import ONE_DOLLAR, format_count, format_price

log = logging.getLogger(__name__)

# PROTOCOL.md 9: tokens per second (read, write) per usage tier; a request costs
# 10 tokens unless listed in ENDPOINT_COSTS. Prestige reads: the docs disagree
# (6,000 or 10,000); the lower figure cannot get us throttled.
TIERS: dict[str, tuple[int, int]] = {
    "basic": (200, 100),
    "advanced": (300, 300),
    "expert": (600, 600),
    "premier": (1_000, 1_000),
    "paragon": (2_000, 2_000),
    "prime": (4_000, 4_000),
    "prestige": (6_000, 8_000),
}
DEFAULT_COST = 10
# Live GET /account/endpoint_costs (2026-06): cheaper than the default.
CANCEL_COST = 2
GET_ORDER_COST = 2
# Page sizes: markets and trades allow 1,000; the portfolio lists document a 100 default;
# events allow 200.
MARKET_PAGE = 1_000
PORTFOLIO_PAGE = 100
EVENTS_PAGE = 200

SelfTradePrevention = Literal["taker_at_cross", "maker"]


@dataclass(frozen=True)
class NewOrder:
    """One CreateOrderV2 request (PROTOCOL.md 8) in trading.units integers: ``side`` on the
    YES book, ``price`` the YES price (1/10,000 $), ``count`` in 1/100 contracts."""

    ticker: str
    side: BookSide
    count: int
    price: int
    time_in_force: TimeInForce
    client_order_id: str
    self_trade_prevention_type: SelfTradePrevention = "taker_at_cross"
    post_only: bool | None = None
    reduce_only: bool | None = None
    expiration_time: int | None = None
    cancel_order_on_pause: bool | None = None
    subaccount: int | None = None

    def __post_init__(self) -> None:
        if self.count <= 0:
            raise ValueError(f"order count must be positive, got {self.count} (1/100 contracts)")
        if not 0 < self.price < ONE_DOLLAR:
            raise ValueError(f"order price must be between $0 and $1 exclusive, got {self.price} (1/10,000 $)")

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ticker": self.ticker,
            "client_order_id": self.client_order_id,
            "side": self.side,
            "count": format_count(self.count),
            "price": format_price(self.price),
            "time_in_force": self.time_in_force,
            "self_trade_prevention_type": self.self_trade_prevention_type,
        }
        optional = {
            "post_only": self.post_only,
            "reduce_only": self.reduce_only,
            "expiration_time": self.expiration_time,
            "cancel_order_on_pause": self.cancel_order_on_pause,
            "subaccount": self.subaccount,
        }
        body.update((key, value) for key, value in optional.items() if value is not None)
        return body


class KalshiApiError(Exception):
    """An HTTP error answer from Kalshi, whatever its body shape."""

    def __init__(self, status: int, code: str, message: str, details: str = "", service: str = ""):
        self.status, self.code, self.message, self.details, self.service = status, code, message, details, service
        text = f"Kalshi HTTP {status}"
        text += f" {code}" if code else ""
        text += f": {message}" if message and message != code else ""
        text += f" ({details})" if details else ""
        super().__init__(text)

    def is_code(self, code: str) -> bool:
        """Codes can carry a dynamic suffix (``user_not_found:_<uuid>``): match by prefix."""
        return self.code.startswith(code)

    @classmethod
    def from_response(cls, status: int, body: bytes) -> "KalshiApiError":
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return cls(status, "", body[:200].decode("utf-8", "replace").strip())
        if not isinstance(data, dict):
            return cls(status, "", str(data)[:200])
        error = data.get("error")
        if isinstance(error, dict):  # nested: most errors
            return cls(
                status,
                str(error.get("code", "")),
                str(error.get("message", "")),
                str(error.get("details") or ""),
                str(error.get("service") or ""),
            )
        if isinstance(error, str):  # 429: {"error": "too many requests"}
            return cls(status, "", error)
        if "code" in data:  # flat: the OpenAPI ErrorResponse
            return cls(status, str(data["code"]), str(data.get("message", "")), str(data.get("details") or ""))
        if "msg" in data:  # bare: query-parameter validation
            return cls(status, "", str(data["msg"]))
        return cls(status, "", str(data)[:200])


class KalshiResponseError(ValueError):
    """A success status whose body does not match the model (a field missing or of the wrong type)."""


class KalshiTransportError(ConnectionError):
    """Kalshi could not be reached (connection refused, timeout) after the retries."""


# ---- rate limiting --------------------------------------------------------------


class TokenBucket:
    """Kalshi's limiter mirrored locally, so we wait instead of collecting 429s.

    Capacity is one second of refill: the live Basic account showed exactly that,
    and a smaller burst than the docs' 2 s can only make us gentler."""

    def __init__(self, rate: float, capacity: float | None = None) -> None:
        self.rate = rate
        self.capacity = capacity or rate
        self.tokens = self.capacity
        self._updated = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self, cost: float) -> None:
        async with self._lock:  # first come, first served
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self.tokens >= cost:
                    self.tokens -= cost
                    return
                await asyncio.sleep((cost - self.tokens) / self.rate)


@dataclass
class RestMetrics:
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0  # 429 answers
    errors: int = 0  # error answers surfaced to the caller
    recovered_orders: int = 0  # retried creates answered by looking the order up

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class _Retry(Exception):
    """An attempt worth repeating (429, 5xx, transport); carries what to raise if out of attempts."""

    def __init__(self, final: Exception):
        super().__init__(str(final))
        self.final = final


# ---- the client -------------------------------------------------------------------


class KalshiRestClient:
    def __init__(
        self,
        rest_url: str,
        signer: Signer,
        *,
        tier: str = "basic",
        max_retries: int = 4,
        base_delay: float = 0.5,
        max_delay: float = 8.0,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if tier not in TIERS:
            raise ValueError(f"unknown Kalshi usage tier {tier!r}: one of {', '.join(TIERS)}")
        self.rest_url = rest_url.rstrip("/")
        self.signer = signer
        self.max_retries = max_retries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.metrics = RestMetrics()
        self._failures = 0  # requests failed in a row, for health()
        self._last_failure = ""
        read_rate, write_rate = TIERS[tier]
        self.read_bucket = TokenBucket(read_rate)
        self.write_bucket = TokenBucket(write_rate)
        self._base_path = urlsplit(self.rest_url).path
        self._http = httpx.AsyncClient(
            base_url=self.rest_url + "/",
            timeout=timeout,
            transport=transport,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            trust_env=False,
        )

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

    async def aclose(self) -> None:
        await self._http.aclose()

    # ---- market data --------------------------------------------------------------

    async def markets(self, *, max_items: int | None = None, **filters: Any) -> list[Market]:
        """``GET /markets``, every page; filters as Kalshi names them (``status="open"``, ``tickers=...``)."""
        return await _collect(self._pages("/markets", MarketsPage, "markets", filters, MARKET_PAGE), max_items)

    async def market(self, ticker: str) -> Market:
        return (await self._get(f"/markets/{ticker}", MarketResponse)).market

    async def orderbook(self, ticker: str, depth: int = 0) -> Orderbook:
        params = {"depth": depth} if depth else None
        return (await self._get(f"/markets/{ticker}/orderbook", OrderbookResponse, params)).orderbook

    async def trades(self, *, max_items: int | None = None, **filters: Any) -> list[PublicTrade]:
        """``GET /markets/trades`` (``ticker``, ``min_ts``, ``max_ts`` in Unix seconds)."""
        return await _collect(self._pages("/markets/trades", TradesPage, "trades", filters, MARKET_PAGE), max_items)

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
        return await _collect(
            self._pages("/portfolio/orders", OrdersPage, "orders", filters, PORTFOLIO_PAGE), max_items
        )

    async def order(self, order_id: str) -> Order:
        return (await self._get(f"/portfolio/orders/{order_id}", OrderResponse, cost=GET_ORDER_COST)).order

    async def fills(self, *, max_items: int | None = None, **filters: Any) -> list[Fill]:
        """``GET /portfolio/fills`` (``ticker``, ``order_id``, ``min_ts``, ``max_ts``)."""
        return await _collect(self._pages("/portfolio/fills", FillsPage, "fills", filters, PORTFOLIO_PAGE), max_items)

    async def settlements(self, *, max_items: int | None = None, **filters: Any) -> list[Settlement]:
        """``GET /portfolio/settlements`` (``ticker``, ``event_ticker``, ``min_ts``, ``max_ts``), newest first."""
        return await _collect(
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
            except _Retry as retry:
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
        return await _collect(self._pages("/events", EventsPage, "events", filters, EVENTS_PAGE), max_items)

    async def event(self, event_ticker: str) -> EventResponse:
        return await self._get(f"/events/{event_ticker}", EventResponse)

    async def series_list(self, **filters: Any) -> list[Series]:
        """``GET /series`` (``category``)."""
        params = {key: value for key, value in filters.items() if value is not None} or None
        return (await self._get("/series", SeriesList, params)).series

    async def series(self, series_ticker: str) -> Series:
        return (await self._get(f"/series/{series_ticker}", SeriesResponse)).series

    # ---- health -------------------------------------------------------------------

    def health(self) -> ComponentHealth:
        """Unhealthy while the exchange's REST API keeps failing (transport errors, 5xx, 429):
        from the first failure until a request gets an answer again."""
        failing = self._failures > 0
        return ComponentHealth(
            "kalshi_rest",
            not failing,
            Criticality.NON_CRITICAL,
            f"{self._failures} request(s) failed in a row: {self._last_failure}" if failing else "",
            self.metrics.to_dict(),
        )

    # ---- plumbing -----------------------------------------------------------------

    async def _get(self, path: str, model: type, params: dict[str, Any] | None = None, cost: int = DEFAULT_COST) -> Any:
        return await self._retrying("GET", path, model, params=params, cost=cost, retry_server_errors=True)

    async def _retrying(
        self,
        method: str,
        path: str,
        model: type | None,
        *,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        write: bool = False,
        cost: int = DEFAULT_COST,
        retry_server_errors: bool = False,
    ) -> Any:
        """``model`` None: an answer without a body (204)."""
        attempt = 0
        while True:
            try:
                response = await self._send(method, path, params=params, content=content, write=write, cost=cost)
                if response.status_code < 300:
                    return None if model is None else self._decode(model, response, f"{method} {path}")
                raise self._error(response, retryable=retry_server_errors)
            except _Retry as retry:
                attempt += 1
                if attempt > self.max_retries:
                    raise retry.final from None
                await self._pause(f"{method} {path}", attempt, retry.final)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        write: bool = False,
        cost: int = DEFAULT_COST,
    ) -> httpx.Response:
        await (self.write_bucket if write else self.read_bucket).acquire(cost)
        headers = self.signer.headers(method, self._base_path + path)
        self.metrics.requests += 1
        try:
            response = await self._http.request(
                method, path.lstrip("/"), params=params, content=content, headers=headers
            )
        except httpx.TransportError as exc:
            self._failed(f"{method} {path}: {exc!r}")
            raise _Retry(KalshiTransportError(f"{method} {path}: {exc!r}")) from exc
        if response.status_code >= 500 or response.status_code == 429:
            self._failed(f"{method} {path}: HTTP {response.status_code}")
        else:
            self._failures = 0
        return response

    def _failed(self, what: str) -> None:
        self._failures += 1
        self._last_failure = what

    def _error(self, response: httpx.Response, *, retryable: bool) -> Exception:
        error = KalshiApiError.from_response(response.status_code, response.content)
        if response.status_code == 429:
            self.metrics.rate_limited += 1
            return _Retry(error)
        if response.status_code >= 500 and retryable:
            return _Retry(error)
        self.metrics.errors += 1
        return error

    async def _pause(self, what: str, attempt: int, cause: Exception) -> None:
        """Exponential backoff with jitter; Kalshi's 429 carries no Retry-After to go by."""
        self.metrics.retries += 1
        delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
        log.warning("%s: %s; retry %d/%d in %.2f s", what, cause, attempt, self.max_retries, delay)
        await asyncio.sleep(delay)

    @staticmethod
    def _decode(model: type, response: httpx.Response, what: str) -> Any:
        try:
            return DECODERS[model].decode(response.content)
        except msgspec.DecodeError as exc:
            raise KalshiResponseError(f"{what}: unexpected response ({exc})") from None

    async def _page_objects(
        self, path: str, page_model: type, filters: dict[str, Any], page_size: int
    ) -> AsyncGenerator[Any, None]:
        """Pages of a cursor listing; the cursor does not remember filters, so they go every time.
        Kalshi accepts a garbage cursor with 200, so a repeated cursor ends the loop."""
        params = {key: value for key, value in filters.items() if value is not None}
        params.setdefault("limit", page_size)
        seen: set[str] = set()
        while True:
            page = await self._get(path, page_model, params)
            yield page
            if not page.cursor:
                return
            if page.cursor in seen:
                log.warning("GET %s: cursor %r came back twice; stopping", path, page.cursor)
                return
            seen.add(page.cursor)
            params["cursor"] = page.cursor

    async def _pages(
        self, path: str, page_model: type, key: str, filters: dict[str, Any], page_size: int
    ) -> AsyncGenerator[Any, None]:
        async for page in self._page_objects(path, page_model, filters, page_size):
            for item in getattr(page, key):
                yield item


async def _collect(items: AsyncGenerator[Any, None], max_items: int | None) -> list[Any]:
    result = []
    async with contextlib.aclosing(items):
        async for item in items:
            result.append(item)
            if max_items is not None and len(result) >= max_items:
                break
    return result
