"""The simulator's REST API under ``/trade-api/v2`` (PROTOCOL.md 8-9): Kalshi's paths,
bodies, status codes and all three error-body shapes, over the simulated exchange."""

import asyncio
import base64
import binascii
import logging
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from trading.simulator import wire
from trading.simulator.markets import SERIES, SERIES_BY_TICKER, SimMarket
from trading.simulator.records import ASK, BID, SELF_TRADE_PREVENTION, TIME_IN_FORCE, OrderRejected
from trading.units import UnitError, format_count, parse_count, parse_price

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

# Kalshi takes at most 20 orders in one batch create or cancel (docs: batch_create_orders).
MAX_BATCH = 20
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
    """Request handlers; every order operation publishes its events before replying."""

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
        app.router.add_post(f"{p}/portfolio/events/orders", self._create_order)
        app.router.add_delete(f"{p}/portfolio/events/orders", self._cancel_all)
        # Before ``{order_id}``: the batch cancel must never read as the cancel of an order "batched".
        app.router.add_post(f"{p}/portfolio/events/orders/batched", self._batch_create)
        app.router.add_delete(f"{p}/portfolio/events/orders/batched", self._batch_cancel)
        app.router.add_delete(f"{p}/portfolio/events/orders/{{order_id}}", self._cancel_order)
        app.router.add_post(f"{p}/portfolio/events/orders/{{order_id}}/amend", self._amend_order)
        app.router.add_post(f"{p}/portfolio/events/orders/{{order_id}}/decrease", self._decrease_order)
        for method, path in (
            ("POST", "/portfolio/orders"),
            ("POST", "/portfolio/orders/batched"),
            ("DELETE", "/portfolio/orders/batched"),
            ("DELETE", "/portfolio/orders/{order_id}"),
            ("POST", "/portfolio/orders/{order_id}/amend"),
            ("POST", "/portfolio/orders/{order_id}/decrease"),
        ):
            app.router.add_route(method, f"{p}{path}", self._deprecated_v1)

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
        return json_response(wire.balance(self.exchange))

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
                "event_positions": [wire.rest_event_position(e, ps) for e, ps in events.items()],
                "market_positions": [wire.rest_market_position(p, resting.get(p.ticker, 0)) for p in page],
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
        return _listing(q, "GetOrders", "orders", orders, wire.rest_order)

    async def _order(self, request: web.Request) -> web.Response:
        order = self.exchange.account.orders.get(request.match_info["order_id"])
        if order is None:
            return json_response(error_body("not_found"), 404)
        return json_response({"order": wire.rest_order(order)})

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
        return _listing(q, "GetFills", "fills", fills, wire.rest_fill)

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
        return _listing(q, "GetSettlements", "settlements", settlements, wire.rest_settlement)

    async def _create_order(self, request: web.Request) -> web.Response:
        body = await _json_body(request, "CreateOrderV2Request")
        if isinstance(body, web.Response):
            return body
        try:
            order_args = _order_request(body)
        except BadOrder as exc:
            return json_response(exc.body, 400)
        if delay_ms := self.server.faults.order_delay_ms:
            # The request is held, then taken even if its client is gone meanwhile
            # (aiohttp does not cancel a handler on disconnect): the answer is lost, the order is not.
            await asyncio.sleep(delay_ms / 1000)
        try:
            order = self.exchange.place_order(**order_args)
        except OrderRejected as exc:
            log.info("order refused: %s %s", exc.code, exc.details)
            return json_response(error_body(exc.code, exc.details), exc.status)
        finally:
            self.server.publish()
        return json_response(wire.create_order_response(order), 201)

    async def _batch_create(self, request: web.Request) -> web.Response:
        """Each order of the batch placed in turn; a refused one answers with its ``error`` in its slot."""
        body = await _json_body(request, "BatchCreateOrdersV2Request")
        if isinstance(body, web.Response):
            return body
        orders = body.get("orders")
        if not isinstance(orders, list) or not orders or len(orders) > MAX_BATCH:
            return json_response(error_body("invalid_parameters", f"orders must hold 1 to {MAX_BATCH} orders"), 400)
        results = []
        try:
            for item in orders:
                coid = item.get("client_order_id") if isinstance(item, dict) else None
                try:
                    if not isinstance(item, dict):
                        raise BadOrder(error_body("invalid_parameters", "each order must be an object"))
                    order = self.exchange.place_order(**_order_request(item))
                except BadOrder as exc:
                    results.append({"client_order_id": coid, "error": exc.slot_error})
                    continue
                except OrderRejected as exc:
                    results.append({"client_order_id": coid, "error": error_body(exc.code, exc.details)["error"]})
                    continue
                results.append(wire.create_order_response(order))
        finally:
            self.server.publish()
        return json_response({"orders": results}, 201)

    async def _cancel_order(self, request: web.Request) -> web.Response:
        try:
            order, reduced = self.exchange.cancel_order(request.match_info["order_id"])
        except OrderRejected as exc:
            return json_response(error_body(exc.code, exc.details), exc.status)
        finally:
            self.server.publish()
        return json_response(wire.cancel_response(order, reduced))

    async def _batch_cancel(self, request: web.Request) -> web.Response:
        body = await _json_body(request, "BatchCancelOrdersV2Request")
        if isinstance(body, web.Response):
            return body
        orders = body.get("orders")
        if (
            not isinstance(orders, list)
            or not orders
            or len(orders) > MAX_BATCH
            or not all(isinstance(o, dict) and isinstance(o.get("order_id"), str) for o in orders)
        ):
            return json_response(
                error_body("invalid_parameters", f"orders must hold 1 to {MAX_BATCH} objects with an order_id"), 400
            )
        results = []
        try:
            for item in orders:
                try:
                    order, reduced = self.exchange.cancel_order(item["order_id"])
                except OrderRejected as exc:
                    error = error_body(exc.code, exc.details)["error"]
                    results.append({"order_id": item["order_id"], "reduced_by": "0.00", "error": error})
                    continue
                results.append(wire.cancel_response(order, reduced))
        finally:
            self.server.publish()
        return json_response({"orders": results})

    async def _cancel_all(self, request: web.Request) -> web.Response:
        try:
            canceled = self.exchange.cancel_all()
        finally:
            self.server.publish()
        log.info("cancel-all: %d orders canceled", canceled)
        return web.Response(status=204)

    async def _amend_order(self, request: web.Request) -> web.Response:
        body = await _json_body(request, "AmendOrderV2Request")
        if isinstance(body, web.Response):
            return body
        for name in ("ticker", "side", "price", "count"):
            if not isinstance(body.get(name), str) or not body[name]:
                return json_response(error_body("invalid_parameters", f"{name} is required"), 400)
        try:
            price, count = parse_price(body["price"]), parse_count(body["count"])
        except UnitError as exc:
            return json_response(error_body("invalid_parameters", str(exc)), 400)
        order_id = request.match_info["order_id"]
        try:
            order = self.exchange.amend_order(
                order_id,
                ticker=body["ticker"],
                side=body["side"],
                price=price,
                count=count,
                updated_client_order_id=str(body.get("updated_client_order_id") or ""),
            )
        except OrderRejected as exc:
            return json_response(error_body(exc.code, exc.details), exc.status)
        finally:
            self.server.publish()
        return json_response(wire.create_order_response(order))

    async def _decrease_order(self, request: web.Request) -> web.Response:
        body = await _json_body(request, "DecreaseOrderV2Request")
        if isinstance(body, web.Response):
            return body
        order = self.exchange.account.orders.get(request.match_info["order_id"])
        given = [name for name in ("reduce_by", "reduce_to") if body.get(name) is not None]
        if len(given) != 1 or not isinstance(body[given[0]], str):
            return json_response(error_body("invalid_parameters", "exactly one of reduce_by and reduce_to"), 400)
        try:
            amount = parse_count(body[given[0]])
        except UnitError as exc:
            return json_response(error_body("invalid_parameters", str(exc)), 400)
        remaining = order.remaining if order is not None else 0
        reduce_by = amount if given[0] == "reduce_by" else remaining - amount
        try:
            order = self.exchange.decrease_order(request.match_info["order_id"], reduce_by=reduce_by)
        except OrderRejected as exc:
            return json_response(error_body(exc.code, exc.details), exc.status)
        finally:
            self.server.publish()
        reply: dict[str, Any] = {"order_id": order.order_id}
        if order.client_order_id:
            reply["client_order_id"] = order.client_order_id
        reply |= {"remaining_count": format_count(order.remaining), "ts_ms": order.last_update_ms}
        return json_response(reply)

    async def _deprecated_v1(self, request: web.Request) -> web.Response:
        return json_response(error_body("deprecated_v1_order_endpoint"), 410)


async def _json_body(request: web.Request, model: str) -> dict[str, Any] | web.Response:
    """The request's JSON object, or the flat 400 Kalshi answers a body that is not one with."""
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        return json_response(_flat_bad_request(f"invalid character in JSON body: {exc.msg}"), 400)
    if not isinstance(body, dict):
        return json_response(_flat_bad_request(f"json: cannot unmarshal into Go value of type {model}"), 400)
    return body


# CreateOrderV2's fields and their JSON types (PROTOCOL.md 8).
ORDER_FIELDS: dict[str, type] = {
    "ticker": str,
    "side": str,
    "count": str,
    "price": str,
    "time_in_force": str,
    "self_trade_prevention_type": str,
    "client_order_id": str,
    "post_only": bool,
    "reduce_only": bool,
    "cancel_order_on_pause": bool,
    "expiration_time": int,
    "subaccount": int,
    "exchange_index": int,
    "order_group_id": str,
}


class BadOrder(Exception):
    """A CreateOrderV2 body Kalshi refuses before the exchange sees it; ``body`` is the 400's."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(str(body))
        self.body = body

    @property
    def slot_error(self) -> dict[str, Any]:
        """The error as a batch answer's slot carries it (Kalshi's ``ErrorResponse``)."""
        nested = self.body.get("error")
        return nested if isinstance(nested, dict) else self.body


def _order_request(body: dict[str, Any]) -> dict[str, Any]:
    """A CreateOrderV2 body checked as Kalshi checks it: the keyword arguments of
    ``place_order``; ``BadOrder`` with Kalshi's 400 body otherwise (the flat shape for a
    field of the wrong JSON type, the nested one for a bad value)."""
    for name, kind in ORDER_FIELDS.items():
        value = body.get(name)
        if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
            go_type = {str: "string", bool: "bool", int: "int64"}[kind]
            got = "number" if isinstance(value, int | float) and not isinstance(value, bool) else type(value).__name__
            details = f"json: cannot unmarshal {got} into Go struct field CreateOrderV2Request.{name} of type {go_type}"
            raise BadOrder(_flat_bad_request(details))
    for name in ("ticker", "side", "count", "price", "time_in_force", "self_trade_prevention_type"):
        if not body.get(name):
            raise BadOrder(error_body("invalid_parameters", f"{name} is required"))
    if body["side"] not in (BID, ASK):
        raise BadOrder(error_body("invalid_parameters", "side must be bid or ask"))
    if body["time_in_force"] not in TIME_IN_FORCE:
        raise BadOrder(error_body("invalid_parameters", "unknown time_in_force"))
    if body["self_trade_prevention_type"] not in SELF_TRADE_PREVENTION:
        raise BadOrder(error_body("invalid_parameters", "unknown self_trade_prevention_type"))
    if body.get("expiration_time") is not None and body["time_in_force"] != "good_till_canceled":
        raise BadOrder(error_body("invalid_parameters", "expiration_time needs good_till_canceled"))
    if body.get("reduce_only") and body["time_in_force"] != "immediate_or_cancel":
        raise BadOrder(error_body("invalid_parameters", "reduce_only needs immediate_or_cancel"))
    try:
        count = parse_count(body["count"])
    except UnitError:
        raise BadOrder(error_body("invalid_parameters", "count must have at most 2 decimals")) from None
    try:
        price = parse_price(body["price"])
    except UnitError:
        raise BadOrder(error_body("invalid_price", "price is not on the market's tick grid")) from None
    return {
        "ticker": body["ticker"],
        "side": body["side"],
        "price": price,
        "count": count,
        "time_in_force": body["time_in_force"],
        "self_trade_prevention_type": body["self_trade_prevention_type"],
        "client_order_id": body.get("client_order_id") or "",
        "post_only": bool(body.get("post_only")),
        "reduce_only": bool(body.get("reduce_only")),
        "expiration_time": body.get("expiration_time"),
        "cancel_order_on_pause": bool(body.get("cancel_order_on_pause")),
        "subaccount": body.get("subaccount") or 0,
    }


def json_response(body: Any, status: int = 200) -> web.Response:
    """A JSON reply serialized with orjson (Kalshi bodies are compact JSON)."""
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def _flat_bad_request(details: str) -> dict[str, str]:
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
