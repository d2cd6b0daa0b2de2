"""Typed Kalshi WebSocket messages (PROTOCOL.md 5-6) and the client's commands (4).

``parse(frame)`` turns one server text frame into one of the structs below, or
raises ``ParseError``. Field names follow the wire, except that unit-suffixed
fields drop the suffix because they hold trading.units integers: ``price_dollars``
-> ``price`` (1/10,000 $), ``delta_fp`` / ``count_fp`` -> ``delta`` / ``count``
(1/100 contracts), cost and fee strings -> micro-dollars. Deprecated duplicates
(``ts``, ``time``, ``side``/``action``/``taker_side``) are not kept. Unknown
fields are ignored and a trailing newline is fine, as the protocol asks.

Decoding is one msgspec pass over a union tagged by ``type``, so the feed's hot
path (order-book deltas) costs about a microsecond and a half a frame.
"""

from typing import Any, Literal

import msgspec
import orjson

from trading.exchange import BookSide
from trading.kalshi.fields import Count, Money, Price, json_decoder

Side = Literal["yes", "no"]

# PROTOCOL.md 5, error codes, in our words: surfaced with every error reply.
ERROR_MEANINGS: dict[int, str] = {
    1: "frame could not be processed (not JSON, or a field of the wrong type)",
    2: "params missing",
    3: "channels missing or empty in subscribe",
    4: "sids missing in unsubscribe",
    5: "unknown command",
    6: "already subscribed (retired code)",
    7: "unknown subscription id",
    8: "unknown channel name",
    9: "channel or action needs authentication or access not granted",
    10: "channel error: the subscription is gone, resubscribe",
    11: "invalid parameter value",
    12: "update_subscription needs exactly one sid",
    13: "action not supported by this subscription",
    14: "market required (no market_ticker(s) or market_id(s))",
    15: "action missing in update_subscription",
    16: "market not found (retired code)",
    17: "internal error (retired code)",
    18: "server timed out routing the command",
    19: "shard_factor or shard_key invalid",
    20: "shard_factor or shard_key invalid",
    21: "shard_factor or shard_key invalid",
    22: "shard_factor or shard_key invalid",
    23: "match ids required",
    24: "index ids required",
    25: "subscription outbound buffer overflowed: the subscription is gone, resubscribe and read faster",
    26: "per-subscription market limit exceeded",
    27: "too many commands on this subscription",
    28: "underlying tickers required",
}
# Codes after which the server has dropped the subscription: the client resubscribes.
TERMINAL_ERROR_CODES = frozenset({10, 25})


class ParseError(ValueError):
    """A frame that is not a valid message. ``type``/``sid``/``seq`` are set when the
    envelope could still be read, so the client can keep its sequence accounting."""

    def __init__(self, message: str, *, type: str | None = None, sid: int | None = None, seq: int | None = None):
        super().__init__(message)
        self.type = type
        self.sid = sid
        self.seq = seq


class UnknownMessageType(ParseError):
    """A well-formed frame of a type this client does not model."""


class _Struct(msgspec.Struct, kw_only=True, gc=False):
    pass


class _Message(_Struct, tag_field="type"):
    pass


# ---- replies (5) ------------------------------------------------------------------


class SubscriptionInfo(_Struct, kw_only=True):
    channel: str
    sid: int


class Subscribed(_Message, tag="subscribed", kw_only=True):
    id: int = 0
    msg: SubscriptionInfo


class Unsubscribed(_Message, tag="unsubscribed", kw_only=True):
    id: int = 0
    sid: int
    seq: int | None = None


class OkMarkets(_Struct, kw_only=True):
    market_tickers: list[str] = []
    market_ids: list[str] = []


class Ok(_Message, tag="ok", kw_only=True):
    """Reply to update_subscription (``msg`` = the market list, or ``market_tickers`` at
    top level as one capture saw) or to list_subscriptions (``msg`` = a list)."""

    id: int = 0
    sid: int | None = None
    seq: int | None = None
    msg: OkMarkets | list[SubscriptionInfo] | None = None
    market_tickers: list[str] | None = None

    @property
    def tickers(self) -> list[str]:
        if isinstance(self.msg, OkMarkets) and self.msg.market_tickers:
            return self.msg.market_tickers
        return self.market_tickers or []

    @property
    def subscriptions(self) -> list[SubscriptionInfo]:
        return self.msg if isinstance(self.msg, list) else []


class ErrorInfo(_Struct, kw_only=True):
    code: int
    msg: str = ""
    market_ticker: str | None = None
    market_tickers: list[str] | None = None


class Error(_Message, tag="error", kw_only=True):
    """An error reply to command ``id``, or (with ``sid``) about a live subscription."""

    id: int = 0
    sid: int | None = None
    seq: int | None = None
    msg: ErrorInfo

    @property
    def code(self) -> int:
        return self.msg.code

    @property
    def meaning(self) -> str:
        return ERROR_MEANINGS.get(self.msg.code, self.msg.msg or "unknown error code")


# ---- market data (6.1-6.3) ----------------------------------------------------------------

Level = tuple[Price, Count]


class SnapshotBody(_Struct, kw_only=True):
    market_ticker: str
    market_id: str = ""
    # A side with no resting orders is absent on the wire, not [].
    yes: list[Level] = msgspec.field(default_factory=list, name="yes_dollars_fp")
    no: list[Level] = msgspec.field(default_factory=list, name="no_dollars_fp")


class OrderbookSnapshot(_Message, tag="orderbook_snapshot", kw_only=True):
    sid: int
    seq: int
    id: int = 0  # set when this answers a get_snapshot command
    msg: SnapshotBody


class DeltaBody(_Struct, kw_only=True):
    market_ticker: str
    market_id: str = ""
    price: Price = msgspec.field(name="price_dollars")
    delta: Count = msgspec.field(name="delta_fp")  # signed change of the resting size
    side: Side
    ts_ms: int | None = None
    client_order_id: str | None = None
    subaccount: int | None = None


class OrderbookDelta(_Message, tag="orderbook_delta", kw_only=True):
    sid: int
    seq: int
    msg: DeltaBody


class TradeBody(_Struct, kw_only=True):
    trade_id: str
    market_ticker: str
    yes_price: Price = msgspec.field(name="yes_price_dollars")
    no_price: Price = msgspec.field(name="no_price_dollars")
    count: Count = msgspec.field(name="count_fp")
    taker_outcome_side: Side
    taker_book_side: BookSide
    is_block_trade: bool = False
    ts_ms: int


class Trade(_Message, tag="trade", kw_only=True):
    sid: int
    seq: int | None = None  # newer than the rest of the spec: tolerate its absence
    msg: TradeBody


class TickerBody(_Struct, kw_only=True):
    market_ticker: str
    market_id: str = ""
    price: Price | None = msgspec.field(default=None, name="price_dollars")  # last trade
    yes_bid: Price | None = msgspec.field(default=None, name="yes_bid_dollars")
    yes_ask: Price | None = msgspec.field(default=None, name="yes_ask_dollars")
    yes_bid_size: Count | None = msgspec.field(default=None, name="yes_bid_size_fp")
    yes_ask_size: Count | None = msgspec.field(default=None, name="yes_ask_size_fp")
    last_trade_size: Count | None = msgspec.field(default=None, name="last_trade_size_fp")
    volume: Count | None = msgspec.field(default=None, name="volume_fp")
    open_interest: Count | None = msgspec.field(default=None, name="open_interest_fp")
    dollar_volume: int | None = None  # whole dollars
    dollar_open_interest: int | None = None  # whole dollars
    ts_ms: int


class Ticker(_Message, tag="ticker", kw_only=True):
    sid: int
    msg: TickerBody


# ---- private channels (6.4-6.6) ---------------------------------------------------------


class FillBody(_Struct, kw_only=True):
    trade_id: str
    order_id: str
    market_ticker: str
    exchange_index: int = 0
    is_taker: bool
    yes_price: Price = msgspec.field(name="yes_price_dollars")
    count: Count = msgspec.field(name="count_fp")
    fee: Money = msgspec.field(name="fee_cost")
    outcome_side: Side
    book_side: BookSide
    post_position: Count | None = msgspec.field(default=None, name="post_position_fp")  # + YES, - NO
    ts_ms: int
    client_order_id: str | None = None
    subaccount: int | None = None


class UserFill(_Message, tag="fill", kw_only=True):
    sid: int
    msg: FillBody


class UserOrderBody(_Struct, kw_only=True):
    order_id: str
    user_id: str
    ticker: str
    exchange_index: int = 0
    status: Literal["resting", "canceled", "executed", "unknown"]
    outcome_side: Side
    book_side: BookSide
    yes_price: Price = msgspec.field(name="yes_price_dollars")
    fill_count: Count = msgspec.field(name="fill_count_fp")
    remaining_count: Count = msgspec.field(name="remaining_count_fp")
    initial_count: Count = msgspec.field(name="initial_count_fp")
    taker_fill_cost: Money = msgspec.field(name="taker_fill_cost_dollars")
    maker_fill_cost: Money = msgspec.field(name="maker_fill_cost_dollars")
    taker_fees: Money = msgspec.field(name="taker_fees_dollars")
    maker_fees: Money = msgspec.field(name="maker_fees_dollars")
    client_order_id: str = ""
    created_ts_ms: int | None = None
    last_updated_ts_ms: int | None = None
    last_update_reason: str | None = None
    expiration_ts_ms: int | None = None
    self_trade_prevention_type: str | None = None
    order_group_id: str | None = None
    subaccount_number: int | None = None


class UserOrder(_Message, tag="user_order", kw_only=True):
    sid: int
    msg: UserOrderBody


class MarketPositionBody(_Struct, kw_only=True):
    user_id: str
    market_ticker: str
    position: Count = msgspec.field(name="position_fp")  # signed net: + YES, - NO
    position_cost: Money = msgspec.field(name="position_cost_dollars")
    realized_pnl: Money = msgspec.field(name="realized_pnl_dollars")
    fees_paid: Money = msgspec.field(name="fees_paid_dollars")
    position_fee_cost: Money = msgspec.field(name="position_fee_cost_dollars")
    volume: Count = msgspec.field(name="volume_fp")
    subaccount: int | None = None


class MarketPosition(_Message, tag="market_position", kw_only=True):
    sid: int
    msg: MarketPositionBody


# ---- lifecycle (6.7) ----------------------------------------------------------------


class PriceRange(_Struct, kw_only=True):
    start: Price
    end: Price
    step: Price


class MarketLifecycleBody(_Struct, kw_only=True):
    market_ticker: str
    event_type: str  # created, activated, deactivated, close_date_updated, determined, settled, ...
    exchange_index: int | None = None
    open_ts: int | None = None
    close_ts: int | None = None
    determination_ts: int | None = None
    settled_ts: int | None = None
    result: str | None = None
    settlement_value: Price | None = None
    is_deactivated: bool | None = None
    additional_metadata: dict[str, Any] | None = None
    price_level_structure: str | None = None
    price_ranges: list[PriceRange] | None = None


class MarketLifecycle(_Message, tag="market_lifecycle_v2", kw_only=True):
    sid: int
    seq: int | None = None
    msg: MarketLifecycleBody


class EventLifecycleBody(_Struct, kw_only=True):
    event_ticker: str
    exchange_index: int | None = None
    title: str = ""
    subtitle: str = ""
    collateral_return_type: str = ""
    series_ticker: str = ""
    strike_date: int | None = None
    strike_period: str | None = None


class EventLifecycle(_Message, tag="event_lifecycle", kw_only=True):
    sid: int
    seq: int | None = None
    msg: EventLifecycleBody


class EventFeeUpdate(_Message, tag="event_fee_update", kw_only=True):
    """A series' fee schedule changed (on the lifecycle channel). The project charges the one
    schedule of trading.kalshi.fees, so the body is kept as sent, unread; the client counts it."""

    sid: int
    seq: int | None = None
    msg: dict[str, Any]


class MultivariateLifecycle(_Message, tag="multivariate_market_lifecycle", kw_only=True):
    """A multivariate (``KXMVE*``) market's lifecycle (PROTOCOL.md 10): the project trades no
    such markets, so the body is kept as sent, unread; the client counts it."""

    sid: int
    seq: int | None = None
    msg: dict[str, Any]


ServerMessage = (
    Subscribed
    | Unsubscribed
    | Ok
    | Error
    | OrderbookSnapshot
    | OrderbookDelta
    | Trade
    | Ticker
    | UserFill
    | UserOrder
    | MarketPosition
    | MarketLifecycle
    | EventLifecycle
    | EventFeeUpdate
    | MultivariateLifecycle
)
MESSAGE_TYPES: dict[str, type] = {cls.__struct_config__.tag: cls for cls in ServerMessage.__args__}
# Messages that belong to a subscription and carry data (not replies to commands).
DATA_TYPES = (
    OrderbookSnapshot,
    OrderbookDelta,
    Trade,
    Ticker,
    UserFill,
    UserOrder,
    MarketPosition,
    MarketLifecycle,
    EventLifecycle,
)
PRIVATE_TYPES = (UserFill, UserOrder, MarketPosition)
# Known messages the client reads for their sequence numbers only, counts and does not deliver.
IGNORED_TYPES = (EventFeeUpdate, MultivariateLifecycle)


class _Envelope(msgspec.Struct, gc=False):
    type: str = ""
    sid: int | None = None
    seq: int | None = None


_decode = json_decoder(ServerMessage).decode
_decode_envelope = msgspec.json.Decoder(_Envelope).decode


def parse(frame: bytes | str) -> ServerMessage:
    """One server frame -> its typed message; ``ParseError`` (never anything else) when it is not one."""
    try:
        return _decode(frame)
    except msgspec.DecodeError as exc:
        raise _diagnose(frame, exc) from None


def _diagnose(frame: bytes | str, exc: msgspec.DecodeError) -> ParseError:
    try:
        envelope = _decode_envelope(frame)
    except msgspec.DecodeError:
        return ParseError(f"malformed frame ({exc}): {_excerpt(frame)}")
    if envelope.type not in MESSAGE_TYPES:
        return UnknownMessageType(
            f"unknown message type {envelope.type!r}", type=envelope.type, sid=envelope.sid, seq=envelope.seq
        )
    return ParseError(
        f"invalid {envelope.type} message ({exc}): {_excerpt(frame)}",
        type=envelope.type,
        sid=envelope.sid,
        seq=envelope.seq,
    )


def _excerpt(frame: bytes | str) -> str:
    text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
    return repr(text[:200])


# ---- commands (4) -------------------------------------------------------------------


def command(id: int, cmd: str, params: dict[str, Any] | None = None) -> bytes:
    """One client command frame; ``params`` omitted when None (list_subscriptions)."""
    body: dict[str, Any] = {"id": id, "cmd": cmd}
    if params is not None:
        body["params"] = params
    return orjson.dumps(body)


def subscribe_params(channels: list[str], market_tickers: list[str] | None = None, **options: Any) -> dict[str, Any]:
    """``subscribe`` params: one market goes as ``market_ticker``, several as ``market_tickers``."""
    params: dict[str, Any] = {"channels": list(channels)}
    if market_tickers:
        if len(market_tickers) == 1:
            params["market_ticker"] = market_tickers[0]
        else:
            params["market_tickers"] = list(market_tickers)
    params.update(options)
    return params
