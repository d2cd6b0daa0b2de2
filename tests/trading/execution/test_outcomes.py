"""Whale outcomes filled in against the simulator over HTTP: markouts from its market
read, the follow price from the decision, and P&L once the market's result is known."""

import dataclasses

import pytest

from tests.trading.execution.conftest import follow_whale, make_whale
from trading.exchange import MarketPrices
from trading.execution import services
from trading.feed.whales import WhaleVerdict
from trading.models import Fill, WhaleOutcome
from trading.outcomes import arithmetic as a
from trading.outcomes.services import MARKOUT_TOLERANCE, fill_outcomes, record_features
from trading.outcomes.source import read_prices

pytestmark = [pytest.mark.needs_postgres, pytest.mark.django_db]


def _outcome_of(whale) -> WhaleOutcome:
    return record_features(whale=whale, verdict=WhaleVerdict(whale.notional, None, "absolute", 97, 200, 3))


def _settled(result: str):
    """The simulator's real prices with a result (settling markets is the lifecycle's job)."""

    def source(tickers):
        return {t: dataclasses.replace(p, result=result) for t, p in read_prices(tickers).items()}

    return source


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

    fill_outcomes(now=outcome.traded_at + 1_900, prices=_settled("yes"))

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

    fill_outcomes(now=outcome.traded_at + 1_900, prices=_settled("no"))

    outcome.refresh_from_db()
    assert outcome.follow_price == whale.yes_price  # no book was read: the whale's own price
    assert outcome.pnl_follow == a.follow_pnl("yes", whale.yes_price, "no") < 0
    assert outcome.pnl_fade == a.fade_pnl("yes", whale.yes_price, "no") > 0
    assert outcome.pnl_actual is None


def test_an_unsettled_market_leaves_the_outcome_open(simulator):
    decision = follow_whale(simulator)
    outcome = _outcome_of(decision.whale)

    fill_outcomes(
        now=outcome.traded_at + 1_900, prices=lambda tickers: {t: MarketPrices(None, None, None, "") for t in tickers}
    )

    outcome.refresh_from_db()
    assert outcome.result == "" and outcome.pnl_follow is None and not outcome.complete
