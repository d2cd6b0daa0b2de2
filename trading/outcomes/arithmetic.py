"""The outcome arithmetic of one whale: plain integers, no Django, so a unit test
checks it against hand-computed cases.

Units are trading.units': prices in 1/10,000 dollars, counts in 1/100 contracts,
money in micro-dollars. A per-contract P&L is for one whole contract (count 100).

* **Follow**: buy the whale's outcome at the price a follow would have paid (our
  order's limit for a follow, the own-side ask the decision saw for a skip, else
  the whale's own price), pay Kalshi's taker fee, collect $1 if that outcome wins.
* **Fade**: be the whale's counterparty at its price, i.e. buy the other outcome
  at ``1 - whale's own price``, taker fee too (the cautious assumption).
* **Actual**: our follow's fills (cost and the fees the exchange charged) against
  the settlement payout of the contracts they bought.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from trading.kalshi.fees import trade_fee
from trading.units import COUNT_SCALE, MONEY_SCALE, ONE_DOLLAR

# Price bands of the whale's own side. Public studies of whale trackers found
# dollar thresholds pick near-certain contracts (above 0.90) that pay little, and
# long shots (below 0.10) behave differently again: so the report splits by these.
LOW_BAND_BELOW = 1_000
HIGH_BAND_ABOVE = 9_000
BANDS = ("below_0.10", "0.10-0.90", "above_0.90")
# Size-percentile buckets of the report: the top 1 % and 5 % are where "bigger is smarter" would show.
SIZE_BUCKETS = ((99, "p99+"), (95, "p95-99"), (75, "p75-95"), (0, "below_p75"))
UNKNOWN = "unknown"
ONE_CONTRACT = COUNT_SCALE


@dataclass(frozen=True, slots=True)
class FillCost:
    """One of our fills: which outcome it bought, at what own-side price, how many, and its fee."""

    outcome: str  # "yes" or "no"
    own_price: int
    count: int
    fee: int


def own_price(taker_side: str, yes_price: int) -> int:
    """The price of the outcome bought: YES price for a YES taker, 1 - YES price for a NO taker."""
    return yes_price if taker_side == "yes" else ONE_DOLLAR - yes_price


def other_side(side: str) -> str:
    return "no" if side == "yes" else "yes"


def price_band(taker_side: str, yes_price: int) -> str:
    own = own_price(taker_side, yes_price)
    if own < LOW_BAND_BELOW:
        return BANDS[0]
    if own > HIGH_BAND_ABOVE:
        return BANDS[2]
    return BANDS[1]


def size_bucket(percentile: int | None) -> str:
    if percentile is None:
        return UNKNOWN
    for floor, name in SIZE_BUCKETS:
        if percentile >= floor:
            return name
    return SIZE_BUCKETS[-1][1]


def payout(outcome: str, result: str) -> int:
    """Micro-dollars one contract of ``outcome`` pays at settlement."""
    return MONEY_SCALE if outcome == result else 0


def per_contract_pnl(outcome: str, own: int, result: str) -> int:
    """Micro-dollars one contract of ``outcome`` bought at ``own`` makes at settlement, after the taker fee.
    The fee depends on P x (1 - P), so it is the same whichever side ``own`` is quoted on."""
    cost = own * (MONEY_SCALE // ONE_DOLLAR)
    return payout(outcome, result) - cost - trade_fee(ONE_CONTRACT, own, taker=True)


def follow_pnl(taker_side: str, follow_own_price: int, result: str) -> int:
    return per_contract_pnl(taker_side, follow_own_price, result)


def fade_pnl(taker_side: str, whale_yes_price: int, result: str) -> int:
    fade_own = ONE_DOLLAR - own_price(taker_side, whale_yes_price)
    return per_contract_pnl(other_side(taker_side), fade_own, result)


def actual_pnl(fills: Iterable[FillCost], result: str) -> int:
    """Micro-dollars our follow made: payouts minus what its fills cost and their fees."""
    total = 0
    for fill in fills:
        contracts_payout = payout(fill.outcome, result) * fill.count // COUNT_SCALE
        total += contracts_payout - fill.own_price * fill.count - fill.fee
    return total


def markout(taker_side: str, whale_yes_price: int, later_yes: int) -> int:
    """How far the YES price moved in the whale's direction (1/10,000 $): + means the whale was right so far."""
    move = later_yes - whale_yes_price
    return move if taker_side == "yes" else -move


def mid(yes_bid: int | None, yes_ask: int | None) -> int | None:
    """The YES mid, rounded down to 1/10,000 $; None without both sides."""
    if yes_bid is None or yes_ask is None:
        return None
    return (yes_bid + yes_ask) // 2
