"""Kalshi's taker fee, rounded up to a hundredth of a cent as Kalshi charges it."""

import pytest

from trading.kalshi.fees import taker_fee
from trading.units import COUNT_SCALE


@pytest.mark.parametrize(
    ("contracts", "price", "fee"),
    [("1", 5200, 17_500), ("25", 4300, 429_000), ("10", 5000, 175_000), ("100", 100, 69_300)],
)
def test_taker_fee_rounds_up_to_a_hundredth_of_a_cent(contracts: str, price: int, fee: int):
    assert taker_fee(int(contracts) * COUNT_SCALE, price) == fee
