"""The price cache: every market's quote from ticker messages, bounded."""

from trading.feed.prices import PriceCache, Quote
from trading.kalshi import messages as m


def _body(ticker: str, bid: int | None = 4400, ask: int | None = 4600, last: int | None = 4500, ts_ms: int = 1_000):
    return m.TickerBody(market_ticker=ticker, yes_bid=bid, yes_ask=ask, price=last, ts_ms=ts_ms)


def test_a_quote_per_market_replaced_by_its_latest_ticker_message():
    prices = PriceCache()
    prices.update(_body("A"))
    prices.update(_body("A", bid=4300, ask=None, ts_ms=2_500))
    assert prices.get("A") == Quote(bid=4300, ask=None, last=4500, ts=2.5)
    assert prices.get("B") is None
    assert prices.to_dict() == {"markets": 1, "updates": 2, "evicted": 0}


def test_the_least_recently_updated_market_is_forgotten_past_the_bound():
    prices = PriceCache(max_markets=2)
    for ticker in ("A", "B", "A", "C"):
        prices.update(_body(ticker))
    assert (prices.get("A"), prices.get("B")) == (Quote(4400, 4600, 4500, 1.0), None)
    assert len(prices) == 2 and prices.evicted == 1


def test_a_ticker_message_from_the_wire_parses_into_a_quote():
    frame = b'{"type":"ticker","sid":3,"msg":{"market_ticker":"KXFED-27JAN-T4.25","market_id":"x",'
    frame += b'"price_dollars":"0.4500","yes_bid_dollars":"0.4400","yes_ask_dollars":"0.4600","ts_ms":1795532400000}}'
    prices = PriceCache()
    prices.update(m.parse(frame).msg)
    assert prices.get("KXFED-27JAN-T4.25") == Quote(4400, 4600, 4500, 1795532400.0)
