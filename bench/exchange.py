"""Whole-exchange benchmark: a feed runner watching every market's trades and tickers.

    DATABASE_URL=postgres://... REDIS_URL=redis://... SECRET_KEY=... ALLOWED_HOSTS=localhost \
        .venv/bin/python bench/exchange.py \
        [--markets 500] [--rate 16700] [--seconds 60] [--count 45]

DATABASE_URL names a scratch database: it is migrated and emptied first. Leave DEBUG unset:
with it Django keeps every thread's last 9,000 queries, which reads as memory growth.

Results are recorded in bench/README.md ("exchange").

Three real processes: the simulator (``simulate_exchange --markets 500``, skewed activity),
``run_feeds --count 45`` as deployed (no ``--markets``: the exchange-wide ``trade`` and
``ticker`` streams, books for the 45 most active markets plus each whale's market for
FEED_BOOK_WHALE_WINDOW=5 s, so ~50 books that keep changing by ``update_subscription``),
and this process, which injects a whale every WHALE_EVERY seconds into a market of the
quiet tail (no book there) and listens on the events group through the Redis channel
layer, as a daphne process would.

The rate: Kalshi publishes no figure for its public trade or ticker rates, and none was
found first-hand, so the issue's fallback is the target: 2,000 trades/s and 5,000 ticker
updates/s. The simulator's ``--rate`` counts all market-data messages; 12 % are trades
(trading.simulator.market_maker.TRADE_SHARE), so 16,700/s asks for 2,000 trades/s, with
a ticker message for each market whose quote changed in each 5 ms tick. What it really
offered is printed.

Printed: trades/s and ticker updates/s the runner took, the runner's CPU (share of one
core) and RSS sampled every tenth of the run (flat or not), whales injected / recorded /
announced and the injection -> events group latency (p50, p99), drops and gaps. Then, in
the same run, the machine's limit: a bare reader (``websockets`` + ``orjson``, one
process) of the same streams (whole-exchange trade and ticker, the same 45 books' deltas)
that forwards each trade id to a Redis pub/sub channel this process reads.
"""

import argparse
import asyncio
import logging
import multiprocessing
import os
import random
import signal
import sys
import time
from pathlib import Path

import httpx
import orjson
import redis.asyncio as aioredis
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.measure import cpu_seconds, memory_mb, percentile  # noqa: E402
from bench.pipeline import _spawn, _wait_http  # noqa: E402
from tests.browser.server import free_port  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "v3site.settings")
os.environ["CHANNELS_PREFIX"] = "bench-exchange"

WARMUP = 8.0
WHALE_EVERY = 0.25
# Far above the whale threshold at any price (>= $0.01 a contract).
WHALE_COUNT = "5000000.00"
SAMPLES = 10
FEED_ENV = {
    "FEED_STATUS_INTERVAL": "1",
    "WHALE_MIN_NOTIONAL": "10000",
    "WHALE_RELATIVE_FACTOR": "1000000000",
    "FEED_BOOK_WHALE_WINDOW": "5",
}
BARE_CHANNEL = "bench-exchange-bare"


def _simulator_args(port: int, markets: int, rate: int) -> list[str]:
    return [
        "simulate_exchange",
        "--port",
        str(port),
        "--markets",
        str(markets),
        "--rate",
        str(rate),
        "--whale-rate",
        "0",
    ]


async def _inject(http: httpx.AsyncClient, port: int, tail: list[str], seconds: float, pid: int) -> dict:
    """Whales into quiet markets for ``seconds`` while sampling ``pid``'s CPU and memory."""
    control = f"http://127.0.0.1:{port}/sim/control"
    rng = random.Random(1)
    injected: dict[str, float] = {}
    samples: list[tuple[float, float]] = []
    start_cpu, start = cpu_seconds([pid]), time.time()
    next_sample = start
    while time.time() - start < seconds:
        if time.time() >= next_sample:
            samples.append((time.time() - start, memory_mb(pid)[0]))
            next_sample += seconds / SAMPLES
        sent = time.time()
        reply = await http.post(
            control, json={"action": "whale", "market_ticker": rng.choice(tail), "count": WHALE_COUNT}
        )
        injected[reply.json()["trade"]["trade_id"]] = sent
        await asyncio.sleep(WHALE_EVERY)
    end = time.time()
    samples.append((end - start, memory_mb(pid)[0]))
    return {"start": start, "end": end, "cpu": cpu_seconds([pid]) - start_cpu, "rss": samples, "injected": injected}


async def run_runner(markets: int, rate: int, seconds: float, count: int) -> dict:
    from channels.layers import get_channel_layer
    from django.core.management import call_command

    from trading import events
    from trading.models import WhaleTrade

    await asyncio.to_thread(call_command, "flush", interactive=False, verbosity=0)
    port = free_port()
    env = {**os.environ, **FEED_ENV, "SIM_PORT": str(port), "KALSHI_ENV": "sim"}
    sim = await _spawn(env, *_simulator_args(port, markets, rate))
    feed = None
    layer = get_channel_layer()
    received: list[tuple[float, bytes]] = []
    try:
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            url = f"http://127.0.0.1:{port}/trade-api/v2/markets?status=open&limit=1000"
            tickers = [m["ticker"] for m in (await _wait_http(http, url)).json()["markets"]]
            channel = await layer.new_channel("bench.")
            await layer.group_add(events.EVENTS_GROUP, channel)

            async def listen() -> None:
                while True:
                    message = await layer.receive(channel)
                    received.append((time.time(), message["text"]))

            listener = asyncio.create_task(listen())
            feed = await _spawn(env, "run_feeds", "--count", str(count))
            await asyncio.sleep(WARMUP)
            run = await _inject(http, port, tickers[len(tickers) // 5 :], seconds, feed.pid)
            await asyncio.sleep(2.0)  # whales still in flight
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
        run["recorded"] = await WhaleTrade.objects.filter(trade_id__in=list(run["injected"])).acount()
    finally:
        for process in (feed, sim):
            if process is not None and process.returncode is None:
                process.send_signal(signal.SIGTERM)
                await process.wait()
    return _summarise(run, received)


def _summarise(run: dict, received: list[tuple[float, bytes]]) -> dict:
    from trading import events

    injected, statuses = run["injected"], []
    announced: dict[str, float] = {}
    for at, text in received:
        body = orjson.loads(text)
        kind, data = body["type"], body["data"]
        if kind == events.TRADER_STATUS and run["start"] <= at <= run["end"]:
            statuses.append((at, data))
        elif kind == events.SYSTEM_ACTIVITY and data["source"] == "whale" and data["details"]["trade_id"] in injected:
            announced.setdefault(data["details"]["trade_id"], at)

    def metric(status: dict, component: str, name: str) -> int:
        return next(c["metrics"][name] for c in status["components"] if c["name"] == component)

    (t0, first), (t1, last) = statuses[0], statuses[-1]
    whale_latency = [(announced[t] - injected[t]) * 1000 for t in announced]
    return {
        "trades_s": (metric(last, "trades", "trades") - metric(first, "trades", "trades")) / (t1 - t0),
        "tickers_s": (last["prices"]["updates"] - first["prices"]["updates"]) / (t1 - t0),
        "messages_s": (last["feed"]["messages"] - first["feed"]["messages"]) / (t1 - t0),
        "books": last["books"],
        "whales_injected": len(injected),
        "whales_recorded": run["recorded"],
        "whales_announced": len(announced),
        "whale_p50_ms": percentile(whale_latency, 0.50),
        "whale_p99_ms": percentile(whale_latency, 0.99),
        "drops": last["feed"].get("drops"),
        "gaps": last["feed"].get("gaps"),
        "bus_dropped": last["bus"]["dropped"],
        "cpu_pct": 100 * run["cpu"] / (run["end"] - run["start"]),
        "rss": run["rss"],
        "state": last["state"],
    }


def bare_reader(ws_url: str, key_id: str, key_path: str, booked: list[str], redis_url: str) -> None:
    """The limit: the same streams read and each trade forwarded, with nothing of ours in between."""
    from trading.kalshi.signing import Signer

    async def read() -> None:
        publisher = aioredis.Redis.from_url(redis_url)
        counts = {"trade": 0, "ticker": 0, "messages": 0}

        async def report() -> None:
            while True:
                await asyncio.sleep(1.0)
                await publisher.publish(BARE_CHANNEL, orjson.dumps({"type": "status", "data": counts}))

        headers = Signer.from_files(key_id, key_path).headers("GET", "/trade-api/ws/v2")
        async with connect(ws_url, additional_headers=headers, compression=None, max_size=2**24, proxy=None) as ws:
            await ws.send(orjson.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["trade", "ticker"]}}))
            params = {"channels": ["orderbook_delta"], "market_tickers": booked}
            await ws.send(orjson.dumps({"id": 2, "cmd": "subscribe", "params": params}))
            reporter = asyncio.create_task(report())
            async for frame in ws:
                counts["messages"] += 1
                body = orjson.loads(frame)
                kind = body.get("type")
                if kind in counts:
                    counts[kind] += 1
                if kind == "trade":
                    trade = {"type": "trade", "data": {"trade_id": body["msg"]["trade_id"]}}
                    await publisher.publish(BARE_CHANNEL, orjson.dumps(trade))
            reporter.cancel()

    asyncio.run(read())


async def run_bare(markets: int, rate: int, seconds: float, count: int) -> dict:
    from django.conf import settings

    from trading.kalshi.environments import sim_urls
    from trading.kalshi.sim_keys import ensure_sim_keys

    port = free_port()
    sim = await _spawn(
        {**os.environ, "SIM_PORT": str(port), "KALSHI_ENV": "sim"}, *_simulator_args(port, markets, rate)
    )
    rest_url, ws_url = sim_urls("127.0.0.1", port)
    keys = ensure_sim_keys(Path(settings.KALSHI.sim_dir))
    subscriber = aioredis.Redis.from_url(os.environ["REDIS_URL"]).pubsub()
    await subscriber.subscribe(BARE_CHANNEL)
    received: list[tuple[float, bytes]] = []
    reader = None
    try:
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            url = f"{rest_url}/markets?status=open&limit=1000"
            tickers = [m["ticker"] for m in (await _wait_http(http, url)).json()["markets"]]

            async def listen() -> None:
                while True:
                    message = await subscriber.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        received.append((time.time(), message["data"]))

            listener = asyncio.create_task(listen())
            reader = multiprocessing.get_context("spawn").Process(
                target=bare_reader,
                args=(ws_url, keys.key_id, str(keys.private_key_path), tickers[:count], os.environ["REDIS_URL"]),
            )
            reader.start()
            assert reader.pid is not None
            await asyncio.sleep(WARMUP)
            run = await _inject(http, port, tickers[len(tickers) // 5 :], seconds, reader.pid)
            await asyncio.sleep(2.0)
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
    finally:
        if reader is not None:
            reader.terminate()
            reader.join(5)
        await subscriber.aclose()
        sim.send_signal(signal.SIGTERM)
        await sim.wait()
    statuses = []
    announced: dict[str, float] = {}
    for at, text in received:
        body = orjson.loads(text)
        if body["type"] == "status" and run["start"] <= at <= run["end"]:
            statuses.append((at, body["data"]))
        elif body["type"] == "trade" and body["data"]["trade_id"] in run["injected"]:
            announced.setdefault(body["data"]["trade_id"], at)
    (t0, first), (t1, last) = statuses[0], statuses[-1]
    latency = [(announced[t] - run["injected"][t]) * 1000 for t in announced]
    return {
        "trades_s": (last["trade"] - first["trade"]) / (t1 - t0),
        "tickers_s": (last["ticker"] - first["ticker"]) / (t1 - t0),
        "messages_s": (last["messages"] - first["messages"]) / (t1 - t0),
        "whales_injected": len(run["injected"]),
        "whales_announced": len(announced),
        "whale_p50_ms": percentile(latency, 0.50),
        "whale_p99_ms": percentile(latency, 0.99),
        "cpu_pct": 100 * run["cpu"] / (run["end"] - run["start"]),
        "rss": run["rss"],
    }


def _rss(samples: list[tuple[float, float]]) -> str:
    return " ".join(f"{mb:.0f}" for _, mb in samples) + " MB"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markets", type=int, default=500, help="markets the simulator lists")
    parser.add_argument("--rate", type=int, default=16_700, help="simulator market-data messages/s (12 %% trades)")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds")
    parser.add_argument("--count", type=int, default=45, help="most active markets the runner keeps books for")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        sys.exit("bench/exchange.py needs DATABASE_URL (Postgres) and REDIS_URL: it measures the services shape.")
    import django
    from django.core.management import call_command

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    await asyncio.to_thread(call_command, "migrate", verbosity=0)
    print(
        f"{args.markets} markets at {args.rate:,} msgs/s, books for {args.count} + whale markets,"
        f" {args.seconds:.0f} s measured after {WARMUP:.0f} s warm-up, 2 shared cores"
    )
    r = await run_runner(args.markets, args.rate, args.seconds, args.count)
    print(
        f"runner ({r['state']}): {r['trades_s']:,.0f} trades/s, {r['tickers_s']:,.0f} ticker updates/s,"
        f" {r['messages_s']:,.0f} msgs/s; books {r['books']}\n"
        f"  whales injected {r['whales_injected']}, recorded {r['whales_recorded']}, announced"
        f" {r['whales_announced']}; injection -> events group p50 {r['whale_p50_ms']:.1f} ms,"
        f" p99 {r['whale_p99_ms']:.1f} ms\n"
        f"  drops: listener {r['drops']}, gaps {r['gaps']}, bus {r['bus_dropped']}\n"
        f"  CPU {r['cpu_pct']:.0f}% of a core; RSS by tenths {_rss(r['rss'])}"
    )
    b = await run_bare(args.markets, args.rate, args.seconds, args.count)
    print(
        f"limit (bare reader): {b['trades_s']:,.0f} trades/s, {b['tickers_s']:,.0f} ticker updates/s,"
        f" {b['messages_s']:,.0f} msgs/s; whales {b['whales_announced']}/{b['whales_injected']},"
        f" p50 {b['whale_p50_ms']:.1f} ms, p99 {b['whale_p99_ms']:.1f} ms;"
        f" CPU {b['cpu_pct']:.0f}% of a core; RSS by tenths {_rss(b['rss'])}"
    )


if __name__ == "__main__":
    asyncio.run(main())
