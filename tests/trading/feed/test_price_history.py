"""Each market's recent prices, saved by the feed runner for every web process and
handed to a browser with its subscription."""

import pytest
from django.core.cache import caches

from trading.feed import price_history
from trading.feed.price_history import POINTS, SPACING, PriceHistory

TICKERS = ("KXH-26", "KXNONE-26")


@pytest.fixture(autouse=True)
def own_keys_only():
    """Delete only this test's keys: clear() would flush a Redis database others may share."""
    cache = caches[price_history.CACHE]
    cache.delete_many([price_history.key(t) for t in TICKERS])
    yield
    cache.delete_many([price_history.key(t) for t in TICKERS])


async def test_saved_points_load_oldest_first_spaced_and_bounded():
    history = PriceHistory()
    for n in range(POINTS + 50):
        history.add("KXH-26", 1_000.0 + n * SPACING, 4_000 + n)
    history.add("KXH-26", 1_000.0 + (POINTS + 49) * SPACING + SPACING / 4, 9_999)  # too close: skipped
    assert history.due("KXH-26")
    await history.save("KXH-26")
    assert not history.due("KXH-26"), "saved at most every SAVE_INTERVAL"

    points = await price_history.load("KXH-26")

    assert len(points) == POINTS
    assert points[0] == [1_000.0 + 50 * SPACING, 4_050] and points[-1][1] == 4_000 + POINTS + 49
    assert await price_history.load("KXNONE-26") == []


async def test_a_cache_that_fails_is_counted_not_raised(monkeypatch):
    history = PriceHistory()
    history.add("KXH-26", 1.0, 5_000)

    async def down(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(caches[price_history.CACHE], "aset", down)
    await history.save("KXH-26")
    assert history.save_failures == 1
