"""The WebSocket client over a real local WebSocket to the simulator."""

import asyncio

import pytest

from tests.waiting import eventually
from trading.kalshi.connection import ConnectionFailed
from trading.kalshi.messages import OrderbookDelta, Trade, UserFill
from trading.kalshi.ws import KalshiWebSocket, KalshiWsError
from trading.units import parse_count


@pytest.fixture
async def client(sim, signer):
    ws = KalshiWebSocket(sim.ws_url, signer, base_delay=0.02, max_delay=0.2, command_timeout=5)
    ws.start()
    await asyncio.wait_for(ws.connected.wait(), 5)
    yield ws
    await ws.close()


async def synced(client: KalshiWebSocket) -> None:
    """A command round trip: the simulator answers after every frame it sent before, so
    when the reply is here every earlier data frame has been read and applied."""
    await client.list_subscriptions()


def assert_books_equal(client: KalshiWebSocket, sim) -> None:
    for ticker, book in client.books.items():
        assert not book.stale, ticker
        assert book.levels() == sim.exchange.books[ticker].levels(), ticker


async def test_books_equal_the_simulator_after_random_messages(client, sim) -> None:
    sub = await client.subscribe(["orderbook_delta"], sim.exchange.tickers)
    assert set(sub.sids) == {"orderbook_delta"}
    for _ in range(5):
        sim.step(400)
        await synced(client)
        assert_books_equal(client, sim)
    assert client.metrics.gaps == 0 and client.metrics.parse_errors == 0
    assert client.metrics.messages > 2000


async def test_gap_triggers_resync_and_books_agree_again(client, sim) -> None:
    await client.subscribe(["orderbook_delta"], sim.exchange.tickers)
    sim.step(100)
    await synced(client)
    snapshots_before = sum(book.snapshots for book in client.books.values())
    sim.control({"action": "skip_seq"})
    sim.step(200)
    await synced(client)
    await eventually(lambda: not any(book.stale for book in client.books.values()), "resync snapshots")
    await synced(client)
    assert client.metrics.gaps == 1 and client.metrics.resyncs == 1
    assert sum(book.snapshots for book in client.books.values()) == snapshots_before + len(client.books)
    sim.step(200)
    await synced(client)
    assert_books_equal(client, sim)


async def test_dropped_connection_reconnects_with_backoff_and_resubscribes(client, sim) -> None:
    sub = await client.subscribe(["orderbook_delta", "trade"], sim.exchange.tickers[:2])
    old_sids = dict(sub.sids)
    sim.step(100)
    await synced(client)
    sim.control({"action": "drop"})
    await eventually(lambda: client.metrics.reconnects == 1 and sub.active, "reconnect and resubscribe")
    assert set(sub.sids) == set(old_sids)  # the same channels, on fresh sids of the new connection
    sim.step(300)
    await synced(client)
    assert_books_equal(client, sim)
    assert client.health().healthy


async def test_refused_handshakes_are_retried(sim, signer) -> None:
    sim.control({"action": "reject", "target": "ws", "count": 2})
    ws = KalshiWebSocket(sim.ws_url, signer, base_delay=0.01, max_delay=0.05)
    ws.start()
    try:
        await asyncio.wait_for(ws.connected.wait(), 5)
        assert ws.metrics.failed_connects == 2 and ws.metrics.connects == 1
    finally:
        await ws.close()


async def test_gives_up_after_max_attempts(signer, unused_tcp_port) -> None:
    ws = KalshiWebSocket(f"ws://127.0.0.1:{unused_tcp_port}/trade-api/ws/v2", signer, base_delay=0.01, max_attempts=3)
    with pytest.raises(ConnectionFailed):
        await ws.run()
    assert ws.metrics.failed_connects == 3
    assert not ws.health().healthy


async def test_malformed_frame_is_counted_and_the_stream_goes_on(client, sim) -> None:
    await client.subscribe(["orderbook_delta"], sim.exchange.tickers)
    sim.step(50)
    sim.control({"action": "malformed"})
    sim.step(50)
    await synced(client)
    assert client.metrics.parse_errors == 1
    assert client.metrics.connects == 1
    assert_books_equal(client, sim)


async def test_error_reply_is_raised_with_its_code_meaning(client) -> None:
    with pytest.raises(KalshiWsError) as caught:
        await client.subscribe(["ticker_v2"])
    assert caught.value.code == 8 and "unknown channel" in caught.value.meaning
    assert client.subscriptions == []  # a refused subscription is not sent again on reconnect


async def test_a_booked_market_cannot_be_subscribed_twice(client, sim) -> None:
    await client.subscribe(["orderbook_delta"], sim.exchange.tickers[:1])
    with pytest.raises(ValueError, match="already"):
        await client.subscribe(["orderbook_delta"], sim.exchange.tickers[:2])


async def test_listeners_get_typed_messages(client, sim) -> None:
    trades = client.listen(Trade)
    await client.subscribe(["trade"])
    sim.control({"action": "whale", "count": "25000.00", "taker_side": "yes"})
    trade = await asyncio.wait_for(trades.get(), 5)
    assert isinstance(trade, Trade) and trade.msg.count == parse_count("25000.00")


async def test_full_listener_drops_and_counts_without_blocking_the_reader(client, sim) -> None:
    slow = client.listen(OrderbookDelta, maxsize=5)
    await client.subscribe(["orderbook_delta"], sim.exchange.tickers)
    sim.step(300)
    await synced(client)
    assert slow.queue.qsize() == 5
    assert slow.dropped > 0 and client.metrics.drops == slow.dropped
    assert_books_equal(client, sim)  # the books are kept by the reader, whatever the listeners do


async def test_add_and_delete_markets(client, sim) -> None:
    first, second = sim.exchange.tickers[:2]
    sub = await client.subscribe(["orderbook_delta"], [first])
    await client.add_markets(sub, [second])
    sim.step(200)
    await synced(client)
    assert set(client.books) == {first, second}
    assert_books_equal(client, sim)
    await client.delete_markets(sub, [first])
    assert set(client.books) == {second}
    await client.unsubscribe(sub)
    assert client.books == {} and client.subscriptions == []
    assert await client.list_subscriptions() == []


async def test_private_fill_arrives_after_an_order_fills(client, sim) -> None:
    fills = client.listen(UserFill)
    await client.subscribe(["fill", "user_orders", "market_positions"])
    ticker = sim.exchange.tickers[0]
    yes_ask = sim.exchange.books[ticker].top().yes_ask
    sim.exchange.place_order(
        ticker=ticker,
        side="bid",
        price=yes_ask,
        count=100,
        time_in_force="immediate_or_cancel",
        self_trade_prevention_type="taker_at_cross",
        client_order_id="ws-fill-1",
    )
    sim.publish()
    fill = await asyncio.wait_for(fills.get(), 5)
    assert fill.msg.market_ticker == ticker and fill.msg.count == 100 and fill.msg.client_order_id == "ws-fill-1"


async def test_health_reports_message_age_and_metrics(client, sim) -> None:
    await client.subscribe(["orderbook_delta"], sim.exchange.tickers[:1])
    health = client.health()
    assert health.healthy and health.name == "kalshi_ws"
    assert health.metrics["messages"] >= 1 and health.metrics["books"] == 1
    await client.close()
    assert not client.health().healthy


def test_backoff_doubles_from_one_second_to_a_one_minute_cap_with_jitter(signer) -> None:
    ws = KalshiWebSocket("ws://127.0.0.1:9/trade-api/ws/v2", signer)
    assert (ws.base_delay, ws.max_delay, ws.max_attempts) == (1.0, 60.0, 10)
    for failures, ceiling in [(0, 1), (1, 2), (2, 4), (5, 32), (6, 60), (40, 60)]:
        delays = [ws.connection.backoff(failures) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered, so clients do not reconnect in step


async def test_zero_attempts_means_retry_forever(signer, unused_tcp_port) -> None:
    ws = KalshiWebSocket(
        f"ws://127.0.0.1:{unused_tcp_port}/trade-api/ws/v2", signer, base_delay=0.001, max_delay=0.005, max_attempts=0
    )
    task = ws.start()
    await eventually(lambda: ws.metrics.failed_connects >= 12, "a dozen failed attempts")
    assert not task.done()
    await ws.close()


async def test_every_channel_the_simulator_sends_parses(client, sim) -> None:
    listener = client.listen()  # every data message type
    ticker = sim.exchange.tickers[0]
    await client.subscribe(["orderbook_delta"], sim.exchange.tickers)
    await client.subscribe(["ticker"], [ticker], send_initial_snapshot=True)
    await client.subscribe(["trade", "market_lifecycle_v2"])
    await client.subscribe(["fill", "user_orders", "market_positions"])
    sim.step(200)
    sim.exchange.place_order(
        ticker=ticker,
        side="ask",
        price=sim.exchange.books[ticker].top().yes_bid,
        count=200,
        time_in_force="immediate_or_cancel",
        self_trade_prevention_type="taker_at_cross",
    )
    sim.publish()
    await synced(client)
    seen = set()
    while not listener.queue.empty():
        seen.add(type(listener.queue.get_nowait()).__name__)
    assert {"OrderbookSnapshot", "OrderbookDelta", "Ticker", "Trade", "UserFill", "UserOrder", "MarketPosition"} <= seen
    assert client.metrics.parse_errors == 0 and client.metrics.gaps == 0
