"""The event bus: publishers never wait, subscribers are isolated, market data may
be dropped (counted) but whales never are, owners clean up after themselves."""

import asyncio

import pytest

from trading.feed.bus import EventBus, StateChanged, TradeReceived, WhaleDetected


def _trade(n: int) -> TradeReceived:
    return TradeReceived(trade_id=f"t{n}", ticker=f"M{n}", yes_price=4500, count=100, taker_side="yes", ts=float(n))


def _whale(n: int) -> WhaleDetected:
    return WhaleDetected(whale_id=n, trade_id=f"t{n}", ticker="M", notional=n)


async def test_each_subscriber_gets_each_event_of_its_type():
    bus = EventBus()
    bus.start()
    trades, states = [], []
    bus.subscribe(TradeReceived, trades.append, owner="a")

    async def on_state(event):
        states.append(event)

    bus.subscribe(StateChanged, on_state, owner="a")
    for n in range(5):
        bus.publish_nowait(_trade(n))
    await bus.publish(StateChanged("ready", "trading", "enabled"))
    await bus.drain()
    assert [e.ticker for e in trades] == [f"M{n}" for n in range(5)]
    assert [e.to_state for e in states] == ["trading"]
    await bus.stop()


async def test_queue_overflow_counts_dropped_market_data_and_never_drops_a_whale():
    bus = EventBus(queue_size=10)
    seen_trades, seen_whales = [], []
    bus.subscribe(TradeReceived, seen_trades.append, owner="t")
    bus.subscribe(WhaleDetected, seen_whales.append, owner="t")
    # The dispatcher is not running yet: the queue fills up.
    accepted = [bus.publish_nowait(_trade(n)) for n in range(15)]
    assert accepted.count(False) == 5 and bus.dropped == 5
    assert bus.utilization() == 1.0
    health = bus.health()
    assert not health.healthy and "full" in health.detail and health.metrics["dropped"] == 5
    # A whale on a full queue waits for room instead of being dropped.
    whales = asyncio.gather(*(bus.publish(_whale(n)) for n in range(3)))
    await asyncio.sleep(0.05)
    assert not whales.done()
    bus.start()
    assert await asyncio.wait_for(whales, 5) == [True, True, True]
    await bus.drain()
    assert [w.whale_id for w in seen_whales] == [0, 1, 2]
    assert len(seen_trades) == 10
    assert bus.health().healthy
    await bus.stop()


async def test_whale_cannot_be_published_as_droppable():
    bus = EventBus()
    with pytest.raises(TypeError, match="must not be dropped"):
        bus.publish_nowait(_whale(1))


async def test_raising_subscriber_does_not_affect_others_and_errors_are_a_windowed_rate():
    bus = EventBus()
    bus.start()
    good = []

    def bad(event):
        raise RuntimeError("boom")

    bad_sub = bus.subscribe(TradeReceived, bad, owner="x", name="bad")
    bus.subscribe(TradeReceived, good.append, owner="x", name="good")
    for n in range(4):
        bus.publish_nowait(_trade(n))
    await bus.drain()
    assert len(good) == 4
    stats = {s["name"]: s for s in bus.health().metrics["subscribers"]}
    assert stats["bad"]["errors_per_min"] == 4.0 and stats["good"]["delivered"] == 4
    assert not bad_sub.disabled
    # Old errors leave the window.
    bad_sub.errors = type(bad_sub.errors)([e - 3600 for e in bad_sub.errors], maxlen=bad_sub.errors.maxlen)
    assert {s["name"]: s for s in bus.health().metrics["subscribers"]}["bad"]["errors_per_min"] == 0
    await bus.stop()


async def test_hanging_subscriber_does_not_delay_others_and_is_disabled_after_repeated_timeouts():
    bus = EventBus(call_timeout=0.05, max_consecutive_timeouts=3)
    bus.start()
    fast = []
    calls = 0

    async def hangs(event):
        nonlocal calls
        calls += 1
        await asyncio.Event().wait()

    hanging = bus.subscribe(WhaleDetected, hangs, owner="x", name="hangs")
    bus.subscribe(WhaleDetected, fast.append, owner="x", name="fast")
    for n in range(6):
        await bus.publish(_whale(n))
    await asyncio.wait_for(bus.drain(), 5)
    assert len(fast) == 6
    assert hanging.disabled and calls == 3 and hanging.timeouts == 3
    health = bus.health()
    assert not health.healthy and "hangs" in health.detail
    # Disabled means no more calls.
    await bus.publish(_whale(7))
    await bus.drain()
    assert calls == 3 and len(fast) == 7
    await bus.stop()


async def test_unsubscribe_all_leaves_nothing_behind():
    bus = EventBus()
    bus.start()
    kept = []
    subs = [
        bus.subscribe(TradeReceived, lambda e: None, owner="gone"),
        bus.subscribe(WhaleDetected, lambda e: None, owner="gone"),
        bus.subscribe(StateChanged, lambda e: None, owner="gone"),
    ]
    bus.subscribe(TradeReceived, kept.append, owner="stays")
    assert await bus.unsubscribe_all("gone") == 3
    assert [s.owner for s in bus.subscriptions()] == ["stays"]
    assert all(s.task is None for s in subs)
    tasks = {t.get_name() for t in asyncio.all_tasks()}
    assert not any(name.startswith("bus-gone") for name in tasks)
    bus.publish_nowait(_trade(1))
    await bus.drain()
    assert len(kept) == 1
    await bus.stop()
    assert bus.subscriptions() == []
    assert not any(t.get_name().startswith("bus-") for t in asyncio.all_tasks())
