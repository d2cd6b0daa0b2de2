"""What the simulator sends has exactly the keys and value types of Kalshi's recorded
examples (docs/kalshi/examples/), for every WebSocket message type and REST body."""

import time

import httpx

from tests.trading.simulator.conftest import SimSocket, order_body, signing_client
from tests.trading.simulator.shapes import assert_like_one_of, examples
from trading.kalshi.signing import Signer
from trading.simulator.server import SimulatorServer
from trading.units import parse_count, parse_price

ORDERS = "/portfolio/events/orders"
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


async def test_websocket_messages_match_the_examples(sim: SimulatorServer, socket: SimSocket, rest: httpx.AsyncClient):
    t1, t2, t3 = sim.exchange.tickers[:3]
    sim.exchange.set_book(t2, yes={800: 500_000}, no={})  # a one-sided book: its snapshot omits no_dollars_fp
    example_book(sim, t1)
    await socket.command("subscribe", {"channels": ["orderbook_delta", "trade"], "market_tickers": [t1, t2]})
    await socket.command("subscribe", {"channels": ["ticker"], "market_ticker": t1, "send_initial_snapshot": True})
    await socket.command("subscribe", {"channels": ["fill", "user_orders", "market_positions"]})
    received = await socket.barrier()
    # Order B takes 25 at 0.43 (IOC), order A rests 10 at 0.44 and fills as maker on a public trade.
    taker = order_body(t1, "ask", "25", "0.43", "immediate_or_cancel", client_order_id="b-1")
    maker = order_body(t1, "bid", "10.00", "0.4400", post_only=True, client_order_id="a-1")
    for order in (taker, maker):
        assert (await rest.post(ORDERS, json=order)).status_code == 201
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

    def create(*args: str, **extra: object):
        return rest.post(ORDERS, json=order_body(t1, *args, **extra))

    filled = await create("ask", "25", "0.43", "immediate_or_cancel", client_order_id="b-1")
    await check(filled, "rest_create_order_response", 201)
    resting = await create("bid", "10", "0.44", post_only=True, client_order_id="a-1")
    await check(resting, "rest_create_order_response", 201)
    for extra in ({"client_order_id": "c-1"}, {}):  # the cancel reply omits an absent client_order_id
        order_id = (await create("bid", "5", "0.42", **extra)).json()["order_id"]
        await check(await rest.delete(f"{ORDERS}/{order_id}"), "rest_cancel_order_response")
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
        """Kalshi's error of that index in rest_error.json: same status, shape and code."""
        assert response.status_code == status, response.text
        expected = errors[index]
        assert_like_one_of(response.json(), [expected], f"error {index}")
        if isinstance(expected.get("error"), dict):
            assert response.json()["error"]["code"] == expected["error"]["code"]
        elif "code" in expected:
            assert response.json()["code"] == expected["code"]

    async with signing_client(sim, None) as unsigned:
        signed_elsewhere = signer.headers("GET", "/trade-api/v2/portfolio/fills")
        await error(await unsigned.get("/portfolio/balance", headers=signed_elsewhere), 401, 0)
        stale = signer.headers("GET", "/trade-api/v2/portfolio/balance", timestamp_ms=int(time.time() * 1000) - 60_000)
        await error(await unsigned.get("/portfolio/balance", headers=stale), 401, 1)
    await error(await create("bid", "1", "0.10", client_order_id="a-1"), 409, 2)
    await error(await create("bid", "100000", "0.40", client_order_id="big"), 400, 3)
    await error(await rest.delete(f"{ORDERS}/{filled.json()['order_id']}"), 404, 4)
    await error(await create("bid", "1", "0.60", post_only=True, client_order_id="po"), 400, 5)
    await error(await rest.post(ORDERS, json=order_body(t1, "bid", "1", "0.40") | {"count": 1}), 400, 6)
    await error(await rest.get("/markets", params={"limit": 1001}), 400, 7)
    sim.control({"action": "reject", "count": 1})
    await error(await rest.get("/markets"), 429, 8)
