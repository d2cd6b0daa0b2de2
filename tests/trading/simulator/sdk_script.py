"""Run by test_official_sdk.py inside a Python 3.13 venv holding Kalshi's official SDK
(kalshi-python-async==3.34.0), unchanged, against a running simulator. Every call goes
through the SDK's pydantic models, so a missing field or a wrong type fails here.

Usage: sdk_script.py REST_URL KEY_ID PRIVATE_KEY_PATH TICKER CONTROL_URL -> one JSON summary on stdout.
CONTROL_URL is the simulator's /sim/control, which settles the market at the end.
"""

import asyncio
import json
import sys
import urllib.request
from pathlib import Path


def _value(enum_or_str) -> str:
    return str(enum_or_str.value if hasattr(enum_or_str, "value") else enum_or_str)


def _settle(control_url: str, ticker: str, result: str) -> None:
    """The simulator's control endpoint (no SDK call settles a market)."""
    body = json.dumps({"action": "settle", "market_ticker": ticker, "result": result}).encode()
    with urllib.request.urlopen(urllib.request.Request(control_url, data=body, method="POST"), timeout=10) as reply:
        reply.read()


async def run(rest_url: str, key_id: str, private_key_path: str, ticker: str, control_url: str) -> dict:
    from kalshi_python_async import Configuration, KalshiClient

    config = Configuration(host=rest_url)
    config.api_key_id = key_id
    config.private_key_pem = Path(private_key_path).read_text()
    client = KalshiClient(config)
    out: dict = {}
    try:
        markets = await client.get_markets(limit=2)
        out["markets"] = [m.ticker for m in markets.markets]
        out["markets_cursor"] = markets.cursor
        rest = await client.get_markets(limit=1000, cursor=markets.cursor)
        out["markets_rest"] = len(rest.markets)
        market = await client.get_market(ticker)
        out["market"] = market.market.ticker
        out["market_status"] = str(
            market.market.status.value if hasattr(market.market.status, "value") else market.market.status
        )
        book = await client.get_market_orderbook(ticker)
        out["orderbook_yes"] = [[str(p), str(c)] for p, c in book.orderbook_fp.yes_dollars]
        out["orderbook_no_levels"] = len(book.orderbook_fp.no_dollars)
        trades = await client.get_trades(ticker=ticker, limit=10)
        out["trades"] = len(trades.trades)
        balance = await client.get_balance()
        out["balance_before"] = balance.balance

        filled = await client.create_order_v2(
            ticker=ticker,
            client_order_id="sdk-fill-1",
            side="ask",
            count="25",
            price="0.4300",
            time_in_force="immediate_or_cancel",
            self_trade_prevention_type="taker_at_cross",
        )
        out["filled"] = {
            "order_id": filled.order_id,
            "fill_count": str(filled.fill_count),
            "remaining_count": str(filled.remaining_count),
        }
        resting = await client.create_order_v2(
            ticker=ticker,
            client_order_id="sdk-rest-1",
            side="bid",
            count="10.00",
            price="0.40",
            time_in_force="good_till_canceled",
            self_trade_prevention_type="maker",
        )
        out["resting"] = {
            "order_id": resting.order_id,
            "fill_count": str(resting.fill_count),
            "remaining_count": str(resting.remaining_count),
        }
        one = await client.get_order(resting.order_id)
        out["resting_status"] = str(one.order.status.value if hasattr(one.order.status, "value") else one.order.status)
        orders = await client.get_orders()
        out["orders"] = len(orders.orders)
        canceled = await client.cancel_order_v2(resting.order_id, market_ticker=ticker)
        out["canceled"] = {"order_id": canceled.order_id, "reduced_by": str(canceled.reduced_by)}
        fills = await client.get_fills()
        out["fills"] = [
            {"order_id": f.order_id, "count_fp": str(f.count_fp), "is_taker": f.is_taker} for f in fills.fills
        ]
        positions = await client.get_positions()
        out["positions"] = [{"ticker": p.ticker, "position_fp": str(p.position_fp)} for p in positions.market_positions]
        out["event_positions"] = len(positions.event_positions)
        balance = await client.get_balance()
        out["balance_after"] = balance.balance
        status = await client.get_exchange_status()
        out["exchange_active"] = status.exchange_active
        out["trading_active"] = status.trading_active

        schedule = await client.get_exchange_schedule()
        out["schedule_weeks"] = len(schedule.schedule.standard_hours)
        events = await client.get_events(limit=200, with_nested_markets=True)
        out["events"] = len(events.events)
        event = await client.get_event(market.market.event_ticker)
        out["event"] = {"event_ticker": event.event.event_ticker, "markets": len(event.markets)}
        series_list = await client.get_series_list()
        out["series"] = len(series_list.series)
        series = await client.get_series(event.event.series_ticker)
        out["series_fee_type"] = _value(series.series.fee_type)

        batch = await client.batch_create_orders_v2(
            orders=[
                {
                    "ticker": ticker,
                    "client_order_id": f"sdk-batch-{n}",
                    "side": "bid",
                    "count": "2",
                    "price": price,
                    "time_in_force": "good_till_canceled",
                    "self_trade_prevention_type": "maker",
                }
                for n, price in enumerate(("0.30", "0.31"))
            ]
        )
        first, second = (o.order_id for o in batch.orders)
        out["batch_created"] = [str(o.remaining_count) for o in batch.orders]
        amended = await client.amend_order_v2(first, ticker=ticker, side="bid", price="0.32", count="3")
        out["amended_remaining"] = str(amended.remaining_count)
        decreased = await client.decrease_order_v2(second, reduce_by="1")
        out["decreased_remaining"] = str(decreased.remaining_count)
        canceled = await client.batch_cancel_orders_v2(orders=[{"order_id": first}])
        out["batch_canceled"] = [str(o.reduced_by) for o in canceled.orders]
        await client.cancel_all_orders()
        out["resting_after_cancel_all"] = len((await client.get_orders(status="resting")).orders)

        await asyncio.to_thread(_settle, control_url, ticker, "no")
        settlements = await client.get_settlements()
        out["settlements"] = [
            {"ticker": x.ticker, "market_result": x.market_result, "revenue": x.revenue, "no_count": x.no_count_fp}
            for x in settlements.settlements
        ]
        settled = await client.get_market(ticker)
        out["settled_market"] = {"status": _value(settled.market.status), "result": settled.market.result}
        out["balance_settled"] = (await client.get_balance()).balance
    finally:
        await client.close()
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(*sys.argv[1:6]))))
