"""The market-data client's order books: one ``trading.orderbook.OrderBook`` per market
of its ``orderbook_delta`` subscriptions, kept current by the reader itself.

* A market belongs to one subscription at a time (two would apply each delta twice),
  so claiming a market that is already booked is refused.
* A book is stale from its claim until its first snapshot, and again after a gap or a
  reconnect until a fresh snapshot rebuilds it; deltas for a stale book are not applied
  (the client counts them as ``metrics.dropped_deltas``).
* Callers read it as a read-only mapping, ``client.books[ticker]``, ``.get(ticker)``,
  ``.values()``: only the client writes it.
"""

from collections.abc import Iterable, Iterator, Mapping

from trading.kalshi import messages as m
from trading.orderbook import OrderBook


class Books(Mapping[str, OrderBook]):
    """The books by market ticker."""

    def __init__(self) -> None:
        self._books: dict[str, OrderBook] = {}

    def __getitem__(self, ticker: str) -> OrderBook:
        return self._books[ticker]

    def __iter__(self) -> Iterator[str]:
        return iter(self._books)

    def __len__(self) -> int:
        return len(self._books)

    def claim(self, tickers: Iterable[str]) -> None:
        """A new, stale book for each market; ``ValueError`` (and none claimed) if one is booked already."""
        tickers = list(tickers)
        taken = [t for t in tickers if t in self._books]
        if taken:
            raise ValueError(f"already in an orderbook_delta subscription: {', '.join(taken)}")
        for ticker in tickers:
            self._books[ticker] = OrderBook(ticker)

    def release(self, tickers: Iterable[str]) -> None:
        for ticker in tickers:
            self._books.pop(ticker, None)

    def mark_stale(self, tickers: Iterable[str] | None = None) -> None:
        """Every book, or those of ``tickers``: a gap or a lost connection, a snapshot to wait for."""
        for ticker in self._books if tickers is None else tickers:
            book = self._books.get(ticker)
            if book is not None:
                book.mark_stale()

    def apply_snapshot(self, body: m.SnapshotBody) -> None:
        book = self._books.get(body.market_ticker)
        if book is not None:
            book.apply_snapshot(body.yes, body.no)

    def apply_delta(self, body: m.DeltaBody) -> bool:
        """False when the delta's book is stale or not ours, and the delta was not applied."""
        book = self._books.get(body.market_ticker)
        if book is None or book.stale:
            return False
        book.apply_delta(body.side, body.price, body.delta)
        return True

    def stale_count(self) -> int:
        return sum(1 for book in self._books.values() if book.stale)
