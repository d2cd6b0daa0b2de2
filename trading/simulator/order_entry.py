"""The simulator's order entry under ``/trade-api/v2/portfolio/events/orders`` (docs/kalshi/
PROTOCOL.md 8): create, batch create, cancel, batch cancel, cancel all, amend and decrease,
with Kalshi's validation and error bodies; the legacy V1 writes answer 410."""

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from trading.simulator import account_wire
from trading.simulator.records import ASK, BID, SELF_TRADE_PREVENTION, TIME_IN_FORCE, OrderRejected
from trading.simulator.rest import REST_PREFIX, error_body, flat_bad_request, json_response
from trading.units import UnitError, format_count, parse_count, parse_price

if TYPE_CHECKING:
    from trading.simulator.server import SimulatorServer

log = logging.getLogger("trading.simulator")

# Kalshi takes at most 20 orders in one batch create or cancel (docs: batch_create_orders).
MAX_BATCH = 20


class OrderEntry:
    """Order handlers; every order operation publishes its events before replying."""

    def __init__(self, server: "SimulatorServer") -> None:
        self.server = server
        self.exchange = server.exchange

    def add_routes(self, app: web.Application) -> None:
        p = REST_PREFIX
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
        return json_response(account_wire.create_order_response(order), 201)

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
                results.append(account_wire.create_order_response(order))
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
        return json_response(account_wire.cancel_response(order, reduced))

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
                results.append(account_wire.cancel_response(order, reduced))
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
        return json_response(account_wire.create_order_response(order))

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
            raise BadOrder(flat_bad_request(details))
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


async def _json_body(request: web.Request, model: str) -> dict[str, Any] | web.Response:
    """The request's JSON object, or the flat 400 Kalshi answers a body that is not one with."""
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        return json_response(flat_bad_request(f"invalid character in JSON body: {exc.msg}"), 400)
    if not isinstance(body, dict):
        return json_response(flat_bad_request(f"json: cannot unmarshal into Go value of type {model}"), 400)
    return body
