"""The trading switches: pause, resume, kill, and the status they leave.

Plain functions for every front end (``manage.py trading``, the dashboard's
pause/resume/kill commands, the admin): each records who acted in the activity
log and bumps the account version, so every browser's ``trading_state`` follows.
The flags live on the RiskAccount row that every decision locks, so a decision
that starts after a switch returns sees it (``paused`` / ``kill_switch`` skips).

* pause: no new orders; open orders stay.
* kill: no new orders, and every open order is canceled on the exchange.
* resume: clears both.
"""

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from trading import alerts, selectors
from trading.exchange import ExchangeError
from trading.execution import broadcast, loop, risk, services
from trading.models import Order, RiskAccount
from trading.units import human_money, human_position

logger = logging.getLogger(__name__)


@dataclass
class KillResult:
    canceled: list[str] = field(default_factory=list)  # client order ids
    failed: list[str] = field(default_factory=list)  # could not be canceled now (reconciliation retries)


def _actor(user: Any) -> str:
    return getattr(user, "username", None) or (str(user) if user else "system")


def _switch(*, paused: bool, killed: bool, user: Any, message: str) -> RiskAccount:
    with transaction.atomic():
        account = risk.lock_account()
        account.paused, account.killed = paused, killed
        account.version += 1
        account.save(update_fields=["paused", "killed", "version", "updated_at"])
        broadcast.activity(message, user=_actor(user), paused=paused, killed=killed)
        broadcast.trading_state()
    logger.info("%s", message)
    return account


def pause(*, user: Any = None) -> RiskAccount:
    """Stop new orders; open orders stay on the book."""
    return _switch(paused=True, killed=False, user=user, message=f"Trading paused by {_actor(user)}.")


def resume(*, user: Any = None) -> RiskAccount:
    """Allow new orders again (after a pause or a kill)."""
    return _switch(paused=False, killed=False, user=user, message=f"Trading resumed by {_actor(user)}.")


def kill(*, user: Any = None) -> KillResult:
    """Stop new orders and cancel every open order, ours on record and any resting on the exchange."""
    _switch(paused=False, killed=True, user=user, message=f"Kill switch turned on by {_actor(user)}.")
    result = KillResult()
    for order in Order.objects.filter(status__in=Order.OPEN_STATUSES).order_by("pk"):
        try:
            services.cancel_order(order_id=order.pk)
            result.canceled.append(order.client_order_id)
        except ExchangeError as exc:
            logger.warning("kill: order %s not canceled: %s", order.client_order_id, exc)
            result.failed.append(order.client_order_id)
    exchange = services.current_gateway()
    if exchange.has_account:
        try:
            for stray in loop.run(exchange.open_orders()):
                if stray.client_order_id in result.canceled:
                    continue  # canceled above; the exchange's list lags a cancel (PROTOCOL.md 8)
                loop.run(exchange.cancel(stray.order_id, stray.ticker))
                result.canceled.append(stray.client_order_id or stray.order_id)
        except ExchangeError as exc:
            logger.warning("kill: exchange's resting orders not listed/canceled: %s", exc)
            result.failed.append("exchange open orders")
    with transaction.atomic():
        broadcast.activity(
            f"Kill switch: {len(result.canceled)} orders canceled, {len(result.failed)} failed.",
            level="warning" if result.failed else "info",
            user=_actor(user),
            canceled=result.canceled,
            failed=result.failed,
        )
    alerts.alert(
        alerts.KILL_SWITCH,
        f"Kill switch turned on by {_actor(user)}: no new orders; {len(result.canceled)} orders canceled"
        + (f", {len(result.failed)} not canceled yet (reconciliation retries)." if result.failed else "."),
    )
    return result


def status() -> dict[str, Any]:
    """The switches, balance, positions and open orders, as ``trading_state`` carries them."""
    return selectors.trading_state_data()


def status_text(data: dict[str, Any]) -> str:
    """``status()`` as a person reads it: dollars, and positions as the side held."""
    switch = "KILLED (no new orders)" if data["killed"] else "paused (no new orders)" if data["paused"] else "on"
    reconciled = data["reconciled_at"]
    lines = [
        f"Trading: {switch}, {data['mode']} mode",
        f"Balance: {human_money(data['balance'])}   Exposure: {human_money(data['exposure'])}",
        f"Realized P&L: {human_money(data['realized_pnl'])}   Today, net of fees: {human_money(data['daily_pnl'])}",
        f"Open orders: {data['open_orders']}",
        "Last reconciled: "
        + (datetime.fromtimestamp(reconciled, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if reconciled else "never"),
    ]
    positions = data["positions"]
    lines.append(f"Positions: {len(positions) or 'none'}")
    width = max((len(p["market_ticker"]) for p in positions), default=0)
    for p in positions:
        lines.append(
            f"  {p['market_ticker']:<{width}}  {human_position(p['position']):>12}  cost {human_money(p['cost'])}"
            f"  realized {human_money(p['realized_pnl'])}  fees {human_money(p['fees_paid'])}"
        )
    return "\n".join(lines)
