"""Kalshi's fees, rounded up to a hundredth of a cent as Kalshi charges them: takers on
every series, makers only on series whose fee type has maker fees."""

import pytest

from trading.kalshi.fees import QUADRATIC, QUADRATIC_WITH_MAKER_FEES, trade_fee
from trading.units import COUNT_SCALE


@pytest.mark.parametrize(
    ("contracts", "price", "fee"),
    [("1", 5200, 17_500), ("25", 4300, 429_000), ("10", 5000, 175_000), ("100", 100, 69_300)],
)
def test_taker_fee_rounds_up_to_a_hundredth_of_a_cent(contracts: str, price: int, fee: int):
    assert trade_fee(int(contracts) * COUNT_SCALE, price, taker=True) == fee
    assert trade_fee(int(contracts) * COUNT_SCALE, price, taker=True, fee_type=QUADRATIC_WITH_MAKER_FEES) == fee


@pytest.mark.parametrize(("contracts", "price", "fee"), [("1", 5000, 4_400), ("25", 4300, 107_300)])
def test_maker_fee_is_a_quarter_of_the_taker_coefficient_on_maker_fee_series(contracts: str, price: int, fee: int):
    assert trade_fee(int(contracts) * COUNT_SCALE, price, taker=False, fee_type=QUADRATIC_WITH_MAKER_FEES) == fee
    assert trade_fee(int(contracts) * COUNT_SCALE, price, taker=False, fee_type=QUADRATIC) == 0


def test_unknown_fee_type_is_refused():
    with pytest.raises(ValueError, match="flat"):
        trade_fee(100, 5000, taker=True, fee_type="flat")
