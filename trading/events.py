"""The one place that names browser-bound event types and builds their envelope.

Envelope (docs/architecture.md): ``{"type": str, "id": int, "ts": float, "data": {...}}``,
``ts`` in Unix seconds. Persisted events take their ``id`` from
``ActivityEvent.pk`` so a reconnecting browser can resume "after N"; transient
ones (``market``, ``ping``, ``connection``, ``history_replay``, ``history_page``) carry ``id`` 0
and are never replayed. Each broadcast is serialized once, here, and consumers
forward the finished text unchanged.
"""

import time
from typing import Any

import orjson

CONNECTION = "connection"
HISTORY_REPLAY = "history_replay"
# The rest of a replay too large for one message (dashboard.replay_pages).
HISTORY_PAGE = "history_page"
SYSTEM_ACTIVITY = "system_activity"
TRADER_STATUS = "trader_status"
TRADING_STATE = "trading_state"
WHALE_QUEUE = "whale_queue"
WHALE_PROCESSING = "whale_processing"
MARKET = "market"
PING = "ping"
ERROR = "error"
# The reply to one browser command (pause, subscribe_market, ...); sent to that browser only.
COMMAND_RESULT = "command_result"

TYPES = frozenset(
    {
        CONNECTION,
        HISTORY_REPLAY,
        HISTORY_PAGE,
        SYSTEM_ACTIVITY,
        TRADER_STATUS,
        TRADING_STATE,
        WHALE_QUEUE,
        WHALE_PROCESSING,
        MARKET,
        PING,
        ERROR,
        COMMAND_RESULT,
    }
)
# Kept in ActivityEvent and replayed to late joiners.
PERSISTED_TYPES = frozenset({SYSTEM_ACTIVITY, TRADER_STATUS, TRADING_STATE, WHALE_QUEUE, WHALE_PROCESSING})

# How much a ``system_activity`` line matters; the console colours it by this.
ACTIVITY_LEVELS = frozenset({"info", "warning", "error"})

# Every logged-in browser joins EVENTS_GROUP; market panels join market_group(ticker).
EVENTS_GROUP = "events"
BROADCAST = "broadcast"


MARKET_GROUP_PREFIX = "market."


def market_group(ticker: str) -> str:
    """Channels group names allow letters, digits, '-', '_' and '.', which covers Kalshi tickers."""
    return f"{MARKET_GROUP_PREFIX}{ticker}"


def activity(
    *, source: str, message: str, level: str = "info", details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The one shape of a ``system_activity`` payload: who said it (the console filters
    by it), how much it matters, the sentence a person reads, and the facts behind it."""
    if level not in ACTIVITY_LEVELS:
        raise ValueError(f"unknown activity level {level!r}; use one of {sorted(ACTIVITY_LEVELS)}")
    return {"source": source, "level": level, "message": message, "details": details or {}}


def envelope(event_type: str, data: dict[str, Any], *, event_id: int = 0, ts: float | None = None) -> str:
    """The finished JSON text of one event, ready to send to any number of browsers."""
    if event_type not in TYPES:
        raise ValueError(f"unknown event type {event_type!r}; add it to trading.events")
    return orjson.dumps(
        {"type": event_type, "id": event_id, "ts": time.time() if ts is None else ts, "data": data}
    ).decode()


def group_message(text: str, *, event_id: int = 0, market: str | None = None) -> dict[str, Any]:
    """The Channels group message that carries a finished envelope to consumers.

    The envelope's id and, for a ``market`` event, its ticker travel beside the text,
    so that a consumer can deduplicate and coalesce without parsing what was
    serialized once for every browser."""
    return {"type": BROADCAST, "text": text, "id": event_id, "market": market}
