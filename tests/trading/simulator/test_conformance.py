"""What the simulator sends has exactly the keys and value types of Kalshi's recorded
examples (../shared/kalshi/examples/), for every WebSocket message type and REST body."""

import json
import time

import httpx

from tests.trading.simulator.conftest import SimSocket, signing_client
from tests.trading.simulator.shapes import assert_like_one_of, examples
from trading.kalshi.signing import Signer
from trading.simulator.server import SimulatorServer
from trading.units import parse_count, parse_price

WS_EXAMPLES = {
    "subscribed": "subscribed",
    "unsubscribed": "unsubscribed",
    "ok": "ok",
    "error": "error",
    "orderbook_snapshot": "orderbook_snapshot",
    "orderbook_delta": "orderbook_delta",
    "trade": "trade",
    "ticker": "ticker",
    "fill": "fill",
    "user_order": "user_order",
    "market_position": "market_position",
}


def example_book(sim: SimulatorServer, ticker: str) -> None:
    """The examples' book once 0.44 was cancelled: YES bids 0.41/0.43, NO bids 0.53/0.54/0.55."""
    yes = {parse_price(p): parse_count(s) for p, s in (("0.41", "1200"), ("0.43", "850"))}
    no = {parse_price(p): parse_count(s) for p, s in (("0.53", "640"), ("0.54", "410"), ("0.55", "30000"))}
    sim.exchange.set_book(ticker, yes=yes, no=no)
    sim.publish()


def order(ticker: str, coid: str | None, side: str, count: str, price: str, tif: str, **extra: object) -> dict:
    body = {
        "ticker": ticker,
        "side": side,
        "count": count,
        "price": price,
        "time_in_force": tif,
        "self_trade_prevention_type": "taker_at_cross",
        **extra,
    }
    if coid:
        body["client_order_id"] = coid
    return body


async def test_websocket_messages_match_the_examples(sim: SimulatorServer, socket: SimSocket, rest: httpx.AsyncClient):
    t1, t2, t3 = sim.exchange.tickers[:3]
    sim.exchange.set_book(t2, yes={800: 500_000}, no={})  # a one-sided book: its snapshot omits no_dollars_fp
    example_book(sim, t1)
    await socket.command("subscribe", {"channels": ["orderbook_delta", "trade"], "market_tickers": [t1, t2]})
    await socket.command("subscribe", {"channels": ["ticker"], "market_ticker": t1, "send_initial_snapshot": True})
    await socket.command("subscribe", {"channels": ["fill", "user_orders", "market_positions"]})
    received = await socket.barrier()
    # Order B takes 25 at 0.43 (IOC), order A rests 10 at 0.44 and fills as maker on a public trade.
    assert (
        await rest.post("/portfolio/events/orders", json=order(t1, "b-1", "ask", "25", "0.43", "immediate_or_cancel"))
    ).status_code == 201
    assert (
        await rest.post(
            "/portfolio/events/orders",
            json=order(t1, "a-1", "bid", "10.00", "0.4400", "good_till_canceled", post_only=True),
        )
    ).status_code == 201
    sim.control({"action": "whale", "market_ticker": t1, "count": "10.00", "taker_side": "no"})
    sim.step(300)
    await socket.command("update_subscription", {"sid": 1, "action": "add_markets", "market_tickers": [t3]})
    await socket.command("update_subscription", {"sids": [1], "action": "delete_markets", "market_tickers": [t3]})
    await socket.command("update_subscription", {"sid": 1, "action": "get_snapshot", "market_tickers": [t1]})
    await socket.command("unsubscribe", {"sids": [2]})
    await socket.command("subscribe", {"channels": ["ticker_v2"]})
    await socket.command("subscribe", {"channels": ["orderbook_delta"]})
    await socket.command("unsubscribe", {"sids": [99]})
    received += await socket.barrier()

    seen: dict[str, int] = {}
    for message in received:
        kind = message["type"]
        assert kind in WS_EXAMPLES, f"unexpected message type {kind}"
        seen[kind] = seen.get(kind, 0) + 1
        assert_like_one_of(message, examples(WS_EXAMPLES[kind]), kind)
    assert set(seen) == set(WS_EXAMPLES), f"never sent: {set(WS_EXAMPLES) - set(seen)}"
    assert any(m["type"] == "orderbook_snapshot" and m.get("id") for m in received)
    assert {m["msg"]["code"] for m in received if m["type"] == "error"} == {8, 14, 7}


async def test_rest_bodies_match_the_examples(sim: SimulatorServer, rest: httpx.AsyncClient, signer: Signer):
    t1 = sim.exchange.tickers[0]
    example_book(sim, t1)
    sim.step(200)
    example_book(sim, t1)

    async def check(response: httpx.Response, name: str, status: int = 200) -> dict:
        assert response.status_code == status, response.text
        body = response.json()
        assert_like_one_of(body, examples(name), name)
        return body

    filled = await rest.post(
        "/portfolio/events/orders", json=order(t1, "b-1", "ask", "25", "0.43", "immediate_or_cancel")
    )
    await check(filled, "rest_create_order_response", 201)
    resting = await rest.post(
        "/portfolio/events/orders", json=order(t1, "a-1", "bid", "10", "0.44", "good_till_canceled", post_only=True)
    )
    await check(resting, "rest_create_order_response", 201)
    for coid in ("c-1", None):
        created = await rest.post(
            "/portfolio/events/orders", json=order(t1, coid, "bid", "5", "0.42", "good_till_canceled")
        )
        order_id = created.json()["order_id"]
        await check(await rest.delete(f"/portfolio/events/orders/{order_id}"), "rest_cancel_order_response")
    sim.control({"action": "whale", "market_ticker": t1, "count": "10.00", "taker_side": "no"})

    page = await check(await rest.get("/markets", params={"limit": 2}), "rest_markets")
    assert page["cursor"] and len(page["markets"]) == 2
    last = await check(await rest.get("/markets", params={"limit": 2, "cursor": page["cursor"]}), "rest_markets")
    assert last["cursor"] == ""
    await check(await rest.get(f"/markets/{t1}"), "rest_market")
    await check(await rest.get(f"/markets/{t1}/orderbook"), "rest_orderbook")
    await check(await rest.get("/markets/trades", params={"ticker": t1, "limit": 5}), "rest_trades")
    await check(await rest.get("/portfolio/balance"), "rest_balance")
    positions = await check(await rest.get("/portfolio/positions"), "rest_positions")
    assert positions["market_positions"] and positions["event_positions"]
    orders = await check(await rest.get("/portfolio/orders"), "rest_orders")
    assert len(orders["orders"]) == 4
    await check(await rest.get(f"/portfolio/orders/{resting.json()['order_id']}"), "rest_orders")
    fills = await check(await rest.get("/portfolio/fills"), "rest_fills")
    assert len(fills["fills"]) == 2

    errors = examples("rest_error")

    async def error(response: httpx.Response, status: int, index: int) -> None:
        assert response.status_code == status, response.text
        assert_like_one_of(response.json(), [errors[index]], f"error {index}")
        code = (
            errors[index].get("error", errors[index]).get("code")
            if isinstance(errors[index].get("error", {}), dict)
            else None
        )
        if code:
            body = response.json()
            assert body.get("error", body)["code"] == code

    async with signing_client(sim, None) as unsigned:
        path = "/trade-api/v2/portfolio/balance"
        bad = signer.headers("GET", "/trade-api/v2/portfolio/fills")
        await error(await unsigned.get("/portfolio/balance", headers=bad), 401, 0)
        stale = signer.headers("GET", path, timestamp_ms=int(time.time() * 1000) - 60_000)
        await error(await unsigned.get("/portfolio/balance", headers=stale), 401, 1)
    await error(
        await rest.post("/portfolio/events/orders", json=order(t1, "a-1", "bid", "1", "0.10", "good_till_canceled")),
        409,
        2,
    )
    await error(
        await rest.post(
            "/portfolio/events/orders", json=order(t1, "big", "bid", "100000", "0.40", "good_till_canceled")
        ),
        400,
        3,
    )
    await error(await rest.delete(f"/portfolio/events/orders/{filled.json()['order_id']}"), 404, 4)
    await error(
        await rest.post(
            "/portfolio/events/orders", json=order(t1, "po", "bid", "1", "0.60", "good_till_canceled", post_only=True)
        ),
        400,
        5,
    )
    numeric = json.loads(json.dumps(order(t1, "num", "bid", "1", "0.40", "good_till_canceled")))
    numeric["count"] = 1
    await error(await rest.post("/portfolio/events/orders", json=numeric), 400, 6)
    await error(await rest.get("/markets", params={"limit": 1001}), 400, 7)
    sim.control({"action": "reject", "count": 1})
    await error(await rest.get("/markets"), 429, 8)
