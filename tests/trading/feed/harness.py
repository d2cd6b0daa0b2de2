"""A feed runner wired to a real simulator over a real local WebSocket."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from django.conf import settings

from trading.config import FeedConfig
from trading.feed.runner import FeedRunner
from trading.kalshi.rest import KalshiRestClient
from trading.kalshi.signing import Signer
from trading.kalshi.sim_keys import ensure_sim_keys
from trading.kalshi.ws import KalshiWebSocket
from trading.simulator.server import SimConfig, SimulatorServer
from trading.units import MONEY_SCALE

WAIT = 10.0
# Thresholds no simulated trade reaches, for tests about books rather than whales.
NO_WHALES = {"whale_min_notional": 10**18, "whale_relative_factor": 1e12}


def feed_config(**overrides) -> FeedConfig:
    values = {
        "markets": (),
        "market_count": 10,
        "startup_grace": 5.0,
        "book_max_age": 60.0,
        "book_max_lag": 5.0,
        "trade_max_age": 300.0,
        "market_events_per_second": 4.0,
        "status_interval": 10.0,
        "heartbeat_interval": 1.0,
        "heartbeat_ttl": 3.0,
        "whale_min_notional": 1_000 * MONEY_SCALE,
        "whale_relative_factor": 20.0,
    }
    values.update(overrides)
    return FeedConfig(**values)


def sim_client(ws_url: str, **options) -> KalshiWebSocket:
    """A client signed with the simulator's key; fast reconnects, since the tests drop connections on purpose."""
    keys = ensure_sim_keys(Path(settings.KALSHI.sim_dir))
    return KalshiWebSocket(
        ws_url, Signer.from_files(keys.key_id, str(keys.private_key_path)), base_delay=0.05, **options
    )


def sim_rest(rest_url: str, **options) -> KalshiRestClient:
    """A REST client of the simulator at ``rest_url``, signed like ``sim_client``; fast retries."""
    keys = ensure_sim_keys(Path(settings.KALSHI.sim_dir))
    signer = Signer.from_files(keys.key_id, str(keys.private_key_path))
    return KalshiRestClient(rest_url, signer, **{"base_delay": 0.05, **options})


@contextlib.asynccontextmanager
async def running_feed(
    markets: int = 3,
    seed: int = 7,
    *,
    sim: SimulatorServer | None = None,
    backfill: bool = False,
    market_set: str | None = None,
    replace_closed: bool = False,
    **config,
) -> AsyncIterator[tuple[SimulatorServer, FeedRunner]]:
    """A paused simulator (tests step it; or ``sim``, left running) and a started runner
    following all its markets; with ``backfill``, one that backfills missed trades by REST;
    with ``market_set``, one that keeps a heartbeat under that name."""
    own_sim = sim is None
    if sim is None:
        sim = SimulatorServer(SimConfig(markets=markets, seed=seed, rate=0, paused=True, whale_rate=0.0))
        await sim.start()
    rest = sim_rest(sim.rest_url) if backfill else None
    runner = FeedRunner(
        sim_client(sim.ws_url),
        sim.exchange.tickers,
        feed_config(**config),
        rest=rest,
        market_set=market_set,
        replace_closed=replace_closed,
    )
    try:
        await runner.start()
        yield sim, runner
    finally:
        await runner.stop("test over")
        if rest is not None:
            await rest.aclose()
        if own_sim:
            await sim.stop()


async def eventually(condition: Callable[[], bool], what: str) -> None:
    """Wait until ``condition()`` holds; fail naming ``what`` if it never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def books_match(sim: SimulatorServer, runner: FeedRunner) -> bool:
    for ticker in sim.exchange.tickers:
        book = runner.get_orderbook(ticker)
        if book is None or book.stale or book.levels() != sim.exchange.books[ticker].levels():
            return False
    return True
