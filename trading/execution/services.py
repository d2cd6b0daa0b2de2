"""Whale execution services: one whale from "queued" to a recorded decision and,
for a follow, an order, its fills, the position and the balance.

Flow of ``process_whale`` (each step publishes a ``whale_processing`` stage):

1. received / evaluating: the whale is marked processing; the book and market
   are read from the exchange (outside any transaction) and the rules give a
   verdict (trading.execution.rules).
2. decided: trading.execution.risk.decide persists the decision under the
   RiskAccount row lock, with the pending Order of a follow (its client order id
   derived from the decision). Skips end here (skipped).
3. order placed: the order goes to the exchange after commit, outside the lock
   (in a worker, as its own ``place_order`` task on the ``orders`` queue).
   Its client order id makes the placement idempotent: a retry sends the same id,
   and the REST client answers a 409 duplicate with the existing order.
   A placement cut short (a killed worker, an unreachable exchange) is sent again,
   by the redelivered or retried task or by reconciliation, while the decision is
   younger than ``EXEC_DECISION_TTL``; after that it is looked up once more and,
   if the exchange never took it, rejected as ``decision_expired``.
4. filled: fills (REST now; the feed's WebSocket fill channel via
   ``record_fill``) update the order, the position, the balance and the
   account's version in one locked transaction each, idempotent by trade id.

Running it twice for one whale gives one decision and at most one order: the
second run finds the decision (WhaleDecision.whale is one-to-one) and only
finishes a placement the first run left pending.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from trading.accounting import PositionState, apply_fill
from trading.exchange import (
    BookView,
    ExchangeError,
    ExchangeOrder,
    FillReport,
    Gateway,
    MarketView,
    OrderRejected,
    Placed,
    PlaceRequest,
)
from trading.execution import broadcast, loop, risk
from trading.execution.gateway import gateway
from trading.execution.rules import (
    Reason,
    RuleConfig,
    Verdict,
    WhaleView,
    check_threshold,
    evaluate,
    skip,
)
from trading.models import Fill, Order, Position, RiskAccount, WhaleDecision, WhaleTrade

logger = logging.getLogger(__name__)

# Order.error of a follow whose decision expired before the exchange took it. The
# exchange's acknowledgement still wins over it (record_placement): a send begun
# while the decision was fresh may land after another process gave up on it.
DECISION_EXPIRED = "decision_expired: not on the exchange when its decision expired"

STATUS_FROM_EXCHANGE = {
    "resting": Order.Status.RESTING,
    "canceled": Order.Status.CANCELED,
    "executed": Order.Status.EXECUTED,
}


def whale_view(whale: WhaleTrade) -> WhaleView:
    return WhaleView(
        market_ticker=whale.market_ticker,
        taker_side=whale.taker_side,
        yes_price=whale.yes_price,
        count=whale.count,
        notional=whale.notional,
        traded_at=whale.traded_at,
    )


def book_inputs(book: BookView, market: MarketView, now: float) -> dict[str, Any]:
    """The part of the inputs snapshot that comes from the exchange."""
    top = book.top
    return {
        "book": {
            "yes_bid": top.yes_bid,
            "yes_bid_size": top.yes_bid_size,
            "yes_ask": top.yes_ask,
            "yes_ask_size": top.yes_ask_size,
            "spread": top.spread,
            "age": round(now - book.as_of, 3),
            "stale": book.stale,
        },
        "market": {"status": market.status, "close_ts": market.close_ts},
    }


def evaluate_whale(whale: WhaleTrade, exchange: Gateway, config: RuleConfig) -> tuple[Verdict, dict[str, Any]]:
    """The rules' verdict and what it was based on. Exchange errors become a skip:
    a whale is only worth following now, so there is nothing to retry later."""
    view = whale_view(whale)
    inputs: dict[str, Any] = {
        "whale": {"yes_price": whale.yes_price, "count": whale.count, "notional": whale.notional},
        "book": None,
        "market": None,
    }
    if (verdict := check_threshold(view, time.time(), config)) is not None:
        return verdict, inputs

    async def read() -> tuple[BookView, MarketView]:
        book, market = await asyncio.gather(exchange.book(whale.market_ticker), exchange.market(whale.market_ticker))
        return book, market

    try:
        book, market = loop.run(read())
    except ExchangeError as exc:
        logger.warning("whale %s: book for %s unavailable: %s", whale.pk, whale.market_ticker, exc)
        return skip(Reason.BOOK_UNAVAILABLE, f"The order book could not be read: {exc}"[:300]), inputs
    now = time.time()
    inputs.update(book_inputs(book, market, now))
    return evaluate(view, book, market, now, config), inputs


def place_now(order_id: int) -> None:
    execute_order(order_id=order_id)


def process_whale(*, whale_id: int, place: Callable[[int], object] = place_now) -> WhaleDecision | None:
    """Decide one whale and, for a follow, hand its order to ``place`` (by default sent
    here and now; the Celery task passes the ``place_order`` task, so a decision never
    waits behind another whale's placement). Safe to run again."""
    whale = WhaleTrade.objects.select_related("decision__order").filter(pk=whale_id).first()
    if whale is None:
        logger.warning("process_whale: whale %s does not exist", whale_id)
        return None
    existing = getattr(whale, "decision", None)
    if existing is not None:
        order = getattr(existing, "order", None)
        if order is not None and order.status == Order.Status.PENDING:
            place(order.pk)
        return existing
    started = time.time()
    with transaction.atomic():
        # Conditional: a racing run may have decided it since our look (it must stay "decided").
        WhaleTrade.objects.filter(pk=whale.pk, decision__isnull=True).update(status=WhaleTrade.Status.PROCESSING)
        whale.status = WhaleTrade.Status.PROCESSING
        # No whale_queue here: the "received" stage tells browsers the whale is being
        # processed, and its row is re-sent when it leaves the queue (decided or failed).
        broadcast.whale_stage(broadcast.RECEIVED, whale)
        broadcast.whale_stage(broadcast.EVALUATING, whale)
    exchange = current_gateway()
    config = settings.EXECUTION.rules
    try:
        verdict, inputs = evaluate_whale(whale, exchange, config)
        decided = risk.decide(
            whale=whale,
            verdict=verdict,
            inputs=inputs,
            mode=settings.KALSHI.trading_mode,
            started_at=started,
            config=config,
            limits=settings.EXECUTION.limits,
        )
    except Exception:
        with transaction.atomic():
            WhaleTrade.objects.filter(pk=whale.pk, decision__isnull=True).update(status=WhaleTrade.Status.FAILED)
            broadcast.whale_stage(broadcast.FAILED, whale, detail="evaluation failed")
            broadcast.whale_queue(whale.pk)
        raise
    decision, order = decided.decision, decided.order
    if not decided.created:
        # Another run decided this whale between our first look and the lock.
        if order is not None and order.status == Order.Status.PENDING:
            place(order.pk)
        return decision
    with transaction.atomic():
        broadcast.whale_stage(broadcast.DECIDED, whale, decision, order)
        if order is None:
            broadcast.whale_stage(broadcast.SKIPPED, whale, decision)
        broadcast.whale_queue(whale.pk)
    if order is not None:
        place(order.pk)
    return decision


def current_gateway() -> Gateway:
    """This process's exchange gateway for the current settings (trading.execution.gateway)."""
    return gateway()


def place_request(order: Order, config: RuleConfig) -> PlaceRequest:
    ttl = config.order_ttl
    return PlaceRequest(
        ticker=order.market_ticker,
        side=order.side,
        price=order.price,
        count=order.count,
        client_order_id=order.client_order_id,
        time_in_force=order.time_in_force,
        expiration_ts=int(time.time()) + ttl if order.time_in_force == "good_till_canceled" and ttl > 0 else None,
    )


def execute_order(*, order_id: int) -> Order:
    """Send a pending order to the exchange and record the answer and its fills.

    Idempotent: an order that is no longer pending is left alone; a pending one is
    sent with its own client order id, which the exchange accepts only once (a 409
    means an earlier attempt landed: that order is adopted). If the exchange cannot
    be reached the order stays pending and ExchangeError is raised, so the task is
    retried (same id again) and reconciliation is the backstop. Once the decision
    has expired nothing is sent: see ``settle_expired``."""
    order = Order.objects.select_related("decision__whale").get(pk=order_id)
    if order.status != Order.Status.PENDING:
        return order
    whale = order.decision.whale if order.decision else None
    account = RiskAccount.objects.filter(name=risk.ACCOUNT).first()
    if account is not None and account.killed:
        with transaction.atomic():
            risk.lock_account()
            Order.objects.filter(pk=order.pk, status=Order.Status.PENDING).update(
                status=Order.Status.CANCELED, error="kill switch on before the order was sent"
            )
            bump_version()
            order.refresh_from_db()
            if whale is not None:
                broadcast.whale_stage(broadcast.FAILED, whale, order.decision, order, detail=order.error)
            broadcast.trading_state()
        return order
    exchange = current_gateway()
    if decision_expired(order, time.time()):
        return settle_expired(order=order, exchange=exchange)
    try:
        placed = loop.run(exchange.place(place_request(order, settings.EXECUTION.rules)))
    except OrderRejected as exc:
        logger.warning("order %s rejected: %s", order.client_order_id, exc)
        return reject_order(order=order, error=str(exc))
    except ExchangeError as exc:
        logger.warning("order %s: exchange unreachable, left pending: %s", order.client_order_id, exc)
        if whale is not None:
            with transaction.atomic():
                broadcast.whale_stage(
                    broadcast.FAILED, whale, order.decision, order, detail=f"exchange unreachable: {exc}"[:300]
                )
        raise
    fills = placed.fills
    if placed.fill_count > 0 and not fills:
        try:
            fills = tuple(loop.run(exchange.fills(placed.exchange_order_id)))
        except ExchangeError as exc:
            # The order is recorded; its fills arrive by WebSocket or the next reconciliation.
            logger.warning("order %s: fills not read now: %s", order.client_order_id, exc)
    order = record_placement(order_id=order.pk, placed=placed, fills=fills)
    if order.status == Order.Status.CANCELED and placed.remaining_count > 0:
        # Killed while the order was in flight: it must not stay on the book.
        loop.run(exchange.cancel(placed.exchange_order_id, order.market_ticker))
    return order


def decision_expired(order: Order, now: float) -> bool:
    """A follow is worth sending only while its decision is fresh: the limit price was
    set against the book of that moment (EXEC_DECISION_TTL)."""
    decision = order.decision
    return decision is not None and now - decision.decided_at > settings.EXECUTION.decision_ttl


def settle_expired(*, order: Order, exchange: Gateway) -> Order:
    """An expired follow is not sent again; an earlier attempt may still have reached
    the exchange (its answer lost with a killed worker), so look before rejecting."""
    found = loop.run(exchange.find_order(order.client_order_id, order.market_ticker))
    if found is not None:
        adopt_order(order_id=order.pk, found=found)
        return Order.objects.get(pk=order.pk)
    logger.warning("order %s: decision expired before the exchange took it", order.client_order_id)
    return reject_order(order=order, error=DECISION_EXPIRED)


def reject_order(*, order: Order, error: str) -> Order:
    """The order does not exist on the exchange and never will: say why, once."""
    with transaction.atomic():
        risk.lock_account()
        updated = Order.objects.filter(pk=order.pk, status=Order.Status.PENDING).update(
            status=Order.Status.REJECTED, error=error[:300]
        )
        order.refresh_from_db()
        if updated:
            bump_version()
            if order.decision is not None:
                broadcast.whale_stage(broadcast.FAILED, order.decision.whale, order.decision, order, detail=order.error)
            broadcast.trading_state()
    return order


def adopt_order(*, order_id: int, found: ExchangeOrder) -> int:
    """Record the exchange's order for our pending one (found by its client order id)
    as the exchange has it, with its fills; returns how many fills were new."""
    remaining = found.remaining_count if found.status == "resting" else 0
    record_placement(order_id=order_id, placed=Placed(found.order_id, found.fill_count, remaining))
    Order.objects.filter(pk=order_id).update(status=STATUS_FROM_EXCHANGE.get(found.status, Order.Status.RESTING))
    return sync_fills(order_id=order_id)


def record_placement(*, order_id: int, placed: Placed, fills: tuple[FillReport, ...] = ()) -> Order:
    """The exchange acknowledged the order: keep its id and state, link early fills and
    record ``fills`` (read with the answer), all in one locked transaction with one
    ``trading_state``: a transaction per fill was a third of a placement's CPU."""
    with transaction.atomic():
        account = risk.lock_account()
        order = Order.objects.select_for_update(of=("self",)).select_related("decision__whale").get(pk=order_id)
        if placed.remaining_count > 0:
            status = Order.Status.RESTING
        elif placed.fill_count > 0:
            status = Order.Status.EXECUTED
        else:
            status = Order.Status.CANCELED
        order.exchange_order_id = placed.exchange_order_id
        if order.status == Order.Status.PENDING or (
            order.status == Order.Status.REJECTED and order.error == DECISION_EXPIRED
        ):
            order.status, order.error = status, ""
        Fill.objects.filter(exchange_order_id=placed.exchange_order_id, order__isnull=True).update(order=order)
        new_fills = sum(add_fill(account=account, report=report, order=order) for report in fills)
        update_filled(order=order)
        account.version += 1
        account.save(update_fields=["balance", "version", "updated_at"])
        if order.decision is not None:
            broadcast.whale_stage(broadcast.ORDER_PLACED, order.decision.whale, order.decision, order)
            if new_fills:
                broadcast.whale_stage(broadcast.FILLED, order.decision.whale, order.decision, order)
        broadcast.trading_state(account)
    return order


def bump_version() -> None:
    """Called with the account row locked: the trading state changed."""
    RiskAccount.objects.filter(name=risk.ACCOUNT).update(version=F("version") + 1)


def add_fill(*, account: RiskAccount, report: FillReport, order: Order | None) -> bool:
    """With the account locked: record one fill of ``order`` (None if not ours locally)
    unless its trade id is known, and apply it to the market's position and to
    ``account.balance`` (the caller saves the account). True if it was new."""
    if Fill.objects.filter(trade_id=report.trade_id).exists():
        return False
    position, _ = Position.objects.select_for_update().get_or_create(market_ticker=report.market_ticker)
    effect = apply_fill(
        PositionState(position.position, position.cost, position.realized_pnl, position.fees_paid),
        side=report.side,
        yes_price=report.yes_price,
        count=report.count,
        fee=report.fee,
    )
    Fill.objects.create(
        trade_id=report.trade_id,
        order=order,
        exchange_order_id=report.order_id,
        market_ticker=report.market_ticker,
        side=report.side,
        yes_price=report.yes_price,
        count=report.count,
        fee=report.fee,
        realized_pnl=effect.realized,
        is_taker=report.is_taker,
        ts=report.ts,
    )
    state = effect.state
    position.position, position.cost = state.position, state.cost
    position.realized_pnl, position.fees_paid = state.realized_pnl, state.fees_paid
    position.save()
    account.balance += effect.cash
    return True


def update_filled(*, order: Order) -> None:
    """Set the order's filled count from its fills (executed once all of it filled) and save it."""
    order.filled_count = order.fills.aggregate(n=Sum("count", default=0))["n"]
    if order.filled_count >= order.count:
        order.status = Order.Status.EXECUTED
    order.save(update_fields=["exchange_order_id", "status", "error", "filled_count", "updated_at"])


def record_fill(*, report: FillReport) -> bool:
    """Record one fill of ours, from any source; True if it was new.

    The feed runner calls this for every WebSocket ``fill`` message (parsed by
    trading.kalshi.parsing), reconciliation for REST fills. Unique on the exchange trade
    id, so the same fill from two sources counts once. Updates the order's filled
    count and status, the market's position and realized P&L, the balance, and the
    account version, all under the account lock."""
    with transaction.atomic():
        account = risk.lock_account()
        order = Order.objects.select_for_update().filter(exchange_order_id=report.order_id).first()
        if order is None and report.client_order_id:
            order = Order.objects.select_for_update().filter(client_order_id=report.client_order_id).first()
        if not add_fill(account=account, report=report, order=order):
            return False
        account.version += 1
        account.save(update_fields=["balance", "version", "updated_at"])
        if order is not None:
            update_filled(order=order)
            decision = WhaleDecision.objects.select_related("whale").filter(order=order).first()
            if decision is not None:
                broadcast.whale_stage(broadcast.FILLED, decision.whale, decision, order)
        broadcast.trading_state(account)
    return True


def sync_fills(*, order_id: int) -> int:
    """Read an order's fills from the exchange and record the new ones; returns how many."""
    order = Order.objects.get(pk=order_id)
    if not order.exchange_order_id:
        return 0
    reports = loop.run(current_gateway().fills(order.exchange_order_id))
    return sum(record_fill(report=report) for report in reports)


def cancel_order(*, order_id: int) -> Order:
    """Cancel one open order on the exchange and record it (a 404 means already dead)."""
    order = Order.objects.get(pk=order_id)
    if order.status not in Order.OPEN_STATUSES:
        return order
    if order.exchange_order_id:
        loop.run(current_gateway().cancel(order.exchange_order_id, order.market_ticker))
    with transaction.atomic():
        risk.lock_account()
        updated = Order.objects.filter(pk=order.pk, status__in=Order.OPEN_STATUSES).update(status=Order.Status.CANCELED)
        if updated:
            bump_version()
            broadcast.trading_state()
    order.refresh_from_db()
    return order


def review_decisions(*, decision_ids: list[int], user: Any, note: str) -> int:
    """Staff review: mark decisions reviewed with a note, recording who and when."""
    return WhaleDecision.objects.filter(pk__in=decision_ids).update(
        reviewed=True, reviewed_by=user, reviewed_at=timezone.now(), review_note=note
    )
