"""Writes of whale outcomes: the features recorded with a whale, and the filler that
completes each outcome over time (markouts, settlement, P&L), run by Celery beat
(``trading.tasks.fill_outcomes``) or, in the embedded default, by ``run_all``.

The filler never runs on the decision path: it reads what the decision left
(its inputs, its order's fills) and the market's prices through one function
(trading.outcomes.source), and writes only ``WhaleOutcome`` rows.
"""

import logging
import time
from collections.abc import Callable, Sequence

from django.db.models import Q

from trading.exchange import MarketPrices
from trading.feed.whales import WhaleVerdict
from trading.models import Fill, Settlement, WhaleDecision, WhaleOutcome, WhaleTrade
from trading.outcomes import arithmetic as a
from trading.units import ONE_DOLLAR

logger = logging.getLogger(__name__)

# Markout horizons in seconds and the fields they fill.
HORIZONS = ((60, "mid_1m", "last_1m"), (300, "mid_5m", "last_5m"), (1800, "mid_30m", "last_30m"))
# A markout read later than this after its horizon is left unknown rather than stored
# as if on time: with the filler every few seconds only a stopped process is this late,
# and a price minutes off would blur the 1-minute markout into the 5-minute one.
MARKOUT_TOLERANCE = 30.0
# Markets read per pass, oldest due first: bounds one pass's REST reads (Kalshi's Basic
# read budget is 20/s), the rest wait for the next pass.
MARKETS_PER_PASS = 20
# Outcomes examined per pass, oldest first, for the same reason.
OUTCOMES_PER_PASS = 500

# The last markout's deadline: after it a whale only waits for its market's result.
LAST_DUE = HORIZONS[-1][0] + MARKOUT_TOLERANCE
# Markets remembered with the time their result was last asked (least recent asked first).
ASKED_MEMORY = 10_000
_asked: dict[str, float] = {}

PriceSource = Callable[[Sequence[str]], dict[str, MarketPrices]]


def record_features(*, whale: WhaleTrade, verdict: WhaleVerdict) -> WhaleOutcome:
    """The features known when the whale is detected, in the whale's own transaction."""
    return WhaleOutcome.objects.create(
        whale=whale,
        market_ticker=whale.market_ticker,
        traded_at=whale.traded_at,
        size_percentile=verdict.percentile,
        levels_swept=verdict.levels,
        price_impact=verdict.impact,
        price_band=a.price_band(whale.taker_side, whale.yes_price),
    )


def follow_price(whale: WhaleTrade, decision: WhaleDecision | None) -> int:
    """The own-side price a follow pays: our order's limit, else the own-side ask the
    decision saw, else the whale's own price (a skip decided before any book was read)."""
    order = getattr(decision, "order", None) if decision is not None else None
    if order is not None:
        return order.price if order.side == "bid" else ONE_DOLLAR - order.price
    book = (decision.inputs or {}).get("book") if decision is not None else None
    if book and book.get("yes_ask") is not None and book.get("yes_bid") is not None:
        return book["yes_ask"] if whale.taker_side == "yes" else ONE_DOLLAR - book["yes_bid"]
    return a.own_price(whale.taker_side, whale.yes_price)


def time_to_close(whale: WhaleTrade, decision: WhaleDecision | None) -> float | None:
    market = (decision.inputs or {}).get("market") if decision is not None else None
    close_ts = market.get("close_ts") if market else None
    return None if close_ts is None else round(close_ts - whale.traded_at, 3)


def fill_costs(fills: Sequence[Fill]) -> list[a.FillCost]:
    """Our follow's fills as the arithmetic takes them (a bid bought YES, an ask bought NO)."""
    return [
        a.FillCost(
            outcome="yes" if f.side == "bid" else "no",
            own_price=f.yes_price if f.side == "bid" else ONE_DOLLAR - f.yes_price,
            count=f.count,
            fee=f.fee,
        )
        for f in fills
    ]


def settle(
    outcome: WhaleOutcome, whale: WhaleTrade, decision: WhaleDecision | None, result: str, settled_at: float
) -> None:
    """The result and the P&L it fixes. A follow's actual P&L counts its fills; a skip has none."""
    outcome.result = result
    outcome.settled_at = settled_at
    price = outcome.follow_price if outcome.follow_price is not None else follow_price(whale, decision)
    outcome.pnl_follow = a.follow_pnl(whale.taker_side, price, result)
    outcome.pnl_fade = a.fade_pnl(whale.taker_side, whale.yes_price, result)
    order = getattr(decision, "order", None) if decision is not None else None
    if decision is not None and decision.decision == WhaleDecision.Decision.FOLLOW:
        fills = list(order.fills.all()) if order is not None else []
        outcome.pnl_actual = a.actual_pnl(fill_costs(fills), result)


def apply_prices(outcome: WhaleOutcome, prices: MarketPrices | None, now: float) -> None:
    """Markouts due now (within the tolerance) from ``prices``; after settlement the YES
    value is the settlement value, whatever the book shows."""
    if prices is None:
        return
    settled = outcome.result or prices.result
    for horizon, mid_field, last_field in HORIZONS:
        due = outcome.traded_at + horizon
        if getattr(outcome, mid_field) is not None or now < due or now - due > MARKOUT_TOLERANCE:
            continue
        if settled:
            value = ONE_DOLLAR if settled == "yes" else 0
            setattr(outcome, mid_field, value)
            setattr(outcome, last_field, value)
        else:
            setattr(outcome, mid_field, a.mid(prices.yes_bid, prices.yes_ask))
            setattr(outcome, last_field, prices.last)


def fill_outcomes(*, now: float | None = None, prices: PriceSource | None = None) -> int:
    """One pass over the incomplete outcomes: decision-time facts, markouts due, results.
    Returns how many outcomes changed."""
    from trading.outcomes.source import read_prices

    now = time.time() if now is None else now
    incomplete = WhaleOutcome.objects.filter(complete=False).select_related("whale__decision__order")
    # Outcomes with something due now come first, newest first: a markout cannot be read late.
    due = Q(follow_price__isnull=True, whale__decision__isnull=False, traded_at__gte=now - LAST_DUE)
    for horizon, mid_field, _ in HORIZONS:
        window = {"traded_at__lte": now - horizon, "traded_at__gte": now - horizon - MARKOUT_TOLERANCE}
        due |= Q(**{f"{mid_field}__isnull": True}, **window)
    recent = list(incomplete.filter(due).order_by("-traded_at")[:OUTCOMES_PER_PASS])
    tickers = list(dict.fromkeys(o.market_ticker for o in recent))[:MARKETS_PER_PASS]
    # Then whales waiting for their market's result, the least recently asked market first.
    waiting = set(incomplete.order_by().values_list("market_ticker", flat=True).distinct())
    for ticker in sorted(waiting - set(tickers), key=lambda t: _asked.get(t, 0.0)):
        if len(tickers) >= MARKETS_PER_PASS:
            break
        tickers.append(ticker)
    older = incomplete.filter(market_ticker__in=tickers).exclude(pk__in=[o.pk for o in recent])
    pending = recent + list(older.order_by("traded_at")[: max(0, OUTCOMES_PER_PASS - len(recent))])
    quotes = (prices or read_prices)(tickers) if tickers else {}
    # Results the feed runner recorded from the lifecycle channel come first (with the exchange's
    # settlement time); a market's own REST result covers a settlement the feed did not see.
    pending_tickers = {o.market_ticker for o in pending}
    settled = {
        ticker: (result, settled_at)
        for ticker, result, settled_at in Settlement.objects.filter(market_ticker__in=pending_tickers).values_list(
            "market_ticker", "result", "settled_at"
        )
    }
    for ticker in tickers:
        _asked.pop(ticker, None)
        _asked[ticker] = now
    while len(_asked) > ASKED_MEMORY:
        del _asked[next(iter(_asked))]
    changed = 0
    for outcome in pending:
        before = _state(outcome)
        _fill(outcome, quotes.get(outcome.market_ticker), settled.get(outcome.market_ticker), now)
        if _state(outcome) != before:
            outcome.save()
            changed += 1
    return changed


def _fill(outcome: WhaleOutcome, market: MarketPrices | None, settlement: tuple[str, float] | None, now: float) -> None:
    whale = outcome.whale
    decision = getattr(whale, "decision", None)
    if decision is not None and outcome.follow_price is None:
        outcome.follow_price = follow_price(whale, decision)
        outcome.time_to_close = time_to_close(whale, decision)
    if settlement is None and market is not None and market.result:
        settlement = (market.result, now)
    if settlement is not None and market is not None and not market.result:
        market = MarketPrices(market.yes_bid, market.yes_ask, market.last, settlement[0])
    apply_prices(outcome, market, now)
    if not outcome.result and settlement is not None and decision is not None:
        settle(outcome, whale, decision, settlement[0], settlement[1])
    outcome.complete = bool(outcome.result) and now > outcome.traded_at + LAST_DUE


def _state(outcome: WhaleOutcome) -> tuple[object, ...]:
    return tuple(getattr(outcome, f.attname) for f in WhaleOutcome._meta.concrete_fields)
