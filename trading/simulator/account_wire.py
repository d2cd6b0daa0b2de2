"""Kalshi's wire shapes of the simulator's one account (docs/kalshi/PROTOCOL.md 6.4 and 8):
orders, fills, positions, settlements and the balance, over REST and the private
WebSocket channels; the market side is trading.simulator.wire."""

from typing import Any

from trading.orderbook import YES
from trading.simulator.exchange import Exchange
from trading.simulator.records import (
    BID,
    USER_ID,
    SimFill,
    SimOrder,
    SimPosition,
    SimSettlement,
)
from trading.simulator.wire import EXCHANGE_INDEX, rfc3339
from trading.units import ONE_DOLLAR, format_count, format_money, format_price


def rest_settlement(settlement: SimSettlement) -> dict[str, Any]:
    """Kalshi's ``Settlement``: revenue in whole cents, the rest fixed-point strings."""
    return {
        "ticker": settlement.ticker,
        "exchange_index": EXCHANGE_INDEX,
        "event_ticker": settlement.event_ticker,
        "market_result": settlement.result,
        "yes_count_fp": format_count(settlement.yes_count),
        "yes_total_cost_dollars": format_money(settlement.yes_total_cost),
        "no_count_fp": format_count(settlement.no_count),
        "no_total_cost_dollars": format_money(settlement.no_total_cost),
        "revenue": settlement.revenue // 10_000,
        "settled_time": rfc3339(settlement.settled_ms),
        "fee_cost": format_money(settlement.fee_cost),
        "value": 100 if settlement.result == YES else 0,
    }


def cancel_response(order: SimOrder, reduced: int) -> dict[str, Any]:
    """CancelOrderV2's answer, also each slot of a batch cancel's."""
    body: dict[str, Any] = {"order_id": order.order_id}
    if order.client_order_id:
        body["client_order_id"] = order.client_order_id
    body["reduced_by"] = format_count(reduced)
    body["ts_ms"] = order.last_update_ms
    return body


def _legacy(book_side: str) -> tuple[str, str]:
    """V2 orders through the legacy fields (PROTOCOL.md 6.4): bid -> yes/buy, ask -> yes/sell."""
    return YES, "buy" if book_side == BID else "sell"


def _order_amounts(order: SimOrder) -> dict[str, str]:
    """Counts and costs, the same on REST orders and ``user_order`` messages."""
    return {
        "fill_count_fp": format_count(order.filled),
        "remaining_count_fp": format_count(order.remaining),
        "initial_count_fp": format_count(order.initial),
        "taker_fill_cost_dollars": format_money(order.taker_fill_cost),
        "maker_fill_cost_dollars": format_money(order.maker_fill_cost),
        "taker_fees_dollars": format_money(order.taker_fees),
        "maker_fees_dollars": format_money(order.maker_fees),
    }


def rest_order(order: SimOrder) -> dict[str, Any]:
    side, action = _legacy(order.book_side)
    return {
        "order_id": order.order_id,
        "user_id": USER_ID,
        "client_order_id": order.client_order_id,
        "ticker": order.ticker,
        "side": side,
        "action": action,
        "outcome_side": order.outcome_side,
        "book_side": order.book_side,
        "type": "limit",
        "status": order.status,
        "yes_price_dollars": format_price(order.price),
        "no_price_dollars": format_price(ONE_DOLLAR - order.price),
        **_order_amounts(order),
        "created_time": rfc3339(order.created_ms),
        "last_update_time": rfc3339(order.last_update_ms),
        "self_trade_prevention_type": order.self_trade_prevention_type,
        "subaccount_number": order.subaccount,
        "exchange_index": EXCHANGE_INDEX,
        **({"expiration_time": rfc3339(order.expiration_time * 1000)} if order.expiration_time else {}),
    }


def user_order_msg(order: SimOrder) -> dict[str, Any]:
    side, _ = _legacy(order.book_side)
    msg = {
        "order_id": order.order_id,
        "user_id": USER_ID,
        "ticker": order.ticker,
        "exchange_index": EXCHANGE_INDEX,
        "status": order.status,
        "side": side,
        "is_yes": True,
        "outcome_side": order.outcome_side,
        "book_side": order.book_side,
        "yes_price_dollars": format_price(order.price),
        **_order_amounts(order),
        "client_order_id": order.client_order_id,
        "self_trade_prevention_type": order.self_trade_prevention_type,
        "created_time": rfc3339(order.created_ms),
        "created_ts_ms": order.created_ms,
        "last_updated_ts_ms": order.last_update_ms,
    }
    if order.last_update_reason:
        msg["last_update_reason"] = order.last_update_reason
    if order.expiration_time:
        msg["expiration_ts_ms"] = order.expiration_time * 1000
    msg["subaccount_number"] = order.subaccount
    return msg


def create_order_response(order: SimOrder) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if order.client_order_id:
        body["client_order_id"] = order.client_order_id
    body["fill_count"] = format_count(order.filled)
    if order.filled:
        fees = order.taker_fees + order.maker_fees
        # Per-contract averages in YES terms, 4 decimals (25 @ 0.43, fee 0.429 -> "0.4300", "0.0172").
        body["average_fill_price"] = format_money(order.filled_yes_notional * 100 // order.filled, 4)
        body["average_fee_paid"] = format_money(fees * 100 // order.filled, 4)
    body["order_id"] = order.order_id
    body["remaining_count"] = format_count(order.remaining)
    body["ts_ms"] = order.last_update_ms
    return body


def rest_fill(fill: SimFill) -> dict[str, Any]:
    side, action = _legacy(fill.book_side)
    return {
        "fill_id": fill.trade_id,
        "trade_id": fill.trade_id,
        "order_id": fill.order_id,
        "ticker": fill.ticker,
        "market_ticker": fill.ticker,
        "exchange_index": EXCHANGE_INDEX,
        "side": side,
        "action": action,
        "outcome_side": fill.outcome_side,
        "book_side": fill.book_side,
        "count_fp": format_count(fill.count),
        "yes_price_dollars": format_price(fill.yes_price),
        "no_price_dollars": format_price(ONE_DOLLAR - fill.yes_price),
        "is_taker": fill.is_taker,
        "fee_cost": format_money(fill.fee),
        "created_time": rfc3339(fill.ts_ms),
        "ts": fill.ts_ms // 1000,
        "subaccount_number": 0,
    }


def fill_msg(fill: SimFill) -> dict[str, Any]:
    side, action = _legacy(fill.book_side)
    msg: dict[str, Any] = {
        "trade_id": fill.trade_id,
        "order_id": fill.order_id,
    }
    if fill.client_order_id:
        msg["client_order_id"] = fill.client_order_id
    msg |= {
        "market_ticker": fill.ticker,
        "exchange_index": EXCHANGE_INDEX,
        "is_taker": fill.is_taker,
        "side": side,
        "yes_price_dollars": format_price(fill.yes_price),
        "count_fp": format_count(fill.count),
        "fee_cost": format_money(fill.fee),
        "action": action,
        "ts": fill.ts_ms // 1000,
        "ts_ms": fill.ts_ms,
        "post_position_fp": format_count(fill.post_position),
        "purchased_side": fill.outcome_side,
        "outcome_side": fill.outcome_side,
        "book_side": fill.book_side,
    }
    return msg


def market_position_msg(position: SimPosition) -> dict[str, Any]:
    return {
        "user_id": USER_ID,
        "market_ticker": position.ticker,
        "position_fp": format_count(position.position),
        "position_cost_dollars": format_money(position.cost, 4),
        "realized_pnl_dollars": format_money(position.realized_pnl, 4),
        "fees_paid_dollars": format_money(position.fees_paid, 4),
        "position_fee_cost_dollars": format_money(position.fees_paid, 4),
        "volume_fp": format_count(position.volume),
        "subaccount": 0,
    }


def rest_market_position(position: SimPosition, resting_orders: int) -> dict[str, Any]:
    return {
        "ticker": position.ticker,
        "exchange_index": EXCHANGE_INDEX,
        "fees_paid_dollars": format_money(position.fees_paid),
        "last_updated_ts": rfc3339(position.last_updated_ms),
        "market_exposure_dollars": format_money(position.cost),
        "position_fp": format_count(position.position),
        "realized_pnl_dollars": format_money(position.realized_pnl),
        "resting_orders_count": resting_orders,
        "total_traded_dollars": format_money(position.total_traded),
    }


def rest_event_position(event_ticker: str, positions: list[SimPosition]) -> dict[str, Any]:
    cost = sum(p.cost for p in positions)
    return {
        "event_ticker": event_ticker,
        "event_exposure_dollars": format_money(cost),
        "fees_paid_dollars": format_money(sum(p.fees_paid for p in positions)),
        "realized_pnl_dollars": format_money(sum(p.realized_pnl for p in positions)),
        "total_cost_dollars": format_money(cost),
        "total_cost_shares_fp": format_count(sum(abs(p.position) for p in positions)),
    }


def balance(exchange: Exchange) -> dict[str, Any]:
    cash = exchange.account.balance
    return {
        "balance": cash // 10_000,
        "balance_breakdown": [{"balance": format_money(cash, 4), "exchange_index": EXCHANGE_INDEX}],
        "balance_dollars": format_money(cash, 4),
        "portfolio_value": exchange.portfolio_value() // 10_000,
        "updated_ts": exchange.account.updated_ms // 1000,
    }
