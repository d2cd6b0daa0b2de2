"""Order-book changes reach a market's group coalesced: many changes, few events,
and the last event carries the book as it ended up."""

import pytest

from tests.trading.feed.listener import GroupListener
from trading import events
from trading.feed.bus import TradeReceived
from trading.feed.market_events import DEPTH_LEVELS, MarketPublisher
from trading.orderbook import OrderBook

TICKER = "KXFED-27JAN-T4.25"


def _book() -> OrderBook:
    book = OrderBook(TICKER)
    book.apply_snapshot([(3100 + 100 * i, 1000) for i in range(8)], [(5300 + 100 * i, 500) for i in range(8)])
    return book


@pytest.mark.needs_redis
async def test_a_burst_of_changes_becomes_one_event_now_and_one_at_the_end_of_the_interval():
    listener = await GroupListener().join(events.market_group(TICKER))
    book = _book()
    publisher = MarketPublisher(lambda ticker: book if ticker == TICKER else None, rate=20)
    try:
        publisher.mark(TICKER)
        first = await listener.next_event(events.MARKET)
        for _ in range(100):
            book.apply_delta("yes", 3000, 100)
            publisher.mark(TICKER)
        publisher.add_trade(TradeReceived("t-1", TICKER, 4500, 2500, "yes", 1795532405.731))
        last = await listener.next_event(events.MARKET)
        assert await listener.nothing_for(0.2), "no event without a change"
    finally:
        await listener.close()
    assert publisher.metrics() == {"changes": 102, "events_sent": 2, "coalesced": 100}
    assert first["id"] == 0 and first["data"]["trades"] == []
    data = last["data"]
    assert data["market_ticker"] == TICKER and data["stale"] is False
    assert data["top"] == {"yes_bid": 3800, "yes_bid_size": 1000, "yes_ask": 4000, "yes_ask_size": 500, "spread": 200}
    assert len(data["depth"]["bids"]) == len(data["depth"]["asks"]) == DEPTH_LEVELS
    assert [3000, 10000] not in data["depth"]["bids"], "only the 5 best levels"
    assert data["trades"] == [
        {"trade_id": "t-1", "ts": 1795532405.731, "yes_price": 4500, "count": 2500, "taker_side": "yes"}
    ]
