"""Whale rule both ways, the recent-whale queue, and persistence unique on the trade id."""

import os
import random
import statistics
import subprocess
import sys

import pytest

from trading import events, units
from trading.feed.bus import TradeReceived
from trading.feed.whale_services import record_whale
from trading.feed.whales import MIN_SAMPLES, RollingMedian, WhaleQueue, WhaleRule, trade_notional
from trading.models import ActivityEvent, WhaleTrade

DOLLARS = units.MONEY_SCALE


def _trade(count_contracts: float, yes_price: str = "0.4500", side: str = "yes", n: int = 0, ticker: str = "M"):
    return TradeReceived(
        trade_id=f"trade-{ticker}-{n}",
        ticker=ticker,
        yes_price=units.parse_price(yes_price),
        count=round(count_contracts * 100),
        taker_side=side,
        ts=1795532405.731,
    )


def test_notional_is_count_times_the_taker_sides_price():
    assert trade_notional(_trade(25_000, "0.4500", "yes")) == 11_250 * DOLLARS
    assert trade_notional(_trade(25_000, "0.4500", "no")) == 13_750 * DOLLARS


def test_absolute_threshold_both_ways():
    rule = WhaleRule(min_notional=1_000 * DOLLARS, relative_factor=20)
    assert rule.observe(_trade(2_222.22, "0.4500")) is None  # $999.999
    verdict = rule.observe(_trade(2_222.23, "0.4500", n=1))  # $1,000.0035
    assert verdict is not None and verdict.reason == "absolute"
    assert rule.observe(_trade(1_000, "0.9900", "no", n=2)) is None  # NO price 0.01: $10


def test_relative_threshold_both_ways_after_enough_samples():
    rule = WhaleRule(min_notional=1_000_000 * DOLLARS, relative_factor=20)
    for n in range(MIN_SAMPLES - 1):
        rule.observe(_trade(10, "0.5000", n=n))  # $5 each
    assert rule.observe(_trade(1_000, "0.5000", n=100)) is None, "too few samples for a median yet"
    for n in range(MIN_SAMPLES):
        rule.observe(_trade(10, "0.5000", n=200 + n))
    assert rule.observe(_trade(199.98, "0.5000", n=300)) is None  # 19.998 x the $5 median
    verdict = rule.observe(_trade(200, "0.5000", n=301))  # exactly 20 x
    assert verdict is not None and verdict.reason == "relative" and verdict.median == 5 * DOLLARS


def test_medians_are_per_market():
    rule = WhaleRule(min_notional=1_000_000 * DOLLARS, relative_factor=20)
    for n in range(MIN_SAMPLES):
        rule.observe(_trade(10, "0.5000", n=n, ticker="QUIET"))
        rule.observe(_trade(1_000, "0.5000", n=n, ticker="BUSY"))
    assert rule.observe(_trade(400, "0.5000", n=99, ticker="BUSY")) is None
    assert rule.observe(_trade(400, "0.5000", n=99, ticker="QUIET")) is not None


def test_rolling_median_is_the_median_of_the_last_window_values():
    rng = random.Random(7)
    values = [rng.choice([rng.randrange(100), rng.randrange(10**9)]) for _ in range(2_000)]
    median = RollingMedian(size=51)
    for n, value in enumerate(values):
        median.add(value)
        window = values[max(0, n - 50) : n + 1]
        assert len(median) == len(window) and median.median() == int(statistics.median(window))


def test_bad_thresholds_are_refused():
    with pytest.raises(ValueError, match="relative_factor"):
        WhaleRule(min_notional=1, relative_factor=1)


def test_queue_is_bounded_and_pruned_by_age():
    queue = WhaleQueue(size=3, max_age=60)
    for n in range(5):
        queue.add({"whale_id": n}, now=1000.0 + n)
    assert [w["whale_id"] for w in queue.items()] == [4, 3, 2] and queue.overflow == 2
    queue.prune(now=1063.5)
    assert [w["whale_id"] for w in queue.items()] == [4] and queue.pruned == 2


@pytest.mark.django_db(transaction=True)
def test_replayed_trade_id_is_not_a_second_whale(monkeypatch):
    handed = []
    monkeypatch.setattr("trading.feed.whale_services._hand_to_execution", handed.append)
    rule = WhaleRule(min_notional=1_000 * DOLLARS, relative_factor=20)
    trade = _trade(25_000, "0.4500")
    verdict = rule.observe(trade)
    first = record_whale(trade=trade, verdict=verdict, detected_at=1795532406.0)
    again = record_whale(trade=trade, verdict=verdict, detected_at=1795532407.0)
    assert first is not None and again is None
    assert WhaleTrade.objects.count() == 1
    whale = WhaleTrade.objects.get()
    assert (whale.trade_id, whale.notional, whale.count, whale.yes_price, whale.taker_side) == (
        trade.trade_id,
        11_250 * DOLLARS,
        2_500_000,
        4_500,
        "yes",
    )
    assert handed == [whale.pk], "handed to execution exactly once, after commit"
    queue = ActivityEvent.objects.filter(type=events.WHALE_QUEUE).get().data  # one, for the new whale
    assert queue["waiting"] == 1 and [w["whale_id"] for w in queue["whales"]] == [whale.pk]


def test_the_whale_rule_needs_no_django():
    """The rule is plain Python beside its service: importing it loads no Django, no ORM."""
    code = "import sys, trading.feed.whales; print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "[]"


def test_relative_rule_keeps_windows_for_a_bounded_number_of_markets():
    rule = WhaleRule(min_notional=1_000_000 * DOLLARS, relative_factor=20, max_markets=3)
    for n in range(MIN_SAMPLES):
        for ticker in ("A", "B", "C"):
            rule.observe(_trade(10, n=n, ticker=ticker))
    rule.observe(_trade(10, ticker="A", n=99))  # A traded last: B is now the least recent
    rule.observe(_trade(10, ticker="D"))
    assert len(rule) == 3 and rule.evicted == 1
    assert rule.observe(_trade(1_000, ticker="A", n=100)) is not None, "A kept its window"
    assert rule.observe(_trade(1_000, ticker="B", n=100)) is None, "B's window went first"


def test_whale_features_percentile_and_impact_from_the_previous_print():
    rule = WhaleRule(min_notional=1_000 * DOLLARS, relative_factor=20)
    for n in range(9):
        assert rule.observe(_trade(10 + n, "0.4500", n=n)) is None
    # Bigger than all 9 before it, and 3 cents above the previous print in its (YES) direction.
    verdict = rule.observe(_trade(5_000, "0.4800", n=10))
    assert verdict is not None
    assert (verdict.percentile, verdict.impact, verdict.levels) == (100, 300, 4)
    # A NO whale that pushes YES down is an impact in its own direction.
    verdict = rule.observe(_trade(4_000, "0.4600", "no", n=11))  # $2,160: below the $2,400 before it
    assert verdict is not None
    assert (verdict.percentile, verdict.impact, verdict.levels) == (90, 200, 3)


def test_first_trade_of_a_market_has_no_features_to_compare():
    rule = WhaleRule(min_notional=1_000 * DOLLARS, relative_factor=20)
    verdict = rule.observe(_trade(5_000, "0.4800"))
    assert verdict is not None
    assert (verdict.percentile, verdict.impact, verdict.levels) == (None, None, None)
