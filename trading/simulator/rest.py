"""The simulator's REST API under ``/trade-api/v2`` (PROTOCOL.md 8-9): Kalshi's paths,
bodies, status codes and all three error-body shapes, over the simulated exchange."""

import base64
import binascii
import logging
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from trading.simulator import account_wire, wire
from trading.simulator.markets import SERIES, SERIES_BY_TICKER, SimMarket

if TYPE_CHECKING:
    from trading.simulator.server import SimulatorServer

log = logging.getLogger("trading.simulator")

REST_PREFIX = "/trade-api/v2"

# GET /markets filters by words other than the statuses a market reports (PROTOCOL.md 8).
MARKET_STATUS_FILTER = {
    "unopened": "initialized",
    "open": "active",
    "paused": "inactive",
    "closed": "closed",
    "settled": "finalized",
}

# GET /events pages: Kalshi's limit is 1-200 (default 200).
EVENTS_PAGE_MAX = 200

# Kalshi's 429 body is a bare string (PROTOCOL.md 9), unlike every other error.
TOO_MANY_REQUESTS = {"error": "too many requests"}
SERVER_ERRORS = {
    500: {"error": {"code": "internal_server_error", "message": "internal server error", "service": "exchange"}},
    503: {"error": {"code": "service_unavailable", "message": "service unavailable", "service": "exchange"}},
}


def error_body(code: str, details: str = "", *, service: bool = True) -> dict[str, Any]:
    """Kalshi's nested error shape; exchange errors name the service unless they carry details."""
    error: dict[str, Any] = {"code": code, "message": code.replace("_", " ")}
    if details:
        error["details"] = details
    elif service:
        error["service"] = "exchange"
    return {"error": error}


# The 401 bodies recorded from Kalshi (PROTOCOL.md 2), by reason.
AUTH_ERRORS = {
    "bad_signature": {
        "error": {
            "code": "authentication_error",
            "message": "authentication_error",
            "details": "INCORRECT_API_KEY_SIGNATURE",
        }
    },
    "unknown_key": {
        "error": {"code": "authentication_error", "message": "authentication_error", "details": "NOT_FOUND"}
    },
    "stale": {"error": {"code": "header_timestamp_expired", "message": "header timestamp expired"}},
    "missing": {"error": {"code": "signature_is_missing_from_headers", "message": "signature is missing from headers"}},
}


class RestApi:
    """Request handlers of the reads (exchange, events, series, markets, the portfolio); order
    entry is trading.simulator.order_entry's."""

    def __init__(self, server: "SimulatorServer") -> None:
        self.server = server
        self.exchange = server.exchange

    def add_routes(self, app: web.Application) -> None:
        p = REST_PREFIX
        app.router.add_get(f"{p}/exchange/status", self._exchange_status)
        app.router.add_get(f"{p}/exchange/schedule", self._exchange_schedule)
        app.router.add_get(f"{p}/events", self._events)
        app.router.add_get(f"{p}/events/{{event_ticker}}", self._event)
        app.router.add_get(f"{p}/series", self._series_list)
        app.router.add_get(f"{p}/series/{{series_ticker}}", self._series)
        app.router.add_get(f"{p}/markets", self._markets)
        app.router.add_get(f"{p}/markets/trades", self._trades)
        app.router.add_get(f"{p}/markets/{{ticker}}", self._market)
        app.router.add_get(f"{p}/markets/{{ticker}}/orderbook", self._orderbook)
        app.router.add_get(f"{p}/portfolio/balance", self._balance)
        app.router.add_get(f"{p}/portfolio/positions", self._positions)
        app.router.add_get(f"{p}/portfolio/orders", self._orders)
        app.router.add_get(f"{p}/portfolio/orders/{{order_id}}", self._order)
        app.router.add_get(f"{p}/portfolio/fills", self._fills)
        app.router.add_get(f"{p}/portfolio/settlements", self._settlements)

    async def _exchange_status(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "exchange_active": True,
                "trading_active": self.exchange.trading_active,
                "exchange_estimated_resume_time": None,
            }
        )

    async def _exchange_schedule(self, request: web.Request) -> web.Response:
        return json_response(wire.schedule())

    async def _events(self, request: web.Request) -> web.Response:
        q = request.query
        limit = _limit(q, "GetEvents", maximum=EVENTS_PAGE_MAX, default=EVENTS_PAGE_MAX)
        if isinstance(limit, web.Response):
            return limit
        wanted_status = MARKET_STATUS_FILTER.get(q.get("status", ""), q.get("status"))
        events: dict[str, list[SimMarket]] = {}
        for market in self.exchange.markets.values():
            events.setdefault(market.event_ticker, []).append(market)
        chosen = [
            markets
            for markets in events.values()
            if (not q.get("series_ticker") or markets[0].series_ticker == q["series_ticker"])
            and (wanted_status is None or any(m.status == wanted_status for m in markets))
        ]
        page, cursor = _page(chosen, q.get("cursor"), limit)
        nested = q.get("with_nested_markets") == "true"
        return json_response(
            {
                "cursor": cursor,
                "events": [wire.event(self.exchange, markets, nested=nested) for markets in page],
                "milestones": [],
            }
        )

    async def _event(self, request: web.Request) -> web.Response:
        ticker = request.match_info["event_ticker"]
        markets = [m for m in self.exchange.markets.values() if m.event_ticker == ticker]
        if not markets:
            return json_response(error_body("not_found"), 404)
        nested = request.query.get("with_nested_markets") == "true"
        return json_response(
            {
                "event": wire.event(self.exchange, markets, nested=nested),
                "markets": [wire.market(self.exchange, m) for m in markets],
            }
        )

    async def _series_list(self, request: web.Request) -> web.Response:
        category = request.query.get("category")
        return json_response({"series": [wire.series(s) for s in SERIES if not category or s.category == category]})

    async def _series(self, request: web.Request) -> web.Response:
        series = SERIES_BY_TICKER.get(request.match_info["series_ticker"])
        if series is None:
            return json_response(error_body("not_found"), 404)
        return json_response({"series": wire.series(series)})

    async def _markets(self, request: web.Request) -> web.Response:
        q = request.query
        wanted_status = MARKET_STATUS_FILTER.get(q.get("status", ""), q.get("status"))
        tickers = set(filter(None, q.get("tickers", "").split(","))) or None
        markets = [
            m
            for m in self.exchange.markets.values()
            if (not q.get("event_ticker") or m.event_ticker in q["event_ticker"].split(","))
            and (not q.get("series_ticker") or m.series_ticker == q["series_ticker"])
            and (wanted_status is None or m.status == wanted_status)
            and (tickers is None or m.ticker in tickers)
            and _in_range(int(m.close_time.timestamp()), q.get("min_close_ts"), q.get("max_close_ts"))
        ]
        return _listing(q, "GetMarkets", "markets", markets, lambda m: wire.market(self.exchange, m))

    async def _market(self, request: web.Request) -> web.Response:
        market = self.exchange.markets.get(request.match_info["ticker"])
        if market is None:
            return json_response(error_body("not_found"), 404)
        return json_response({"market": wire.market(self.exchange, market)})

    async def _orderbook(self, request: web.Request) -> web.Response:
        ticker = request.match_info["ticker"]
        if ticker not in self.exchange.markets:
            return json_response(error_body("not_found"), 404)
        try:
            depth = int(request.query.get("depth", "0"))
        except ValueError:
            return json_response(
                {"msg": "Parameter validation failed for GetMarketOrderbook: depth must be an integer"}, 400
            )
        if depth > 100:
            return json_response(
                {"msg": "Parameter validation failed for GetMarketOrderbook: depth must be <= 100"}, 400
            )
        return json_response(wire.rest_orderbook(self.exchange, ticker, depth))

    async def _trades(self, request: web.Request) -> web.Response:
        q = request.query
        trades = [
            t
            for t in reversed(self.exchange.trades)
            if (not q.get("ticker") or t.ticker == q["ticker"])
            and _in_range(t.ts_ms // 1000, q.get("min_ts"), q.get("max_ts"))
        ]
        return _listing(q, "GetTrades", "trades", trades, wire.rest_trade)

    async def _balance(self, request: web.Request) -> web.Response:
        return json_response(account_wire.balance(self.exchange))

    async def _positions(self, request: web.Request) -> web.Response:
        q = request.query
        limit = _limit(q, "GetPositions", maximum=1000)
        if isinstance(limit, web.Response):
            return limit
        count_filter = set(filter(None, q.get("count_filter", "").split(",")))
        settlement_status = q.get("settlement_status", "unsettled")
        if settlement_status not in ("unsettled", "settled", "all"):
            return json_response(
                {"msg": "Parameter validation failed for GetPositions: settlement_status is not valid"}, 400
            )
        markets = self.exchange.markets
        positions = [
            p
            for p in self.exchange.account.positions.values()
            if (
                settlement_status == "all"
                or (markets[p.ticker].status == "finalized") == (settlement_status == "settled")
            )
            and (not q.get("ticker") or p.ticker == q["ticker"])
            and (not q.get("event_ticker") or p.event_ticker in q["event_ticker"].split(","))
            and ("position" not in count_filter or p.position)
            and ("total_traded" not in count_filter or p.total_traded)
        ]
        page, cursor = _page(positions, q.get("cursor"), limit)
        resting: dict[str, int] = {}
        for order in self.exchange.account.orders.values():
            if order.status == "resting":
                resting[order.ticker] = resting.get(order.ticker, 0) + 1
        events: dict[str, list] = {}
        for p in page:
            events.setdefault(p.event_ticker, []).append(p)
        return json_response(
            {
                "cursor": cursor,
                "event_positions": [account_wire.rest_event_position(e, ps) for e, ps in events.items()],
                "market_positions": [account_wire.rest_market_position(p, resting.get(p.ticker, 0)) for p in page],
            }
        )

    async def _orders(self, request: web.Request) -> web.Response:
        q = request.query
        events = set(filter(None, q.get("event_ticker", "").split(",")))
        markets = self.exchange.markets
        orders = [
            o
            for o in reversed(self.exchange.account.orders.values())
            if (not q.get("ticker") or o.ticker == q["ticker"])
            and (not events or markets[o.ticker].event_ticker in events)
            and (not q.get("status") or o.status == q["status"])
            and _in_range(o.created_ms // 1000, q.get("min_ts"), q.get("max_ts"))
        ]
        return _listing(q, "GetOrders", "orders", orders, account_wire.rest_order)

    async def _order(self, request: web.Request) -> web.Response:
        order = self.exchange.account.orders.get(request.match_info["order_id"])
        if order is None:
            return json_response(error_body("not_found"), 404)
        return json_response({"order": account_wire.rest_order(order)})

    async def _fills(self, request: web.Request) -> web.Response:
        q = request.query
        tickers = set(filter(None, q.get("ticker", "").split(",")))
        fills = [
            f
            for f in reversed(self.exchange.account.fills)
            if (not tickers or f.ticker in tickers)
            and (not q.get("order_id") or f.order_id == q["order_id"])
            and _in_range(f.ts_ms // 1000, q.get("min_ts"), q.get("max_ts"))
        ]
        return _listing(q, "GetFills", "fills", fills, account_wire.rest_fill)

    async def _settlements(self, request: web.Request) -> web.Response:
        q = request.query
        events = set(filter(None, q.get("event_ticker", "").split(",")))
        settlements = [
            s
            for s in reversed(self.exchange.account.settlements)
            if (not q.get("ticker") or s.ticker == q["ticker"])
            and (not events or s.event_ticker in events)
            and _in_range(s.settled_ms // 1000, q.get("min_ts"), q.get("max_ts"))
        ]
        return _listing(q, "GetSettlements", "settlements", settlements, account_wire.rest_settlement)


def json_response(body: Any, status: int = 200) -> web.Response:
    """A JSON reply serialized with orjson (Kalshi bodies are compact JSON)."""
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def flat_bad_request(details: str) -> dict[str, str]:
    return {"code": "bad_request", "message": "bad request", "details": details}


def _limit(query: Any, operation: str, *, maximum: int, default: int = 100) -> int | web.Response:
    """The ``limit`` query parameter, or the bare-shape 400 Kalshi sends."""
    text = query.get("limit", str(default))
    try:
        limit = int(text)
    except ValueError:
        return json_response({"msg": f"Parameter validation failed for {operation}: limit must be an integer"}, 400)
    if not 1 <= limit <= maximum:
        tag = "lte" if limit > maximum else "gte"
        params = operation.removeprefix("Get")
        return json_response(
            {
                "msg": f"Parameter validation failed for {operation}: Key: 'Get{params}Params.Limit' "
                f"Error:Field validation for 'Limit' failed on the '{tag}' tag"
            },
            400,
        )
    return limit


def _listing(query: Any, operation: str, key: str, items: list, render: Any) -> web.Response:
    """One page of a list endpoint: ``{"cursor": ..., key: [render(item), ...]}``."""
    limit = _limit(query, operation, maximum=1000)
    if isinstance(limit, web.Response):
        return limit
    page, cursor = _page(items, query.get("cursor"), limit)
    return json_response({"cursor": cursor, key: [render(item) for item in page]})


def _in_range(value: int, low: str | None, high: str | None) -> bool:
    try:
        return (not low or value >= int(low)) and (not high or value <= int(high))
    except ValueError:
        return True


def _page(items: list, cursor: str | None, limit: int) -> tuple[list, str]:
    """Offset pagination behind an opaque cursor; the last page has ``""``. A garbage
    cursor is not an error (Kalshi answers 200): it reads as an empty last page."""
    start = 0
    if cursor:
        try:
            start = int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("o:"))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return [], ""
    page = items[start : start + limit]
    end = start + limit
    next_cursor = base64.urlsafe_b64encode(f"o:{end}".encode()).decode() if end < len(items) else ""
    return page, next_cursor
