"""Backtest benchmark: how much faster than real time ``manage.py backtest`` replays a
recording of 10 markets at the simulator's default rate, against the machine's limit
in the same run.

    .venv/bin/python bench/backtest.py [--seconds 60]

1. Record: the simulator (10 markets, its default 500 msgs/s and whale rate) serves this
   process's ``KalshiWebSocket``, subscribed as the feed runner is (books, trades,
   lifecycle), with a ``FrameRecorder`` (what ``run_feeds --record`` uses) for
   ``--seconds`` of wall time.
2. Backtest it twice with the settings' defaults (``run_backtest``, the command's own
   function): both outputs must be equal; speed = recorded seconds / CPU-free wall time.
3. The limit: the same recording only read back (gunzip, split into frames) and parsed
   (msgspec, as the backtest does): no backtest can be faster than that.

Results are recorded in bench/README.md ("backtest"). The issue's target: at least 50x
real time.
"""

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "v3site.settings")

MARKETS = 10


async def record(folder: Path, seconds: float) -> int:
    from django.conf import settings

    from trading.feed.recording import FrameRecorder
    from trading.kalshi.signing import Signer
    from trading.kalshi.sim_keys import ensure_sim_keys
    from trading.kalshi.ws import KalshiWebSocket
    from trading.simulator.server import SimConfig, SimulatorServer

    sim = SimulatorServer(SimConfig(markets=MARKETS, seed=5))
    await sim.start()
    keys = ensure_sim_keys(Path(settings.KALSHI.sim_dir))
    recorder = FrameRecorder(folder, keep_hours=2)
    client = KalshiWebSocket(sim.ws_url, Signer.from_files(keys.key_id, str(keys.private_key_path)), recorder=recorder)
    client.start()
    try:
        await client.connected.wait()
        tickers = sim.exchange.tickers
        await client.subscribe(["orderbook_delta"], tickers)
        await client.subscribe(["trade"], tickers)
        await client.subscribe(["market_lifecycle_v2"])
        await asyncio.sleep(seconds)
    finally:
        await client.close()
        recorder.close()
        await sim.stop()
    return recorder.frames


def read_limit(folder: Path) -> float:
    from trading.feed.recording import read_frames
    from trading.kalshi import messages as m

    started = time.perf_counter()
    for _, frame in read_frames(folder):
        with contextlib.suppress(m.ParseError):
            m.parse(frame)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="wall seconds to record")
    args = parser.parse_args()
    import django

    django.setup()
    from trading.management.commands.backtest import run_backtest

    with tempfile.TemporaryDirectory(prefix="v3-bench-backtest-") as tmp:
        folder = Path(tmp)
        frames = asyncio.run(record(folder, args.seconds))
        size = sum(f.stat().st_size for f in folder.iterdir())
        first, elapsed_1 = run_backtest(folder, {})
        second, elapsed_2 = run_backtest(folder, {})
        limit = read_limit(folder)
    span = first["recording"]["recorded_seconds"]
    elapsed = min(elapsed_1, elapsed_2)
    report = first["report"]
    print(
        f"recorded {frames:,} frames over {span:.0f} s ({MARKETS} markets, {frames / span:,.0f} frames/s),"
        f" {size / 1e6:.2f} MB gzip; {report['whales']} whales, {report['decisions']['follow']} followed"
    )
    print(f"backtest: {elapsed:.2f} s = {span / elapsed:,.0f}x real time (target 50x); runs equal: {first == second}")
    print(f"limit (read and parse only): {limit:.2f} s = {span / limit:,.0f}x real time")


if __name__ == "__main__":
    main()
