"""Kalshi's trading fees, in trading.units integers: the one fee function of the project,
used by the simulator's matching engine and by paper fills alike.

Kalshi's fee schedule charges a quadratic fee, coefficient x count x P x (1 - P), rounded
up to $0.0001 (1 contract taken @ 0.52 -> $0.017500, observed live, docs/kalshi/PROTOCOL.md 7):

* takers pay 0.07 on every series;
* makers pay 0.0175 on series whose fee type is ``quadratic_with_maker_fees`` (Kalshi's
  S&P and Nasdaq series, for example), nothing on ``quadratic`` ones.

Kalshi also runs a fee-rounding accumulator across an order's fills (not modelled: each
fill is rounded up on its own, which can overcharge by under $0.0001 a fill).
"""

from trading.units import ONE_DOLLAR

QUADRATIC = "quadratic"
QUADRATIC_WITH_MAKER_FEES = "quadratic_with_maker_fees"
FEE_TYPES = (QUADRATIC, QUADRATIC_WITH_MAKER_FEES)
# Kalshi's coefficients 0.07 and 0.0175, in units of 1/2,000 so both are integers.
TAKER_COEFFICIENT = 140
MAKER_COEFFICIENT = 35


def trade_fee(count: int, yes_price: int, *, taker: bool, fee_type: str = QUADRATIC) -> int:
    """Micro-dollars for ``count`` (1/100 contracts) traded at ``yes_price`` (1/10,000 $)."""
    if fee_type not in FEE_TYPES:
        raise ValueError(f"fee type {fee_type!r} is not one of {', '.join(FEE_TYPES)}")
    if not taker and fee_type != QUADRATIC_WITH_MAKER_FEES:
        return 0
    # coefficient x count x P x (1 - P) in these units is the fee in micro-dollars x 2e11;
    # rounding up to $0.0001 (100 micro-dollars) divides by 2e9 and multiplies back by 100.
    coefficient = TAKER_COEFFICIENT if taker else MAKER_COEFFICIENT
    exact = coefficient * count * yes_price * (ONE_DOLLAR - yes_price)
    return -(-exact // 2_000_000_000) * 100
