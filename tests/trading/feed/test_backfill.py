"""Trade backfill against the simulator over a real WebSocket and real REST: a whale
traded while the runner was away is recorded once, with its true trade time, after the
reconnection or by the runner that takes over; one already recorded is not recorded again."""

from datetime import datetime

import pytest
from asgiref.sync import sync_to_async

from tests.simulators import quiet_simulator
from tests.trading.feed.harness import running_feed, sim_rest
from tests.waiting import eventually
from trading import events
from trading.feed import backfill
from trading.feed.backfill import missed_trades, rest_public_trade
from trading.feed.marks import Mark, load_marks
from trading.models import ActivityEvent, TradeMark, WhaleTrade
from trading.simulator.server import SimulatorServer
from trading.units import MONEY_SCALE

pytestmark = pytest.mark.django_db(transaction=True)

# Whales only by the absolute rule: the simulator's random trades never reach $1,000,
# and no random trade may become a whale by being large next to the median.
ABSOLUTE_ONLY = {"whale_min_notional": 1_000 * MONEY_SCALE, "whale_relative_factor": 1e12}
WHALE_COUNT = "50000.00"


def _trade_time(trade: dict) -> float:
    return datetime.fromisoformat(trade["created_time"]).timestamp()


async def _traded_until_marked(sim: SimulatorServer, runner, ticker: str) -> None:
    """Random trades until the runner has a mark on ``ticker``, persisted."""
    sim.step(1_000)
    await eventually(lambda: ticker in runner.backfill.marks, f"a mark on {ticker}")
    await runner.backfill.flush()


async def _persisted_marks(ticker: str) -> dict[str, Mark]:
    return await sync_to_async(load_marks)([ticker])


async def test_whale_missed_while_disconnected_is_recorded_once_with_its_trade_time(handed):
    async with running_feed(backfill=True, **ABSOLUTE_ONLY) as (sim, runner):
        ticker = sim.exchange.tickers[1]
        await eventually(lambda: runner.backfill.runs == 1, "the start-up backfill")
        assert runner.backfill.last["markets"] == 0, "nothing was ever seen, so nothing was missed"
        await _traded_until_marked(sim, runner, ticker)
        seen_before = runner.trades.trades

        # Keep the runner out while the whale and some ordinary trades happen.
        sim.control({"action": "reject", "target": "ws", "count": 1_000})
        sim.control({"action": "drop"})
        await eventually(lambda: not runner.client.connected.is_set(), "the runner disconnected")
        trade = sim.control({"action": "whale", "market_ticker": ticker, "count": WHALE_COUNT})["trade"]
        sim.step(100)
        missed = [t for t in sim.exchange.trades if t.ticker == ticker and t.ts_ms / 1000 >= _trade_time(trade)]
        sim.control({"action": "reject", "target": "ws", "count": 0})

        await eventually(lambda: runner.backfill.runs == 2, "the backfill after the reconnection")
        await eventually(lambda: runner.whales.whales == 1, "the missed whale recorded")
        whale = await WhaleTrade.objects.aget()
        assert whale.trade_id == trade["trade_id"] and whale.market_ticker == ticker
        assert whale.traded_at == pytest.approx(_trade_time(trade), abs=1e-3)
        assert whale.detected_at > whale.traded_at
        assert handed == [whale.pk]
        assert runner.backfill.last["whales"] == 1
        assert runner.backfill.last["trades"] >= len(missed)
        assert runner.trades.trades >= seen_before + len(missed)
        status = runner.status()["backfill"]
        assert status["runs"] == 2 and status["trades"] == runner.backfill.last["trades"] and status["whales"] == 1
        line = await ActivityEvent.objects.filter(type=events.SYSTEM_ACTIVITY, data__source="backfill").alast()
        assert f"backfilled {runner.backfill.last['trades']} missed trades" in line.data["message"]
        assert line.data["message"].endswith("after reconnect, 1 of them whales")

        # Live trades after the reconnection go on moving the mark.
        sim.step(300)
        await eventually(lambda: runner.backfill.marks[ticker].traded_at > whale.traded_at, "the mark moved on")


async def test_takeover_backfills_from_the_persisted_mark_and_records_no_whale_twice(handed):
    sim = quiet_simulator(2, seed=11)
    await sim.start()
    ticker = sim.exchange.tickers[0]
    try:
        async with running_feed(sim=sim, backfill=True, **ABSOLUTE_ONLY) as (_sim, first):
            await eventually(lambda: first.backfill.runs == 1, "the start-up backfill")
            await _traded_until_marked(sim, first, ticker)
            before_whale = (await _persisted_marks(ticker))[ticker]
            recorded = sim.control({"action": "whale", "market_ticker": ticker, "count": WHALE_COUNT})["trade"]
            await eventually(lambda: first.whales.whales == 1, "the first whale recorded live")
        # The first runner "died" before its last flush: the persisted mark predates the whale it recorded.
        await TradeMark.objects.filter(market_ticker=ticker).aupdate(
            trade_id=before_whale.trade_id, traded_at=before_whale.traded_at
        )
        missed = sim.control({"action": "whale", "market_ticker": ticker, "count": WHALE_COUNT})["trade"]

        async with running_feed(sim=sim, backfill=True, **ABSOLUTE_ONLY) as (_sim, second):
            await eventually(lambda: second.backfill.runs == 1, "the takeover's backfill")
            await eventually(lambda: second.whales.whales + second.whales.duplicates == 2, "both whales judged")
            assert second.whales.whales == 1 and second.whales.duplicates == 1
            assert second.backfill.last["markets"] == 2 and second.backfill.last["whales"] == 2
        ids = [w.trade_id async for w in WhaleTrade.objects.order_by("id")]
        assert ids == [recorded["trade_id"], missed["trade_id"]]
        assert len(handed) == 2
    finally:
        await sim.stop()


async def test_missed_trades_pages_oldest_first_and_says_what_the_limit_cut_off():
    async with quiet_simulator(1, seed=4) as sim:
        ticker = sim.exchange.tickers[0]
        sim.step(3_000)
        trades = [t for t in sim.exchange.trades if t.ticker == ticker]
        assert len(trades) > 40
        since = Mark(trades[9].trade_id, trades[9].ts_ms / 1000)
        async with sim_rest(sim.rest_url) as rest:
            found, cut = await missed_trades(rest, since=since, ticker=ticker, limit=10_000)
            newest, cut_newest = await missed_trades(rest, since=since, ticker=ticker, limit=5)
            everywhere, _ = await missed_trades(rest, since=since, ticker=None)
        after = [t.trade_id for t in trades if t.ts_ms / 1000 >= since.traded_at and t.trade_id != since.trade_id]
        assert [t.trade_id for t in found] == after and cut == 0
        assert [t.trade_id for t in newest] == after[-5:] and cut_newest >= 1
        assert [t.trade_id for t in everywhere] == after


async def test_rest_trade_has_the_websocket_trades_values():
    async with quiet_simulator(1, seed=4) as sim:
        trade = sim.exchange.whale(sim.exchange.tickers[0], count=5_000_000, taker_outcome_side="no")
        async with sim_rest(sim.rest_url) as rest:
            (listed,) = await rest.trades(ticker=trade.ticker)
    converted = rest_public_trade(listed)
    assert (converted.trade_id, converted.ticker, converted.taker_side) == (trade.trade_id, trade.ticker, "no")
    assert (converted.yes_price, converted.count) == (trade.yes_price, trade.count)
    assert converted.ts == pytest.approx(trade.ts_ms / 1000, abs=1e-3)


async def test_backfill_failing_while_rest_is_down_is_unhealthy_and_tried_again(handed, monkeypatch):
    monkeypatch.setattr(backfill, "RETRY_DELAY", 0.2)
    async with running_feed(backfill=True, **ABSOLUTE_ONLY) as (sim, runner):
        ticker = sim.exchange.tickers[0]
        await eventually(lambda: runner.backfill.runs == 1, "the start-up backfill")
        await _traded_until_marked(sim, runner, ticker)
        sim.control({"action": "reject", "target": "ws", "count": 1_000})
        sim.control({"action": "drop"})
        await eventually(lambda: not runner.client.connected.is_set(), "the runner disconnected")
        trade = sim.control({"action": "whale", "market_ticker": ticker, "count": WHALE_COUNT})["trade"]
        sim.control({"action": "reject", "count": 1_000, "status": 503})  # REST too
        sim.control({"action": "reject", "target": "ws", "count": 0})

        await eventually(lambda: runner.backfill.failures >= 1, "a failed backfill")
        health = runner.backfill.health()
        assert not health.healthy and health.detail.startswith("KalshiApiError")
        assert runner.backfill.runs == 1 and runner.whales.whales == 0
        sim.control({"action": "reject", "count": 0})
        await eventually(lambda: runner.whales.whales == 1, "the whale, once REST answers again")
        assert (await WhaleTrade.objects.aget()).trade_id == trade["trade_id"]
        assert runner.backfill.health().healthy and runner.backfill.runs == 2
