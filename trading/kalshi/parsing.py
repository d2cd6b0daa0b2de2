"""Kalshi's wire schemas into the project's exchange types (trading.exchange), so
nothing past the adapter sees a Kalshi field name: orders, fills (REST and
WebSocket), positions, and the book and market views a decision reads.
"""

import time

from trading.exchange import (
    BookView,
    ExchangeOrder,
    ExchangePosition,
    FillReport,
    MarketPrices,
    MarketView,
    SettlementReport,
)
from trading.kalshi.messages import FillBody
from trading.kalshi.schemas.rest import Fill, Market, MarketPosition, Order, Orderbook, Settlement
from trading.orderbook import OrderBook
from trading.units import ONE_DOLLAR


def exchange_order(order: Order) -> ExchangeOrder:
    """A REST order (PROTOCOL.md 8)."""
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


def fill_report(fill: Fill) -> FillReport:
    """A REST fill (PROTOCOL.md 8)."""
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
    """A WebSocket ``fill`` message body (PROTOCOL.md 6.4)."""
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


def exchange_position(position: MarketPosition) -> ExchangePosition:
    """A REST market position; its cost is Kalshi's ``market_exposure``."""
    return ExchangePosition(
        ticker=position.ticker,
        position=int(position.position),
        cost=int(position.market_exposure),
        realized_pnl=int(position.realized_pnl),
        fees_paid=int(position.fees_paid),
    )


def settlement_report(settlement: Settlement) -> SettlementReport:
    """A REST settlement of the account's position (PROTOCOL.md 8, ``GET /portfolio/settlements``)."""
    return SettlementReport(
        market_ticker=settlement.ticker,
        event_ticker=settlement.event_ticker,
        result=settlement.market_result,
        settled_at=settlement.settled_time.timestamp(),
        position=int(settlement.yes_count) - int(settlement.no_count),
        cost=int(settlement.cost),
        fees=int(settlement.fee_cost),
    )


def book_levels(orderbook: Orderbook) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """A REST book's (YES bids, NO bids) as (price, count) integers, ascending as Kalshi sends them."""
    return [(int(p), int(c)) for p, c in orderbook.yes], [(int(p), int(c)) for p, c in orderbook.no]


def book_view(ticker: str, orderbook: Orderbook, as_of: float) -> BookView:
    """A REST book's top, read no earlier than ``as_of`` (when the request was sent)."""
    yes, no = book_levels(orderbook)
    book = OrderBook(ticker)
    book.apply_snapshot(yes, no)
    return BookView(top=book.top(), as_of=as_of)


def market_view(market: Market) -> MarketView:
    """A REST market's status, close time and tick grid."""
    return MarketView(
        status=market.status,
        close_ts=market.close_time.timestamp(),
        price_ranges=tuple((int(r.start), int(r.end), int(r.step)) for r in market.price_ranges),
    )


def market_prices(market: Market) -> MarketPrices:
    """A REST market's quotes and result. Kalshi sends 0 for "no bid", 1 for "no ask" and
    0 for "no trade yet": those become None; a "scalar" result is not one of ours."""
    bid, ask, last = int(market.yes_bid), int(market.yes_ask), int(market.last_price)
    return MarketPrices(
        yes_bid=bid or None,
        yes_ask=ask if 0 < ask < ONE_DOLLAR else None,
        last=last or None,
        result=market.result if market.result in ("yes", "no") else "",
    )
