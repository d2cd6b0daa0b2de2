"""A short real run recorded, for the backtest and replay tests."""

from tests.trading.feed.harness import feed_config, sim_client
from tests.waiting import eventually
from trading.feed.recording import FrameRecorder
from trading.feed.runner import FeedRunner
from trading.simulator.server import SimConfig, SimulatorServer

WHALES = 3


async def record_run(tmp_path, *, settle: str = ""):
    """A short run of a 3-market simulator, with three $15,000 whales in one market inside a
    minute; that market then settles ``settle`` (yes or no), or never."""
    sim = SimulatorServer(SimConfig(markets=3, seed=11, rate=0, paused=True, whale_rate=0.0))
    await sim.start()
    recorder = FrameRecorder(tmp_path, keep_hours=2)
    client = sim_client(sim.ws_url, recorder=recorder)
    runner = FeedRunner(client, sim.exchange.tickers, feed_config(whale_min_notional=10**18))
    try:
        await runner.start()
        # Ready: every channel subscribed, the lifecycle one included.
        await eventually(lambda: runner.machine.state.value in ("ready", "trading", "paused"), "the runner ready")
        ticker = sim.exchange.tickers[0]
        for _ in range(WHALES):
            sim.step(200)
            sim.control({"action": "whale", "market_ticker": ticker, "count": "30000.00", "taker_side": "yes"})
        sim.step(200)
        if settle:
            sim.control({"action": "settle", "market_ticker": ticker, "result": settle})
        await eventually(lambda: runner.trades.trades >= WHALES, "the whale trades")
        if settle:
            await eventually(lambda: runner.lifecycle.messages >= 2, "the settlement")
        await eventually(lambda: client.metrics.messages >= WHALES * 200, "the stepped messages")
    finally:
        await runner.stop("test over")
        recorder.close()
        await sim.stop()
    return tmp_path
