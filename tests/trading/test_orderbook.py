"""trading.orderbook: both sides are bids; YES ask = $1 - best NO bid (PROTOCOL.md 6.1)."""

from trading.orderbook import NO, YES, OrderBook, TopOfBook


def example_book() -> OrderBook:
    """The book of PROTOCOL.md's examples: YES bids 0.41/0.43/0.44, NO bids 0.53/0.54/0.55."""
    book = OrderBook("KXBTCD-26DEC3117-T99999.99")
    book.apply_snapshot(
        yes=[(4100, 120000), (4300, 85000), (4400, 30000)],
        no=[(5300, 64000), (5400, 41000), (5500, 3000000)],
    )
    return book


def test_yes_ask_is_one_dollar_minus_best_no_bid() -> None:
    top = example_book().top()
    assert top == TopOfBook(yes_bid=4400, yes_bid_size=30000, yes_ask=4500, yes_ask_size=3000000)


def test_spread_is_yes_ask_minus_yes_bid() -> None:
    assert example_book().top().spread == 100


def test_spread_is_none_with_an_empty_side() -> None:
    book = OrderBook("X")
    book.apply_snapshot(yes=[(4400, 100)], no=[])
    top = book.top()
    assert top.yes_ask is None and top.yes_ask_size == 0 and top.spread is None


def test_depth_orders_bids_high_to_low_and_asks_low_to_high() -> None:
    depth = example_book().depth(levels=2)
    assert depth["bids"] == [(4400, 30000), (4300, 85000)]
    assert depth["asks"] == [(4500, 3000000), (4600, 41000)]


def test_depth_ignores_snapshot_order() -> None:
    book = OrderBook("X")
    book.apply_snapshot(yes=[(4400, 1), (4100, 2), (4300, 3)], no=[(5500, 4), (5300, 5)])
    assert [price for price, _ in book.depth()["bids"]] == [4400, 4300, 4100]
    assert [price for price, _ in book.depth()["asks"]] == [4500, 4700]


def test_delta_is_a_signed_change() -> None:
    book = example_book()
    book.apply_delta(YES, 4300, -2500)
    book.apply_delta(NO, 5600, 1000)
    assert book.yes[4300] == 82500
    assert book.top().yes_ask == 4400 and book.top().yes_ask_size == 1000


def test_level_reaching_zero_is_removed() -> None:
    book = example_book()
    book.apply_delta(YES, 4400, -30000)
    assert 4400 not in book.yes
    assert book.top().yes_bid == 4300


def test_book_is_stale_until_snapshot_and_after_mark() -> None:
    book = OrderBook("X")
    assert book.stale
    book.apply_snapshot(yes=[(100, 1)], no=[])
    assert not book.stale and book.snapshots == 1
    book.mark_stale()
    assert book.stale


def test_snapshot_replaces_the_book_and_skips_empty_levels() -> None:
    book = example_book()
    book.apply_snapshot(yes=[(4000, 0), (4200, 700)], no=[])
    assert book.levels() == {YES: {4200: 700}, NO: {}}


def test_levels_is_a_copy() -> None:
    book = example_book()
    levels = book.levels()
    levels[YES][1] = 1
    assert 1 not in book.yes
