"""Fault injection, from /sim/control and from the start-up flags: rejected REST calls,
skipped seq numbers, malformed frames, dropped connections, delayed frames, held order
creation, a paused random walk."""

import asyncio
import dataclasses
import json
import time
from itertools import pairwise

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.trading.simulator.conftest import SimSocket, order_body, signing_client
from trading.kalshi.signing import Signer
from trading.simulator.server import SimConfig, SimulatorServer


async def control(sim: SimulatorServer, **action) -> dict:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"http://127.0.0.1:{sim.port}/sim/control", json=action)
    assert response.status_code == 200, response.text
    return response.json()


async def subscribed(socket: SimSocket, sim: SimulatorServer) -> list[dict]:
    await socket.command("subscribe", {"channels": ["orderbook_delta"], "market_tickers": sim.exchange.tickers})
    return await socket.barrier()


def seqs(messages: list[dict]) -> list[int]:
    return [m["seq"] for m in messages if m.get("sid") == 1 and "seq" in m and m["type"] != "ok"]


def jumps(numbers: list[int]) -> list[int]:
    return [b - a for a, b in pairwise(numbers) if b - a != 1]


async def test_reject_answers_the_next_requests_with_429_then_server_errors(
    sim: SimulatorServer, rest: httpx.AsyncClient
):
    await control(sim, action="reject", count=2)
    for _ in range(2):
        response = await rest.get("/portfolio/balance")
        assert (response.status_code, response.json()) == (429, {"error": "too many requests"})
    assert (await rest.get("/portfolio/balance")).status_code == 200
    for status in (500, 503):
        await control(sim, action="reject", status=status)
        response = await rest.get("/markets")
        assert response.status_code == status and "code" in response.json()["error"]
    assert (await rest.get("/markets")).status_code == 200


async def test_reject_websocket_handshakes(sim: SimulatorServer, signer: Signer):
    await control(sim, action="reject", target="ws", count=1)
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(sim.ws_url, additional_headers=signer.headers("GET", "/trade-api/ws/v2")):
            pass
    assert refused.value.response.status_code == 429
    async with websockets.connect(sim.ws_url, additional_headers=signer.headers("GET", "/trade-api/ws/v2")):
        pass


async def test_skip_seq_leaves_exactly_one_gap(sim: SimulatorServer, socket: SimSocket):
    before = seqs(await subscribed(socket, sim))
    await control(sim, action="skip_seq")
    sim.step(50)
    after = seqs(await socket.barrier())
    assert jumps(before + after) == [2]


async def test_malformed_frame_then_the_stream_goes_on(sim: SimulatorServer, socket: SimSocket):
    await subscribed(socket, sim)
    await control(sim, action="malformed")
    with pytest.raises(json.JSONDecodeError):
        await socket.recv()
    sim.step(20)
    assert seqs(await socket.barrier())


async def test_drop_aborts_every_connection(sim: SimulatorServer, socket: SimSocket):
    await subscribed(socket, sim)
    assert (await control(sim, action="drop"))["dropped"] == 1
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await socket.recv()
    assert closed.value.rcvd is None  # no close frame: a network failure, not a goodbye


async def test_delay_holds_frames_at_least_that_long(sim: SimulatorServer, socket: SimSocket):
    await subscribed(socket, sim)
    await control(sim, action="delay", ms=300)
    started = time.monotonic()
    await socket.barrier()
    assert time.monotonic() - started >= 0.3
    sim.step(100)
    assert jumps(seqs(await socket.barrier())) == []
    await control(sim, action="delay", ms=0)


async def test_order_delay_holds_creation_and_takes_the_order_of_a_client_gone_meanwhile(
    sim: SimulatorServer, rest: httpx.AsyncClient
):
    taken, place_order = asyncio.Event(), sim.exchange.place_order

    def place_and_tell(**kwargs):
        order = place_order(**kwargs)
        taken.set()
        return order

    sim.exchange.place_order = place_and_tell
    body = order_body(sim.exchange.tickers[0], "bid", "1.00", "0.0100", client_order_id="held-then-taken")
    assert (await control(sim, action="delay", target="orders", ms=500))["order_delay_ms"] == 500
    with pytest.raises(httpx.ReadTimeout):  # the client gives up before the answer
        await rest.post("/portfolio/events/orders", json=body, timeout=0.05)
    assert not held_orders(sim)

    await asyncio.wait_for(taken.wait(), 10)  # the exchange takes it anyway
    await control(sim, action="delay", target="orders", ms=0)
    repeat = await rest.post("/portfolio/events/orders", json=body)
    assert repeat.status_code == 409 and repeat.json()["error"]["code"] == "order_already_exists"
    assert len(held_orders(sim)) == 1


def held_orders(sim: SimulatorServer) -> list:
    return [o for o in sim.exchange.account.orders.values() if o.client_order_id == "held-then-taken"]


async def test_pause_stops_the_random_walk_and_resume_restarts_it(sim_config: SimConfig, signer: Signer):
    config = dataclasses.replace(sim_config, rate=2_000.0, paused=False)
    async with SimulatorServer(config) as sim:
        headers = signer.headers("GET", "/trade-api/ws/v2")
        async with websockets.connect(sim.ws_url, additional_headers=headers) as ws:
            socket = SimSocket(ws)
            await socket.command("subscribe", {"channels": ["trade"]})
            for _ in range(10):
                await socket.until(lambda m: m["type"] == "trade")
            status = await control(sim, action="pause")
            assert status["paused"] is True
            await socket.barrier()
            book = {t: b.levels() for t, b in sim.exchange.books.items()}
            await asyncio.sleep(0.1)
            assert [m["type"] for m in await socket.barrier()] == ["ok"]
            assert sim.messages_generated == status["messages_generated"]
            assert {t: b.levels() for t, b in sim.exchange.books.items()} == book
            await control(sim, action="resume")
            await asyncio.wait_for(socket.until(lambda m: m["type"] == "trade"), timeout=10)


async def test_step_and_whale_work_while_paused(sim: SimulatorServer):
    assert (await control(sim, action="step", count=25))["messages_generated"] == 25
    ticker = sim.exchange.tickers[2]
    trade = (await control(sim, action="whale", market_ticker=ticker, count="30000.00", taker_side="no"))["trade"]
    assert (trade["ticker"], trade["count_fp"], trade["taker_outcome_side"]) == (ticker, "30000.00", "no")


@pytest.mark.parametrize(
    "action",
    [
        {"action": "explode"},
        {"action": "delay"},
        {"action": "delay", "ms": {"x": 1}},
        {"action": "whale", "market_ticker": "KXNOPE-1"},
        {"action": "whale", "count": "0"},
        {"action": "whale", "taker_side": "maybe"},
        {"action": "reject", "status": 418},
        [1],
    ],
)
async def test_bad_control_requests_are_400(sim: SimulatorServer, action):
    async with httpx.AsyncClient() as client:
        response = await client.post(f"http://127.0.0.1:{sim.port}/sim/control", json=action)
    assert response.status_code == 400 and "error" in response.json()


async def test_fault_flags_from_start_up(sim_config: SimConfig, signer: Signer):
    config = dataclasses.replace(sim_config, gap_every=10, malformed_every=7, reject_every=3)
    async with SimulatorServer(config) as sim:
        async with signing_client(sim, signer) as rest:
            statuses = [(await rest.get("/markets")).status_code for _ in range(6)]
        assert statuses == [200, 200, 429, 200, 200, 429]
        async with websockets.connect(sim.ws_url, additional_headers=signer.headers("GET", "/trade-api/ws/v2")) as ws:
            await ws.send(json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["trade"]}}))
            await ws.recv()
            sim.step(800)
            await ws.send(json.dumps({"id": 2, "cmd": "list_subscriptions"}))
            frames = []
            while not (frames and frames[-1].startswith('{"id":2')):
                frames.append(await ws.recv())
        bad = [f for f in frames if not f.endswith("}")]
        trades = [json.loads(f)["seq"] for f in frames if f.startswith('{"type":"trade"')]
        assert len(trades) >= 20
        assert len(bad) == len(trades) // 7
        assert trades[:10] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 11]


async def test_drop_every_flag_drops_connections(sim_config: SimConfig, signer: Signer):
    config = dataclasses.replace(sim_config, drop_every_s=0.2)
    async with (
        SimulatorServer(config) as sim,
        websockets.connect(sim.ws_url, additional_headers=signer.headers("GET", "/trade-api/ws/v2")) as ws,
    ):
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), timeout=10)
