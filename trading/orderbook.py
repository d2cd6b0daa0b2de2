"""An exact Kalshi order book for one market, built from snapshot + deltas.

Kalshi books are bids on both sides (PROTOCOL.md 6.1): ``yes`` levels bid for
YES at YES prices, ``no`` levels bid for NO at NO prices. So the best YES ask is
$1 minus the best NO bid, and the spread is that minus the best YES bid. Prices
are integer 1/10,000 dollars and sizes integer 1/100 contracts (trading.units).
"""

from collections.abc import Sequence
from dataclasses import dataclass

from trading.units import ONE_DOLLAR

YES = "yes"
NO = "no"


@dataclass(frozen=True, slots=True)
class TopOfBook:
    yes_bid: int | None
    yes_bid_size: int
    yes_ask: int | None
    yes_ask_size: int

    @property
    def spread(self) -> int | None:
        if self.yes_bid is None or self.yes_ask is None:
            return None
        return self.yes_ask - self.yes_bid


class OrderBook:
    """Levels per side as ``{price: size}``. Writes are O(1) so the feed keeps up;
    reads (best levels, depth) sort on demand, since they happen a few times a second."""

    __slots__ = ("market_ticker", "no", "snapshots", "stale", "yes")

    def __init__(self, market_ticker: str) -> None:
        self.market_ticker = market_ticker
        self.yes: dict[int, int] = {}
        self.no: dict[int, int] = {}
        # A book is stale from birth until its first snapshot, and again after a
        # sequence gap until the resync snapshot arrives; deltas meanwhile are dropped.
        self.stale = True
        self.snapshots = 0

    def apply_snapshot(self, yes: Sequence[tuple[int, int]], no: Sequence[tuple[int, int]]) -> None:
        self.yes = {price: size for price, size in yes if size > 0}
        self.no = {price: size for price, size in no if size > 0}
        self.stale = False
        self.snapshots += 1

    def apply_delta(self, side: str, price: int, delta: int) -> None:
        """``delta`` is the signed change of the resting size; a level at zero is removed."""
        levels = self.yes if side == YES else self.no
        size = levels.get(price, 0) + delta
        if size > 0:
            levels[price] = size
        else:
            levels.pop(price, None)

    def mark_stale(self) -> None:
        self.stale = True

    def top(self) -> TopOfBook:
        yes_bid = max(self.yes) if self.yes else None
        no_bid = max(self.no) if self.no else None
        return TopOfBook(
            yes_bid=yes_bid,
            yes_bid_size=self.yes[yes_bid] if yes_bid is not None else 0,
            yes_ask=ONE_DOLLAR - no_bid if no_bid is not None else None,
            yes_ask_size=self.no[no_bid] if no_bid is not None else 0,
        )

    def depth(self, levels: int = 5) -> dict[str, list[tuple[int, int]]]:
        """Best ``levels`` a side in YES terms: bids high to low, asks (from NO bids) low to high."""
        bids = sorted(self.yes.items(), reverse=True)[:levels]
        asks = [(ONE_DOLLAR - price, size) for price, size in sorted(self.no.items(), reverse=True)[:levels]]
        return {"bids": bids, "asks": asks}

    def levels(self) -> dict[str, dict[int, int]]:
        """A copy of both sides, for comparing two books exactly."""
        return {YES: dict(self.yes), NO: dict(self.no)}
