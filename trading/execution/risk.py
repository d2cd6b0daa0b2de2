"""Risk limits and the one locked transaction that turns a rules verdict into a
persisted decision (and, for a follow, a reserved order).

Why one transaction on one row: two workers deciding at once would each read
"3 of 4 open orders" and both place a fifth. Every decision takes the
``RiskAccount`` row with ``SELECT ... FOR UPDATE`` first, reads the account's
state, checks the limits and writes the decision and the pending ``Order`` before
committing; the next worker waits on the lock and then sees that order in its
counts. Placing the order on the exchange happens after commit, outside the lock
(trading.execution.services), so the lock is held for a few queries, not a
network round trip.
"""

import hashlib
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction

from trading.config import RiskLimits
from trading.execution.rules import Reason, RuleConfig, Verdict, check_cooldown, dollars, skip
from trading.models import Fill, Order, Position, RiskAccount, Settlement, WhaleDecision, WhaleTrade
from trading.units import COUNT_SCALE, ONE_DOLLAR

ACCOUNT = "default"


@dataclass(frozen=True, slots=True)
class AccountView:
    """The account as one decision sees it, read under the lock."""

    paused: bool
    killed: bool
    # Worst-case contracts in the market if every resting order filled: YES (>= 0) and NO (>= 0).
    long_exposure: int
    short_exposure: int
    exposure: int  # micro-dollars: cost of all positions + cost of resting orders
    open_orders: int
    orders_last_minute: int
    daily_pnl: int  # realized minus fees since 00:00 UTC
    # The market's last follow within the cooldown (None if none): only that one can refuse a
    # follow, and an index finds it among the recent follows, however long the history.
    last_follow_at: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Decided:
    decision: WhaleDecision
    order: Order | None
    created: bool  # False when an earlier run had already decided this whale


def check_account(account: AccountView) -> Verdict | None:
    """The switches come before every rule: a killed or paused trader decides nothing else."""
    if account.killed:
        return skip(Reason.KILL_SWITCH, "The kill switch is on: no new orders until trading is resumed.")
    if account.paused:
        return skip(Reason.PAUSED, "Trading is paused.")
    return None


def check_limits(verdict: Verdict, account: AccountView, limits: RiskLimits) -> Verdict | None:
    """The first limit the follow order would break, or None."""
    intent = verdict.intent
    assert intent is not None, "limits are checked for follow verdicts only"
    if account.orders_last_minute >= limits.max_orders_per_minute:
        return skip(
            Reason.RATE_LIMIT,
            f"{account.orders_last_minute} orders in the last minute (limit {limits.max_orders_per_minute}).",
        )
    if account.open_orders >= limits.max_open_orders:
        return skip(
            Reason.OPEN_ORDERS_LIMIT, f"{account.open_orders} orders already open (limit {limits.max_open_orders})."
        )
    long_after = account.long_exposure + max(intent.signed_count, 0)
    short_after = account.short_exposure + max(-intent.signed_count, 0)
    if max(long_after, short_after) > limits.max_position:
        return skip(
            Reason.POSITION_LIMIT,
            f"Position in {intent.market_ticker} could reach {max(long_after, short_after) / COUNT_SCALE:g} "
            f"contracts (limit {limits.max_position / COUNT_SCALE:g}).",
        )
    if account.exposure + intent.cost > limits.max_exposure:
        return skip(
            Reason.EXPOSURE_LIMIT,
            f"Exposure would be {dollars(account.exposure + intent.cost)} (limit {dollars(limits.max_exposure)}).",
        )
    if -account.daily_pnl >= limits.max_daily_loss:
        return skip(
            Reason.DAILY_LOSS_LIMIT,
            f"Realized loss today is {dollars(-account.daily_pnl)} (limit {dollars(limits.max_daily_loss)}).",
        )
    return None


def final_verdict(
    verdict: Verdict, account: AccountView, now: float, config: RuleConfig, limits: RiskLimits
) -> Verdict:
    """The rules' verdict after the switches, the cooldown and the limits: what is decided.
    Pure, so the backtest (trading.backtest) decides with exactly this code."""
    final = check_account(account) or verdict
    if final.follow:
        final = check_cooldown(account.last_follow_at, now, config) or check_limits(final, account, limits) or final
    return final


def client_order_id(decision: WhaleDecision, whale: WhaleTrade) -> str:
    """Derived from the decision (one order per decision) and its whale's exchange trade id,
    so ids stay unique on the exchange even after the local database is recreated
    (Kalshi keeps client order ids taken forever)."""
    digest = hashlib.sha256(whale.trade_id.encode()).hexdigest()[:10]
    return f"v3-dec-{decision.pk:06d}-{digest}"


def lock_account() -> RiskAccount:
    """The risk row, locked until the surrounding transaction ends (created on first use)."""
    account, _ = RiskAccount.objects.select_for_update().get_or_create(name=ACCOUNT)
    return account


def start_of_day(now: float) -> float:
    day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.timestamp()


def _view_sql() -> str:
    """The one statement ``read_account`` runs: the whale's decision, if any, and every
    aggregate the limits need, as subqueries of one SELECT (portable SQL: SQLite too).
    Written out rather than built by the ORM: compiling the five ORM queries it
    replaces was most of their cost, at ~1 ms of worker CPU each per decision
    (bench/README.md "decisions")."""
    order, position = Order._meta.db_table, Position._meta.db_table
    fill, decision, whale = Fill._meta.db_table, WhaleDecision._meta.db_table, WhaleTrade._meta.db_table
    settlement = Settlement._meta.db_table
    is_open = "status IN (%s, %s)"
    in_market = f"{is_open} AND market_ticker = %s"
    remaining = '("count" - filled_count)'
    return f"""
        SELECT
            (SELECT id FROM {decision} WHERE whale_id = %s),
            o.bids, o.asks, o.bid_cost, o.ask_cost, o.open_orders, o.last_minute,
            (SELECT COALESCE(SUM("position"), 0) FROM {position} WHERE market_ticker = %s),
            (SELECT COALESCE(SUM(cost), 0) FROM {position}),
            (SELECT COALESCE(SUM(realized_pnl), 0) - COALESCE(SUM(fee), 0) FROM {fill} WHERE ts >= %s)
            + (SELECT COALESCE(SUM(realized_pnl), 0) FROM {settlement} WHERE settled_at >= %s),
            (SELECT MAX(d.decided_at) FROM {decision} d JOIN {whale} w ON w.id = d.whale_id
             WHERE d.decision = %s AND d.decided_at >= %s AND w.market_ticker = %s)
        FROM (
            SELECT
                COALESCE(SUM(CASE WHEN {in_market} AND side = 'bid' THEN {remaining} END), 0) AS bids,
                COALESCE(SUM(CASE WHEN {in_market} AND side = 'ask' THEN {remaining} END), 0) AS asks,
                COALESCE(SUM(CASE WHEN {is_open} AND side = 'bid' THEN {remaining} * price END), 0) AS bid_cost,
                COALESCE(SUM(CASE WHEN {is_open} AND side = 'ask' THEN {remaining} * (%s - price) END), 0)
                    AS ask_cost,
                COUNT(CASE WHEN {is_open} THEN 1 END) AS open_orders,
                COUNT(CASE WHEN created_at >= %s THEN 1 END) AS last_minute
            FROM {order}
            WHERE {is_open} OR created_at >= %s
        ) o
    """


_VIEW_SQL = _view_sql()


def read_account(
    account: RiskAccount, whale: WhaleTrade, now: float, cooldown: float
) -> tuple[AccountView, int | None]:
    """Everything the limits need for ``whale`` and the id of its decision if one was
    already made, in one query. Run it under the lock, as its own statement after the
    one that took the lock: in Postgres a statement reads the data as of its own start,
    so aggregates read in the locking statement itself would miss the order that the
    worker we waited for committed (that is why the lock is not in this query too)."""
    is_open = list(Order.OPEN_STATUSES)
    recent = connection.ops.adapt_datetimefield_value(datetime.fromtimestamp(now - 60, UTC))
    ticker = whale.market_ticker
    params = [
        whale.pk,
        ticker,
        start_of_day(now),
        start_of_day(now),
        WhaleDecision.Decision.FOLLOW,
        now - cooldown,
        ticker,
        *is_open, ticker,
        *is_open, ticker,
        *is_open,
        *is_open, ONE_DOLLAR,
        *is_open,
        recent,
        *is_open, recent,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_VIEW_SQL, params)
        decided, bids, asks, bid_cost, ask_cost, open_orders, last_minute, held, cost, day_pnl, last_follow = (
            cursor.fetchone()
        )
    held = int(held)
    view = AccountView(
        paused=account.paused,
        killed=account.killed,
        long_exposure=max(held, 0) + int(bids),
        short_exposure=max(-held, 0) + int(asks),
        exposure=int(cost) + int(bid_cost) + int(ask_cost),
        open_orders=int(open_orders),
        orders_last_minute=int(last_minute),
        daily_pnl=int(day_pnl),
        last_follow_at=last_follow,
    )
    return view, decided


def decide(
    *,
    whale: WhaleTrade,
    verdict: Verdict,
    inputs: dict[str, Any],
    mode: str,
    started_at: float,
    config: RuleConfig,
    limits: RiskLimits,
) -> Decided:
    """Persist the decision for ``whale`` under the risk lock; idempotent per whale.

    A second call for the same whale (a retry, a redelivery) finds the first
    decision and returns it with ``created=False``; the one-to-one constraints
    on WhaleDecision.whale and Order.decision back this up in the database."""
    with transaction.atomic():
        account = lock_account()
        now = time.time()
        view, decided = read_account(account, whale, now, config.cooldown)
        if decided is not None:
            existing = WhaleDecision.objects.select_related("order").get(pk=decided)
            return Decided(existing, getattr(existing, "order", None), created=False)
        final = final_verdict(verdict, view, now, config, limits)
        decision = WhaleDecision.objects.create(
            whale=whale,
            decision=WhaleDecision.Decision.FOLLOW if final.follow else WhaleDecision.Decision.SKIP,
            reason_code=final.reason,
            reason_text=final.text[:300],
            inputs={**inputs, "account": view.to_dict(), "limits": limits.to_dict(), "rules": config.to_dict()},
            mode=mode,
            started_at=started_at,
            decided_at=now,
        )
        order = None
        if final.follow and final.intent is not None:
            intent = final.intent
            order = Order.objects.create(
                decision=decision,
                client_order_id=client_order_id(decision, whale),
                market_ticker=intent.market_ticker,
                side=intent.side,
                price=intent.price,
                count=intent.count,
                mode=mode,
                time_in_force="good_till_canceled" if config.order_ttl > 0 else "immediate_or_cancel",
            )
            account.version += 1
            account.save(update_fields=["version", "updated_at"])
        WhaleTrade.objects.filter(pk=whale.pk).update(status=WhaleTrade.Status.DECIDED)
    return Decided(decision, order, created=True)
