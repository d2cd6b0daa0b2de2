"""risk.read_account: every number the limits use, read in one query under the lock."""

import time

import pytest

from tests.trading.execution.conftest import make_whale
from trading.execution import risk
from trading.models import Fill, Order, Position, RiskAccount, WhaleDecision

pytestmark = [pytest.mark.django_db]

MARKET, OTHER = "KXTEST-A", "KXTEST-B"
COOLDOWN = 60.0


def order(n: int, ticker: str, side: str, price: int, count: int, filled: int = 0, status: str = "resting") -> Order:
    return Order.objects.create(
        client_order_id=f"c{n}", market_ticker=ticker, side=side, price=price, count=count, filled_count=filled,
        status=status, mode="paper",
    )  # fmt: skip


def test_read_account_sums_orders_positions_fills_and_the_last_follow():
    now = time.time()
    RiskAccount.objects.filter(name=risk.ACCOUNT).update(paused=True)
    account = risk.lock_account()
    order(1, MARKET, "bid", 4000, 500, filled=100)  # 400 left at $0.40
    order(2, MARKET, "ask", 7000, 200)  # 200 left at a NO price of $0.30
    order(3, OTHER, "bid", 1000, 100, status="pending")
    order(4, MARKET, "bid", 5000, 900, filled=900, status="executed")  # done, but placed in the last minute
    Position.objects.create(market_ticker=MARKET, position=-300, cost=90_000_000)
    Position.objects.create(market_ticker=OTHER, position=50, cost=5_000_000)
    for n, (pnl, fee, ts) in enumerate([(-2_000_000, 100_000, now), (5_000_000, 0, now - 86_400 * 2)]):
        Fill.objects.create(trade_id=f"f{n}", exchange_order_id="x", market_ticker=MARKET, side="bid",
                            yes_price=4000, count=100, fee=fee, realized_pnl=pnl, ts=ts)  # fmt: skip
    followed = make_whale(MARKET)
    WhaleDecision.objects.create(whale=followed, decision="follow", reason_code="follow", reason_text="",
                                 mode="paper", started_at=now - 5, decided_at=now - 4)  # fmt: skip
    whale = make_whale(MARKET)

    view, decided = risk.read_account(account, whale, now, COOLDOWN)

    assert decided is None
    assert view == risk.AccountView(
        paused=True,
        killed=False,
        long_exposure=400,
        short_exposure=300 + 200,
        exposure=95_000_000 + 400 * 4000 + 200 * 3000 + 100 * 1000,
        open_orders=3,
        orders_last_minute=4,
        daily_pnl=-2_100_000,
        last_follow_at=pytest.approx(now - 4),
    )
    assert risk.read_account(account, followed, now, COOLDOWN)[1] == WhaleDecision.objects.get(whale=followed).pk


def test_read_account_of_an_empty_account():
    account = risk.lock_account()
    view, decided = risk.read_account(account, make_whale(MARKET), time.time(), COOLDOWN)
    assert decided is None
    assert view == risk.AccountView(False, False, 0, 0, 0, 0, 0, 0, None)


def test_last_follow_is_the_markets_latest_within_the_cooldown():
    now = time.time()
    account = risk.lock_account()
    decisions = [(MARKET, "follow", 61), (MARKET, "follow", 30), (MARKET, "skip", 5), (OTHER, "follow", 2)]
    for ticker, decision, age in decisions:
        WhaleDecision.objects.create(
            whale=make_whale(ticker), decision=decision, reason_code=decision, reason_text="", mode="paper",
            started_at=now - age, decided_at=now - age,
        )  # fmt: skip

    assert risk.read_account(account, make_whale(MARKET), now, COOLDOWN)[0].last_follow_at == pytest.approx(now - 30)
    assert risk.read_account(account, make_whale(MARKET), now, 20.0)[0].last_follow_at is None
