"""Reconciliation: local orders, fills, settlements, positions and balance against the exchange.

The exchange is the truth. Run at worker start-up and periodically (Celery beat,
``EXEC_RECONCILE_INTERVAL``), and by ``manage.py reconcile``. Each difference is
fixed locally and listed in one ``system_activity`` line saying what changed:

1. Pending orders (saved, never acknowledged: a worker died before or after
   sending, or the exchange was unreachable) older than ``EXEC_PENDING_GRACE``:
   looked up by client order id. Found: recorded as the exchange has it, with its
   fills. Not found: sent now if its decision is still fresh (the same client
   order id, so the exchange takes it once at most), otherwise rejected as
   ``decision_expired`` (trading.execution.services.execute_order).
2. Resting orders: their exchange state (canceled, executed, partly filled) and
   any fills we missed.
3. Resting orders on the exchange we have no record of: adopted (and canceled
   when the kill switch is on).
4. Settlements the exchange lists that are not recorded yet: the local position is
   settled (trading.execution.settlements), before step 5 could flatten it.
5. Positions and balance: set to the exchange's numbers where they differ.
6. Whales left undecided (never handed to a worker because the broker was down,
   their worker died mid-decision, or the decision failed) for longer than the grace: decided now;
   most are skipped as whale_too_old, which is the point: none stays queued forever.

Paper trading against the live book copy has no exchange account: nothing to compare.
"""

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q

from trading.exchange import ExchangeError, ExchangePosition, Gateway, SettlementReport
from trading.execution import broadcast, loop, risk, services
from trading.execution.settlements import record_settlement
from trading.models import Order, Position, RiskAccount, WhaleTrade

logger = logging.getLogger(__name__)

# Late whales decided per pass: a long outage's backlog is worked off over several
# passes instead of one pass that holds a worker for minutes.
MAX_LATE_WHALES = 100
# The advisory lock key of reconciliation (any constant unique to this use).
LOCK_KEY = 0x5633_7265_636F_6E63  # "V3reconc"


@dataclass
class Report:
    changes: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    skipped: bool = False  # another pass was running

    @property
    def ok(self) -> bool:
        return not self.error

    def add(self, what: str, **details: Any) -> None:
        self.changes.append({"what": what, **details})


def _pending_orders(exchange: Gateway, report: Report, now: float, grace: float) -> None:
    stale = Order.objects.filter(status=Order.Status.PENDING, created_at__lt=datetime.fromtimestamp(now - grace, UTC))
    for order in stale:
        found = loop.run(exchange.find_order(order.client_order_id, order.market_ticker))
        if found is None:
            settled = services.execute_order(order_id=order.pk)
            report.add(
                "pending order had not reached the exchange",
                client_order_id=order.client_order_id,
                status=settled.status,
                error=settled.error,
            )
            continue
        new_fills = services.adopt_order(order_id=order.pk, found=found)
        report.add(
            "pending order found on the exchange",
            client_order_id=order.client_order_id,
            exchange_order_id=found.order_id,
            status=found.status,
            fills_recorded=new_fills,
        )


def _resting_orders(exchange: Gateway, report: Report) -> set[str]:
    """Bring our resting orders, and executed ones missing fills, up to date; returns their exchange ids."""
    known: set[str] = set()
    unfinished = Q(status=Order.Status.RESTING) | Q(status=Order.Status.EXECUTED, filled_count__lt=F("count"))
    for order in Order.objects.filter(unfinished).exclude(exchange_order_id=""):
        known.add(order.exchange_order_id)
        remote = loop.run(exchange.order(order.exchange_order_id))
        new_fills = services.sync_fills(order_id=order.pk) if remote is None or remote.fill_count else 0
        if remote is not None:
            status = services.STATUS_FROM_EXCHANGE.get(remote.status, order.status)
        else:  # resting orders always stay listed (PROTOCOL.md 8): gone means dead; finished ones may move away
            status = Order.Status.CANCELED if order.status == Order.Status.RESTING else order.status
        if status != order.status or new_fills:
            with transaction.atomic():
                risk.lock_account()
                Order.objects.filter(pk=order.pk).update(status=status)
                services.bump_version()
            report.add(
                "order state from the exchange",
                client_order_id=order.client_order_id,
                before=order.status,
                after=status,
                fills_recorded=new_fills,
            )
    return known


def _stray_orders(exchange: Gateway, report: Report, known: set[str]) -> None:
    killed = RiskAccount.objects.filter(name=risk.ACCOUNT, killed=True).exists()
    for remote in loop.run(exchange.open_orders()):
        if remote.order_id in known or Order.objects.filter(exchange_order_id=remote.order_id).exists():
            continue
        if killed:
            loop.run(exchange.cancel(remote.order_id, remote.ticker))
            report.add("unknown resting order canceled (kill switch on)", exchange_order_id=remote.order_id)
            continue
        with transaction.atomic():
            risk.lock_account()
            Order.objects.get_or_create(
                client_order_id=remote.client_order_id or f"ext-{remote.order_id}"[:64],
                defaults={
                    "exchange_order_id": remote.order_id,
                    "market_ticker": remote.ticker,
                    "side": remote.side,
                    "price": remote.price,
                    "count": remote.fill_count + remote.remaining_count,
                    "status": Order.Status.RESTING,
                    "mode": settings.KALSHI.trading_mode,
                },
            )
            services.bump_version()
        report.add("unknown resting order adopted", exchange_order_id=remote.order_id, ticker=remote.ticker)


def _positions_and_balance(report: Report, positions: list[ExchangePosition], balance: int, now: float) -> None:
    remote = {p.ticker: p for p in positions}
    with transaction.atomic():
        account = risk.lock_account()
        changed = False
        for ticker in set(remote) | set(Position.objects.values_list("market_ticker", flat=True)):
            local, _ = Position.objects.select_for_update().get_or_create(market_ticker=ticker)
            theirs = remote.get(ticker)
            target = (
                (theirs.position, theirs.cost, theirs.realized_pnl, theirs.fees_paid)
                if theirs is not None
                else (0, 0, local.realized_pnl, local.fees_paid)
            )
            before = (local.position, local.cost, local.realized_pnl, local.fees_paid)
            if before != target:
                local.position, local.cost, local.realized_pnl, local.fees_paid = target
                local.save()
                changed = True
                report.add("position", ticker=ticker, before=list(before), after=list(target))
        if account.balance != balance:
            report.add("balance", before=account.balance, after=balance)
            account.balance = balance
            changed = True
        account.reconciled_at = now
        if changed:
            account.version += 1
        account.save(update_fields=["balance", "version", "reconciled_at", "updated_at"])


def _settlements(report: Report, settled: list[SettlementReport]) -> None:
    for found in settled:
        try:
            recorded = record_settlement(report=found)
        except ValueError as exc:  # a scalar market, say: not ours to settle
            logger.warning("reconciliation: %s", exc)
            report.add("settlement not recorded", ticker=found.market_ticker, error=str(exc))
            continue
        if recorded is not None:
            report.add("settlement recorded", ticker=found.market_ticker, result=found.result)


def _undecided_whales(report: Report, now: float, grace: float) -> None:
    undecided = [WhaleTrade.Status.QUEUED, WhaleTrade.Status.PROCESSING, WhaleTrade.Status.FAILED]
    stuck = WhaleTrade.objects.filter(status__in=undecided, decision__isnull=True, detected_at__lt=now - grace)
    for whale_id in stuck.values_list("pk", flat=True)[:MAX_LATE_WHALES]:
        decision = services.process_whale(whale_id=whale_id)
        if decision is not None:
            report.add("undecided whale decided late", whale_id=whale_id, reason_code=decision.reason_code)


def _paper_account(report: Report, now: float) -> None:
    """Paper trading on the book copy: the balance starts at EXEC_PAPER_BALANCE, then moves with fills."""
    with transaction.atomic():
        account = risk.lock_account()
        if account.reconciled_at is None:
            account.balance = settings.EXECUTION.paper_balance
            account.version += 1
            report.add("paper balance opened", balance=account.balance)
        account.reconciled_at = now
        account.save(update_fields=["balance", "version", "reconciled_at", "updated_at"])


@contextlib.contextmanager
def single_pass() -> Iterator[bool]:
    """True when this process may reconcile now: one pass at a time across workers (every
    worker reconciles when it starts, so several start-ups at once would repeat the work).
    A Postgres session advisory lock, freed by the session's end if the worker dies;
    SQLite (the embedded default, one process) needs none."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])


def reconcile(*, grace: float | None = None) -> Report:
    """Compare with the exchange and fix local records; the only order it sends is a fresh
    follow that never reached the exchange (with its own client order id). A pass
    already running elsewhere makes this one return at once (``report.skipped``)."""
    with single_pass() as mine:
        if not mine:
            return Report(skipped=True)
        return _reconcile(grace)


def _reconcile(grace: float | None) -> Report:
    report = Report()
    exchange = services.current_gateway()
    now = time.time()
    grace = settings.EXECUTION.pending_grace if grace is None else grace
    _undecided_whales(report, now, grace)
    if not exchange.has_account:
        _paper_account(report, now)
        return report
    try:
        _pending_orders(exchange, report, now, grace)
        known = _resting_orders(exchange, report)
        _stray_orders(exchange, report, known)

        async def account_state() -> tuple[list[SettlementReport], list[ExchangePosition], int]:
            return await exchange.settlements(), await exchange.positions(), await exchange.balance()

        settled, positions, balance = loop.run(account_state())
        # Settlements first: a settled position is gone from the exchange's positions, and
        # must realize its P&L before the positions' pass would flatten it without any.
        _settlements(report, settled)
        _positions_and_balance(report, positions, balance, now)
    except ExchangeError as exc:
        report.error = str(exc)
        logger.warning("reconciliation stopped: exchange unreachable: %s", exc)
    with transaction.atomic():
        if report.changes or report.error:
            broadcast.activity(
                f"Reconciliation: {len(report.changes)} differences fixed"
                + (f"; stopped early: {report.error}" if report.error else "."),
                level="warning" if report.changes or report.error else "info",
                changes=report.changes,
            )
        broadcast.trading_state()
    return report
