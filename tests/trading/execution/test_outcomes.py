"""Whale outcomes filled in against the simulator over HTTP: markouts from its market
read, the follow price from the decision, and P&L once the market's result is known."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from tests.trading.execution.conftest import follow_whale, make_whale
from trading.exchange import MarketPrices, SettlementReport
from trading.execution import services
from trading.execution.settlements import record_settlement
from trading.feed.whales import WhaleVerdict
from trading.models import Fill, WhaleOutcome
from trading.outcomes import arithmetic as a
from trading.outcomes.services import MARKOUT_TOLERANCE, fill_outcomes, record_features
from trading.units import format_money

pytestmark = [pytest.mark.needs_postgres, pytest.mark.django_db]


def _outcome_of(whale) -> WhaleOutcome:
    return record_features(whale=whale, verdict=WhaleVerdict(whale.notional, None, "absolute", 97, 200, 3))


def _settle(simulator, result: str) -> None:
    """The simulator settles the market; its REST market then carries the result."""
    simulator.on_loop(
        lambda: simulator.server.control({"action": "settle", "market_ticker": simulator.ticker, "result": result})
    )


def test_markouts_are_read_when_due_and_not_before(simulator):
    decision = follow_whale(simulator)
    outcome = _outcome_of(decision.whale)
    t0 = outcome.traded_at

    assert fill_outcomes(now=t0 + 30) == 1  # the decision's facts only
    outcome.refresh_from_db()
    assert outcome.mid_1m is None and outcome.follow_price is not None

    fill_outcomes(now=t0 + 61)
    outcome.refresh_from_db()
    bid, _, ask, _ = simulator.best()
    assert outcome.mid_1m == a.mid(bid, ask)
    assert outcome.mid_5m is None and not outcome.complete

    # Read far too late: left unknown rather than stored as the 5-minute markout.
    fill_outcomes(now=t0 + 300 + MARKOUT_TOLERANCE + 1)
    outcome.refresh_from_db()
    assert outcome.mid_5m is None


def test_settlement_fixes_follow_fade_and_actual_pnl(simulator):
    decision = follow_whale(simulator)
    whale, order = decision.whale, decision.order
    outcome = _outcome_of(whale)
    fills = list(Fill.objects.filter(order=order))
    assert fills, "the follow crossed the spread and filled"

    _settle(simulator, "yes")
    fill_outcomes(now=outcome.traded_at + 1_900)

    outcome.refresh_from_db()
    own = order.price  # a YES follow: its limit is the own-side price
    assert outcome.follow_price == own
    assert outcome.result == "yes" and outcome.complete
    assert outcome.pnl_follow == a.follow_pnl("yes", own, "yes")
    assert outcome.pnl_fade == a.fade_pnl("yes", whale.yes_price, "yes")
    paid = sum(f.yes_price * f.count + f.fee for f in fills)
    assert outcome.pnl_actual == sum(f.count for f in fills) * 10_000 - paid


def test_a_skip_has_what_if_pnl_but_no_actual(simulator):
    whale = make_whale(simulator.ticker, notional=1)  # below the threshold: skipped without a book
    services.process_whale(whale_id=whale.pk)
    outcome = _outcome_of(whale)

    _settle(simulator, "no")
    fill_outcomes(now=outcome.traded_at + 1_900)

    outcome.refresh_from_db()
    assert outcome.follow_price == whale.yes_price  # no book was read: the whale's own price
    assert outcome.pnl_follow == a.follow_pnl("yes", whale.yes_price, "no") < 0
    assert outcome.pnl_fade == a.fade_pnl("yes", whale.yes_price, "no") > 0
    assert outcome.pnl_actual is None


def test_a_settlement_the_feed_recorded_wins_over_the_markets_rest_result(simulator):
    decision = follow_whale(simulator)
    outcome = _outcome_of(decision.whale)
    record_settlement(report=SettlementReport(market_ticker=simulator.ticker, result="no", settled_at=1_795_600_000.0))

    fill_outcomes(now=outcome.traded_at + 61)

    outcome.refresh_from_db()
    assert (outcome.result, outcome.settled_at, outcome.mid_1m) == ("no", 1_795_600_000.0, 0)
    assert outcome.pnl_fade == a.fade_pnl("yes", decision.whale.yes_price, "no")


def test_an_unsettled_market_leaves_the_outcome_open(simulator):
    decision = follow_whale(simulator)
    outcome = _outcome_of(decision.whale)

    fill_outcomes(
        now=outcome.traded_at + 1_900, prices=lambda tickers: {t: MarketPrices(None, None, None, "") for t in tickers}
    )

    outcome.refresh_from_db()
    assert outcome.result == "" and outcome.pnl_follow is None and not outcome.complete


def test_strategy_report_counts_decisions_and_pnl(simulator):
    followed = follow_whale(simulator)
    skipped = make_whale(simulator.ticker, notional=1)
    services.process_whale(whale_id=skipped.pk)
    for whale in (followed.whale, skipped):
        _outcome_of(whale)
    _settle(simulator, "yes")
    fill_outcomes(now=followed.whale.traded_at + 61)

    out = io.StringIO()
    call_command("strategy_report", "--json", stdout=out)
    report = json.loads(out.getvalue())

    follow = WhaleOutcome.objects.get(pk=followed.whale.pk)
    skip = WhaleOutcome.objects.get(pk=skipped.pk)
    assert report["whales"] == 2 and report["decisions"] == {"follow": 1, "skip": 1, "undecided": 0}
    assert report["settled"] == 2 and report["unknown"] == 0
    assert report["pnl"]["what_if_follow_all"] == format_money(follow.pnl_follow + skip.pnl_follow, 4)
    assert report["pnl"]["what_if_fade_all"] == format_money(follow.pnl_fade + skip.pnl_fade, 4)
    assert report["pnl"]["actual"] == format_money(follow.pnl_actual, 4)
    assert report["by_reason"]["below_threshold"]["count"] == 1
    assert report["markouts"]["1m"]["count"] == 2  # settled: the YES value is $1 for both
    assert report["markouts"]["5m"]["count"] == 0
    assert set(report["by_price_band"]) == {"0.10-0.90"}
    assert report["by_size"]["p95-99"]["count"] == 2


def test_strategy_report_since_and_bad_input():
    out = io.StringIO()
    call_command("strategy_report", "--json", "--since", "2999-01-01", stdout=out)
    assert json.loads(out.getvalue())["whales"] == 0
    out = io.StringIO()
    call_command("strategy_report", stdout=out)
    assert out.getvalue().startswith("whales 0: follow 0, skip 0")
    with pytest.raises(CommandError, match="not an ISO 8601"):
        call_command("strategy_report", "--since", "yesterday")


def test_a_markout_due_now_is_read_before_older_whales_waiting(simulator, monkeypatch):
    monkeypatch.setattr("trading.outcomes.services.OUTCOMES_PER_PASS", 2)
    now = 1_795_600_000.0
    for n in range(3):  # ten minutes old, nothing due until their 30-minute markout
        old = make_whale(simulator.ticker)
        _outcome_of(old)
        WhaleOutcome.objects.filter(pk=old.pk).update(traded_at=now - 600 - n, follow_price=5_000, mid_1m=1, mid_5m=1)
    new = make_whale(simulator.ticker)
    _outcome_of(new)
    WhaleOutcome.objects.filter(pk=new.pk).update(traded_at=now - 61)

    fill_outcomes(now=now, prices=lambda tickers: {t: MarketPrices(4_000, 4_200, 4_100, "") for t in tickers})

    assert WhaleOutcome.objects.get(pk=new.pk).mid_1m == 4_100
