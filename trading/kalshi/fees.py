"""Kalshi's trading fees, in trading.units integers: the one fee formula of the project,
used by the simulator's matching engine and by paper fills alike.

Taker fee observed on Kalshi (docs/kalshi/PROTOCOL.md 7): 0.07 x count x P x (1 - P),
rounded up to $0.0001 (1 contract @ 0.52 -> $0.017500).
"""

from trading.units import ONE_DOLLAR


def taker_fee(count: int, yes_price: int) -> int:
    """Micro-dollars for ``count`` (1/100 contracts) taken at ``yes_price`` (1/10,000 $)."""
    # 7 x count x P x (1 - P) in these units is the fee in micro-dollars x 1e6; rounding up
    # to $0.0001 (100 micro-dollars) divides by 1e8 and multiplies back by 100.
    exact_times_1e8 = 7 * count * yes_price * (ONE_DOLLAR - yes_price)
    return -(-exact_times_1e8 // 100_000_000) * 100
