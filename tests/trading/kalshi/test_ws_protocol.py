"""Protocol corners the simulator does not produce, over a real local WebSocket to a
scripted server: unknown types, duplicates, terminal subscription errors, un-sequenced trades."""

import asyncio
from collections.abc import Callable

import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve

from trading.kalshi.messages import Trade
from trading.kalshi.ws import KalshiWebSocket

from .conftest import eventually

T = "KXBTCD-26DEC3117-T99999.99"


def snapshot(seq: int, yes: list, command_id: int = 0) -> dict:
    msg = {"type": "orderbook_snapshot", "sid": 1, "seq": seq, "msg": {"market_ticker": T, "yes_dollars_fp": yes}}
    return {**msg, "id": command_id} if command_id else msg


def delta(seq: int, price: str, change: str) -> dict:
    body = {"market_ticker": T, "price_dollars": price, "delta_fp": change, "side": "yes", "ts_ms": 1}
    return {"type": "orderbook_delta", "sid": 1, "seq": seq, "msg": body}


class ScriptedKalshi:
    """Answers each command with the frames ``script(command)`` returns; keeps every command."""

    def __init__(self, script: Callable[[dict], list]) -> None:
        self.script = script
        self.commands: list[dict] = []

    async def handler(self, ws: ServerConnection) -> None:
        async for raw in ws:
            command = orjson.loads(raw)
            self.commands.append(command)
            for frame in self.script(command):
                await ws.send(frame if isinstance(frame, str) else orjson.dumps(frame).decode())


@pytest.fixture
async def scripted(signer):
    """``await scripted(script)`` -> (server, connected client subscribed to one book)."""
    clients, servers = [], []

    async def start(script: Callable[[dict], list]) -> tuple[ScriptedKalshi, KalshiWebSocket]:
        kalshi = ScriptedKalshi(script)
        server = await serve(kalshi.handler, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        client = KalshiWebSocket(f"ws://127.0.0.1:{port}/trade-api/ws/v2", signer, base_delay=0.01)
        clients.append(client)
        client.start()
        await asyncio.wait_for(client.connected.wait(), 5)
        return kalshi, client

    yield start
    for client in clients:
        await client.close()
    for server in servers:
        server.close()
        await server.wait_closed()


def subscribed(command: dict, *sids: int) -> list[dict]:
    return [
        {"type": "subscribed", "id": command["id"], "msg": {"channel": channel, "sid": sid}}
        for channel, sid in zip(command["params"]["channels"], sids, strict=True)
    ]


async def test_unknown_type_keeps_the_sequence(scripted) -> None:
    def script(command: dict) -> list:
        if command["cmd"] == "subscribe":
            unknown = {"type": "order_group_updates", "sid": 1, "seq": 2, "msg": {}}
            return [*subscribed(command, 1), snapshot(1, [["0.4000", "10.00"]]), unknown, delta(3, "0.4000", "5.00")]
        return [{"type": "ok", "id": command["id"], "msg": []}]

    _, client = await scripted(script)
    await client.subscribe(["orderbook_delta"], [T])
    await client.list_subscriptions()
    assert client.metrics.unknown_types == 1 and client.metrics.parse_errors == 1
    assert client.metrics.gaps == 0
    assert client.books[T].yes == {4000: 1500}


async def test_fee_update_is_counted_as_ignored_and_keeps_the_sequence(scripted) -> None:
    def script(command: dict) -> list:
        if command["cmd"] == "subscribe":
            fee_update = {"type": "event_fee_update", "sid": 1, "seq": 2, "msg": {"series_ticker": "KXINX"}}
            return [*subscribed(command, 1), snapshot(1, [["0.4000", "10.00"]]), fee_update, delta(3, "0.4000", "5.00")]
        return [{"type": "ok", "id": command["id"], "msg": []}]

    _, client = await scripted(script)
    await client.subscribe(["orderbook_delta"], [T])
    await client.list_subscriptions()
    assert (client.metrics.ignored, client.metrics.parse_errors, client.metrics.gaps) == (1, 0, 0)
    assert client.books[T].yes == {4000: 1500}


async def test_duplicate_seq_is_ignored(scripted) -> None:
    def script(command: dict) -> list:
        if command["cmd"] == "subscribe":
            return [*subscribed(command, 1), snapshot(1, []), delta(2, "0.4000", "5.00"), delta(2, "0.4000", "5.00")]
        return [{"type": "ok", "id": command["id"], "msg": []}]

    _, client = await scripted(script)
    await client.subscribe(["orderbook_delta"], [T])
    await client.list_subscriptions()
    assert client.books[T].yes == {4000: 500}
    assert client.metrics.duplicates == 1 and client.metrics.gaps == 0


async def test_gap_asks_for_a_snapshot_and_drops_deltas_until_it_comes(scripted) -> None:
    def script(command: dict) -> list:
        if command["cmd"] == "subscribe":
            return [*subscribed(command, 1), snapshot(1, [["0.4000", "10.00"]]), delta(3, "0.4000", "5.00")]
        if command.get("params", {}).get("action") == "get_snapshot":
            # Still in flight before the snapshot: a delta the client must drop.
            return [
                delta(4, "0.4000", "1.00"),
                snapshot(5, [["0.4100", "2.00"]], command["id"]),
                delta(6, "0.4100", "1.00"),
            ]
        return [{"type": "ok", "id": command["id"], "msg": []}]

    kalshi, client = await scripted(script)
    await client.subscribe(["orderbook_delta"], [T])
    await client.list_subscriptions()
    resync = kalshi.commands[1]
    assert resync["params"] == {"sid": 1, "action": "get_snapshot", "market_tickers": [T]}
    assert client.books[T].levels() == {"yes": {4100: 300}, "no": {}} and not client.books[T].stale
    assert (client.metrics.gaps, client.metrics.dropped_deltas) == (1, 2)


async def test_terminal_subscription_error_resubscribes(scripted) -> None:
    subscribes = []

    def script(command: dict) -> list:
        if command["cmd"] == "subscribe":
            subscribes.append(command)
            sid = len(subscribes)
            frames = [*subscribed(command, sid), {**snapshot(1, [["0.4000", "1.00"]]), "sid": sid}]
            if sid == 1:  # the subscription overflows on Kalshi's side and is gone
                frames.append({"type": "error", "sid": 1, "msg": {"code": 25, "msg": "Subscription buffer overflow"}})
            return frames
        return [{"type": "ok", "id": command["id"], "msg": []}]

    kalshi, client = await scripted(script)
    sub = await client.subscribe(["orderbook_delta"], [T])
    await eventually(lambda: sub.sids == {"orderbook_delta": 2}, "a fresh subscription")
    assert [c["cmd"] for c in kalshi.commands] == ["subscribe", "subscribe"]  # no unsubscribe of a dead sid
    await client.list_subscriptions()
    assert not client.books[T].stale and client.metrics.error_replies == 1


async def test_trade_without_seq_and_trailing_newline_is_delivered(scripted) -> None:
    trade = {
        "type": "trade",
        "sid": 1,
        "msg": {
            "trade_id": "t-1",
            "market_ticker": T,
            "yes_price_dollars": "0.4500",
            "no_price_dollars": "0.5500",
            "count_fp": "25000.00",
            "taker_outcome_side": "yes",
            "taker_book_side": "bid",
            "is_block_trade": False,
            "ts_ms": 1795532405731,
        },
    }

    def script(command: dict) -> list:
        return [*subscribed(command, 1), orjson.dumps(trade).decode() + "\n"]

    _, client = await scripted(script)
    trades = client.listen(Trade)
    await client.subscribe(["trade"])
    received = await asyncio.wait_for(trades.get(), 5)
    assert received.seq is None and received.msg.count == 2_500_000


@pytest.mark.parametrize("ok_seq", [2, 3], ids=["last-seq", "own-seq"])
async def test_ok_seq_either_way_is_no_gap(scripted, ok_seq: int) -> None:
    """PROTOCOL 5 leaves open whether an ok repeats the last seq or takes a new one."""

    def script(command: dict) -> list:
        if command["cmd"] == "subscribe":
            return [*subscribed(command, 1), snapshot(1, []), delta(2, "0.4000", "5.00")]
        if command["cmd"] == "update_subscription":
            tickers = [T, *command["params"]["market_tickers"]]
            added = {**snapshot(ok_seq + 1, []), "msg": {"market_ticker": "KXNEW-1"}}
            return [
                {"type": "ok", "id": command["id"], "sid": 1, "seq": ok_seq, "msg": {"market_tickers": tickers}},
                added,
            ]
        return [{"type": "ok", "id": command["id"], "msg": []}]

    _, client = await scripted(script)
    sub = await client.subscribe(["orderbook_delta"], [T])
    await client.add_markets(sub, ["KXNEW-1"])
    await client.list_subscriptions()
    assert (client.metrics.gaps, client.metrics.duplicates) == (0, 0)
    assert not client.books["KXNEW-1"].stale and client.books[T].yes == {4000: 500}
