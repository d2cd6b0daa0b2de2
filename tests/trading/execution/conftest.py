"""Execution tests run against the real simulator over a real connection: it is
started on 127.0.0.1:0 in its own thread and event loop, and the settings point
the REST client at it (KALSHI_ENV=sim, paper mode)."""

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.configs import configure
from tests.services import delete_own_redis_keys
from tests.simulators import quiet_simulator
from tests.waiting import wait_for
from trading.execution import services
from trading.models import WhaleDecision, WhaleTrade
from trading.units import ONE_DOLLAR

ROOT = Path(__file__).resolve().parents[3]
_trade_ids = itertools.count(1)


class RunningSimulator:
    """A SimulatorServer on its own loop thread, with helpers to read and change it safely."""

    def __init__(self, **config: object) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="simulator", daemon=True)
        self.thread.start()
        self.server = quiet_simulator(3, **config)
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
    configure(settings, "KALSHI", env="sim", api_url=sim.server.rest_url, trading_mode="paper")
    # Generous limits; each test tightens the one it is about.
    configure(
        settings,
        "EXECUTION",
        rules={"max_spread": 2000, "cooldown": 0, "max_book_age": 30.0, "fixed_count": 500},  # 5 contracts
        limits={"max_orders_per_minute": 100, "max_open_orders": 100},
    )
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


def follow_whale(simulator, **kwargs) -> WhaleDecision:
    """A YES whale at the current ask: the follow crosses and fills at once."""
    _, _, ask, _ = simulator.best()
    whale = make_whale(simulator.ticker, yes_price=5000 if ask is None else ask, **kwargs)  # None: no asks left
    return services.process_whale(whale_id=whale.pk)


def resting_whale(simulator, settings) -> WhaleDecision:
    """A YES whale at the best bid with no slippage: the follow rests on the book."""
    configure(settings, "EXECUTION", rules={"slippage": 0})
    bid, _, _, _ = simulator.best()
    whale = make_whale(simulator.ticker, yes_price=bid)
    return services.process_whale(whale_id=whale.pk)


class CeleryWorker:
    """A real ``celery -A v3site worker`` subprocess on the test database and Redis broker."""

    def __init__(self, settings, simulator: RunningSimulator, pool: str = "solo", **env: str) -> None:
        self.pool = pool
        db = settings.DATABASES["default"]
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "REDIS_URL": os.environ["REDIS_URL"],
            "V3_DATA_DIR": str(settings.DATA_DIR),
            "KALSHI_ENV": "sim",
            "KALSHI_API_URL": simulator.server.rest_url,
            "TRADING_MODE": "paper",
            "EXEC_MAX_SPREAD": "0.20",
            "EXEC_COOLDOWN": "0",
            "EXEC_FIXED_COUNT": "5",
            "EXEC_MAX_BOOK_AGE": "30",
            **env,
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> "CeleryWorker":
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "v3site",
                "worker",
                "-P",
                self.pool,
                "-c",
                "1",
                "-l",
                "INFO",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                "-n",
                f"exec-test-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        return self

    def pool_process(self) -> int:
        """The pid of the prefork pool's one child, where tasks run."""
        pid = self.process.pid
        wait_for(lambda: Path(f"/proc/{pid}/task/{pid}/children").read_text().split(), what="the pool process")
        return int(Path(f"/proc/{pid}/task/{pid}/children").read_text().split()[0])

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def celery_worker(settings, simulator) -> Iterator:
    """``celery_worker(pool="solo", **env)`` starts a worker; all are stopped after the test, and
    the run's Celery keys (never anyone else's) deleted before and after."""
    delete_own_redis_keys()
    workers: list[CeleryWorker] = []

    def start(pool: str = "solo", **env: str) -> CeleryWorker:
        workers.append(CeleryWorker(settings, simulator, pool, **env).start())
        return workers[-1]

    yield start
    for worker in workers:
        worker.stop()
    delete_own_redis_keys()
