"""What the execution side tells the browsers: ``whale_processing`` stages, the
``whale_queue``, ``trading_state`` and ``system_activity`` lines.

All go through trading.publisher, which stores them with the caller's
transaction and sends them only after it commits, so a browser never sees a
stage whose row was rolled back.
"""

from typing import Any

from trading import events, publisher, selectors
from trading.models import Order, RiskAccount, WhaleDecision, WhaleTrade

# whale_processing stages, in the order a whale goes through them.
RECEIVED = "received"
EVALUATING = "evaluating"
DECIDED = "decided"
ORDER_PLACED = "order_placed"
FILLED = "filled"
SKIPPED = "skipped"
FAILED = "failed"


def order_dict(order: Order | None) -> dict[str, Any] | None:
    if order is None:
        return None
    return {
        "id": order.pk,
        "client_order_id": order.client_order_id,
        "exchange_order_id": order.exchange_order_id,
        "side": order.side,
        "price": order.price,
        "count": order.count,
        "filled_count": order.filled_count,
        "status": order.status,
        "error": order.error,
    }


def whale_stage(
    stage: str,
    whale: WhaleTrade,
    decision: WhaleDecision | None = None,
    order: Order | None = None,
    detail: str = "",
) -> None:
    publisher.publish(
        events.WHALE_PROCESSING,
        {
            "whale_id": whale.pk,
            "stage": stage,
            "market_ticker": whale.market_ticker,
            "taker_side": whale.taker_side,
            "notional": whale.notional,
            "decision_id": decision.pk if decision else None,
            "decision": decision.decision if decision else None,
            "reason_code": decision.reason_code if decision else None,
            "reason_text": decision.reason_text if decision else None,
            "mode": decision.mode if decision else None,
            "order": order_dict(order),
            "detail": detail,
        },
    )


def whale_queue(whale_id: int) -> None:
    """One whale joined, or left, the queue: its row and the waiting total, not the whole
    queue (browsers merge it; the replay carries the full queue)."""
    publisher.publish(events.WHALE_QUEUE, selectors.whale_change_data(whale_id))


def trading_state(account: RiskAccount | None = None) -> None:
    publisher.publish(events.TRADING_STATE, selectors.trading_state_data(account))


def activity(message: str, *, level: str = "info", **details: Any) -> None:
    """One line for the activity console (and the admin's activity page)."""
    publisher.publish(
        events.SYSTEM_ACTIVITY, events.activity(source="execution", level=level, message=message, details=details)
    )
