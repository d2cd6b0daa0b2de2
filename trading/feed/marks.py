"""Where each market's trade tape was last seen without a gap: the start of the next
backfill (trading.feed.backfill). Kept in memory as trades arrive and written to
``TradeMark`` rows every second, so a standby that takes over, or the next run,
knows where the dead runner stopped. A market with no mark yet is not backfilled:
nothing was seen, so nothing can have been missed.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from trading.models import TradeMark


@dataclass(frozen=True, slots=True)
class Mark:
    trade_id: str
    traded_at: float  # Unix seconds, from the exchange


def load_marks(tickers: Iterable[str]) -> dict[str, Mark]:
    """The persisted marks of ``tickers`` (markets never seen are absent)."""
    rows = TradeMark.objects.filter(market_ticker__in=list(tickers))
    return {row.market_ticker: Mark(row.trade_id, row.traded_at) for row in rows}


def save_marks(*, marks: dict[str, Mark]) -> None:
    """Upsert one row per market; a mark never moves backwards (two runners briefly
    overlapping at a takeover must not rewind each other)."""
    for ticker, mark in marks.items():
        updated = TradeMark.objects.filter(market_ticker=ticker, traded_at__lte=mark.traded_at).update(
            trade_id=mark.trade_id, traded_at=mark.traded_at
        )
        if not updated:
            TradeMark.objects.get_or_create(
                market_ticker=ticker, defaults={"trade_id": mark.trade_id, "traded_at": mark.traded_at}
            )
