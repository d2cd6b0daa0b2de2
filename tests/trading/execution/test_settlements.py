"""Settlements through the execution side against the simulator: reconciliation records
a settlement the feed never saw (before the positions' pass could flatten the position
without realizing it), once; a whale in a settled market is skipped as market_closed."""

import pytest

from tests.trading.execution.conftest import follow_whale, make_whale
from trading.execution import reconciliation, services
from trading.execution.rules import Reason
from trading.models import Position, RiskAccount, Settlement
from trading.units import ONE_DOLLAR

pytestmark = [pytest.mark.needs_postgres, pytest.mark.django_db]


def test_reconciliation_records_a_missed_settlement_once_and_realizes_it(simulator):
    decision = follow_whale(simulator)
    assert decision.decision == "follow"
    held = Position.objects.get(market_ticker=simulator.ticker)
    assert held.position == 500 and held.cost > 0
    simulator.on_loop(
        lambda: simulator.server.control({"action": "settle", "market_ticker": simulator.ticker, "result": "yes"})
    )

    report = reconciliation.reconcile()

    assert "settlement recorded" in {c["what"] for c in report.changes}
    settlement = Settlement.objects.get(market_ticker=simulator.ticker)
    assert (settlement.result, settlement.position, settlement.payout) == ("yes", 500, 500 * ONE_DOLLAR)
    assert settlement.realized_pnl == 500 * ONE_DOLLAR - held.cost
    position = Position.objects.get(market_ticker=simulator.ticker)
    assert (position.position, position.cost) == (0, 0)
    assert position.realized_pnl == held.realized_pnl + settlement.realized_pnl
    assert RiskAccount.objects.get().balance == simulator.on_loop(lambda: simulator.exchange.account.balance)
    again = reconciliation.reconcile()
    assert "settlement recorded" not in {c["what"] for c in again.changes}
    assert Settlement.objects.count() == 1


def test_whale_in_a_settled_market_is_skipped_as_market_closed(simulator):
    simulator.on_loop(
        lambda: simulator.server.control({"action": "settle", "market_ticker": simulator.ticker, "result": "no"})
    )
    decision = services.process_whale(whale_id=make_whale(simulator.ticker, yes_price=5000).pk)
    assert (decision.decision, decision.reason_code) == ("skip", Reason.MARKET_CLOSED)
