"""What the simulator's matching engine keeps and tells: the account's orders, fills and
positions, the resting entries of its queues, and the events the server drains and turns
into Kalshi wire messages (trading.simulator.wire). Units are trading.units integers."""

import time
from dataclasses import dataclass, field

from trading.orderbook import NO, YES
from trading.units import ONE_DOLLAR

BID = "bid"
ASK = "ask"
TIME_IN_FORCE = ("good_till_canceled", "immediate_or_cancel", "fill_or_kill")
SELF_TRADE_PREVENTION = ("taker_at_cross", "maker")
RESTING, CANCELED, EXECUTED = "resting", "canceled", "executed"
USER_ID = "3f8b2c1a-9d4e-4f6a-b2c7-8e1d0a5f4c92"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class OrderRejected(Exception):
    """A create or cancel refused by the exchange: HTTP status, Kalshi error code, optional details."""

    def __init__(self, status: int, code: str, details: str = "") -> None:
        super().__init__(code)
        self.status, self.code, self.details = status, code, details


@dataclass(slots=True, eq=False)
class SimOrder:
    order_id: str
    client_order_id: str
    ticker: str
    book_side: str
    price: int  # YES price
    initial: int
    time_in_force: str
    self_trade_prevention_type: str
    created_ms: int
    remaining: int = 0
    filled: int = 0
    status: str = RESTING
    taker_fill_cost: int = 0
    maker_fill_cost: int = 0
    taker_fees: int = 0
    maker_fees: int = 0
    filled_yes_notional: int = 0
    last_update_ms: int = 0
    last_update_reason: str = ""
    expiration_time: int | None = None
    cancel_order_on_pause: bool = False
    subaccount: int = 0

    @property
    def outcome_side(self) -> str:
        return YES if self.book_side == BID else NO

    @property
    def book_key(self) -> tuple[str, int]:
        """Where the order rests: bids at YES prices on ``yes``, asks as NO bids at NO prices on ``no``."""
        return (YES, self.price) if self.book_side == BID else (NO, ONE_DOLLAR - self.price)


@dataclass(slots=True)
class SimFill:
    trade_id: str
    order_id: str
    client_order_id: str
    ticker: str
    book_side: str
    yes_price: int
    count: int
    is_taker: bool
    fee: int
    ts_ms: int
    post_position: int

    @property
    def outcome_side(self) -> str:
        return YES if self.book_side == BID else NO


@dataclass(slots=True)
class SimPosition:
    ticker: str
    event_ticker: str
    position: int = 0  # + YES, - NO, count units
    cost: int = 0  # micro-dollars paid for the open position, in its own side's prices
    realized_pnl: int = 0
    fees_paid: int = 0
    total_traded: int = 0
    volume: int = 0
    last_updated_ms: int = 0


@dataclass(slots=True)
class SimSettlement:
    """The account's position in a market paid out at settlement (Kalshi's ``Settlement``)."""

    ticker: str
    event_ticker: str
    result: str  # yes or no
    yes_count: int
    yes_total_cost: int
    no_count: int
    no_total_cost: int
    revenue: int  # micro-dollars paid: $1 per winning contract
    fee_cost: int  # micro-dollars of fees paid trading the market
    settled_ms: int


@dataclass(slots=True, eq=False)
class Entry:
    order: SimOrder | None  # None: another participant's order
    size: int


# Events, drained by the server.
@dataclass(slots=True)
class BookDelta:
    ticker: str
    side: str
    price: int
    delta: int
    ts_ms: int
    client_order_id: str | None = None


@dataclass(slots=True)
class SimTrade:
    trade_id: str
    ticker: str
    yes_price: int
    count: int
    taker_outcome_side: str
    ts_ms: int


@dataclass(slots=True)
class OrderChanged:
    order: SimOrder


@dataclass(slots=True)
class FillMade:
    fill: SimFill


@dataclass(slots=True)
class PositionChanged:
    position: SimPosition


@dataclass(slots=True)
class LifecycleChanged:
    """A ``market_lifecycle_v2`` event: ``created``, ``close_date_updated``, ``determined``, ``settled``."""

    ticker: str
    event_type: str
    ts: int  # Unix seconds of what happened


Event = BookDelta | SimTrade | OrderChanged | FillMade | PositionChanged | LifecycleChanged


@dataclass
class Account:
    balance: int  # micro-dollars
    orders: dict[str, SimOrder] = field(default_factory=dict)
    client_order_ids: set[str] = field(default_factory=set)
    fills: list[SimFill] = field(default_factory=list)
    positions: dict[str, SimPosition] = field(default_factory=dict)
    settlements: list[SimSettlement] = field(default_factory=list)
    updated_ms: int = field(default_factory=now_ms)
