"""The outcome arithmetic against cases worked by hand (fees: 0.07 x P x (1 - P) per
contract, rounded up to $0.0001)."""

from trading.outcomes import arithmetic as a


def test_follow_pays_its_price_and_the_taker_fee():
    # Buy YES at 0.53: fee 0.07 x 0.53 x 0.47 = 0.017437 -> $0.0175.
    assert a.follow_pnl("yes", 5_300, "yes") == 1_000_000 - 530_000 - 17_500
    assert a.follow_pnl("yes", 5_300, "no") == -530_000 - 17_500


def test_following_a_no_whale_buys_no():
    # The whale bought NO at 0.30 (YES 0.70); a follow paying 0.31 for NO wins when NO wins.
    # Fee 0.07 x 0.31 x 0.69 = 0.014973 -> $0.0150.
    assert a.follow_pnl("no", 3_100, "no") == 1_000_000 - 310_000 - 15_000
    assert a.follow_pnl("no", 3_100, "yes") == -310_000 - 15_000


def test_fade_is_the_whales_counterparty_at_its_price():
    # Whale bought YES at 0.52: the fade buys NO at 0.48, fee 0.07 x 0.48 x 0.52 = 0.017472 -> $0.0175.
    assert a.fade_pnl("yes", 5_200, "no") == 1_000_000 - 480_000 - 17_500
    assert a.fade_pnl("yes", 5_200, "yes") == -480_000 - 17_500
    # Whale bought NO at YES 0.95 (NO at 0.05): the fade buys YES at 0.95, fee 0.003325 -> $0.0034.
    assert a.fade_pnl("no", 9_500, "yes") == 1_000_000 - 950_000 - 3_400


def test_near_certain_follow_pays_little():
    # YES at 0.96: fee 0.07 x 0.96 x 0.04 = 0.002688 -> $0.0027; the win is under 4 cents.
    assert a.follow_pnl("yes", 9_600, "yes") == 37_300
    assert a.follow_pnl("yes", 9_600, "no") == -962_700


def test_actual_pnl_counts_every_fill_with_its_fee():
    fills = [
        a.FillCost(outcome="yes", own_price=5_300, count=300, fee=52_400),
        a.FillCost(outcome="yes", own_price=5_400, count=200, fee=35_000),
    ]
    # 5 contracts pay $5; they cost 3 x 0.53 + 2 x 0.54 = $2.67 and $0.0874 of fees.
    assert a.actual_pnl(fills, "yes") == 5_000_000 - 2_670_000 - 87_400
    assert a.actual_pnl(fills, "no") == -2_670_000 - 87_400
    assert a.actual_pnl([a.FillCost(outcome="no", own_price=6_000, count=100, fee=1_700)], "no") == 398_300
    assert a.actual_pnl([], "yes") == 0


def test_markout_is_signed_by_the_whales_direction():
    assert a.markout("yes", 5_200, 5_500) == 300
    assert a.markout("no", 5_200, 5_500) == -300
    assert a.mid(5_100, 5_300) == 5_200
    assert a.mid(None, 5_300) is None


def test_price_band_is_of_the_side_the_whale_bought():
    assert a.price_band("yes", 9_500) == "above_0.90"
    assert a.price_band("no", 9_500) == "below_0.10"
    assert a.price_band("yes", 9_000) == "0.10-0.90"
    assert a.price_band("yes", 1_000) == "0.10-0.90"
    assert a.price_band("yes", 999) == "below_0.10"


def test_size_buckets():
    assert a.size_bucket(99) == "p99+"
    assert a.size_bucket(96) == "p95-99"
    assert a.size_bucket(80) == "p75-95"
    assert a.size_bucket(10) == "below_p75"
    assert a.size_bucket(None) == "unknown"
