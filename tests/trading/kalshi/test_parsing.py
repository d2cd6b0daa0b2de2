"""Kalshi's recorded wire bodies parse into the project's exchange types, in trading.units integers."""

import json
from datetime import UTC, datetime

from trading.exchange import ExchangeOrder, ExchangePosition, FillReport, MarketView
from trading.kalshi import messages, parsing
from trading.kalshi.schemas import rest as schemas
from trading.orderbook import TopOfBook

from .conftest import examples


def decode(model: type, body: dict):
    return schemas.DECODERS[model].decode(json.dumps(body))


def test_a_rest_order_becomes_an_exchange_order() -> None:
    order = decode(schemas.OrdersPage, examples("rest_orders.json")[0]).orders[0]
    assert parsing.exchange_order(order) == ExchangeOrder(
        order_id="e91f06b4-3c2d-4a7e-b5f8-61d0c4a92b17",
        client_order_id="v3-dec-000185-a",
        ticker="KXBTCD-26DEC3117-T99999.99",
        side="ask",
        price=4300,
        status="executed",
        fill_count=2500,
        remaining_count=0,
    )


def test_a_rest_fill_and_the_same_fill_over_the_websocket_report_alike() -> None:
    rest_fill = decode(schemas.FillsPage, examples("rest_fills.json")[0]).fills[1]
    ws_fill = next(
        m.msg
        for m in map(messages.parse, map(json.dumps, examples("fill.json")))
        if m.msg.trade_id == rest_fill.trade_id
    )
    from_rest, from_ws = parsing.fill_report(rest_fill), parsing.fill_from_ws(ws_fill)
    assert from_ws == FillReport(
        trade_id="0b5e7c2d-9f41-4a63-8e1b-d27c6a3f5e90",
        order_id="e91f06b4-3c2d-4a7e-b5f8-61d0c4a92b17",
        market_ticker="KXBTCD-26DEC3117-T99999.99",
        side="ask",
        yes_price=4300,
        count=2500,
        fee=429_000,
        is_taker=True,
        ts=1795532402.9,
        client_order_id="v3-dec-000185-a",
    )
    # REST carries whole seconds and no client order id; the rest is the same fill.
    assert from_rest.ts == 1795532402
    assert (from_rest.trade_id, from_rest.side, from_rest.yes_price, from_rest.count, from_rest.fee) == (
        from_ws.trade_id,
        from_ws.side,
        from_ws.yes_price,
        from_ws.count,
        from_ws.fee,
    )


def test_a_rest_fill_without_ts_takes_its_created_time() -> None:
    body = examples("rest_fills.json")[0]
    del body["fills"][0]["ts"]
    fill = decode(schemas.FillsPage, body).fills[0]
    assert parsing.fill_report(fill).ts == datetime(2026, 11, 24, 15, 0, 11, 275903, tzinfo=UTC).timestamp()


def test_a_rest_position_becomes_an_exchange_position() -> None:
    position = decode(schemas.PositionsPage, examples("rest_positions.json")[0]).market_positions[0]
    assert parsing.exchange_position(position) == ExchangePosition(
        ticker="KXBTCD-26DEC3117-T99999.99", position=-1500, cost=8_550_000, realized_pnl=-100_000, fees_paid=429_000
    )


def test_a_rest_book_gives_the_yes_ask_from_the_best_no_bid() -> None:
    book = decode(schemas.OrderbookResponse, examples("rest_orderbook.json")[0]).orderbook
    view = parsing.book_view("KXBTCD-26DEC3117-T99999.99", book, as_of=1795532400.0)
    assert view.top == TopOfBook(yes_bid=4400, yes_bid_size=1000, yes_ask=4500, yes_ask_size=450_000)
    assert view.as_of == 1795532400.0 and not view.stale


def test_a_rest_market_gives_status_close_and_tick_grid() -> None:
    market = decode(schemas.MarketResponse, examples("rest_market.json")[0]).market
    assert parsing.market_view(market) == MarketView(
        status="active",
        close_ts=datetime(2026, 12, 31, 22, tzinfo=UTC).timestamp(),
        price_ranges=((0, 10_000, 100),),
    )
