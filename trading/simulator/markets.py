"""The simulator's markets: realistic Kalshi tickers (series-event-market), each
with its tick grid (PROTOCOL.md 7: ``price_level_structure`` + ``price_ranges``),
generated deterministically from a seed."""

import random
import uuid
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from trading.kalshi.fees import QUADRATIC, QUADRATIC_WITH_MAKER_FEES
from trading.units import ONE_DOLLAR, format_price

# Kalshi's grids, as (start, end, step) in 1/10,000 dollars.
STRUCTURES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "linear_cent": ((0, ONE_DOLLAR, 100),),
    "deci_cent": ((0, ONE_DOLLAR, 10),),
    "tapered_deci_cent": ((0, 1000, 10), (1000, 9000, 100), (9000, ONE_DOLLAR, 10)),
}


class TickGrid:
    """The prices a market accepts, strictly between $0 and $1, as a sorted list so
    the random walk moves by whole ticks and validation is one dict lookup."""

    __slots__ = ("index", "prices", "structure")

    def __init__(self, structure: str) -> None:
        self.structure = structure
        prices: set[int] = set()
        for start, end, step in STRUCTURES[structure]:
            prices.update(range(start, end + 1, step))
        self.prices = sorted(p for p in prices if 0 < p < ONE_DOLLAR)
        self.index = {p: i for i, p in enumerate(self.prices)}

    def valid(self, price: int) -> bool:
        return price in self.index

    def offset(self, price: int, ticks: int) -> int | None:
        """The price ``ticks`` grid steps away (negative = lower), or None off the grid's ends.
        ``price`` itself need not be on the grid (a NO price mirrored from a YES one may not be)."""
        i = self.index.get(price)
        if i is None:
            i = bisect_left(self.prices, price) - (1 if ticks > 0 else 0)
        j = i + ticks
        return self.prices[j] if 0 <= j < len(self.prices) else None

    def price_ranges(self) -> list[dict[str, str]]:
        return [
            {"start": format_price(start), "end": format_price(end), "step": format_price(step)}
            for start, end, step in STRUCTURES[self.structure]
        ]


@dataclass(frozen=True)
class Series:
    ticker: str
    title: str
    events: tuple[tuple[str, str], ...]  # (ticker suffix, date in words)
    strikes: tuple[float, ...]
    sub_title: str
    rules: str
    structure: str
    category: str
    frequency: str
    fee_type: str  # trading.kalshi.fees: whether makers pay too
    name: str  # the series' own title, without an event's date


SERIES = (
    Series(
        "KXBTCD",
        "Bitcoin price on {date} at 5pm EST?",
        (("26DEC3117", "Dec 31, 2026"), ("27JAN2917", "Jan 29, 2027")),
        (94999.99, 97499.99, 99999.99, 102499.99, 104999.99),
        "${strike:,.0f} or above",
        "If the CF Benchmarks Bitcoin Real-Time Index (BRTI) is above {strike} at 5:00 PM EST on {date}, "
        "then the market resolves to Yes.",
        "linear_cent",
        "Crypto",
        "daily",
        QUADRATIC,
        "Bitcoin price at 5pm EST",
    ),
    Series(
        "KXFED",
        "Fed funds upper bound after the {date} meeting?",
        (("27JAN", "Jan 2027"), ("27MAR", "Mar 2027")),
        (3.75, 4.0, 4.25, 4.5),
        "Above {strike}%",
        "If the upper bound of the federal funds target range is above {strike}% after the {date} meeting, "
        "then the market resolves to Yes.",
        "tapered_deci_cent",
        "Economics",
        "monthly",
        QUADRATIC,
        "Fed funds upper bound",
    ),
    Series(
        "KXINX",
        "S&P 500 close on {date}?",
        (("26DEC31", "Dec 31, 2026"),),
        (6400.0, 6500.0, 6600.0, 6700.0),
        "{strike:,.0f} or above",
        "If the S&P 500 closes above {strike} on {date}, then the market resolves to Yes.",
        "deci_cent",
        "Financials",
        "daily",
        QUADRATIC_WITH_MAKER_FEES,
        "S&P 500 close",
    ),
    Series(
        "KXHIGHNY",
        "Highest temperature in NYC on {date}?",
        (("26DEC01", "Dec 1, 2026"),),
        (40.5, 44.5, 48.5),
        "{strike:.0f}° or above",
        "If the highest temperature recorded in Central Park on {date} is above {strike}°F, "
        "then the market resolves to Yes.",
        "linear_cent",
        "Climate and Weather",
        "daily",
        QUADRATIC,
        "Highest temperature in NYC",
    ),
)


SERIES_BY_TICKER = {s.ticker: s for s in SERIES}


def _strike_text(strike: float) -> str:
    """Kalshi's strike spelling: ``T4.25``, ``T4.00``, ``T99999.99``, but ``T6400``."""
    return f"{strike:.0f}" if strike == int(strike) and strike >= 100 else f"{strike:.2f}"


@dataclass
class SimMarket:
    """One binary market's static description plus its running statistics."""

    ticker: str
    event_ticker: str
    series_ticker: str
    market_id: str
    title: str
    yes_sub_title: str
    rules_primary: str
    floor_strike: float
    grid: TickGrid
    event_sub_title: str  # the event's date, in words
    fee_type: str
    created_time: datetime
    open_time: datetime
    close_time: datetime
    status: str = "active"  # active -> closed -> determined -> finalized (PROTOCOL.md 8, Market)
    result: str = ""  # yes or no once determined
    settled_time: datetime | None = None
    last_price: int = 0
    volume: int = 0
    volume_24h: int = 0
    open_interest: int = 0
    previous_yes_bid: int = 0
    previous_yes_ask: int = 0
    previous_price: int = 0
    updated_time: datetime = field(default_factory=lambda: datetime.now(UTC))


def make_markets(count: int, rng: random.Random, now: datetime, lifetime_s: float = 0.0) -> list[SimMarket]:
    """``count`` markets taking the series in turn (so even 4 markets show every tick grid),
    the same for the same rng state. With ``lifetime_s`` they close one after another
    within that time, so settlements come evenly rather than all at once."""
    return [make_market(n, rng, now, lifetime_s * (n + 1) / count if lifetime_s else 0.0) for n in range(count)]


def make_market(n: int, rng: random.Random, now: datetime, lifetime_s: float = 0.0) -> SimMarket:
    """The ``n``-th market of the series' cycle (a new ticker for every ``n``), open now;
    it closes after ``lifetime_s`` seconds, or in 37 days when that is 0."""
    series = SERIES[n % len(SERIES)]
    k = n // len(SERIES)
    per_event = len(series.strikes)
    suffix, date = series.events[k // per_event % len(series.events)]
    strike = series.strikes[k % per_event]
    round_ = k // (per_event * len(series.events))
    event = f"{series.ticker}-{suffix}" + (f"R{round_}" if round_ else "")
    strike_text = _strike_text(strike)
    return SimMarket(
        ticker=f"{event}-T{strike_text}",
        event_ticker=event,
        series_ticker=series.ticker,
        market_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        title=series.title.format(date=date),
        yes_sub_title=series.sub_title.format(strike=strike),
        rules_primary=series.rules.format(strike=strike_text, date=date),
        floor_strike=strike,
        grid=TickGrid(series.structure),
        event_sub_title=date,
        fee_type=series.fee_type,
        created_time=now - timedelta(days=30),
        open_time=now - timedelta(days=29),
        close_time=now + (timedelta(seconds=lifetime_s) if lifetime_s else timedelta(days=37)),
    )
