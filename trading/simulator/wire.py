"""Kalshi's wire shapes for the simulator's state (PROTOCOL.md 6 and 8; every key and
value type as in docs/kalshi/examples/, which the conformance test checks).

Plain functions from exchange objects to JSON-ready dicts; the server adds envelopes.
"""

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson

from trading.orderbook import YES
from trading.simulator.exchange import Exchange
from trading.simulator.markets import Series, SimMarket
from trading.simulator.records import (
    ASK,
    BID,
    USER_ID,
    LifecycleChanged,
    SimFill,
    SimOrder,
    SimPosition,
    SimSettlement,
    SimTrade,
)
from trading.units import ONE_DOLLAR, format_count, format_money, format_price

EXCHANGE_INDEX = 0


def rfc3339(value: datetime | int) -> str:
    """A datetime, or Unix milliseconds, as Kalshi's ``2026-11-24T15:00:02.900311Z``."""
    if isinstance(value, int):
        return _rfc3339_ms(value)
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@lru_cache(maxsize=64)
def _rfc3339_ms(ts_ms: int) -> str:
    """Cached: a burst of deltas shares a handful of milliseconds."""
    return datetime.fromtimestamp(ts_ms / 1000, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _whole_time(value: datetime) -> str:
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def market(exchange: Exchange, m: SimMarket) -> dict[str, Any]:
    yes_bid, yes_bid_size, yes_ask, yes_ask_size = exchange.best(m.ticker)
    bid = yes_bid if yes_bid is not None else 0
    ask = yes_ask if yes_ask is not None else ONE_DOLLAR
    close = m.close_time
    return {
        "ticker": m.ticker,
        "event_ticker": m.event_ticker,
        "market_type": "binary",
        "title": m.title,
        "subtitle": m.yes_sub_title,
        "yes_sub_title": m.yes_sub_title,
        "no_sub_title": m.yes_sub_title,
        "created_time": rfc3339(m.created_time),
        "updated_time": rfc3339(m.updated_time),
        "open_time": _whole_time(m.open_time),
        "close_time": _whole_time(close),
        "expected_expiration_time": _whole_time(close + timedelta(minutes=5)),
        "expiration_time": _whole_time(close + timedelta(days=7)),
        "latest_expiration_time": _whole_time(close + timedelta(days=7)),
        "settlement_timer_seconds": 300,
        "status": m.status,
        "yes_bid_dollars": format_price(bid),
        "yes_bid_size_fp": format_count(yes_bid_size),
        "yes_ask_dollars": format_price(ask),
        "yes_ask_size_fp": format_count(yes_ask_size),
        "no_bid_dollars": format_price(ONE_DOLLAR - ask),
        "no_ask_dollars": format_price(ONE_DOLLAR - bid),
        "last_price_dollars": format_price(m.last_price),
        "volume_fp": format_count(m.volume),
        "volume_24h_fp": format_count(m.volume_24h),
        "result": m.result,
        "can_close_early": True,
        "open_interest_fp": format_count(m.open_interest),
        "notional_value_dollars": "1.0000",
        "liquidity_dollars": "0.0000",
        "previous_yes_bid_dollars": format_price(m.previous_yes_bid),
        "previous_yes_ask_dollars": format_price(m.previous_yes_ask),
        "previous_price_dollars": format_price(m.previous_price),
        "settlement_bounds_type": "default",
        "expiration_value": "",
        "early_close_condition": "",
        "strike_type": "greater",
        "floor_strike": m.floor_strike,
        "rules_primary": m.rules_primary,
        "rules_secondary": "",
        "price_level_structure": m.grid.structure,
        "price_ranges": m.grid.price_ranges(),
        "fractional_trading_enabled": True,
        "response_price_units": "usd_cent",
        "exchange_index": EXCHANGE_INDEX,
        **_settlement_fields(m),
    }


def _settlement_fields(m: SimMarket) -> dict[str, Any]:
    if not m.result:
        return {}
    fields: dict[str, Any] = {"settlement_value_dollars": format_price(ONE_DOLLAR if m.result == YES else 0)}
    if m.settled_time is not None:
        fields["settlement_ts"] = _whole_time(m.settled_time)
    return fields


def lifecycle_msg(exchange: Exchange, event: LifecycleChanged) -> dict[str, Any]:
    """``market_lifecycle_v2`` msg: the fields of its ``event_type`` (PROTOCOL.md 6.7)."""
    m = exchange.markets[event.ticker]
    msg: dict[str, Any] = {"market_ticker": m.ticker}
    if event.event_type == "created":
        msg |= {
            "exchange_index": EXCHANGE_INDEX,
            "open_ts": int(m.open_time.timestamp()),
            "close_ts": int(m.close_time.timestamp()),
            "additional_metadata": {
                "name": m.title,
                "title": m.title,
                "yes_sub_title": m.yes_sub_title,
                "no_sub_title": m.yes_sub_title,
                "rules_primary": m.rules_primary,
                "rules_secondary": "",
                "can_close_early": True,
                "event_ticker": m.event_ticker,
                "expected_expiration_ts": int(m.close_time.timestamp()) + 300,
                "strike_type": "greater",
                "floor_strike": m.floor_strike,
            },
            "price_level_structure": m.grid.structure,
            "price_ranges": m.grid.price_ranges(),
        }
    elif event.event_type == "close_date_updated":
        msg["close_ts"] = event.ts
    elif event.event_type == "determined":
        msg |= {
            "determination_ts": event.ts,
            "result": m.result,
            "settlement_value": format_price(ONE_DOLLAR if m.result == YES else 0),
        }
    elif event.event_type == "settled":
        msg["settled_ts"] = event.ts
    msg["event_type"] = event.event_type
    return msg


def cancel_response(order: SimOrder, reduced: int) -> dict[str, Any]:
    """CancelOrderV2's answer, also each slot of a batch cancel's."""
    body: dict[str, Any] = {"order_id": order.order_id}
    if order.client_order_id:
        body["client_order_id"] = order.client_order_id
    body["reduced_by"] = format_count(reduced)
    body["ts_ms"] = order.last_update_ms
    return body


def event(exchange: Exchange, markets: list[SimMarket], *, nested: bool) -> dict[str, Any]:
    """Kalshi's ``EventData`` for the markets of one event (strikes of one question: not exclusive)."""
    first = markets[0]
    body: dict[str, Any] = {
        "event_ticker": first.event_ticker,
        "series_ticker": first.series_ticker,
        "sub_title": first.event_sub_title,
        "title": first.title,
        "collateral_return_type": "",
        "mutually_exclusive": False,
        "strike_date": _whole_time(first.close_time),
        "exchange_index": EXCHANGE_INDEX,
    }
    if nested:
        body["markets"] = [market(exchange, m) for m in markets]
    return body


def series(s: Series) -> dict[str, Any]:
    """Kalshi's ``Series``."""
    return {
        "ticker": s.ticker,
        "frequency": s.frequency,
        "title": s.name,
        "category": s.category,
        "categories": [s.category],
        "tags": [],
        "settlement_sources": [],
        "contract_url": f"https://kalshi.com/series/{s.ticker.lower()}",
        "contract_terms_url": f"https://kalshi.com/series/{s.ticker.lower()}/terms",
        "fee_type": s.fee_type,
        "fee_multiplier": 1,
        "exchange_index": EXCHANGE_INDEX,
    }


def schedule() -> dict[str, Any]:
    """``GET /exchange/schedule``: the simulator trades around the clock, no maintenance windows."""
    day = [{"open_time": "00:00", "close_time": "23:59"}]
    week = {name: day for name in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")}
    return {
        "schedule": {
            "standard_hours": [{"start_time": "2026-01-01T00:00:00Z", "end_time": "2099-12-31T23:59:59Z", **week}],
            "maintenance_windows": [],
        }
    }


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


def _pairs(levels: dict[int, int], *, mirror: bool = False) -> list[list[str]]:
    """Levels ascending by reported price (best bid last); ``mirror`` reports NO at YES prices."""
    if mirror:
        return [[format_price(ONE_DOLLAR - p), format_count(s)] for p, s in sorted(levels.items(), reverse=True)]
    return [[format_price(p), format_count(s)] for p, s in sorted(levels.items())]


def rest_orderbook(exchange: Exchange, ticker: str, depth: int) -> dict[str, Any]:
    book = exchange.books[ticker]
    yes, no = _pairs(book.yes), _pairs(book.no)
    if depth > 0:
        yes, no = yes[-depth:] if yes else yes, no[-depth:] if no else no
    return {"orderbook_fp": {"yes_dollars": yes, "no_dollars": no}}


def snapshot_msg(exchange: Exchange, ticker: str, *, use_yes_price: bool = False) -> dict[str, Any]:
    """``orderbook_snapshot`` msg: a side with no levels is absent, not ``[]``."""
    book = exchange.books[ticker]
    msg: dict[str, Any] = {"market_ticker": ticker, "market_id": exchange.markets[ticker].market_id}
    if book.yes:
        msg["yes_dollars_fp"] = _pairs(book.yes)
    if book.no:
        msg["no_dollars_fp"] = _pairs(book.no, mirror=use_yes_price)
    return msg


def delta_prefix(ticker: str, market_id: str) -> bytes:
    """The fixed head of a market's ``orderbook_delta`` msg, built once per market."""
    return b'{"market_ticker":%s,"market_id":%s,' % (orjson.dumps(ticker), orjson.dumps(market_id))


def delta_body(prefix: bytes, side: str, price: int, delta: int, ts_ms: int, client_order_id: str | None) -> bytes:
    """The serialized ``orderbook_delta`` msg. Built as bytes, not dict + dumps: this is
    the message the feed sends tens of thousands of times a second."""
    coid = b'"client_order_id":%s,' % orjson.dumps(client_order_id) if client_order_id else b""
    return b'%s"price_dollars":"%s","delta_fp":"%s","side":"%s",%s"ts":"%s","ts_ms":%d}' % (
        prefix,
        _price_text(price),
        format_count(delta).encode(),
        side.encode(),
        coid,
        _rfc3339_ms(ts_ms).encode(),
        ts_ms,
    )


@lru_cache(maxsize=4096)
def _price_text(price: int) -> bytes:
    return format_price(price).encode()


def _trade_fields(trade: SimTrade) -> dict[str, Any]:
    side = trade.taker_outcome_side
    return {
        "trade_id": trade.trade_id,
        "yes_price_dollars": format_price(trade.yes_price),
        "no_price_dollars": format_price(ONE_DOLLAR - trade.yes_price),
        "count_fp": format_count(trade.count),
        "taker_side": side,
        "taker_outcome_side": side,
        "taker_book_side": BID if side == YES else ASK,
        "is_block_trade": False,
    }


def trade_msg(trade: SimTrade) -> dict[str, Any]:
    return {
        "market_ticker": trade.ticker,
        **_trade_fields(trade),
        "ts": trade.ts_ms // 1000,
        "ts_ms": trade.ts_ms,
    }


def rest_trade(trade: SimTrade) -> dict[str, Any]:
    return {"ticker": trade.ticker, **_trade_fields(trade), "created_time": rfc3339(trade.ts_ms)}


def ticker_state(exchange: Exchange, ticker: str) -> tuple:
    """What a ``ticker`` message reports, to send one only when something changed."""
    m = exchange.markets[ticker]
    last = exchange.last_trade_size.get(ticker, 0)
    return (*exchange.best(ticker), m.last_price, m.volume, m.open_interest, last)


def ticker_msg(exchange: Exchange, ticker: str, state: tuple, ts_ms: int) -> dict[str, Any]:
    yes_bid, yes_bid_size, yes_ask, yes_ask_size, last_price, volume, open_interest, last_size = state
    return {
        "market_id": exchange.markets[ticker].market_id,
        "market_ticker": ticker,
        "price_dollars": format_price(last_price),
        "yes_bid_dollars": format_price(yes_bid or 0),
        "yes_ask_dollars": format_price(ONE_DOLLAR if yes_ask is None else yes_ask),
        "volume_fp": format_count(volume),
        "open_interest_fp": format_count(open_interest),
        "dollar_volume": volume * last_price // 1_000_000,
        "dollar_open_interest": open_interest * last_price // 1_000_000,
        "yes_bid_size_fp": format_count(yes_bid_size),
        "yes_ask_size_fp": format_count(yes_ask_size),
        "last_trade_size_fp": format_count(last_size),
        "ts": ts_ms // 1000,
        "ts_ms": ts_ms,
        "time": rfc3339(ts_ms),
    }


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
