"""The client's books, driven without a socket."""

import pytest

from trading.kalshi.books import Books
from trading.kalshi.messages import DeltaBody, SnapshotBody

T = "KXBTCD-26DEC3117-T99999.99"
OTHER = "KXBTCD-26DEC3117-T100000.00"


def test_a_book_takes_deltas_only_between_its_snapshot_and_the_next_gap() -> None:
    books = Books()
    books.claim([T])
    delta = DeltaBody(market_ticker=T, price=4000, delta=500, side="yes")
    assert books.stale_count() == 1 and not books.apply_delta(delta)
    books.apply_snapshot(SnapshotBody(market_ticker=T, yes=[(4000, 1000)]))
    assert books.stale_count() == 0 and books.apply_delta(delta)
    assert books[T].yes == {4000: 1500}
    books.mark_stale([T])
    assert not books.apply_delta(delta) and books[T].yes == {4000: 1500}


def test_a_booked_market_is_refused_and_nothing_is_claimed() -> None:
    books = Books()
    books.claim([T])
    with pytest.raises(ValueError, match=T):
        books.claim([OTHER, T])
    assert set(books) == {T}


def test_callers_read_it_as_a_mapping() -> None:
    books = Books()
    books.claim([T, OTHER])
    assert books.get(T) is books[T] and books.get("KXNONE") is None
    assert [book.market_ticker for book in books.values()] == [T, OTHER]
    books.release([T, OTHER])
    assert books == {} and len(books) == 0
