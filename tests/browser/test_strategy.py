"""The Strategy page as a reviewer reads it: a real Chromium and daphne on Postgres."""

import os
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from trading.models import WhaleDecision, WhaleOutcome, WhaleTrade
from trading.outcomes import arithmetic as a

pytestmark = [
    pytest.mark.browser,
    pytest.mark.needs_postgres,
    pytest.mark.needs_redis,
    pytest.mark.django_db(transaction=True),
]

PASSWORD = "correct-horse-battery-9"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "strategy.png"
# (side, YES price, decision, reason, result): a mix of wins and losses, followed and skipped.
WHALES = [
    ("yes", 5200, "follow", "follow", "yes"),
    ("no", 4100, "skip", "cooldown", "no"),
    ("yes", 9600, "skip", "spread_too_wide", "yes"),
    ("yes", 4700, "follow", "follow", "no"),
    ("no", 3000, "follow", "follow", "no"),
    ("yes", 600, "skip", "price_out_of_bounds", "no"),
    ("yes", 5500, "skip", "cooldown", ""),
]


def whales_with_outcomes() -> None:
    start = time.time() - 3600
    for n, (side, price, decision, reason, result) in enumerate(WHALES):
        traded = start + n * 300
        whale = WhaleTrade.objects.create(
            trade_id=f"strategy-{n}",
            market_ticker=f"KXSTRAT-{n % 3}",
            taker_side=side,
            yes_price=price,
            count=2_000_000,
            notional=a.own_price(side, price) * 2_000_000,
            traded_at=traded,
            detected_at=traded,
            status=WhaleTrade.Status.DECIDED,
        )
        WhaleDecision.objects.create(
            whale=whale,
            decision=decision,
            reason_code=reason,
            reason_text=reason,
            mode="paper",
            started_at=traded,
            decided_at=traded,
        )
        own = a.own_price(side, price)
        WhaleOutcome.objects.create(
            whale=whale,
            market_ticker=whale.market_ticker,
            traded_at=traded,
            price_band=a.price_band(side, price),
            size_percentile=90 + n,
            mid_1m=price + 100,
            result=result,
            pnl_follow=a.follow_pnl(side, own + 100, result) if result else None,
            pnl_fade=a.fade_pnl(side, price, result) if result else None,
            pnl_actual=10 * a.follow_pnl(side, own + 100, result) if result and decision == "follow" else None,
        )


@pytest.fixture
def reviewer(django_user_model):
    return django_user_model.objects.create_user(username="reviewer", password=PASSWORD)


def test_strategy_page_shows_the_curve_and_the_breakdowns(page, reviewer):
    whales_with_outcomes()
    log_in(page, "reviewer", PASSWORD)
    page.click("text=Strategy")

    expect(page.locator("#whales")).to_have_text("7")
    expect(page.locator("#follows")).to_have_text("3")
    expect(page.locator("#settled")).to_have_text("6")
    # 10 contracts each: YES at 0.53 won (+0.4525), YES at 0.48 lost (-0.4975), NO at 0.71 won (+0.2755).
    expect(page.locator("#pnl-actual")).to_have_text("$2.3050")
    expect(page.locator("#pnl-fade-all")).to_have_text("-$0.7734")
    expect(page.locator("#pnl-chart polyline")).to_have_count(3)
    expect(page.locator("#by_reason")).to_contain_text("cooldown")
    expect(page.locator("#by_price_band tbody tr")).to_have_count(3)
    expect(page.locator("#markouts tbody tr").first).to_contain_text("7")

    # V3_UPDATE_SCREENSHOT=1 refreshes the README's picture from this very page.
    if os.environ.get("V3_UPDATE_SCREENSHOT") == "1":
        page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_strategy_page_needs_a_login(page):
    page.goto("/strategy/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/strategy/$"))
