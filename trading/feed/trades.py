"""Trades integration: public trades become bus events and tape entries, and every
one is judged by the whale rule before anything may drop it (a whale is never
lost to a full queue). Whales are recorded off the event loop, on one thread of
their own, because in the embedded default the execution task runs right there.
"""

import asyncio
import enum
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connections

from trading import selectors
from trading.feed.bus import EventBus, TradeReceived, WhaleDetected
from trading.feed.channel import ChannelFeed
from trading.feed.marks import Mark
from trading.feed.threads import fresh_connection
from trading.feed.whale_services import record_whale
from trading.feed.whales import WhaleTracker, WhaleVerdict
from trading.health import ComponentHealth, Criticality
from trading.kalshi import messages as m
from trading.kalshi.ws import KalshiWebSocket

logger = logging.getLogger(__name__)

TRADE_CHANNEL = "trade"
# The mark key of a feed of the whole exchange's trades (no tickers): one tape, one
# mark, a ticker no market has (trading.models.TradeMark).
EXCHANGE_MARK = "*"
# Trades dropped by a full listener queue keep this component unhealthy this long.
DROP_WINDOW = 60.0
# Trade ids remembered to drop a trade seen twice: live trades and a backfill overlap
# by the few seconds of a reconnect, far fewer trades than this (~2 MB of ids).
SEEN_IDS = 20_000


class Taken(enum.Enum):
    DUPLICATE = "duplicate"
    TRADE = "trade"
    WHALE = "whale"


def public_trade(msg: m.Trade) -> TradeReceived:
    body = msg.msg
    return TradeReceived(
        trade_id=body.trade_id,
        ticker=body.market_ticker,
        yes_price=body.yes_price,
        count=body.count,
        taker_side=body.taker_outcome_side,
        ts=body.ts_ms / 1000,
    )


@fresh_connection
def _record(
    trade: TradeReceived, verdict: WhaleVerdict, detected_at: float, quote: dict[str, Any] | None
) -> dict[str, Any] | None:
    """On the whale thread: record (and, embedded, execute) one whale; its dict, or None if known."""
    whale = record_whale(trade=trade, verdict=verdict, detected_at=detected_at, quote=quote)
    return None if whale is None else selectors.whale_dict(whale)


class TradeFeed(ChannelFeed):
    channels = (TRADE_CHANNEL,)
    types = (m.Trade,)

    def __init__(
        self,
        client: KalshiWebSocket,
        tickers: Sequence[str],
        *,
        bus: EventBus,
        whales: WhaleTracker,
        max_age: float,
    ) -> None:
        super().__init__(client, tickers)
        self.bus = bus
        self.whales = whales
        self.max_age = max_age
        self.trades = 0
        self.duplicates = 0
        # The newest trade of each market, live or backfilled (trading.feed.backfill makes marks
        # of them); of the whole exchange under EXCHANGE_MARK when the feed has no tickers.
        self.latest: dict[str, Mark] = {}
        self.tapes = self.tickers or [EXCHANGE_MARK]
        self._seen: dict[str, None] = {}  # insertion-ordered: the oldest id is forgotten first
        self._started = time.monotonic()
        self._last_trade: float | None = None
        self._dropped_seen = 0
        self._last_drop_at: float | None = None
        self._recording: set[asyncio.Task] = set()
        # One thread: whales are recorded (and, embedded, executed) in arrival order,
        # and never on the event loop.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whales")

    async def start(self) -> None:
        self._started = time.monotonic()
        await super().start()

    async def stop(self) -> None:
        """Unsubscribe, then let whales already detected finish recording."""
        await super().stop()
        if self._recording:
            await asyncio.gather(*self._recording, return_exceptions=True)
        # The thread's database connection goes with it, not whenever the collector finds it.
        await asyncio.get_running_loop().run_in_executor(self._executor, connections.close_all)
        self._executor.shutdown(wait=False)

    def subscribed(self) -> bool:
        """Connected, with the trade channel confirmed on this connection."""
        sub = self._subscription
        return self.client.connected.is_set() and (sub is None or sub.active)

    async def process(self, msg: m.Trade) -> None:
        self.handle(msg)

    def handle(self, msg: m.Trade) -> None:
        self._last_trade = time.monotonic()
        self.take(public_trade(msg))

    def take(self, trade: TradeReceived) -> Taken:
        """One trade, live or backfilled: judged by the whale rule once, however often it comes."""
        if trade.trade_id in self._seen:
            self.duplicates += 1
            return Taken.DUPLICATE
        self._seen[trade.trade_id] = None
        if len(self._seen) > SEEN_IDS:
            del self._seen[next(iter(self._seen))]
        self.trades += 1
        tape = trade.ticker if self.tickers else EXCHANGE_MARK
        latest = self.latest.get(tape)
        if latest is None or trade.ts > latest.traded_at:
            self.latest[tape] = Mark(trade.trade_id, trade.ts)
        verdict = self.whales.judge(trade)
        if verdict is not None:
            task = asyncio.create_task(self._record(trade, verdict), name=f"whale-{trade.trade_id}")
            self._recording.add(task)
            task.add_done_callback(self._recording.discard)
        self.bus.publish_nowait(trade)
        return Taken.TRADE if verdict is None else Taken.WHALE

    async def _record(self, trade: TradeReceived, verdict: WhaleVerdict) -> None:
        loop = asyncio.get_running_loop()
        try:
            quote = self.whales.quote_of(trade.ticker)
            whale = await loop.run_in_executor(self._executor, _record, trade, verdict, time.time(), quote)
        except Exception as exc:
            self.whales.failed(exc)
            logger.exception("whale trade %s on %s could not be recorded", trade.trade_id, trade.ticker)
            return
        self.whales.recorded(whale, verdict)
        if whale is not None:
            await self.bus.publish(
                WhaleDetected(whale["whale_id"], whale["trade_id"], whale["market_ticker"], whale["notional"])
            )

    def health(self) -> ComponentHealth:
        now = time.monotonic()
        since = now - (self._last_trade if self._last_trade is not None else self._started)
        if self.listener_dropped > self._dropped_seen:
            # A trade lost before the whale rule saw it may have been a whale: say so loudly.
            self._dropped_seen, self._last_drop_at = self.listener_dropped, now
            logger.error("trade feed fell behind: %d trades dropped unjudged so far", self.listener_dropped)
        problems = []
        if since > self.max_age:
            problems.append(f"no trade message for {since:.0f} s")
        if self._last_drop_at is not None and now - self._last_drop_at < DROP_WINDOW:
            problems.append(f"{self.listener_dropped} trades dropped before the whale rule saw them")
        return ComponentHealth(
            "trades",
            not problems,
            Criticality.NON_CRITICAL,
            "; ".join(problems),
            {
                "trades": self.trades,
                "duplicates": self.duplicates,
                "last_trade_age_s": None if self._last_trade is None else round(now - self._last_trade, 3),
                "max_age_s": self.max_age,
                "listener_dropped": self.listener_dropped,
                "recording": len(self._recording),
            },
        )
