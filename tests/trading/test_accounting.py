"""Position, cost, realized P&L and cash after fills, on the protocol's own example."""

import pytest

from trading.accounting import PositionState, apply_fill


def test_protocol_example_open_no_then_partly_close():
    # ask 25 @ 0.43 = buy 25 NO at 0.57, taker fee 0.429.
    first = apply_fill(PositionState(), side="ask", yes_price=4300, count=2500, fee=429_000)
    assert first.state == PositionState(position=-2500, cost=14_250_000, realized_pnl=0, fees_paid=429_000)
    assert first.cash == -14_250_000 - 429_000
    # bid 10 @ 0.44 = sell 10 NO at 0.56: realized 10 x (0.56 - 0.57) = -0.10; cost 15 x 0.57.
    second = apply_fill(first.state, side="bid", yes_price=4400, count=1000, fee=0)
    assert second.state == PositionState(position=-1500, cost=8_550_000, realized_pnl=-100_000, fees_paid=429_000)
    assert second.realized == -100_000
    assert second.cash == 5_600_000


def test_fill_through_zero_closes_then_opens_the_other_side():
    long_yes = apply_fill(PositionState(), side="bid", yes_price=4000, count=1000, fee=0).state
    flipped = apply_fill(long_yes, side="ask", yes_price=5000, count=1500, fee=0)
    # Sells 10 YES at 0.50 (+1.00 realized), then buys 5 NO at 0.50.
    assert flipped.realized == 1_000_000
    assert flipped.state.position == -500 and flipped.state.cost == 2_500_000
    assert flipped.cash == 5_000_000 - 2_500_000


def test_unknown_side_is_refused():
    with pytest.raises(ValueError, match="bid or ask"):
        apply_fill(PositionState(), side="yes", yes_price=4000, count=100, fee=0)
