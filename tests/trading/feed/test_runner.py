"""The feed runner against the simulator over a real WebSocket: books, faults,
whales, states, and what reaches the browsers' groups."""

import os
import socket

import orjson
import pytest
from asgiref.sync import sync_to_async

from tests.simulators import quiet_simulator
from tests.trading.feed.harness import NO_WHALES, books_match, running_feed
from tests.trading.feed.listener import GroupListener
from tests.waiting import eventually
from trading import events
from trading.feed.state import State
from trading.kalshi import messages
from trading.models import FeedHeartbeat, StateTransition, WhaleTrade
from trading.selectors import runner_down

pytestmark = pytest.mark.django_db(transaction=True)


async def test_books_match_the_simulator_after_a_long_random_stream(handed):
    async with running_feed(**NO_WHALES) as (sim, runner):
        await eventually(lambda: runner.machine.state == State.TRADING, "trading state")
        for _ in range(40):
            sim.step(500)
        await eventually(lambda: books_match(sim, runner), "books equal to the simulator's")
        assert runner.client.metrics.gaps == 0
        assert runner.get_orderbook(sim.exchange.tickers[0]) is runner.client.books[sim.exchange.tickers[0]]
        assert runner.get_orderbook("NOT-FOLLOWED") is None


async def test_gap_triggers_resync_and_books_agree_again(handed):
    async with running_feed(**NO_WHALES) as (sim, runner):
        await eventually(runner.books.all_synced, "first snapshots")
        sim.step(200)
        sim.control({"action": "skip_seq", "channel": "orderbook_delta"})
        for _ in range(10):
            sim.step(200)
        await eventually(lambda: runner.client.metrics.resyncs >= 1, "a resync")
        await eventually(lambda: books_match(sim, runner), "books equal after the resync")
        assert runner.client.metrics.gaps >= 1


@pytest.mark.needs_redis
async def test_disconnect_reconnects_books_consistent_and_activity_line_emitted(handed):
    listener = await GroupListener().join(events.EVENTS_GROUP)
    try:
        async with running_feed(**NO_WHALES) as (sim, runner):
            await eventually(runner.books.all_synced, "first snapshots")
            sim.step(500)
            assert sim.control({"action": "drop"})["dropped"] == 1
            await eventually(lambda: runner.books.reconnections == 1, "reconnection noticed")
            for _ in range(5):
                sim.step(200)
            await eventually(lambda: books_match(sim, runner), "books equal after the reconnect")
            body = await listener.next_event(events.SYSTEM_ACTIVITY, source="feed")
            assert "reconnected" in body["data"]["message"]
            assert body["data"]["details"]["markets"] == len(sim.exchange.tickers)
            assert runner.books.health().metrics["reconnections"] == 1
    finally:
        await listener.close()


async def test_malformed_frame_is_counted_and_the_feed_continues(handed):
    async with running_feed(**NO_WHALES) as (sim, runner):
        await eventually(runner.books.all_synced, "first snapshots")
        sim.control({"action": "malformed"})
        await eventually(lambda: runner.client.metrics.parse_errors == 1, "the parse error counted")
        before = runner.books.health().metrics["deltas"]
        sim.step(1000)
        await eventually(lambda: books_match(sim, runner), "books equal after the malformed frame")
        assert runner.books.health().metrics["deltas"] > before


async def test_books_falling_behind_the_exchange_are_an_error_until_they_catch_up(handed):
    async with running_feed(book_max_lag=0.2, **NO_WHALES) as (sim, runner):
        await eventually(lambda: runner.machine.state == State.TRADING, "trading state")
        sim.control({"action": "delay", "ms": 500})  # every frame reaches us half a second after its change
        sim.step(50)
        await eventually(lambda: runner.machine.state == State.ERROR, "error while the books lag")
        assert "behind the exchange" in runner.books.health().detail
        sim.control({"action": "delay", "ms": 0})
        sim.step(50)
        await eventually(lambda: runner.machine.state == State.TRADING, "trading once caught up")
        assert runner.books.health().metrics["lag_s"] < 0.2


async def test_whale_is_recorded_once_and_handed_to_execution_once(handed):
    async with running_feed() as (sim, runner):
        await eventually(runner.books.all_synced, "first snapshots")
        ticker = sim.exchange.tickers[1]
        trade = sim.control({"action": "whale", "market_ticker": ticker, "count": "50000.00"})["trade"]
        await eventually(lambda: runner.whales.whales == 1, "the whale recorded")
        whale = await WhaleTrade.objects.aget()
        assert whale.trade_id == trade["trade_id"] and whale.market_ticker == ticker
        assert handed == [whale.pk]
        recent = runner.whales.queue.items()
        assert [w["whale_id"] for w in recent] == [whale.pk] and recent[0]["rule"] == "absolute"
        # The same trade again (a replay after a reconnect) is not a second whale.
        replay = {
            "type": "trade",
            "sid": 2,
            "msg": {
                "trade_id": trade["trade_id"],
                "market_ticker": ticker,
                "yes_price_dollars": trade["yes_price_dollars"],
                "no_price_dollars": trade["no_price_dollars"],
                "count_fp": trade["count_fp"],
                "taker_outcome_side": trade["taker_outcome_side"],
                "taker_book_side": trade["taker_book_side"],
                "ts_ms": 1795532405731,
            },
        }
        runner.trades.handle(messages.parse(orjson.dumps(replay)))
        assert runner.trades.duplicates == 1 and runner.whales.trades_seen == 1
        await eventually(lambda: not runner.trades._recording, "recording finished")
        assert await WhaleTrade.objects.acount() == 1 and handed == [whale.pk]


@pytest.mark.needs_redis
async def test_states_persisted_and_broadcast_from_start_to_shutdown(handed):
    listener = await GroupListener().join(events.EVENTS_GROUP)
    try:
        async with running_feed(**NO_WHALES) as (_sim, runner):
            await eventually(lambda: runner.machine.state == State.TRADING, "trading")
            status = await listener.next_event(events.TRADER_STATUS)
            names = {c["name"] for c in status["data"]["components"]}
            assert {"kalshi_ws", "orderbooks", "trades", "whale_tracker", "event_bus", "publisher"} <= names
        path = [(t.from_state, t.to_state) async for t in StateTransition.objects.order_by("id")]
        assert path == [
            ("startup", "initializing"),
            ("initializing", "ready"),
            ("ready", "trading"),
            ("trading", "shutdown"),
        ]
        await listener.next_activity("state", to="shutdown")
        lines = [e["data"] for e in listener.skipped if e["type"] == events.SYSTEM_ACTIVITY]
        seen = [(line["details"]["from"], line["details"]["to"]) for line in lines if line["source"] == "state"]
        assert seen == path[:-1], "broadcast in order, shutdown last"
    finally:
        await listener.close()


async def test_our_fill_from_the_websocket_is_recorded_once(handed):
    from trading.kalshi.rest import KalshiRestClient
    from trading.models import Fill, Position

    async with running_feed(**NO_WHALES) as (sim, runner):
        await eventually(runner.books.all_synced, "first snapshots")
        ticker = sim.exchange.tickers[0]
        _, _, yes_ask, _ = sim.exchange.best(ticker)
        async with KalshiRestClient(sim.rest_url, runner.client.signer) as rest:
            ack = await rest.create_order(
                ticker=ticker,
                side="bid",
                count=100,
                price=yes_ask,
                time_in_force="immediate_or_cancel",
                client_order_id="feed-test-1",
            )
        assert ack.fill_count == 100
        await eventually(lambda: runner.fills.fills >= 1, "the fill recorded from the WebSocket")
        fills = [f async for f in Fill.objects.all()]
        assert {f.exchange_order_id for f in fills} == {ack.order_id}
        assert sum(f.count for f in fills) == 100
        position = await Position.objects.aget(market_ticker=ticker)
        assert position.position == 100


async def test_unreachable_exchange_is_an_error_until_it_connects(handed):
    from tests.trading.feed.harness import feed_config, sim_client
    from trading.feed.runner import FeedRunner

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sim = quiet_simulator(2, port=port)
    client = sim_client(f"ws://127.0.0.1:{port}/trade-api/ws/v2", max_attempts=0)  # nothing listens there yet
    runner = FeedRunner(client, sim.exchange.tickers, feed_config(startup_grace=0.3, **NO_WHALES))
    try:
        await runner.start()
        await eventually(lambda: runner.machine.state == State.ERROR, "error while the exchange is unreachable")
        await sim.start()
        await eventually(lambda: runner.machine.state == State.TRADING, "trading once connected")
    finally:
        await runner.stop("test over")
        await sim.stop()
    path = [(t.from_state, t.to_state) async for t in StateTransition.objects.order_by("id")]
    assert path[:3] == [("startup", "initializing"), ("initializing", "error"), ("error", "ready")]


async def test_heartbeat_beats_while_running_and_says_shutdown_at_stop(handed):
    async with running_feed(market_set="markets:beat", **NO_WHALES) as (_sim, runner):
        await eventually(lambda: runner.machine.state == State.TRADING, "trading")
        beats = runner.heartbeat.beats
        await eventually(lambda: runner.heartbeat.beats > beats, "a beat while trading")
        row = await FeedHeartbeat.objects.aget(market_set="markets:beat")
        assert (row.state, row.pid) == ("trading", os.getpid())
        assert await sync_to_async(runner_down)() is None
    row = await FeedHeartbeat.objects.aget(market_set="markets:beat")
    assert row.state == "shutdown"
    assert await sync_to_async(runner_down)(now=row.beat_at + 3600) is None, "a runner that stopped is not dead"
