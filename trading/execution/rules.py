"""The decision rules for one whale: pure functions of the whale, the book, the
market and the configuration, so a unit test drives them without Django, Redis
or a socket. Risk limits (which need the account's state under a lock) are in
trading.execution.risk; both speak the same ``Verdict`` and ``Reason`` codes.

Kalshi books are bids on both sides (trading.orderbook): following a whale that
bought YES means bidding on the YES book; following one that bought NO means an
``ask`` on the YES book at ``1 - NO price``. Prices are worked out on the side we
buy ("own side") and converted to the YES price the order carries.
"""

from dataclasses import dataclass
from enum import StrEnum

from trading.config import RuleConfig
from trading.exchange import BookView, MarketView
from trading.units import COUNT_SCALE, ONE_DOLLAR

# Kalshi's default grid (linear_cent) when the market does not say otherwise.
DEFAULT_TICK = 100


class Reason(StrEnum):
    """Machine-readable reason codes of a decision (the admin filters on them)."""

    FOLLOW = "follow"
    KILL_SWITCH = "kill_switch"
    PAUSED = "paused"
    BELOW_THRESHOLD = "below_threshold"
    WHALE_TOO_OLD = "whale_too_old"
    BOOK_UNAVAILABLE = "book_unavailable"
    STALE_BOOK = "stale_book"
    MARKET_CLOSING = "market_closing"
    MARKET_CLOSED = "market_closed"
    EMPTY_BOOK = "empty_book"
    SPREAD_TOO_WIDE = "spread_too_wide"
    SIZE_TOO_SMALL = "size_too_small"
    PRICE_OUT_OF_BOUNDS = "price_out_of_bounds"
    COOLDOWN = "cooldown"
    RATE_LIMIT = "rate_limit"
    OPEN_ORDERS_LIMIT = "open_orders_limit"
    POSITION_LIMIT = "position_limit"
    EXPOSURE_LIMIT = "exposure_limit"
    DAILY_LOSS_LIMIT = "daily_loss_limit"


@dataclass(frozen=True, slots=True)
class WhaleView:
    market_ticker: str
    taker_side: str  # "yes" or "no": the outcome the whale bought
    yes_price: int
    count: int
    notional: int
    traded_at: float  # Unix seconds, the exchange's time of the trade


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """The order a follow would place: ``side`` on the YES book, ``price`` the YES price."""

    market_ticker: str
    side: str  # "bid" (buy YES) or "ask" (buy NO)
    price: int
    count: int

    @property
    def own_price(self) -> int:
        """The price of the outcome bought: YES price for a bid, NO price for an ask."""
        return self.price if self.side == "bid" else ONE_DOLLAR - self.price

    @property
    def cost(self) -> int:
        """Micro-dollars the order costs if it fills completely (fees aside)."""
        return self.own_price * self.count

    @property
    def signed_count(self) -> int:
        """+ YES, - NO, the sign convention of positions."""
        return self.count if self.side == "bid" else -self.count


@dataclass(frozen=True, slots=True)
class Verdict:
    follow: bool
    reason: Reason
    text: str
    intent: OrderIntent | None = None


def skip(reason: Reason, text: str) -> Verdict:
    return Verdict(False, reason, text)


def dollars(amount: int, scale: int = 1_000_000) -> str:
    """Micro-dollars (or another scale) as "$1,234.56" / "-$2.50" for people to read."""
    return f"{'-' if amount < 0 else ''}${abs(amount) / scale:,.2f}"


def tick_at(price: int, price_ranges: tuple[tuple[int, int, int], ...]) -> int:
    for start, end, step in price_ranges:
        if start <= price < end:
            return step
    return DEFAULT_TICK


def check_threshold(whale: WhaleView, now: float, config: RuleConfig) -> Verdict | None:
    """The rules that need no book: checked before the worker fetches anything."""
    if whale.notional < config.min_whale_notional:
        return skip(
            Reason.BELOW_THRESHOLD,
            f"Whale notional {dollars(whale.notional)} is under the {dollars(config.min_whale_notional)} minimum.",
        )
    if now - whale.traded_at > config.max_whale_age:
        return skip(
            Reason.WHALE_TOO_OLD,
            f"The whale traded {now - whale.traded_at:.0f} s ago (limit {config.max_whale_age:g} s): "
            "no longer a signal.",
        )
    return None


def size_for(whale: WhaleView, config: RuleConfig) -> int:
    """Whole contracts (1/100 units): fixed, or a fraction of the whale; capped."""
    count = config.fixed_count if config.size_mode == "fixed" else whale.count * config.whale_fraction_ppm // 1_000_000
    count = min(count, config.max_count)
    return count - count % COUNT_SCALE


def evaluate(whale: WhaleView, book: BookView, market: MarketView, now: float, config: RuleConfig) -> Verdict:
    """Follow (with the order to place) or skip (with why), from the rules alone."""
    if (verdict := check_threshold(whale, now, config)) is not None:
        return verdict
    age = now - book.as_of
    if book.stale or age > config.max_book_age:
        return skip(Reason.STALE_BOOK, f"The order book is {age:.1f} s old (limit {config.max_book_age:g} s).")
    if market.status not in ("active", "open"):
        return skip(Reason.MARKET_CLOSED, f"The market is {market.status}, no longer open for trading.")
    if market.close_ts is not None and market.close_ts <= now:
        return skip(Reason.MARKET_CLOSED, "The market is past its close time, no longer open for trading.")
    if market.close_ts is not None and market.close_ts - now < config.min_time_to_close:
        left = max(0.0, market.close_ts - now)
        return skip(
            Reason.MARKET_CLOSING,
            f"The market closes in {left:.0f} s, under the {config.min_time_to_close:g} s minimum.",
        )
    top = book.top
    if top.yes_bid is None or top.yes_ask is None:
        return skip(Reason.EMPTY_BOOK, "One side of the book is empty, so there is no spread to price against.")
    spread = top.yes_ask - top.yes_bid
    if spread > config.max_spread:
        return skip(
            Reason.SPREAD_TOO_WIDE,
            f"The spread is {dollars(spread, ONE_DOLLAR)}, "
            f"wider than the {dollars(config.max_spread, ONE_DOLLAR)} maximum.",
        )
    count = size_for(whale, config)
    if count <= 0:
        return skip(Reason.SIZE_TOO_SMALL, "The follow size rounds to zero whole contracts.")
    buys_yes = whale.taker_side == "yes"
    whale_own = whale.yes_price if buys_yes else ONE_DOLLAR - whale.yes_price
    # The best ask of the outcome we buy: YES ask, or NO ask = 1 - best YES bid.
    own_ask = top.yes_ask if buys_yes else ONE_DOLLAR - top.yes_bid
    own = min(whale_own + config.slippage, own_ask + config.max_cross)
    own -= own % tick_at(own, market.price_ranges)
    tick = tick_at(own, market.price_ranges)
    if not tick <= own <= ONE_DOLLAR - tick:
        return skip(
            Reason.PRICE_OUT_OF_BOUNDS, f"The limit price {dollars(own, ONE_DOLLAR)} is off the market's range."
        )
    intent = OrderIntent(
        market_ticker=whale.market_ticker,
        side="bid" if buys_yes else "ask",
        price=own if buys_yes else ONE_DOLLAR - own,
        count=count,
    )
    outcome = "YES" if buys_yes else "NO"
    return Verdict(
        True,
        Reason.FOLLOW,
        f"Follow: buy {count / COUNT_SCALE:g} {outcome} at {dollars(own, ONE_DOLLAR)} "
        f"(whale {dollars(whale_own, ONE_DOLLAR)} + slippage, spread {dollars(spread, ONE_DOLLAR)}).",
        intent,
    )


def check_cooldown(last_follow_at: float | None, now: float, config: RuleConfig) -> Verdict | None:
    """Per-market cooldown; needs the last follow, so it runs under the risk lock."""
    if last_follow_at is not None and now - last_follow_at < config.cooldown:
        return skip(
            Reason.COOLDOWN,
            f"This market was followed {now - last_follow_at:.0f} s ago (cooldown {config.cooldown:g} s).",
        )
    return None
