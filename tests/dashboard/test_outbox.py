"""One browser's outgoing buffer: bounded, newest-wins for market events."""

import pytest

from dashboard.outbox import Outbox, OutboxOverflow
from trading import events


def market(ticker: str, price: int) -> str:
    return events.envelope(events.MARKET, {"market_ticker": ticker, "yes_bid": price}, ts=1.0)


def put_market(box: Outbox, ticker: str, price: int) -> None:
    box.put(market(ticker, price), market=ticker)


def activity(n: int) -> str:
    return events.envelope(events.SYSTEM_ACTIVITY, {"message": f"line {n}"}, event_id=n, ts=1.0)


async def drain(box: Outbox) -> list[str]:
    return [await box.get() for _ in range(len(box))]


async def test_newest_market_event_replaces_the_waiting_one_in_its_place():
    box = Outbox(limit=10)
    box.put(activity(1))
    put_market(box, "A", 100)
    put_market(box, "B", 200)
    box.put(activity(2))
    put_market(box, "A", 101)
    assert await drain(box) == [activity(1), market("A", 101), market("B", 200), activity(2)]
    assert box.coalesced == 1


async def test_full_outbox_overflows_on_persisted_events_and_drops_new_markets():
    box = Outbox(limit=2)
    box.put(activity(1))
    put_market(box, "A", 100)
    put_market(box, "A", 101)  # replaces, still fits
    put_market(box, "B", 1)  # no room, dropped and counted
    with pytest.raises(OutboxOverflow):
        box.put(activity(2))
    assert await drain(box) == [activity(1), market("A", 101)]
    assert box.coalesced == 2


async def test_get_waits_for_the_next_message():
    import asyncio

    box = Outbox(limit=5)
    waiter = asyncio.create_task(box.get())
    await asyncio.sleep(0)
    assert not waiter.done()
    box.put(activity(7))
    assert await asyncio.wait_for(waiter, 5) == activity(7)


async def test_coalescing_follows_the_ticker_given_not_the_text():
    """The ticker comes beside the text (the publisher knows it): nothing is parsed per browser."""
    box = Outbox(limit=10)
    box.put(market("A", 100), market="A")
    box.put(market("A", 101))  # no ticker given: an ordinary event, kept
    box.put(market("B", 102), market="A")
    assert await drain(box) == [market("B", 102), market("A", 101)]
