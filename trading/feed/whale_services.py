"""Writes for whales: persisting one and handing it to execution.

The rule that says which trades are whales is pure (``trading.feed.whales``); this
is the service beside it. A whale row is unique on Kalshi's trade id, so a
replayed trade (a backfill after a reconnect, a standby's takeover) is never a
second whale, and each whale goes to execution exactly once, after commit.
"""

import logging
from typing import Any

from django.db import IntegrityError, transaction

from trading import events, publisher, units
from trading.execution import broadcast
from trading.feed.bus import TradeReceived
from trading.feed.whales import WhaleVerdict
from trading.models import WhaleTrade
from trading.outcomes.services import record_features

logger = logging.getLogger(__name__)


def record_whale(
    *, trade: TradeReceived, verdict: WhaleVerdict, detected_at: float, quote: dict[str, Any] | None = None
) -> WhaleTrade | None:
    """Persist a whale (with the market's ``quote`` at detection, trading.feed.prices) and queue
    its execution after commit; None when the trade id is known already."""
    try:
        with transaction.atomic():
            whale = WhaleTrade.objects.create(
                trade_id=trade.trade_id,
                market_ticker=trade.ticker,
                taker_side=trade.taker_side,
                yes_price=trade.yes_price,
                count=trade.count,
                notional=verdict.notional,
                traded_at=trade.ts,
                detected_at=detected_at,
                quote=quote,
            )
            record_features(whale=whale, verdict=verdict)
            _announce(whale, verdict)
            # Registered after the announcements, so browsers see "detected" before any stage.
            transaction.on_commit(lambda: _hand_to_execution(whale.pk))
    except IntegrityError:
        if WhaleTrade.objects.filter(trade_id=trade.trade_id).exists():
            return None
        raise
    return whale


def _announce(whale: WhaleTrade, verdict: WhaleVerdict) -> None:
    """The activity line and the new whale queue, sent with the whale's transaction."""
    side_price = whale.yes_price if whale.taker_side == "yes" else units.ONE_DOLLAR - whale.yes_price
    publisher.publish(
        events.SYSTEM_ACTIVITY,
        events.activity(
            source="whale",
            message=(
                f"whale on {whale.market_ticker}: {whale.taker_side.upper()} {units.human_count(whale.count)}"
                f" @ {units.human_price(side_price)} = {units.human_money(whale.notional)} ({verdict.reason})"
            ),
            details={
                "whale_id": whale.pk,
                "trade_id": whale.trade_id,
                "market_ticker": whale.market_ticker,
                "notional": whale.notional,
                "rule": verdict.reason,
                "median_notional": verdict.median,
            },
        ),
    )
    broadcast.whale_queue(whale.pk)


def _hand_to_execution(whale_id: int) -> None:
    """Celery in the services shape; in the embedded default the task runs eagerly, here, off the feed loop."""
    from trading.tasks import process_whale

    try:
        process_whale.delay(whale_id)
    except Exception:  # a broker down (services) or a failed in-process run (embedded) must not stop the feed
        logger.exception("whale %s: handing it to execution failed; it stays in the table for review", whale_id)
