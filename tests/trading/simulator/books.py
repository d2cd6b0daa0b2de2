"""Rebuild order books from the simulator's WebSocket messages, as any client would."""

from typing import Any

from trading.orderbook import NO, YES, OrderBook
from trading.units import ONE_DOLLAR, parse_count, parse_price


class BookMirror:
    """Books per market from orderbook_snapshot / orderbook_delta, checking seq per sid."""

    def __init__(self, *, use_yes_price: bool = False) -> None:
        self.books: dict[str, OrderBook] = {}
        self.last_seq: dict[int, int] = {}
        self.gaps = 0
        self.use_yes_price = use_yes_price

    def _price(self, side: str, text: str) -> int:
        price = parse_price(text)
        return ONE_DOLLAR - price if self.use_yes_price and side == NO else price

    def apply(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind not in ("orderbook_snapshot", "orderbook_delta"):
            return
        sid, seq = message["sid"], message["seq"]
        if seq != self.last_seq.get(sid, 0) + 1:
            self.gaps += 1
        self.last_seq[sid] = seq
        msg = message["msg"]
        ticker = msg["market_ticker"]
        if kind == "orderbook_snapshot":
            book = self.books.setdefault(ticker, OrderBook(ticker))
            book.apply_snapshot(
                [(self._price(YES, p), parse_count(c)) for p, c in msg.get("yes_dollars_fp", [])],
                [(self._price(NO, p), parse_count(c)) for p, c in msg.get("no_dollars_fp", [])],
            )
        else:
            side = msg["side"]
            self.books[ticker].apply_delta(side, self._price(side, msg["price_dollars"]), parse_count(msg["delta_fp"]))

    def levels(self) -> dict[str, dict[str, dict[int, int]]]:
        return {ticker: book.levels() for ticker, book in self.books.items()}
