"""The decision rules and risk checks as pure functions: no database, no network."""

import pytest

from trading.config import RiskLimits, RuleConfig
from trading.exchange import BookView, MarketView
from trading.execution.risk import AccountView, check_account, check_limits
from trading.execution.rules import (
    Reason,
    WhaleView,
    check_cooldown,
    evaluate,
    size_for,
)
from trading.orderbook import TopOfBook

NOW = 1_795_532_400.0
CONFIG = RuleConfig(
    min_whale_notional=1_000_000_000,
    max_spread=500,
    min_time_to_close=900,
    cooldown=60,
    size_mode="fixed",
    fixed_count=1000,
    whale_fraction_ppm=10_000,
    max_count=10_000,
    slippage=100,
    max_cross=200,
    max_book_age=3.0,
    max_whale_age=30.0,
    order_ttl=300,
)
LIMITS = RiskLimits(
    max_position=50_000,
    max_exposure=2_500_000_000,
    max_open_orders=10,
    max_orders_per_minute=6,
    max_daily_loss=250_000_000,
)
WHALE = WhaleView("KXBTCD-26DEC3117-T99999.99", "yes", 4500, 2_500_000, 4500 * 2_500_000, NOW - 1)
# The protocol's example book: YES bids up to 0.44, NO bids up to 0.55 -> YES ask 0.45.
BOOK = BookView(TopOfBook(4400, 1000, 4500, 450_000), as_of=NOW - 0.1)
MARKET = MarketView("active", NOW + 86_400, ((0, 10_000, 100),))
ACCOUNT = AccountView(False, False, 0, 0, 0, 0, 0, 0, None)


def test_follow_buys_yes_at_whale_price_plus_slippage():
    verdict = evaluate(WHALE, BOOK, MARKET, NOW, CONFIG)
    assert verdict.follow and verdict.reason == Reason.FOLLOW
    assert (verdict.intent.side, verdict.intent.price, verdict.intent.count) == ("bid", 4600, 1000)
    assert "buy 10 YES at $0.46" in verdict.text


def test_follow_of_a_no_whale_is_an_ask_on_the_yes_book():
    whale = WhaleView(WHALE.market_ticker, "no", 4500, 2_500_000, 5500 * 2_500_000, NOW)
    verdict = evaluate(whale, BOOK, MARKET, NOW, CONFIG)
    # NO price 0.55 + 0.01 slippage = 0.56 NO, i.e. an ask at YES 0.44; the NO ask is 1 - 0.44 = 0.56.
    assert (verdict.intent.side, verdict.intent.price) == ("ask", 4400)
    assert verdict.intent.own_price == 5600 and verdict.intent.cost == 5600 * 1000


def test_limit_never_crosses_more_than_the_bound_beyond_the_ask():
    whale = WhaleView(WHALE.market_ticker, "yes", 6000, 2_500_000, 6000 * 2_500_000, NOW)
    verdict = evaluate(whale, BOOK, MARKET, NOW, CONFIG)
    assert verdict.intent.price == 4500 + 200


def test_limit_is_rounded_to_the_market_grid_away_from_the_book():
    config = RuleConfig(**{**CONFIG.to_dict(), "slippage": 155})
    verdict = evaluate(WHALE, BOOK, MARKET, NOW, config)
    assert verdict.intent.price == 4600


@pytest.mark.parametrize(
    ("mode", "whale_count", "expected"),
    [("fixed", 2_500_000, 1000), ("fraction", 2_500_000, 10_000), ("fraction", 125_000, 1_200)],
)
def test_size_fixed_or_fraction_capped_in_whole_contracts(mode, whale_count, expected):
    config = RuleConfig(**{**CONFIG.to_dict(), "size_mode": mode})
    whale = WhaleView(WHALE.market_ticker, "yes", 4500, whale_count, 4500 * whale_count, NOW)
    assert size_for(whale, config) == expected


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"whale": WhaleView(WHALE.market_ticker, "yes", 4500, 100, 450_000, NOW)}, Reason.BELOW_THRESHOLD),
        (
            {"whale": WhaleView(WHALE.market_ticker, "yes", 4500, 2_500_000, 4500 * 2_500_000, NOW - 31)},
            Reason.WHALE_TOO_OLD,
        ),
        ({"book": BookView(BOOK.top, as_of=NOW - 10)}, Reason.STALE_BOOK),
        ({"book": BookView(BOOK.top, as_of=NOW, stale=True)}, Reason.STALE_BOOK),
        ({"market": MarketView("active", NOW + 60, MARKET.price_ranges)}, Reason.MARKET_CLOSING),
        ({"market": MarketView("closed", NOW + 86_400)}, Reason.MARKET_CLOSED),
        ({"market": MarketView("finalized", NOW - 60)}, Reason.MARKET_CLOSED),
        ({"market": MarketView("active", NOW - 1)}, Reason.MARKET_CLOSED),
        ({"book": BookView(TopOfBook(4400, 10, None, 0), as_of=NOW)}, Reason.EMPTY_BOOK),
        ({"book": BookView(TopOfBook(3000, 10, 4500, 10), as_of=NOW)}, Reason.SPREAD_TOO_WIDE),
        ({"config": RuleConfig(**{**CONFIG.to_dict(), "fixed_count": 50})}, Reason.SIZE_TOO_SMALL),
        (
            {
                "book": BookView(TopOfBook(9800, 10, 9900, 10), as_of=NOW),
                "whale": WhaleView(WHALE.market_ticker, "yes", 9900, 2_500_000, 9900 * 2_500_000, NOW),
            },
            Reason.PRICE_OUT_OF_BOUNDS,
        ),
    ],
)
def test_each_rule_skip_reason(change, reason):
    args = {"whale": WHALE, "book": BOOK, "market": MARKET, "config": CONFIG} | change
    verdict = evaluate(args["whale"], args["book"], args["market"], NOW, args["config"])
    assert not verdict.follow
    assert verdict.reason == reason
    assert verdict.text and verdict.intent is None


def test_cooldown_per_market():
    assert check_cooldown(NOW - 30, NOW, CONFIG).reason == Reason.COOLDOWN
    assert check_cooldown(NOW - 61, NOW, CONFIG) is None
    assert check_cooldown(None, NOW, CONFIG) is None


def test_kill_switch_wins_over_pause():
    assert check_account(AccountView(True, True, 0, 0, 0, 0, 0, 0, None)).reason == Reason.KILL_SWITCH
    assert check_account(AccountView(True, False, 0, 0, 0, 0, 0, 0, None)).reason == Reason.PAUSED
    assert check_account(ACCOUNT) is None


@pytest.mark.parametrize(
    ("account", "reason"),
    [
        (AccountView(False, False, 0, 0, 0, 0, 6, 0, None), Reason.RATE_LIMIT),
        (AccountView(False, False, 0, 0, 0, 10, 0, 0, None), Reason.OPEN_ORDERS_LIMIT),
        (AccountView(False, False, 49_500, 0, 0, 0, 0, 0, None), Reason.POSITION_LIMIT),
        (AccountView(False, False, 0, 0, 2_499_000_000, 0, 0, 0, None), Reason.EXPOSURE_LIMIT),
        (AccountView(False, False, 0, 0, 0, 0, 0, -250_000_000, None), Reason.DAILY_LOSS_LIMIT),
    ],
)
def test_each_risk_limit(account, reason):
    verdict = evaluate(WHALE, BOOK, MARKET, NOW, CONFIG)
    assert check_limits(verdict, ACCOUNT, LIMITS) is None
    assert check_limits(verdict, account, LIMITS).reason == reason


def test_position_limit_counts_the_side_the_order_adds_to():
    verdict = evaluate(WHALE, BOOK, MARKET, NOW, CONFIG)  # a 10-contract bid
    short_heavy = AccountView(False, False, 0, 49_500, 0, 0, 0, 0, None)
    assert check_limits(verdict, short_heavy, LIMITS) is None
