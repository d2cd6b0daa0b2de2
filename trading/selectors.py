"""The reads that are more than a one-line query: what browsers are sent (the history
replay, the whale queue, the trading state) and what the feed runner's status is
(its heartbeat and latest report). Writes are services; these never write.

History replay (docs/architecture.md, "Message types to the browser"): a browser
that connects gets the recent past in one ``history_replay`` event: state
transitions, recent activity, the whale queue and the latest ``trading_state`` /
``trader_status``. A browser that reconnects with the last event id it saw gets
every persisted event after it instead of "recent activity", so it misses
nothing; when the history no longer holds what it missed, it gets a fresh
replay marked ``gap`` instead.
"""

import functools
import time
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Sum

from trading import events
from trading.execution.risk import ACCOUNT, start_of_day
from trading.health import ComponentHealth, Criticality
from trading.models import (
    ActivityEvent,
    FeedHeartbeat,
    Fill,
    MarketWatch,
    Order,
    Position,
    RiskAccount,
    Settlement,
    StateTransition,
    WhaleDecision,
    WhaleTrade,
)

# The status history panel shows at least the last 20 transitions; 50 fill it.
TRANSITIONS = 50
# A fresh browser's console starts with this many activity lines.
RECENT_ACTIVITY = 200
# A resuming browser gets at most this many missed events in one replay; more
# means it was away for long, so it gets a fresh replay marked ``gap`` rather
# than holding the socket on a huge catch-up (which goes out in pages even so).
MAX_RESUME = 5_000
# Decided or failed whales shown after the waiting ones: the latest few.
RECENT_WHALES = 30
# Waiting whales (queued or processing) shown at most, newest first: the dashboard keeps
# 100 whale rows, so more would never be seen, and a backlog of thousands made every
# whale_queue event (one per decision) read and serialize them all, which slowed the
# workers further (bench/decisions.py at 20 whales/s). The total is sent as ``waiting``.
WAITING_WHALES = 100
# Settlements of held positions sent with the trading state: the dashboard lists the latest
# few beside the positions; ten cover a demo's hour without growing every trading_state event.
RECENT_SETTLEMENTS = 10

PROTOCOL_VERSION = 1

# A feed runner status older than this many reporting intervals means the runner is gone or stuck.
STALE_INTERVALS = 3


def event_dict(event: ActivityEvent) -> dict[str, Any]:
    """An ActivityEvent as the envelope the browser received live (same id, ts, data)."""
    return {"type": event.type, "id": event.pk, "ts": event.ts, "data": event.data}


def transition_dict(transition: StateTransition) -> dict[str, Any]:
    return {
        "id": transition.pk,
        "from": transition.from_state,
        "to": transition.to_state,
        "reason": transition.reason,
        "metadata": transition.metadata,
        "ts": transition.created_at.timestamp(),
    }


# One whale's fields and its decision's: whale_dict reads them from the models, the
# queue as plain rows (building model instances was most of the queue's cost).
_WHALE_FIELDS = (
    "id",
    "trade_id",
    "market_ticker",
    "taker_side",
    "yes_price",
    "count",
    "notional",
    "traded_at",
    "detected_at",
    "status",
)
_DECISION_FIELDS = ("id", "decision", "reason_code", "reason_text", "mode", "decided_at")
_ORDER_FIELDS = ("status", "filled_count")
_ROW_FIELDS = (
    _WHALE_FIELDS
    + tuple(f"decision__{f}" for f in _DECISION_FIELDS)
    + tuple(f"decision__order__{f}" for f in _ORDER_FIELDS)
)

# The whale_processing stage a whale's rows say it is at: a browser that loads the
# queue after the stages were sent (a reload) shows the same stage as one that saw them.
_STATUS_STAGES = {
    WhaleTrade.Status.QUEUED: "queued",
    WhaleTrade.Status.PROCESSING: "evaluating",
    WhaleTrade.Status.DECIDED: "decided",
    WhaleTrade.Status.FAILED: "failed",
}


def whale_stage(row: dict[str, Any]) -> str:
    """The stage of one whale (the names of trading.execution.broadcast) from its row."""
    if row["decision__id"] is None:
        return _STATUS_STAGES.get(row["status"], row["status"])
    if row["decision__decision"] == WhaleDecision.Decision.SKIP:
        return "skipped"
    order_status = row["decision__order__status"]
    if order_status is None or order_status == Order.Status.PENDING:
        return "decided"
    if order_status == Order.Status.REJECTED:
        return "failed"
    return "filled" if row["decision__order__filled_count"] else "order_placed"


def whale_row_dict(row: dict[str, Any]) -> dict[str, Any]:
    """The browser's whale shape from a row of ``_ROW_FIELDS`` by name."""
    data = {name: row[name] for name in _WHALE_FIELDS[1:]}
    decision = None
    if row["decision__id"] is not None:
        decision = {name: row[f"decision__{name}"] for name in _DECISION_FIELDS}
    return {"whale_id": row["id"], **data, "stage": whale_stage(row), "decision": decision}


def whale_dict(whale: WhaleTrade) -> dict[str, Any]:
    """One whale with its decision, if made. Integers in trading.units, times in Unix seconds."""
    decision = getattr(whale, "decision", None)
    order = getattr(decision, "order", None) if decision is not None else None
    row = {name: getattr(whale, name) for name in _WHALE_FIELDS}
    row.update({f"decision__{name}": getattr(decision, name, None) for name in _DECISION_FIELDS})
    row.update({f"decision__order__{name}": getattr(order, name, None) for name in _ORDER_FIELDS})
    return whale_row_dict(row)


def recent_transitions(limit: int = TRANSITIONS) -> list[dict[str, Any]]:
    """The latest transitions, oldest first."""
    return [transition_dict(t) for t in reversed(StateTransition.objects.order_by("-id")[:limit])]


def events_after(last_event_id: int, limit: int = MAX_RESUME) -> list[dict[str, Any]] | None:
    """Persisted events with id > ``last_event_id`` in id order; None when more than ``limit``."""
    rows = list(ActivityEvent.objects.filter(id__gt=last_event_id).order_by("id")[: limit + 1])
    return None if len(rows) > limit else [event_dict(e) for e in rows]


def history_lost_after(last_event_id: int, newest: int, now: float | None = None) -> bool:
    """Whether events after ``last_event_id`` may be gone from the history: that event
    was pruned (a browser only ever sees committed ids, so a missing one was deleted),
    is older than ACTIVITY_RETENTION (what followed it may be pruned), or is newer than
    any event here (the browser saw another history: a reset database, another site)."""
    if last_event_id > newest:
        return True
    seen_ts = ActivityEvent.objects.filter(id=last_event_id).values_list("ts", flat=True).first()
    return seen_ts is None or seen_ts < (time.time() if now is None else now) - settings.RETENTION.activity_retention


def recent_activity(limit: int = RECENT_ACTIVITY) -> list[dict[str, Any]]:
    """The latest ``system_activity`` events, oldest first: a fresh console."""
    rows = ActivityEvent.objects.filter(type=events.SYSTEM_ACTIVITY).order_by("-id")[:limit]
    return [event_dict(e) for e in reversed(rows)]


def latest_event(event_type: str) -> dict[str, Any] | None:
    event = ActivityEvent.objects.filter(type=event_type).order_by("-id").first()
    return None if event is None else event_dict(event)


def runner_down(now: float | None = None) -> str | None:
    """Why the feed runner counts as dead (its newest heartbeat expired without a
    graceful shutdown), or None. One indexed query: web processes ask every second."""
    beat = FeedHeartbeat.objects.order_by("-beat_at").first()
    if beat is None or beat.state == "shutdown":
        return None
    age = (time.time() if now is None else now) - beat.beat_at
    if age <= settings.FEED.heartbeat_ttl:
        return None
    return f"down: no heartbeat for {age:.0f} s (pid {beat.pid} on {beat.host}, last state {beat.state})"


def _down_status(detail: str, markets: list[str]) -> dict[str, Any]:
    """The ``trader_status`` a web process shows for a dead runner (the runner cannot send one)."""
    return {
        "state": "down",
        "markets": markets,
        "exchange_connected": False,
        "components": [ComponentHealth("feed_runner", False, Criticality.CRITICAL, detail).to_dict()],
    }


def runner_down_status(now: float | None = None) -> dict[str, Any] | None:
    """``_down_status`` when the runner is dead, else None."""
    detail = runner_down(now)
    if detail is None:
        return None
    event = ActivityEvent.objects.filter(type=events.TRADER_STATUS).order_by("-id").first()
    return _down_status(detail, [] if event is None else event.data.get("markets", []))


def feed_status(now: float | None = None) -> tuple[ComponentHealth, dict[str, Any] | None]:
    """The feed runner as one component, and its last report (state and per-component health)."""
    event = ActivityEvent.objects.filter(type=events.TRADER_STATUS).order_by("-id").first()
    if event is None:
        return ComponentHealth("feed_runner", False, Criticality.CRITICAL, "no feed runner has reported yet"), None
    now = time.time() if now is None else now
    age = now - event.ts
    report = {
        "state": event.data.get("state"),
        "reported_at": event.ts,
        "age_s": round(age, 1),
        "markets": event.data.get("markets", []),
        "components": event.data.get("components", []),
    }
    down = runner_down(now)
    if down is not None:
        report["state"] = "down"
        detail, healthy = down, False
    elif age > STALE_INTERVALS * settings.FEED.status_interval:
        detail, healthy = f"no report for {age:.0f} s", False
    elif report["state"] in ("error", "shutdown"):
        detail, healthy = f"state {report['state']}", False
    else:
        detail, healthy = f"state {report['state']}", True
    return ComponentHealth("feed_runner", healthy, Criticality.CRITICAL, detail), report


def runner_scope() -> tuple[frozenset[str], bool]:
    """The feed runner's markets with books, and whether it watches the exchange-wide
    streams, from its latest report (empty and False before any)."""
    event = latest_event(events.TRADER_STATUS)
    data = {} if event is None else event["data"]
    listed = data.get("markets", [])
    return frozenset(m if isinstance(m, str) else m.get("ticker", "") for m in listed), bool(data.get("exchange_wide"))


def trader_status_now() -> dict[str, Any] | None:
    """The latest ``trader_status``; while the runner is dead, a ``down`` one made here
    (id 0: not persisted, so a browser that saw the last real one still takes it)."""
    down = runner_down_status()
    if down is not None:
        return {"type": events.TRADER_STATUS, "id": 0, "ts": time.time(), "data": down}
    return latest_event(events.TRADER_STATUS)


def last_event_id() -> int:
    """The newest persisted event id: where a browser resumes from if it saw nothing else."""
    return ActivityEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


_WAITING_STATUSES = (WhaleTrade.Status.QUEUED, WhaleTrade.Status.PROCESSING)


@functools.cache
def _queue_queries(recent: int, waiting_limit: int) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    """The queue's two reads as (sql, params), compiled by the ORM once per process: the
    queue is read after every decision, and compiling its queries each time was most of
    its cost (bench/README.md "decisions")."""
    rows = WhaleTrade.objects.order_by("-id").values_list(*_ROW_FIELDS)
    pending = rows.filter(status__in=_WAITING_STATUSES)[: waiting_limit + 1]
    done = rows.exclude(status__in=_WAITING_STATUSES)[:recent]
    return pending.query.sql_with_params(), done.query.sql_with_params()


def _rows(sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [dict(zip(_ROW_FIELDS, row, strict=True)) for row in cursor.fetchall()]


def whale_queue_data(recent: int = RECENT_WHALES, waiting_limit: int = WAITING_WHALES) -> dict[str, Any]:
    """The ``whale_queue`` event's data: the newest ``waiting_limit`` whales queued or in
    progress and the ``recent`` latest decided or failed, newest first, and ``waiting``,
    how many are queued or in progress in all (more than shown when the queue is longer)."""
    pending_query, done_query = _queue_queries(recent, waiting_limit)
    pending = _rows(*pending_query)
    waiting = len(pending)
    if waiting > waiting_limit:
        pending = pending[:waiting_limit]
        waiting = waiting_whales()
    done = _rows(*done_query)
    whales = [whale_row_dict(row) for row in sorted(pending + done, key=lambda row: row["id"], reverse=True)]
    return {"whales": whales, "waiting": waiting}


def waiting_whales() -> int:
    """How many whales are queued or being decided."""
    return WhaleTrade.objects.filter(status__in=_WAITING_STATUSES).count()


def whale_change_data(whale_id: int) -> dict[str, Any]:
    """A ``whale_queue`` event for one whale that changed: its row and the waiting total.
    The browser merges it into the queue it holds; a snapshot of the whole queue per
    change (up to 130 whales, ~14 KB) was most of what the replay log stored."""
    rows = WhaleTrade.objects.filter(pk=whale_id).values_list(*_ROW_FIELDS)
    whales = [whale_row_dict(dict(zip(_ROW_FIELDS, row, strict=True))) for row in rows]
    return {"whales": whales, "waiting": waiting_whales()}


def open_orders() -> list[dict[str, Any]]:
    """Orders pending or resting, oldest first: ``trading_state`` carries only their number."""
    return list(
        Order.objects.filter(status__in=Order.OPEN_STATUSES)
        .order_by("id")
        .values("client_order_id", "market_ticker", "side", "price", "count", "filled_count", "status")
    )


def trading_state_data(account: RiskAccount | None = None) -> dict[str, Any]:
    """Positions, balance and the switches, with the account's version: the browser
    keeps the highest version it has seen, so a late, older state never wins.
    ``account``: the row as the caller just locked and saved it (saves reading it again)."""
    if account is None:
        account = RiskAccount.objects.filter(name=ACCOUNT).first() or RiskAccount(name=ACCOUNT)
    positions = [
        {
            "market_ticker": p.market_ticker,
            "position": p.position,
            "cost": p.cost,
            "realized_pnl": p.realized_pnl,
            "fees_paid": p.fees_paid,
        }
        for p in Position.objects.exclude(position=0, realized_pnl=0).order_by("market_ticker")
    ]
    today = start_of_day(time.time())
    day = Fill.objects.filter(ts__gte=today).aggregate(
        realized=Sum("realized_pnl", default=0), fees=Sum("fee", default=0)
    )
    settled_today = Settlement.objects.filter(settled_at__gte=today).aggregate(pnl=Sum("realized_pnl", default=0))
    settlements = [
        {
            "market_ticker": s.market_ticker,
            "result": s.result,
            "position": s.position,
            "payout": s.payout,
            "realized_pnl": s.realized_pnl,
            "settled_at": s.settled_at,
        }
        for s in Settlement.objects.exclude(position=0)[:RECENT_SETTLEMENTS]
    ]
    return {
        "version": account.version,
        "mode": settings.KALSHI.trading_mode,
        "paused": account.paused,
        "killed": account.killed,
        "balance": account.balance,
        "exposure": sum(p["cost"] for p in positions),
        "realized_pnl": sum(p["realized_pnl"] for p in positions),
        "daily_pnl": day["realized"] - day["fees"] + settled_today["pnl"],
        "settled_pnl": Settlement.objects.aggregate(pnl=Sum("realized_pnl", default=0))["pnl"],
        "settlements": settlements,
        "open_orders": Order.objects.filter(status__in=Order.OPEN_STATUSES).count(),
        "positions": positions,
        "reconciled_at": account.reconciled_at,
    }


def replay_log_size() -> int:
    """Events kept in the replay log (ActivityEvent)."""
    return ActivityEvent.objects.count()


def metrics_counts() -> dict[str, Any]:
    """What /metrics reports from the database: totals the whole site shares, whichever
    process is scraped (each counter a few grouped rows)."""

    def by(model: Any, field: str) -> dict[str, int]:
        return dict(model.objects.order_by().values_list(field).annotate(n=Count("id")).values_list(field, "n"))

    return {
        "whales": by(WhaleTrade, "status"),
        "decisions": {
            (decision, reason): n
            for decision, reason, n in WhaleDecision.objects.order_by()
            .values_list("decision", "reason_code")
            .annotate(n=Count("id"))
            .values_list("decision", "reason_code", "n")
        },
        "orders": by(Order, "status"),
        "fills": Fill.objects.count(),
        "realized_pnl": Position.objects.aggregate(total=Sum("realized_pnl", default=0))["total"],
        "fees": Position.objects.aggregate(total=Sum("fees_paid", default=0))["total"],
        "activity_events": replay_log_size(),
    }


def history_replay(last_event_id_seen: int | None = None) -> dict[str, Any]:
    """The data of one ``history_replay`` event.

    ``events`` are envelopes exactly as broadcast, oldest first; the browser
    applies them as if they arrived live. ``last_event_id`` is where to resume
    from next time. ``resumed`` says whether ``events`` are the missed ones
    (after ``last_event_id_seen``) or just recent activity; ``gap`` that the
    browser asked to resume but missed more than the history can give back
    (pruned, or over MAX_RESUME), so this is a fresh replay and it starts over."""
    # Read the high-water mark first: events committed while the rest is read
    # have higher ids and reach the browser live (the consumer dedupes by id).
    newest = last_event_id()
    missed = None
    if last_event_id_seen is not None and not history_lost_after(last_event_id_seen, newest):
        missed = events_after(last_event_id_seen)
    replayed = recent_activity() if missed is None else missed
    queue = whale_queue_data()
    return {
        "resumed": missed is not None,
        "gap": last_event_id_seen is not None and missed is None,
        "last_event_id": max([newest, *(e["id"] for e in replayed)]),
        "events": replayed,
        "transitions": recent_transitions(),
        "whales": queue["whales"],
        "waiting": queue["waiting"],
        "open_orders": open_orders(),
        "trading_state": latest_event(events.TRADING_STATE),
        "trader_status": trader_status_now(),
    }


def held_markets() -> set[str]:
    """Markets where the account holds a position or has an order open: the runner keeps their books."""
    positions = Position.objects.exclude(position=0).values_list("market_ticker", flat=True)
    orders = Order.objects.filter(status__in=Order.OPEN_STATUSES).values_list("market_ticker", flat=True)
    return {*positions, *orders}


def watched_markets(now: float | None = None) -> set[str]:
    """Markets a dashboard socket watches now (trading.feed.watches)."""
    now = time.time() if now is None else now
    return set(MarketWatch.objects.filter(expires_at__gte=now).values_list("market_ticker", flat=True))
