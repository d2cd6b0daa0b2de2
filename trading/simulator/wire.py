"""Kalshi's wire shapes of the simulator's markets (docs/kalshi/PROTOCOL.md 6 and 8; every
key and value type as in docs/kalshi/examples/, which the conformance test checks); the
account's are trading.simulator.account_wire.

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
    LifecycleChanged,
    SimTrade,
)
from trading.units import ONE_DOLLAR, format_count, format_price

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
