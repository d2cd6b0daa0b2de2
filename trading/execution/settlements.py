"""Settlement of a market: the position it leaves closes at $1 per winning contract and
realizes its P&L, recorded once per market as a ``Settlement`` row.

Reports come from two sources, the feed runner (a ``market_lifecycle_v2`` ``settled``
message, with the result of the ``determined`` one before it) and reconciliation
(``GET /portfolio/settlements``); the market's ticker is unique, so the second to
arrive adds nothing. The payout and realized P&L come from the project's own position
arithmetic (trading.accounting.apply_settlement) over the local position; when there is
none locally but the exchange says the account held contracts, the exchange's count
and cost are settled instead, so a settlement missed while the feed was down is not lost.
"""

import logging

from django.db import transaction

from trading.accounting import PositionState, apply_settlement
from trading.exchange import SettlementReport
from trading.execution import broadcast, risk
from trading.models import Position, Settlement
from trading.units import format_money

logger = logging.getLogger(__name__)


def record_settlement(*, report: SettlementReport) -> Settlement | None:
    """Settle the local position of ``report.market_ticker``; the new ``Settlement``, or
    None when the market was already recorded as settled. Bad results raise ValueError."""
    if report.result not in Settlement.Result.values:
        raise ValueError(f"settlement of {report.market_ticker}: result {report.result!r} is not yes or no")
    with transaction.atomic():
        account = risk.lock_account()
        if Settlement.objects.filter(market_ticker=report.market_ticker).exists():
            return None
        position = Position.objects.select_for_update().filter(market_ticker=report.market_ticker).first()
        state = PositionState()
        if position is not None:
            state = PositionState(position.position, position.cost, position.realized_pnl, position.fees_paid)
        if not state.position and report.position:
            state = PositionState(report.position, report.cost, state.realized_pnl, max(state.fees_paid, report.fees))
        effect = apply_settlement(state, result=report.result)
        settlement = Settlement.objects.create(
            market_ticker=report.market_ticker,
            event_ticker=report.event_ticker,
            result=report.result,
            position=state.position,
            cost=state.cost,
            payout=effect.cash,
            realized_pnl=effect.realized,
            fees=state.fees_paid,
            settled_at=report.settled_at,
        )
        if state.position:
            if position is None:
                position = Position(market_ticker=report.market_ticker)
            position.position, position.cost = effect.state.position, effect.state.cost
            position.realized_pnl, position.fees_paid = effect.state.realized_pnl, effect.state.fees_paid
            position.save()
            account.balance += effect.cash
            account.version += 1
            account.save(update_fields=["balance", "version", "updated_at"])
            broadcast.activity(
                f"{report.market_ticker} settled {report.result}: paid {format_money(effect.cash, 2)} $, "
                f"realized {format_money(effect.realized, 2)} $",
                market_ticker=report.market_ticker,
                result=report.result,
                payout=effect.cash,
                realized_pnl=effect.realized,
            )
            broadcast.trading_state(account)
    logger.info("%s settled %s (position %d)", report.market_ticker, report.result, state.position)
    return settlement
