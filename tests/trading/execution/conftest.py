"""Execution tests run against the real simulator over a real connection: it is
started on 127.0.0.1:0 in its own thread and event loop, and the settings point
the REST client at it (KALSHI_ENV=sim, paper mode)."""

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator

import pytest

from trading.models import WhaleTrade
from trading.simulator.server import SimConfig, SimulatorServer
from trading.units import ONE_DOLLAR

_trade_ids = itertools.count(1)


class RunningSimulator:
    """A SimulatorServer on its own loop thread, with helpers to read and change it safely."""

    def __init__(self, **config: object) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="simulator", daemon=True)
        self.thread.start()
        self.server = SimulatorServer(SimConfig(markets=3, seed=7, whale_rate=0.0, paused=True, **config))
        self.call(self.server.start())

    def call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(15)

    def on_loop(self, fn):
        async def wrapper():
            return fn()

        return self.call(wrapper())

    def stop(self) -> None:
        self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    @property
    def exchange(self):
        return self.server.exchange

    @property
    def ticker(self) -> str:
        return self.exchange.tickers[0]

    def best(self, ticker: str | None = None) -> tuple[int, int, int, int]:
        return self.on_loop(lambda: self.exchange.best(ticker or self.ticker))

    def orders(self, client_order_id: str | None = None) -> list:
        orders = self.on_loop(lambda: list(self.exchange.account.orders.values()))
        return [o for o in orders if client_order_id is None or o.client_order_id == client_order_id]


@pytest.fixture
def simulator(settings) -> Iterator[RunningSimulator]:
    sim = RunningSimulator()
    settings.KALSHI_ENV = "sim"
    settings.KALSHI_API_URL = sim.server.rest_url
    settings.TRADING_MODE = "paper"
    # Generous limits; each test tightens the one it is about.
    settings.EXEC_MAX_SPREAD = 2000
    settings.EXEC_COOLDOWN = 0
    settings.EXEC_MAX_ORDERS_PER_MINUTE = 100
    settings.EXEC_MAX_OPEN_ORDERS = 100
    settings.EXEC_MAX_BOOK_AGE = 30.0
    settings.EXEC_FIXED_COUNT = 500  # 5 contracts
    yield sim
    sim.stop()


def make_whale(
    ticker: str, *, taker_side: str = "yes", yes_price: int = 5000, count: int = 1_000_000, notional: int | None = None
) -> WhaleTrade:
    """A whale as the feed records it (``count`` in 1/100 contracts)."""
    own = yes_price if taker_side == "yes" else ONE_DOLLAR - yes_price
    now = time.time()
    return WhaleTrade.objects.create(
        trade_id=f"test-trade-{time.monotonic_ns()}-{next(_trade_ids)}",
        market_ticker=ticker,
        taker_side=taker_side,
        yes_price=yes_price,
        count=count,
        notional=own * count if notional is None else notional,
        traded_at=now,
        detected_at=now,
    )
