"""Kalshi Trade API v2 REST wire schemas (PROTOCOL.md 8): the bodies the client
(trading.kalshi.rest) decodes, one msgspec struct per shape.

Every struct holds trading.units integers (``Price`` 1/10,000 $, ``Count`` 1/100
contracts, ``Money`` micro-dollars); a body that lacks a required field or has a
wrong type fails to decode rather than being half-read. Field names follow the
wire, except that unit-suffixed fields drop the suffix. The WebSocket schemas,
whose ``Level``, ``PriceRange`` and side types these share, are trading.kalshi.messages.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import msgspec

from trading.kalshi.fields import Count, Money, Price, json_decoder
from trading.kalshi.messages import BookSide, Level, PriceRange, Side
from trading.units import ONE_DOLLAR


class _Model(msgspec.Struct, kw_only=True, gc=False):
    pass


class Market(_Model, kw_only=True):
    ticker: str
    event_ticker: str
    market_type: str
    title: str = ""
    subtitle: str = ""
    yes_sub_title: str
    no_sub_title: str
    status: str
    created_time: datetime
    updated_time: datetime
    open_time: datetime
    close_time: datetime
    latest_expiration_time: datetime
    expected_expiration_time: datetime | None = None
    settlement_timer_seconds: int
    yes_bid: Price = msgspec.field(name="yes_bid_dollars")
    yes_bid_size: Count = msgspec.field(name="yes_bid_size_fp")
    yes_ask: Price = msgspec.field(name="yes_ask_dollars")
    yes_ask_size: Count = msgspec.field(name="yes_ask_size_fp")
    no_bid: Price = msgspec.field(name="no_bid_dollars")
    no_ask: Price = msgspec.field(name="no_ask_dollars")
    last_price: Price = msgspec.field(name="last_price_dollars")
    previous_yes_bid: Price = msgspec.field(name="previous_yes_bid_dollars")
    previous_yes_ask: Price = msgspec.field(name="previous_yes_ask_dollars")
    previous_price: Price = msgspec.field(name="previous_price_dollars")
    volume: Count = msgspec.field(name="volume_fp")
    volume_24h: Count = msgspec.field(name="volume_24h_fp")
    open_interest: Count = msgspec.field(name="open_interest_fp")
    notional_value: Price = msgspec.field(name="notional_value_dollars")
    result: str
    can_close_early: bool
    settlement_bounds_type: str
    expiration_value: str
    rules_primary: str
    rules_secondary: str
    price_level_structure: str
    price_ranges: list[PriceRange]
    strike_type: str | None = None
    floor_strike: float | None = None
    cap_strike: float | None = None
    exchange_index: int | None = None


class MarketsPage(_Model, kw_only=True):
    markets: list[Market]
    cursor: str = ""


class MarketResponse(_Model, kw_only=True):
    market: Market


class Orderbook(_Model, kw_only=True):
    """REST book: ascending levels, best last; NO bids at NO prices (PROTOCOL 8)."""

    yes: list[Level] = msgspec.field(default_factory=list, name="yes_dollars")
    no: list[Level] = msgspec.field(default_factory=list, name="no_dollars")


class OrderbookResponse(_Model, kw_only=True):
    orderbook: Orderbook = msgspec.field(name="orderbook_fp")


class PublicTrade(_Model, kw_only=True):
    trade_id: str
    ticker: str
    count: Count = msgspec.field(name="count_fp")
    yes_price: Price = msgspec.field(name="yes_price_dollars")
    no_price: Price = msgspec.field(name="no_price_dollars")
    taker_outcome_side: Side
    taker_book_side: BookSide
    created_time: datetime
    is_block_trade: bool


class TradesPage(_Model, kw_only=True):
    trades: list[PublicTrade]
    cursor: str = ""


class Balance(_Model, kw_only=True):
    balance_cents: int = msgspec.field(name="balance")  # truncated to the cent
    cash: Money = msgspec.field(name="balance_dollars")  # exact
    portfolio_value_cents: int = msgspec.field(name="portfolio_value")
    updated_ts: int


class MarketPosition(_Model, kw_only=True):
    ticker: str
    exchange_index: int
    position: Count = msgspec.field(name="position_fp")  # + YES, - NO
    total_traded: Money = msgspec.field(name="total_traded_dollars")
    market_exposure: Money = msgspec.field(name="market_exposure_dollars")
    realized_pnl: Money = msgspec.field(name="realized_pnl_dollars")
    fees_paid: Money = msgspec.field(name="fees_paid_dollars")
    last_updated_ts: datetime  # RFC 3339 despite the name
    resting_orders_count: int | None = None


class EventPosition(_Model, kw_only=True):
    event_ticker: str
    total_cost: Money = msgspec.field(name="total_cost_dollars")
    total_cost_shares: Count = msgspec.field(name="total_cost_shares_fp")
    event_exposure: Money = msgspec.field(name="event_exposure_dollars")
    realized_pnl: Money = msgspec.field(name="realized_pnl_dollars")
    fees_paid: Money = msgspec.field(name="fees_paid_dollars")


class PositionsPage(_Model, kw_only=True):
    market_positions: list[MarketPosition] = []
    event_positions: list[EventPosition] = []
    cursor: str = ""


@dataclass(frozen=True)
class Positions:
    market_positions: list[MarketPosition]
    event_positions: list[EventPosition]


class Order(_Model, kw_only=True):
    order_id: str
    user_id: str
    client_order_id: str
    ticker: str
    outcome_side: Side
    book_side: BookSide
    type: str
    status: Literal["resting", "canceled", "executed"]
    yes_price: Price = msgspec.field(name="yes_price_dollars")
    no_price: Price = msgspec.field(name="no_price_dollars")
    fill_count: Count = msgspec.field(name="fill_count_fp")
    remaining_count: Count = msgspec.field(name="remaining_count_fp")
    initial_count: Count = msgspec.field(name="initial_count_fp")
    taker_fill_cost: Money = msgspec.field(name="taker_fill_cost_dollars")
    maker_fill_cost: Money = msgspec.field(name="maker_fill_cost_dollars")
    taker_fees: Money = msgspec.field(name="taker_fees_dollars")
    maker_fees: Money = msgspec.field(name="maker_fees_dollars")
    created_time: datetime | None = None
    last_update_time: datetime | None = None
    expiration_time: datetime | None = None
    self_trade_prevention_type: str | None = None
    order_group_id: str | None = None
    cancel_order_on_pause: bool | None = None
    subaccount_number: int | None = None
    exchange_index: int | None = None


class OrdersPage(_Model, kw_only=True):
    orders: list[Order]
    cursor: str = ""


class OrderResponse(_Model, kw_only=True):
    order: Order


class OrderAck(_Model, kw_only=True):
    """CreateOrderV2's flat answer (PROTOCOL 8). ``recovered``: not from the create
    answer but from looking the order up after a retry found it already placed."""

    order_id: str
    client_order_id: str = ""
    fill_count: Count
    remaining_count: Count
    average_fill_price: Price | None = None
    average_fee_paid: Money | None = None
    ts_ms: int | None = None
    recovered: bool = False

    @classmethod
    def from_order(cls, order: Order) -> "OrderAck":
        return cls(
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            fill_count=order.fill_count,
            remaining_count=order.remaining_count,
            recovered=True,
        )


class CancelAck(_Model, kw_only=True):
    order_id: str
    client_order_id: str | None = None
    reduced_by: Count
    ts_ms: int


class Fill(_Model, kw_only=True):
    fill_id: str
    trade_id: str
    order_id: str
    ticker: str
    market_ticker: str
    exchange_index: int
    outcome_side: Side
    book_side: BookSide
    count: Count = msgspec.field(name="count_fp")
    yes_price: Price = msgspec.field(name="yes_price_dollars")
    no_price: Price = msgspec.field(name="no_price_dollars")
    is_taker: bool
    fee: Money = msgspec.field(name="fee_cost")
    created_time: datetime | None = None
    ts: int | None = None
    subaccount_number: int | None = None


class FillsPage(_Model, kw_only=True):
    fills: list[Fill]
    cursor: str = ""


class Settlement(_Model, kw_only=True):
    """A market the account held settled (``GET /portfolio/settlements``)."""

    ticker: str
    event_ticker: str
    exchange_index: int = 0
    market_result: str  # yes, no, scalar
    yes_count: Count = msgspec.field(name="yes_count_fp")
    yes_total_cost: Money = msgspec.field(name="yes_total_cost_dollars")
    no_count: Count = msgspec.field(name="no_count_fp")
    no_total_cost: Money = msgspec.field(name="no_total_cost_dollars")
    revenue_cents: int = msgspec.field(name="revenue")  # whole cents: $1 per winning contract
    settled_time: datetime
    fee_cost: Money
    value: int | None = None  # cents one YES contract paid

    @property
    def payout(self) -> int:
        """Micro-dollars paid: the winning side's contracts at $1 (exact, unlike the cents)."""
        won = self.yes_count if self.market_result == "yes" else self.no_count if self.market_result == "no" else 0
        return won * ONE_DOLLAR

    @property
    def cost(self) -> int:
        return self.yes_total_cost + self.no_total_cost


class SettlementsPage(_Model, kw_only=True):
    settlements: list[Settlement]
    cursor: str = ""


class ExchangeStatus(_Model, kw_only=True):
    exchange_active: bool
    trading_active: bool  # False: new orders are refused (cancels still go)
    exchange_estimated_resume_time: datetime | None = None


class DailySchedule(_Model, kw_only=True):
    open_time: str  # HH:MM, Eastern Time
    close_time: str


class WeeklySchedule(_Model, kw_only=True):
    start_time: datetime
    end_time: datetime
    monday: list[DailySchedule]
    tuesday: list[DailySchedule]
    wednesday: list[DailySchedule]
    thursday: list[DailySchedule]
    friday: list[DailySchedule]
    saturday: list[DailySchedule]
    sunday: list[DailySchedule]


class MaintenanceWindow(_Model, kw_only=True):
    start_datetime: datetime
    end_datetime: datetime


class Schedule(_Model, kw_only=True):
    standard_hours: list[WeeklySchedule]
    maintenance_windows: list[MaintenanceWindow]


class ScheduleResponse(_Model, kw_only=True):
    schedule: Schedule


class Event(_Model, kw_only=True):
    event_ticker: str
    series_ticker: str
    sub_title: str
    title: str
    collateral_return_type: str
    mutually_exclusive: bool
    strike_date: datetime | None = None
    strike_period: str | None = None
    markets: list[Market] | None = None  # only with ``with_nested_markets=true``
    exchange_index: int | None = None


class EventsPage(_Model, kw_only=True):
    events: list[Event]
    cursor: str = ""


class EventResponse(_Model, kw_only=True):
    event: Event
    markets: list[Market] = []


class Series(_Model, kw_only=True):
    ticker: str
    frequency: str
    title: str
    category: str
    categories: list[str] = []
    contract_url: str
    contract_terms_url: str
    fee_type: str  # trading.kalshi.fees names the ones the project can charge
    fee_multiplier: float


class SeriesList(_Model, kw_only=True):
    series: list[Series]


class SeriesResponse(_Model, kw_only=True):
    series: Series


class AmendAck(_Model, kw_only=True):
    """AmendOrderV2's answer: the order after the amend (counts may be absent)."""

    order_id: str
    client_order_id: str = ""
    fill_count: Count | None = None
    remaining_count: Count | None = None
    average_fill_price: Price | None = None
    average_fee_paid: Money | None = None
    ts_ms: int


class DecreaseAck(_Model, kw_only=True):
    order_id: str
    client_order_id: str = ""
    remaining_count: Count
    ts_ms: int


class BatchError(_Model, kw_only=True):
    """One refused item of a batch (Kalshi's ``ErrorResponse``)."""

    code: str = ""
    message: str = ""
    details: str = ""


class BatchCreated(_Model, kw_only=True):
    """One slot of a batch create: the order's ack, or ``error``."""

    order_id: str | None = None
    client_order_id: str | None = None
    fill_count: Count | None = None
    remaining_count: Count | None = None
    average_fill_price: Price | None = None
    average_fee_paid: Money | None = None
    ts_ms: int | None = None
    error: BatchError | None = None


class BatchCreateResponse(_Model, kw_only=True):
    orders: list[BatchCreated]


class BatchCanceled(_Model, kw_only=True):
    """One slot of a batch cancel: what was canceled, or ``error`` (an order already dead, say)."""

    order_id: str
    client_order_id: str | None = None
    reduced_by: Count
    ts_ms: int | None = None
    error: BatchError | None = None


class BatchCancelResponse(_Model, kw_only=True):
    orders: list[BatchCanceled]


# One decoder per response body the client reads, made once and reused by every request.
DECODERS: dict[type, msgspec.json.Decoder[Any]] = {
    model: json_decoder(model)
    for model in (
        MarketsPage,
        MarketResponse,
        OrderbookResponse,
        TradesPage,
        Balance,
        PositionsPage,
        OrdersPage,
        OrderResponse,
        OrderAck,
        CancelAck,
        FillsPage,
        SettlementsPage,
        ExchangeStatus,
        ScheduleResponse,
        EventsPage,
        EventResponse,
        SeriesList,
        SeriesResponse,
        AmendAck,
        DecreaseAck,
        BatchCreateResponse,
        BatchCancelResponse,
    )
}
