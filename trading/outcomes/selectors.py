"""Reads for the strategy report: every whale since a moment, with its decision and outcome."""

from typing import Any

from trading.models import WhaleTrade
from trading.outcomes import arithmetic as a
from trading.outcomes.report import OutcomeRow, build

FIELDS = (
    "traded_at",
    "market_ticker",
    "taker_side",
    "yes_price",
    "decision__decision",
    "decision__reason_code",
    "outcome__price_band",
    "outcome__size_percentile",
    "outcome__mid_1m",
    "outcome__mid_5m",
    "outcome__mid_30m",
    "outcome__result",
    "outcome__pnl_follow",
    "outcome__pnl_fade",
    "outcome__pnl_actual",
)


def outcome_rows(since: float | None = None) -> list[OutcomeRow]:
    """Whales recorded before outcomes existed have none: their band is worked out, the rest unknown."""
    whales = WhaleTrade.objects.order_by("traded_at", "id")
    if since is not None:
        whales = whales.filter(traded_at__gte=since)
    return [
        OutcomeRow(
            traded_at=traded_at,
            market_ticker=ticker,
            taker_side=side,
            yes_price=price,
            decision=decision,
            reason=reason,
            price_band=band or a.price_band(side, price),
            size_percentile=percentile,
            mids=(m1, m5, m30),
            result=result or "",
            pnl_follow=follow,
            pnl_fade=fade,
            pnl_actual=actual,
        )
        for (
            traded_at,
            ticker,
            side,
            price,
            decision,
            reason,
            band,
            percentile,
            m1,
            m5,
            m30,
            result,
            follow,
            fade,
            actual,
        ) in whales.values_list(*FIELDS).iterator()
    ]


def strategy_report(since: float | None = None) -> dict[str, Any]:
    return build(outcome_rows(since), since=since)
