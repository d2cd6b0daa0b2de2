"""Workers racing on real Postgres: the RiskAccount row lock lets exactly one pass a limit,
and the one-to-one constraints give one decision and one order per whale."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from tests.configs import configure
from tests.trading.execution.conftest import make_whale
from trading.exchange import BookView, MarketView
from trading.execution import risk
from trading.execution.rules import Reason, evaluate
from trading.execution.services import whale_view
from trading.models import Order, WhaleDecision
from trading.orderbook import TopOfBook

pytestmark = [pytest.mark.needs_postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 6
TICKER = "KXBTCD-26DEC3117-T99999.99"


def _decide_concurrently(settings, whales) -> list[risk.Decided]:
    """Each whale decided on its own thread and connection, all released at once."""
    config = settings.EXECUTION.rules
    limits = settings.EXECUTION.limits
    now = time.time()
    book = BookView(TopOfBook(4400, 1000, 4500, 100_000), as_of=now)
    market = MarketView("active", now + 86_400)
    barrier = threading.Barrier(len(whales))

    def decide(whale):
        try:
            verdict = evaluate(whale_view(whale), book, market, time.time(), config)
            barrier.wait()
            return risk.decide(
                whale=whale, verdict=verdict, inputs={}, mode="paper", started_at=now, config=config, limits=limits
            )
        finally:
            connection.close()

    with ThreadPoolExecutor(len(whales)) as pool:
        return list(pool.map(decide, whales))


def test_two_workers_racing_the_same_limit_only_one_passes(settings):
    configure(settings, "EXECUTION", rules={"cooldown": 0, "max_spread": 2000}, limits={"max_open_orders": 1})
    whales = [make_whale(f"{TICKER}-{i}", yes_price=4500) for i in range(WORKERS)]

    results = _decide_concurrently(settings, whales)

    follows = [r for r in results if r.decision.decision == "follow"]
    assert len(follows) == 1
    assert {r.decision.reason_code for r in results if r is not follows[0]} == {Reason.OPEN_ORDERS_LIMIT}
    assert Order.objects.count() == 1


def test_racing_runs_for_one_whale_make_one_decision_and_one_order(settings):
    configure(settings, "EXECUTION", rules={"cooldown": 0, "max_spread": 2000}, limits={"max_open_orders": 100})
    whale = make_whale(TICKER, yes_price=4500)

    results = _decide_concurrently(settings, [whale] * WORKERS)

    assert sum(r.created for r in results) == 1
    assert WhaleDecision.objects.count() == 1 and Order.objects.count() == 1
    assert len({r.decision.pk for r in results}) == 1
