"""The simulator's WebSocket market data over a real local socket: books rebuilt from
snapshot + deltas equal the exchange's, seq per sid, trades, tickers, private channels
for the account's own orders, the commands' replies and errors, heartbeats."""

import asyncio
import dataclasses
import json

import aiohttp
import httpx
import pytest
import websockets

from tests.trading.simulator.books import BookMirror
from tests.trading.simulator.conftest import SimSocket
from trading.kalshi.signing import Signer
from trading.simulator.server import SimConfig, SimulatorServer

ORDERS = "/portfolio/events/orders"


def levels(sim: SimulatorServer) -> dict:
    return {ticker: book.levels() for ticker, book in sim.exchange.books.items()}


async def subscribe_books(socket: SimSocket, sim: SimulatorServer, **extra) -> list[dict]:
    await socket.command(
        "subscribe", {"channels": ["orderbook_delta"], "market_tickers": sim.exchange.tickers, **extra}
    )
    return await socket.barrier()


async def test_books_rebuilt_from_the_feed_equal_the_exchange(sim: SimulatorServer, socket: SimSocket):
    mirror = BookMirror()
    for message in await subscribe_books(socket, sim):
        mirror.apply(message)
    sim.step(5_000)
    for message in await socket.barrier():
        mirror.apply(message)
    assert mirror.gaps == 0
    assert mirror.levels() == levels(sim)


async def test_books_agree_after_the_random_walk_runs_and_pauses(sim_config: SimConfig, signer: Signer):
    config = dataclasses.replace(sim_config, rate=5_000.0, paused=False)
    async with SimulatorServer(config) as sim:
        headers = signer.headers("GET", "/trade-api/ws/v2")
        async with websockets.connect(sim.ws_url, additional_headers=headers) as ws:
            socket = SimSocket(ws)
            mirror = BookMirror()
            await socket.command("subscribe", {"channels": ["orderbook_delta"], "market_tickers": sim.exchange.tickers})
            deltas = 0
            while deltas < 2_000:
                message = await socket.recv()
                mirror.apply(message)
                deltas += message["type"] == "orderbook_delta"
            sim.control({"action": "pause"})
            for message in await socket.barrier():
                mirror.apply(message)
            assert mirror.gaps == 0
            assert mirror.levels() == levels(sim)


async def test_use_yes_price_reports_no_bids_at_yes_prices(sim: SimulatorServer, socket: SimSocket):
    received = await subscribe_books(socket, sim, use_yes_price=True)
    snapshot = next(m for m in received if m["type"] == "orderbook_snapshot")
    book = sim.exchange.books[snapshot["msg"]["market_ticker"]]
    assert [p for p, _ in snapshot["msg"]["no_dollars_fp"]] == sorted(f"{(10_000 - p) / 10_000:.4f}" for p in book.no)
    mirror = BookMirror(use_yes_price=True)
    sim.step(1_000)
    for message in received + await socket.barrier():
        mirror.apply(message)
    assert mirror.levels() == levels(sim)


async def test_trades_carry_seq_and_whales_arrive(sim: SimulatorServer, socket: SimSocket):
    ticker = sim.exchange.tickers[1]
    await socket.command("subscribe", {"channels": ["trade"]})
    await socket.barrier()
    sim.step(500)
    sim.control({"action": "whale", "market_ticker": ticker, "count": "25000.00", "taker_side": "yes"})
    trades = [m for m in await socket.barrier() if m["type"] == "trade"]
    assert [m["seq"] for m in trades] == list(range(1, len(trades) + 1))
    whale = trades[-1]["msg"]
    assert (whale["market_ticker"], whale["count_fp"], whale["taker_book_side"]) == (ticker, "25000.00", "bid")
    assert float(whale["yes_price_dollars"]) + float(whale["no_price_dollars"]) == pytest.approx(1.0)


async def test_ticker_sends_initial_snapshot_then_changes(sim: SimulatorServer, socket: SimSocket):
    ticker = sim.exchange.tickers[0]
    await socket.command("subscribe", {"channels": ["ticker"], "market_ticker": ticker, "send_initial_snapshot": True})
    first = [m for m in await socket.barrier() if m["type"] == "ticker"]
    assert len(first) == 1 and "seq" not in first[0]
    sim.control({"action": "whale", "market_ticker": ticker, "count": "20000.00", "taker_side": "no"})
    after = [m for m in await socket.barrier() if m["type"] == "ticker"]
    assert after and after[-1]["msg"]["last_trade_size_fp"] == "20000.00"
    bid, _, ask, _ = sim.exchange.best(ticker)
    assert after[-1]["msg"]["yes_bid_dollars"] == f"{bid / 10_000:.4f}"
    assert after[-1]["msg"]["yes_ask_dollars"] == f"{ask / 10_000:.4f}"


async def test_own_orders_reach_the_private_channels(sim: SimulatorServer, socket: SimSocket, rest: httpx.AsyncClient):
    ticker = sim.exchange.tickers[0]
    await socket.command("subscribe", {"channels": ["orderbook_delta"], "market_ticker": ticker})
    await socket.command("subscribe", {"channels": ["fill", "user_orders", "market_positions"]})
    await socket.barrier()
    _, _, ask, _ = sim.exchange.best(ticker)
    order = {
        "ticker": ticker,
        "client_order_id": "own-1",
        "side": "bid",
        "count": "1",
        "price": f"{ask / 10_000:.2f}",
        "time_in_force": "immediate_or_cancel",
        "self_trade_prevention_type": "taker_at_cross",
    }
    ack = (await rest.post(ORDERS, json=order)).json()
    received = await socket.barrier()
    by_type = {m["type"]: m for m in received}
    assert by_type["fill"]["msg"]["order_id"] == ack["order_id"]
    assert by_type["fill"]["msg"]["is_taker"] is True and by_type["fill"]["msg"]["post_position_fp"] == "1.00"
    assert by_type["user_order"]["msg"]["status"] == "executed"
    assert by_type["market_position"]["msg"]["position_fp"] == "1.00"
    own_delta = by_type["orderbook_delta"]["msg"]
    assert own_delta["client_order_id"] == "own-1" and own_delta["side"] == "no"
    assert [m["sid"] for m in received if m["type"] in ("fill", "user_order", "market_position")] == [2, 4, 3]


async def test_update_subscription_add_delete_and_get_snapshot(sim: SimulatorServer, socket: SimSocket):
    t1, t2 = sim.exchange.tickers[:2]
    await socket.command("subscribe", {"channels": ["orderbook_delta"], "market_ticker": t1})
    await socket.barrier()
    add = await socket.command("update_subscription", {"sid": 1, "action": "add_markets", "market_tickers": [t2]})
    received = await socket.barrier()
    snapshot = next(m for m in received if m["type"] == "orderbook_snapshot")
    assert (snapshot["msg"]["market_ticker"], snapshot["seq"]) == (t2, 2)
    ok = next(m for m in received if m["type"] == "ok" and m["id"] == add)
    assert (ok["sid"], ok["seq"], ok["msg"]["market_tickers"]) == (1, 2, sorted([t1, t2]))
    drop = await socket.command("update_subscription", {"sids": [1], "action": "delete_markets", "market_ticker": t1})
    ok = next(m for m in await socket.barrier() if m["type"] == "ok" and m["id"] == drop)
    assert ok["msg"]["market_tickers"] == [t2]
    again = await socket.command("update_subscription", {"sid": 1, "action": "get_snapshot", "market_tickers": [t2]})
    snapshots = [m for m in await socket.barrier() if m["type"] == "orderbook_snapshot"]
    assert [(m["id"], m["seq"]) for m in snapshots] == [(again, 3)]
    sim.step(300)
    assert {m["msg"]["market_ticker"] for m in await socket.barrier() if m["type"] == "orderbook_delta"} == {t2}


async def test_unsubscribe_and_list_subscriptions(sim: SimulatorServer, socket: SimSocket):
    await socket.command(
        "subscribe", {"channels": ["orderbook_delta", "trade"], "market_tickers": sim.exchange.tickers}
    )
    await socket.barrier()
    sim.step(200)
    received = await socket.barrier()
    assert received[-1]["msg"] == [{"channel": "orderbook_delta", "sid": 1}, {"channel": "trade", "sid": 2}]
    last_seq = max(m["seq"] for m in received if m.get("sid") == 2 and "seq" in m)
    cmd = await socket.command("unsubscribe", {"sids": [2]})
    reply = next(m for m in await socket.barrier() if m["type"] == "unsubscribed")
    assert reply == {"id": cmd, "sid": 2, "seq": last_seq, "type": "unsubscribed"}
    sim.step(300)
    assert all(m.get("sid") != 2 for m in await socket.barrier())


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", 1),
        ({"id": 5, "cmd": ["subscribe"], "params": {}}, 1),
        ({"id": 5, "cmd": "subscribe", "params": {"channels": [{"name": "trade"}]}}, 1),
        ({"id": 5, "cmd": "subscribe", "params": {"channels": ["ticker"], "market_ids": [{"x": 1}, "nope"]}}, 11),
        ({"id": 5, "cmd": "subscribe"}, 2),
        ({"id": 5, "cmd": "subscribe", "params": {"channels": []}}, 3),
        ({"id": 5, "cmd": "unsubscribe", "params": {}}, 4),
        ({"id": 5, "cmd": "resubscribe", "params": {}}, 5),
        ({"id": 5, "cmd": "update_subscription", "params": {"sid": 42, "action": "get_snapshot"}}, 7),
        ({"id": 5, "cmd": "subscribe", "params": {"channels": ["ticker_v2"]}}, 8),
        ({"id": 5, "cmd": "subscribe", "params": {"channels": ["trade"], "market_ticker": "KXNOPE-1"}}, 11),
        ({"id": 5, "cmd": "update_subscription", "params": {"sids": [1, 2], "action": "get_snapshot"}}, 12),
        ({"id": 5, "cmd": "update_subscription", "params": {"sid": 2, "action": "get_snapshot"}}, 13),
        ({"id": 5, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"]}}, 14),
        ({"id": 5, "cmd": "update_subscription", "params": {"sid": 1}}, 15),
    ],
)
async def test_bad_commands_get_kalshis_error_codes(sim: SimulatorServer, socket: SimSocket, frame, code: int):
    await socket.command(
        "subscribe", {"channels": ["orderbook_delta", "trade"], "market_tickers": sim.exchange.tickers}
    )
    await socket.barrier()
    await socket.ws.send(frame if isinstance(frame, str) else json.dumps(frame))
    error = next(m for m in await socket.barrier() if m["type"] == "error")
    assert error["msg"]["code"] == code
    assert error["id"] == (0 if isinstance(frame, str) else 5)
    assert len(sim.connections) == 1  # the connection survives


async def test_server_pings_with_heartbeat_payload(sim_config: SimConfig, signer: Signer):
    config = dataclasses.replace(sim_config, heartbeat_s=0.05)
    async with SimulatorServer(config) as sim, aiohttp.ClientSession() as session:
        headers = signer.headers("GET", "/trade-api/ws/v2")
        async with session.ws_connect(sim.ws_url, headers=headers, autoping=False) as ws:
            message = await asyncio.wait_for(ws.receive(), timeout=10)
            assert (message.type, message.data) == (aiohttp.WSMsgType.PING, b"heartbeat")
            await ws.pong(message.data)
            await ws.ping(b"are you there")
            while (message := await asyncio.wait_for(ws.receive(), timeout=10)).type == aiohttp.WSMsgType.PING:
                pass
            assert (message.type, message.data) == (aiohttp.WSMsgType.PONG, b"are you there")


async def test_a_client_that_stops_answering_pings_is_closed(sim_config: SimConfig, signer: Signer):
    config = dataclasses.replace(sim_config, heartbeat_s=0.05)
    async with SimulatorServer(config) as sim, aiohttp.ClientSession() as session:
        headers = signer.headers("GET", "/trade-api/ws/v2")
        async with session.ws_connect(sim.ws_url, headers=headers, autoping=False) as ws:
            while (message := await asyncio.wait_for(ws.receive(), timeout=10)).type == aiohttp.WSMsgType.PING:
                pass  # never answered
            assert message.type == aiohttp.WSMsgType.CLOSE and message.data == 1011


async def test_skip_ticker_ack_omits_the_market_list(sim: SimulatorServer, socket: SimSocket):
    t1, t2 = sim.exchange.tickers[:2]
    await socket.command("subscribe", {"channels": ["ticker"], "market_ticker": t1, "skip_ticker_ack": True})
    await socket.barrier()
    cmd = await socket.command("update_subscription", {"sid": 1, "action": "add_markets", "market_tickers": [t2]})
    ok = next(m for m in await socket.barrier() if m["type"] == "ok" and m["id"] == cmd)
    assert "msg" not in ok
