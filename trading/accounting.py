"""Position, cost and realized P&L of one market after a fill: pure integer math, the one
position arithmetic of the project (the execution side and the simulator's account both use it).

Conventions (Kalshi's, PROTOCOL.md 7 and the examples): the position is signed
contracts, + YES and - NO; ``cost`` is what the open contracts cost on their own
side (a NO contract bought by an ``ask`` at YES price p cost 1 - p), so it is the
market exposure and never negative. A fill against the position closes contracts
first and realizes (exit price - average cost) on them; the rest opens new ones.
Realized P&L is before fees; fees are kept apart, as Kalshi reports them.

Example (the protocol's scenario): ask 25 @ 0.43 opens 25 NO at 0.57 (cost 14.25);
bid 10 @ 0.44 sells 10 NO at 0.56, realizing 10 x (0.56 - 0.57) = -0.10, cost 8.55.
"""

from dataclasses import dataclass

from trading.units import ONE_DOLLAR


@dataclass(frozen=True, slots=True)
class PositionState:
    position: int = 0
    cost: int = 0
    realized_pnl: int = 0
    fees_paid: int = 0


@dataclass(frozen=True, slots=True)
class FillEffect:
    state: PositionState
    realized: int  # micro-dollars realized by this fill, before fees
    cash: int  # change of the cash balance, fees included


def apply_fill(state: PositionState, *, side: str, yes_price: int, count: int, fee: int) -> FillEffect:
    """``side`` is the fill's book side: ``bid`` bought YES, ``ask`` bought NO (sold YES)."""
    if side not in ("bid", "ask"):
        raise ValueError(f"fill side {side!r} is not bid or ask")
    buys_yes = side == "bid"
    # Price of the outcome this fill buys, and of the opposite one it may close.
    own_price = yes_price if buys_yes else ONE_DOLLAR - yes_price
    exit_price = ONE_DOLLAR - own_price
    held = -state.position if buys_yes else state.position  # contracts of the opposite outcome held
    closed = min(count, max(0, held))
    opened = count - closed
    cost = state.cost
    realized = 0
    if closed:
        released = cost if closed == held else cost * closed // held
        realized = exit_price * closed - released
        cost -= released
    cost += own_price * opened
    position = state.position + (count if buys_yes else -count)
    new_state = PositionState(
        position=position,
        cost=cost,
        realized_pnl=state.realized_pnl + realized,
        fees_paid=state.fees_paid + fee,
    )
    cash = exit_price * closed - own_price * opened - fee
    return FillEffect(new_state, realized, cash)


def apply_settlement(state: PositionState, *, result: str) -> FillEffect:
    """The market settled ``result`` (``yes`` or ``no``): each winning contract pays $1, the
    losing ones nothing; the whole position closes and realizes payout - cost."""
    if result not in ("yes", "no"):
        raise ValueError(f"settlement result {result!r} is not yes or no")
    won = state.position > 0 if result == "yes" else state.position < 0
    payout = abs(state.position) * ONE_DOLLAR if won else 0
    realized = payout - state.cost
    new_state = PositionState(position=0, cost=0, realized_pnl=state.realized_pnl + realized, fees_paid=state.fees_paid)
    return FillEffect(new_state, realized, payout)
