"""The simulated exchange without sockets: a seed fixes the whole market-data stream,
books stay sane (on the grid, never crossed, queues adding up to the book), trade sizes
are heavy-tailed with whales at the configured rate."""

from collections import Counter

from trading.orderbook import NO, YES
from trading.simulator.exchange import Exchange
from trading.simulator.market_maker import WHALE_CONTRACTS
from trading.simulator.records import BookDelta, SimTrade
from trading.units import COUNT_SCALE, ONE_DOLLAR


def stream(exchange: Exchange, steps: int) -> list[tuple]:
    exchange.step(steps)
    out = []
    for event in exchange.take_events():
        if isinstance(event, BookDelta):
            out.append(("delta", event.ticker, event.side, event.price, event.delta))
        elif isinstance(event, SimTrade):
            out.append(("trade", event.trade_id, event.ticker, event.yes_price, event.count, event.taker_outcome_side))
    return out


def test_same_seed_same_markets_and_stream():
    a, b = Exchange(markets=6, seed=42), Exchange(markets=6, seed=42)
    assert [(m.ticker, m.market_id) for m in a.markets.values()] == [
        (m.ticker, m.market_id) for m in b.markets.values()
    ]
    assert {t: x.levels() for t, x in a.books.items()} == {t: x.levels() for t, x in b.books.items()}
    assert stream(a, 5_000) == stream(b, 5_000)
    assert {t: x.levels() for t, x in a.books.items()} == {t: x.levels() for t, x in b.books.items()}


def test_another_seed_another_stream():
    assert stream(Exchange(markets=6, seed=1), 1_000) != stream(Exchange(markets=6, seed=2), 1_000)


def test_books_stay_on_the_grid_uncrossed_and_consistent():
    exchange = Exchange(markets=8, seed=5)
    for _ in range(20):
        exchange.step(1_000)
        for ticker, book in exchange.books.items():
            grid = exchange.markets[ticker].grid
            assert all(grid.valid(p) for p in book.yes) and all(grid.valid(p) for p in book.no)
            assert book.yes and book.no
            top = book.top()
            assert top.yes_bid < top.yes_ask, f"{ticker} crossed"
            for side in (YES, NO):
                queues = exchange.queues[ticker][side]
                assert {p: sum(e.size for e in q) for p, q in queues.items()} == getattr(book, side)
    exchange.take_events()


def test_trade_sizes_are_heavy_tailed_with_whales_at_the_rate():
    exchange = Exchange(markets=5, seed=9, whale_rate=0.05)
    exchange.step(60_000)
    sizes = sorted(t.count // COUNT_SCALE for t in exchange.trades)
    whales = [s for s in sizes if s >= WHALE_CONTRACTS[0]]
    assert len(sizes) > 5_000
    assert 0.03 < len(whales) / len(sizes) < 0.07
    ordinary = [s for s in sizes if s < WHALE_CONTRACTS[0]]
    median = ordinary[len(ordinary) // 2]
    assert median <= 10 and max(ordinary) >= 100 * median
    assert Counter(t.taker_outcome_side for t in exchange.trades).keys() == {YES, NO}


def test_trade_prices_are_the_two_sides_of_one_dollar():
    exchange = Exchange(markets=3, seed=3)
    exchange.step(5_000)
    for trade in exchange.trades:
        assert 0 < trade.yes_price < ONE_DOLLAR
        assert exchange.markets[trade.ticker].grid.valid(trade.yes_price)


def test_whale_on_a_named_market():
    exchange = Exchange(markets=3, seed=3)
    ticker = exchange.tickers[2]
    trade = exchange.whale(ticker, count=25_000 * COUNT_SCALE, taker_outcome_side=YES)
    assert (trade.ticker, trade.count, trade.taker_outcome_side) == (ticker, 2_500_000, YES)
    assert exchange.books[ticker].top().yes_bid < exchange.books[ticker].top().yes_ask


def test_hundreds_of_markets_with_a_few_busy_ones_and_a_long_quiet_tail():
    exchange = Exchange(markets=500, seed=3)
    assert len(set(exchange.tickers)) == 500
    exchange.step(50_000)
    trades = Counter(event.ticker for event in exchange.take_events() if isinstance(event, SimTrade))
    by_rank = [trades[ticker] for ticker in exchange.tickers]
    total = sum(by_rank)
    assert sum(by_rank[:10]) > 0.3 * total, "the ten busiest markets carry a large share"
    assert sum(by_rank[400:]) < 0.06 * total, "the last hundred are quiet"
    assert len(trades) > 250, "yet most markets trade now and then"
