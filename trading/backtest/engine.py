"""The strategy replayed in process over a recording of the exchange feed: the same
whale rule (trading.feed.whales), decision rules (trading.execution.rules) and risk
limits (trading.execution.risk.final_verdict) as the live path, only the venue is
different: the books are rebuilt from the recorded frames and a follow fills at once
against the replayed book (what crosses its limit, the rest canceled), with Kalshi's
taker fee. No database, no wall clock: time is each frame's receive time, so two runs
over one recording give the same report.

What it cannot know it says: a market whose result is not in the recording (no
``market_lifecycle_v2`` settlement frame) leaves its whales' P&L unknown; a market
with no lifecycle frame has no close time, so the time-to-close rule does not apply.
"""

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from trading.config import RiskLimits, RuleConfig
from trading.exchange import BookView, MarketView
from trading.execution.risk import AccountView, final_verdict, start_of_day
from trading.execution.rules import OrderIntent, Verdict, WhaleView, evaluate
from trading.feed.bus import TradeReceived
from trading.feed.whales import WhaleRule
from trading.kalshi import messages as m
from trading.kalshi.fees import trade_fee
from trading.orderbook import NO, YES, OrderBook
from trading.outcomes import arithmetic as a
from trading.outcomes.report import OutcomeRow
from trading.units import ONE_DOLLAR

HORIZONS = (60.0, 300.0, 1800.0)
MINUTE = 60.0
SETTLED_EVENTS = ("determined", "settled")


@dataclass(slots=True)
class _Whale:
    trade: TradeReceived
    percentile: int | None
    verdict: Verdict
    fills: list[a.FillCost] = field(default_factory=list)
    mids: list[int | None] = field(default_factory=lambda: [None, None, None])


@dataclass(slots=True)
class _Account:
    """Our simulated position per market (+ YES, - NO), costs, and the recent order times."""

    positions: dict[str, int] = field(default_factory=dict)
    costs: dict[str, int] = field(default_factory=dict)  # micro-dollars paid per market, until it settles
    order_times: list[float] = field(default_factory=list)
    last_follow: dict[str, float] = field(default_factory=dict)
    realized: list[tuple[float, int]] = field(default_factory=list)

    def view(self, ticker: str, now: float, cooldown: float) -> AccountView:
        held = self.positions.get(ticker, 0)
        last = self.last_follow.get(ticker)
        day = start_of_day(now)
        return AccountView(
            paused=False,
            killed=False,
            long_exposure=max(held, 0),
            short_exposure=max(-held, 0),
            exposure=sum(self.costs.values()),
            open_orders=0,  # follows fill at once or not at all: nothing rests
            orders_last_minute=sum(1 for t in self.order_times if t >= now - MINUTE),
            daily_pnl=sum(p for t, p in self.realized if t >= day),
            last_follow_at=last if last is not None and now - last < cooldown else None,
        )


class Backtest:
    def __init__(self, *, rules: RuleConfig, limits: RiskLimits, min_notional: int, relative_factor: float) -> None:
        self.rules = rules
        self.limits = limits
        self.whale_rule = WhaleRule(min_notional=min_notional, relative_factor=relative_factor)
        self.books: dict[str, OrderBook] = {}
        self.markets: dict[str, MarketView] = {}
        self.results: dict[str, str] = {}
        self.last_price: dict[str, int] = {}
        self.whales: list[_Whale] = []
        self.account = _Account()
        self.frames = 0
        self.bad_frames = 0
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        self._due: list[tuple[float, int, int]] = []  # heap of (due time, whale index, horizon index)

    def run(self, frames: Iterable[tuple[float, bytes]]) -> "Backtest":
        for received, frame in frames:
            self.step(received, frame)
        return self

    def step(self, now: float, frame: bytes) -> None:
        self.frames += 1
        if self.first_ts is None:
            self.first_ts = now
        self.last_ts = now
        self._markouts(now)
        try:
            msg = m.parse(frame)
        except m.ParseError:
            self.bad_frames += 1
            return
        if isinstance(msg, m.OrderbookDelta):
            body = msg.msg
            book = self.books.get(body.market_ticker)
            if book is not None:
                book.apply_delta(body.side, int(body.price), int(body.delta))
        elif isinstance(msg, m.OrderbookSnapshot):
            snap = msg.msg
            book = self.books.setdefault(snap.market_ticker, OrderBook(snap.market_ticker))
            book.apply_snapshot([(int(p), int(c)) for p, c in snap.yes], [(int(p), int(c)) for p, c in snap.no])
        elif isinstance(msg, m.Trade):
            self._trade(msg, now)
        elif isinstance(msg, m.MarketLifecycle):
            self._lifecycle(msg.msg)

    def _trade(self, msg: m.Trade, now: float) -> None:
        body = msg.msg
        trade = TradeReceived(
            trade_id=body.trade_id,
            ticker=body.market_ticker,
            yes_price=int(body.yes_price),
            count=int(body.count),
            taker_side=body.taker_outcome_side,
            ts=body.ts_ms / 1000,
        )
        self.last_price[trade.ticker] = trade.yes_price
        found = self.whale_rule.observe(trade)
        if found is None:
            return
        verdict = self._decide(trade, found.notional, now)
        whale = _Whale(trade, found.percentile, verdict)
        if verdict.follow and verdict.intent is not None:
            whale.fills = self._fill(verdict.intent, now)
        index = len(self.whales)
        self.whales.append(whale)
        for i, horizon in enumerate(HORIZONS):
            heapq.heappush(self._due, (trade.ts + horizon, index, i))

    def _decide(self, trade: TradeReceived, notional: int, now: float) -> Verdict:
        view = WhaleView(trade.ticker, trade.taker_side, trade.yes_price, trade.count, notional, trade.ts)
        book = self.books.get(trade.ticker)
        top = book.top() if book is not None else OrderBook(trade.ticker).top()
        market = self.markets.get(trade.ticker, MarketView(status="active", close_ts=None))
        verdict = evaluate(view, BookView(top=top, as_of=now, stale=book is None), market, now, self.rules)
        account = self.account.view(trade.ticker, now, self.rules.cooldown)
        return final_verdict(verdict, account, now, self.rules, self.limits)

    def _fill(self, intent: OrderIntent, now: float) -> list[a.FillCost]:
        """Take what the replayed book offers up to the limit, best price first; the rest is canceled."""
        account = self.account
        account.order_times = [t for t in account.order_times if t >= now - MINUTE] + [now]
        account.last_follow[intent.market_ticker] = now
        book = self.books.get(intent.market_ticker)
        if book is None:
            return []
        outcome = YES if intent.side == "bid" else NO
        # Our outcome's asks are the other outcome's bids at 1 - price.
        asks = sorted((ONE_DOLLAR - p, size) for p, size in (book.no if outcome == YES else book.yes).items())
        left, fills = intent.count, []
        for own, size in asks:
            if own > intent.own_price or left <= 0:
                break
            take = min(size, left)
            left -= take
            yes_price = own if outcome == YES else ONE_DOLLAR - own
            fills.append(
                a.FillCost(outcome=outcome, own_price=own, count=take, fee=trade_fee(take, yes_price, taker=True))
            )
            signed = take if outcome == YES else -take
            account.positions[intent.market_ticker] = account.positions.get(intent.market_ticker, 0) + signed
            account.costs[intent.market_ticker] = account.costs.get(intent.market_ticker, 0) + own * take
        return fills

    def _lifecycle(self, body: m.MarketLifecycleBody) -> None:
        ticker = body.market_ticker
        current = self.markets.get(ticker, MarketView(status="active", close_ts=None))
        status = current.status
        if body.event_type in ("deactivated", "closed") or body.is_deactivated:
            status = "closed"
        elif body.event_type == "activated":
            status = "active"
        close_ts = float(body.close_ts) if body.close_ts is not None else current.close_ts
        self.markets[ticker] = MarketView(status=status, close_ts=close_ts, price_ranges=current.price_ranges)
        if body.event_type in SETTLED_EVENTS and body.result in ("yes", "no") and ticker not in self.results:
            self.results[ticker] = body.result
            self._settle(ticker, body.result, float(body.settled_ts or body.determination_ts or self.last_ts or 0))

    def _settle(self, ticker: str, result: str, when: float) -> None:
        """A settled market's follows realize their P&L (the daily loss limit sees it) and free their exposure."""
        for whale in self.whales:
            if whale.trade.ticker == ticker and whale.fills:
                self.account.realized.append((when, a.actual_pnl(whale.fills, result)))
        self.account.positions.pop(ticker, None)
        self.account.costs.pop(ticker, None)

    def _markouts(self, now: float) -> None:
        due = self._due
        while due and due[0][0] <= now:
            _, index, horizon = heapq.heappop(due)
            whale = self.whales[index]
            result = self.results.get(whale.trade.ticker)
            if result:
                whale.mids[horizon] = ONE_DOLLAR if result == YES else 0
            else:
                book = self.books.get(whale.trade.ticker)
                top = book.top() if book is not None else None
                whale.mids[horizon] = a.mid(top.yes_bid, top.yes_ask) if top is not None else None

    def rows(self) -> list[OutcomeRow]:
        """One outcome row per whale, as the live report reads them from the database."""
        out = []
        for whale in self.whales:
            trade, verdict = whale.trade, whale.verdict
            result = self.results.get(trade.ticker, "")
            follow_own = (
                verdict.intent.own_price
                if verdict.intent is not None
                else a.own_price(trade.taker_side, trade.yes_price)
            )
            out.append(
                OutcomeRow(
                    traded_at=trade.ts,
                    market_ticker=trade.ticker,
                    taker_side=trade.taker_side,
                    yes_price=trade.yes_price,
                    decision="follow" if verdict.follow else "skip",
                    reason=str(verdict.reason),
                    price_band=a.price_band(trade.taker_side, trade.yes_price),
                    size_percentile=whale.percentile,
                    mids=(whale.mids[0], whale.mids[1], whale.mids[2]),
                    result=result,
                    pnl_follow=a.follow_pnl(trade.taker_side, follow_own, result) if result else None,
                    pnl_fade=a.fade_pnl(trade.taker_side, trade.yes_price, result) if result else None,
                    pnl_actual=a.actual_pnl(whale.fills, result) if result and verdict.follow else None,
                )
            )
        return out

    def summary(self) -> dict[str, Any]:
        """What the recording held, and what it did not say."""
        traded = sorted({w.trade.ticker for w in self.whales})
        span = (self.last_ts - self.first_ts) if self.first_ts is not None and self.last_ts is not None else 0.0
        return {
            "frames": self.frames,
            "bad_frames": self.bad_frames,
            "recorded_seconds": round(span, 3),
            "markets": sorted(self.books),
            "settled_markets": sorted(self.results),
            "unsettled_markets_with_whales": [t for t in traded if t not in self.results],
            "follows_filled": sum(1 for w in self.whales if w.fills),
        }
