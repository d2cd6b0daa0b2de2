"""The feed runner follows markets' lifecycle from the simulator over a real WebSocket:
a settlement is recorded once, with its result, payout and fees, realizes the P&L of
the position, credits the balance and reaches the trading state; closed markets are known."""

from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async

from tests.trading.feed.harness import NO_WHALES, eventually, running_feed
from trading import selectors
from trading.exchange import SettlementReport
from trading.execution.settlements import record_settlement
from trading.kalshi import messages
from trading.kalshi.rest import KalshiRestClient
from trading.models import Position, RiskAccount, Settlement
from trading.units import ONE_DOLLAR

pytestmark = pytest.mark.django_db(transaction=True)


async def _buy_yes(sim, runner, ticker: str, count: int) -> int:
    """Buy ``count`` YES at the ask as taker; returns the price paid."""
    _, _, yes_ask, _ = sim.exchange.best(ticker)
    async with KalshiRestClient(sim.rest_url, runner.client.signer) as rest:
        ack = await rest.create_order(
            ticker=ticker, side="bid", count=count, price=yes_ask, time_in_force="immediate_or_cancel"
        )
    assert ack.fill_count == count
    return yes_ask


async def test_settlement_is_recorded_once_and_realizes_the_pnl(handed):
    async with running_feed(**NO_WHALES) as (sim, runner):
        await eventually(runner.books.all_synced, "first snapshots")
        ticker = sim.exchange.tickers[0]
        price = await _buy_yes(sim, runner, ticker, 1_000)
        await eventually(lambda: runner.fills.fills >= 1, "the fill recorded")
        fees = (await Position.objects.aget(market_ticker=ticker)).fees_paid
        balance = (await RiskAccount.objects.aget()).balance

        sim.control({"action": "settle", "market_ticker": ticker, "result": "yes"})
        await eventually(lambda: runner.lifecycle.settlements >= 1, "the settlement recorded")

        settlement = await Settlement.objects.aget(market_ticker=ticker)
        assert (settlement.result, settlement.position, settlement.payout) == ("yes", 1_000, 1_000 * ONE_DOLLAR)
        assert settlement.realized_pnl == 1_000 * (ONE_DOLLAR - price) and settlement.fees == fees > 0
        position = await Position.objects.aget(market_ticker=ticker)
        assert (position.position, position.cost, position.realized_pnl) == (0, 0, settlement.realized_pnl)
        assert (await RiskAccount.objects.aget()).balance == balance + 1_000 * ONE_DOLLAR
        assert runner.lifecycle.is_closed(ticker) and not runner.lifecycle.is_closed(sim.exchange.tickers[1])
        state = await sync_to_async(selectors.trading_state_data)()
        assert state["settled_pnl"] == settlement.realized_pnl
        assert [s["market_ticker"] for s in state["settlements"]] == [ticker]

        # Reconciliation, or the same message again, adds nothing.
        again = SettlementReport(market_ticker=ticker, result="yes", settled_at=settlement.settled_at, position=1_000)
        assert await sync_to_async(record_settlement)(report=again) is None
        assert await Settlement.objects.acount() == 1


async def test_settled_market_without_a_position_records_its_result(handed):
    async with running_feed(**NO_WHALES) as (sim, runner):
        await eventually(runner.books.all_synced, "first snapshots")
        ticker = sim.exchange.tickers[1]
        sim.control({"action": "settle", "market_ticker": ticker, "result": "no"})
        await eventually(lambda: runner.lifecycle.settlements >= 1, "the settlement recorded")
        settlement = await Settlement.objects.aget(market_ticker=ticker)
        assert (settlement.result, settlement.position, settlement.payout, settlement.realized_pnl) == ("no", 0, 0, 0)
        state = await sync_to_async(selectors.trading_state_data)()
        assert state["settlements"] == []  # only settlements of held positions are shown


async def test_closed_market_is_replaced_by_the_next_one_listed(handed):
    async with running_feed(**NO_WHALES, replace_closed=True) as (sim, runner):
        await eventually(runner.books.all_synced, "first snapshots")
        first = sim.exchange.tickers[0]
        lifecycle = sim.exchange.lifecycle
        lifecycle.lifetime_s = 300
        sim.exchange.markets[first].close_time = datetime.now(UTC) - timedelta(seconds=1)
        lifecycle.tick()
        sim.publish()
        new = sim.exchange.tickers[-1]
        await eventually(lambda: new in runner.tickers and first not in runner.tickers, "the new market followed")
        await eventually(runner.books.all_synced, "the new market's snapshot")
        assert runner.get_orderbook(new).levels() == sim.exchange.books[new].levels()
        assert runner.trades.tickers == runner.books.tickers == runner.tickers
        assert len(runner.tickers) == 3


async def test_fee_updates_and_multivariate_lifecycle_are_counted_not_errors(handed):
    async with running_feed(**NO_WHALES) as (_, runner):
        await eventually(runner.books.all_synced, "first snapshots")
        fee = b'{"type":"event_fee_update","sid":9,"seq":1,"msg":{"series_ticker":"KXBTCD","fee_type":"quadratic"}}'
        mve = (
            b'{"type":"multivariate_market_lifecycle","sid":9,"seq":2,'
            b'"msg":{"market_ticker":"KXMVE-1","event_type":"created"}}'
        )
        assert isinstance(messages.parse(fee), messages.EventFeeUpdate)
        assert isinstance(messages.parse(mve), messages.MultivariateLifecycle)
        errors = runner.client.metrics.parse_errors
        runner.client._on_frame(fee)
        runner.client._on_frame(mve)
        assert runner.client.metrics.ignored == 2 and runner.client.metrics.parse_errors == errors
