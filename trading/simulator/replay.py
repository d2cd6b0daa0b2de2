"""A recording served by the simulator (``simulate_exchange --replay PATH [--speed X]``):
the recording's markets are listed under their own tickers, their books and public
trades come from the recorded frames at the recorded pace (or ``speed`` times faster),
and everything else is the simulator's own: the REST API and WebSocket protocol, the
account, and our orders matched against the replayed book. So the whole system runs
unchanged on recorded data.

Replayed liquidity is anonymous: an order of ours that crosses it fills; a recorded
trade does not fill an order of ours resting at its price (the recording's deltas
already say what that trade took, from participants who were really there). Book
changes of our own orders in a live recording (those carrying a client order id) are
left out, so they are not replayed as someone else's. Markets settle as recorded
(``market_lifecycle_v2``), through the simulator's own settlement.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from trading.feed.recording import BadRecording, read_frames
from trading.kalshi import messages as m
from trading.simulator.exchange import Exchange
from trading.simulator.server import SimConfig, SimulatorServer

log = logging.getLogger("trading.simulator")

# Frames due within this much of now go out together, in one publish: the simulator's
# own feed publishes in batches too, and a sleep per frame would cost more than the frame.
BATCH_WINDOW = 0.005


def recorded_tickers(path: Path) -> list[str]:
    """The markets whose books or trades the recording holds, in the order it first has them."""
    seen: dict[str, None] = {}
    for _, frame in read_frames(path):
        try:
            msg = m.parse(frame)
        except m.ParseError:
            continue
        if isinstance(msg, m.OrderbookSnapshot | m.OrderbookDelta | m.Trade):
            seen.setdefault(msg.msg.market_ticker, None)
    return list(seen)


def list_recorded_markets(exchange: Exchange, tickers: list[str]) -> None:
    """The exchange's own listings, renamed to the recording's tickers, with empty books.
    ``exchange`` must have been made with ``len(tickers)`` markets and be paused."""
    templates = [exchange.markets[t] for t in exchange.tickers]
    exchange.markets, exchange.books, exchange.queues = {}, {}, {}
    exchange.tickers, exchange.open_tickers = [], []
    exchange.market_maker.mids.clear()
    for template, ticker in zip(templates, tickers, strict=True):
        event = ticker.rsplit("-", 1)[0] if "-" in ticker else ticker
        exchange.add_market(replace(template, ticker=ticker, event_ticker=event))
    exchange.events.clear()


class Replay:
    """Applies the recorded frames to the exchange at their pace; ``publish`` sends what changed."""

    def __init__(self, exchange: Exchange, path: Path, *, speed: float, publish: Callable[[], None]) -> None:
        if speed <= 0:
            raise ValueError("the replay speed must be above 0")
        self.exchange = exchange
        self.path = path
        self.speed = speed
        self.publish = publish
        self.frames = 0
        self.skipped = 0
        self.done = asyncio.Event()
        self._results: dict[str, str] = {}

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        first: float | None = None
        for received, frame in read_frames(self.path):
            if first is None:
                first = received
            wait = started + (received - first) / self.speed - loop.time()
            if wait > BATCH_WINDOW:
                self.publish()
                await asyncio.sleep(wait)
            self.apply(frame)
        self.publish()
        log.info("replay of %s done: %d frames applied, %d skipped", self.path, self.frames, self.skipped)
        self.done.set()

    def apply(self, frame: bytes) -> None:
        """One recorded frame; one the exchange cannot take (an unknown market, an unreadable
        frame) is counted and skipped, never the end of the replay."""
        try:
            msg = m.parse(frame)
        except m.ParseError:
            self.skipped += 1
            return
        ex = self.exchange
        if isinstance(msg, m.OrderbookSnapshot) and msg.msg.market_ticker in ex.markets:
            snap = msg.msg
            yes = {int(p): int(c) for p, c in snap.yes}
            no = {int(p): int(c) for p, c in snap.no}
            ex.set_book(snap.market_ticker, yes=yes, no=no)
        elif isinstance(msg, m.OrderbookDelta) and msg.msg.market_ticker in ex.markets:
            if msg.msg.client_order_id:
                self.skipped += 1  # our own order's change in a live recording
                return
            self._delta(msg.msg)
        elif isinstance(msg, m.Trade) and msg.msg.market_ticker in ex.markets:
            body = msg.msg
            # The trade as it happened (its book changes are the recording's deltas).
            ex._record_trade(
                body.market_ticker, int(body.yes_price), int(body.count), body.taker_outcome_side, body.trade_id
            )
        elif isinstance(msg, m.MarketLifecycle) and msg.msg.market_ticker in ex.markets:
            self._lifecycle(msg.msg)
        else:
            self.skipped += 1
            return
        self.frames += 1

    def _delta(self, body: m.DeltaBody) -> None:
        ex, ticker, side, price = self.exchange, body.market_ticker, body.side, int(body.price)
        delta = int(body.delta)
        if delta > 0:
            ex.add_liquidity(ticker, side, price, delta)
            return
        left = -delta
        book = ex.books[ticker]
        while left > 0 and ex.queues[ticker][side].get(price):
            before = (book.yes if side == "yes" else book.no).get(price, 0)
            wanted = left

            def cut(_size: int, wanted: int = wanted) -> int:
                return wanted

            if not ex.cut_newest(ticker, side, price, cut):
                break  # only our own orders rest there: the recording's participant is gone already
            left -= before - (book.yes if side == "yes" else book.no).get(price, 0)

    def _lifecycle(self, body: m.MarketLifecycleBody) -> None:
        if body.event_type == "determined" and body.result in ("yes", "no"):
            self._results[body.market_ticker] = body.result
        elif body.event_type == "settled":
            result = body.result or self._results.get(body.market_ticker)
            market = self.exchange.markets[body.market_ticker]
            if result in ("yes", "no") and market.status not in ("determined", "finalized"):
                self.exchange.settle(body.market_ticker, result)


def replay_server(config: SimConfig, path: Path, *, speed: float) -> tuple[SimulatorServer, Replay]:
    """A simulator listing the recording's markets, its random walk and lifetimes off, and the
    replay that drives it (start it with ``asyncio.create_task(replay.run())`` once the server is up).
    ``BadRecording`` for a recording with no markets in it."""
    tickers = recorded_tickers(path)
    if not tickers:
        raise BadRecording(f"{path} holds no order book or trade of any market")
    server = SimulatorServer(replace(config, markets=len(tickers), paused=True, whale_rate=0.0, market_lifetime_s=0.0))
    list_recorded_markets(server.exchange, tickers)
    return server, Replay(server.exchange, path, speed=speed, publish=server.publish)
