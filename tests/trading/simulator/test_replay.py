"""``simulate_exchange --replay``: a recording served over the simulator's own protocol,
its books and trades as recorded, our orders matched against the replayed book."""

import asyncio

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from tests.trading.backtest.recorded import WHALES, record_run
from tests.trading.feed.conftest import _close_thread_connection  # noqa: F401 (the recording's runner's ORM thread)
from tests.trading.feed.harness import sim_client, sim_rest
from tests.waiting import eventually
from trading.backtest.engine import Backtest
from trading.feed.recording import read_frames
from trading.kalshi import messages as m
from trading.simulator.replay import replay_server
from trading.simulator.server import SimConfig
from trading.units import ONE_DOLLAR

pytestmark = pytest.mark.django_db(transaction=True)


def recorded_books(path):
    """The books as the recording leaves them, rebuilt by the backtest's own replay of the frames."""
    rules, limits = settings.EXECUTION.rules, settings.EXECUTION.limits
    engine = Backtest(rules=rules, limits=limits, min_notional=10**18, relative_factor=1e12)
    for received, frame in read_frames(path):
        engine.step(received, frame)
    return {t: book.levels() for t, book in engine.books.items()}


async def test_a_recording_is_served_with_its_books_and_trades(tmp_path):
    recording = await record_run(tmp_path / "rec")
    whale_ids = {
        msg.msg.trade_id
        for _, frame in read_frames(recording)
        if isinstance(msg := m.parse(frame), m.Trade) and msg.msg.count >= 30_000 * 100
    }
    assert len(whale_ids) == WHALES

    server, replay = replay_server(SimConfig(), recording, speed=1_000)
    await server.start()
    client = sim_client(server.ws_url)
    trades: list[str] = []
    try:
        client.start()
        await client.connected.wait()
        tickers = list(server.exchange.tickers)
        await client.subscribe(["orderbook_delta"], tickers)
        await client.subscribe(["trade"], tickers)
        listener = client.listen(m.Trade)
        replaying = asyncio.create_task(replay.run())
        await asyncio.wait_for(replay.done.wait(), 10)
        await replaying

        assert {t: server.exchange.books[t].levels() for t in tickers} == recorded_books(recording)

        def whales_received() -> bool:
            while not listener.queue.empty():
                trades.append(listener.queue.get_nowait().msg.trade_id)
            return whale_ids <= set(trades)

        await eventually(whales_received, "the recorded whale trades, under their own ids, at a subscriber")

        # Our order crosses the replayed book and fills against it.
        ticker = tickers[0]
        ask = server.exchange.best(ticker)[2]
        async with sim_rest(server.rest_url) as rest:
            order = await rest.create_order(
                ticker=ticker, side="bid", count=100, price=ask, time_in_force="immediate_or_cancel"
            )
        assert order.fill_count == 100 and 0 < ask < ONE_DOLLAR
    finally:
        await client.close()
        await server.stop()


def test_a_missing_recording_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match=r"--replay: .* does not exist"):
        call_command("simulate_exchange", "--replay", str(tmp_path / "none"), "--port", "0")
