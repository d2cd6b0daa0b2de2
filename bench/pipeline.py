"""Pipeline benchmark: simulator -> `manage.py run_feeds` -> Redis channel groups -> a listener.

    DATABASE_URL=postgres://... REDIS_URL=redis://... DEBUG=1 .venv/bin/python bench/pipeline.py [--rates 2000,10000,0]

DATABASE_URL names a scratch database: it is migrated, and emptied before each rate.

For each rate, three real processes: the simulator (`simulate_exchange --rate R`), the
feed runner (`run_feeds`, the command as deployed) and this process, which joins every
market's group and the events group through the real Redis channel layer, as a daphne
process would. While the feed runs, whales are injected through the simulator's control
endpoint (one every WHALE_EVERY seconds, sized far above WHALE_MIN_NOTIONAL; natural
whales are off so every whale is a known one).

Printed per rate:
* offered rate (simulator messages/s) and sustained rate (messages/s the runner's
  client read, from its ``trader_status`` reports, sent every second here);
* latency of ``market`` events: receive time here minus ``source_ts``, the exchange
  time of the newest book change the event carries (the simulator stamps ``ts_ms``
  when it makes the change). Events are coalesced to 4 a second per market by design,
  so this is how fresh what a browser sees is, not how long each change waited;
* whales: injected, recorded (WhaleTrade rows), announced to the group, and the
  injection -> group latency of each;
* drops: the client's listener drops, deltas dropped while resyncing, seq gaps, bus
  drops, publisher drops;
* the runner's CPU (share of one core over the measured window) and memory (RSS at
  the end, peak RSS).

In the same run, for each rate, the machine's limit: the same simulator read by a bare
relay (one process: ``websockets`` + ``orjson``, no books, no checks) that publishes the
newest change time of each market 4 times a second and every trade at once on a Redis
pub/sub channel this process reads. Its freshness and whale latency are the floor of
this machine's loopback WebSocket -> Python -> Redis -> Python path, and at rate 0 (the
simulator as fast as its reader takes frames) its rate is the most this simulator serves.

Results are recorded in bench/README.md ("pipeline").
"""

import argparse
import asyncio
import logging
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis.asyncio as aioredis
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.measure import cpu_seconds, memory_mb, percentile  # noqa: E402
from tests.browser.server import free_port  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "v3site.settings")
# The runner and this listener must share the channel prefix; nothing else uses it.
os.environ["CHANNELS_PREFIX"] = "bench-pipeline"

MARKETS = 10
WARMUP = 5.0
WHALE_EVERY = 0.5
# Far above the whale threshold at any price (>= $0.01 a contract).
WHALE_COUNT = "5000000.00"
FEED_ENV = {
    "FEED_STATUS_INTERVAL": "1",
    "WHALE_MIN_NOTIONAL": "10000",
    "WHALE_RELATIVE_FACTOR": "1000000000",
}
BARE_CHANNEL = "bench-pipeline-bare"


async def _spawn(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "manage.py",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )


async def _wait_http(client: httpx.AsyncClient, url: str) -> httpx.Response:
    for _ in range(200):
        try:
            return await client.get(url)
        except httpx.TransportError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} never answered")


def _simulator_args(port: int, rate: int) -> list[str]:
    markets = ["--markets", str(MARKETS)]
    return ["simulate_exchange", "--port", str(port), *markets, "--rate", str(rate), "--whale-rate", "0"]


async def _measure(
    http: httpx.AsyncClient, port: int, tickers: list[str], seconds: float, pid: int, injected: dict[str, float]
) -> tuple[float, float, float, float, float, float, int]:
    """Inject whales for ``seconds`` while ``pid`` reads the feed: window, its CPU and memory, messages generated."""
    control = f"http://127.0.0.1:{port}/sim/control"
    start_cpu, start = cpu_seconds([pid]), time.time()
    start_generated = (await http.post(control, json={"action": "status"})).json()["messages_generated"]
    n = 0
    while time.time() - start < seconds:
        sent = time.time()
        reply = await http.post(
            control, json={"action": "whale", "market_ticker": tickers[n % len(tickers)], "count": WHALE_COUNT}
        )
        injected[reply.json()["trade"]["trade_id"]] = sent
        n += 1
        await asyncio.sleep(WHALE_EVERY)
    end = time.time()
    end_cpu = cpu_seconds([pid])
    rss, peak = memory_mb(pid)
    end_generated = (await http.post(control, json={"action": "status"})).json()["messages_generated"]
    await asyncio.sleep(2.0)  # whales still in flight
    return start, end, start_cpu, end_cpu, rss, peak, end_generated - start_generated


async def run_rate(rate: int, seconds: float, record: Path | None = None) -> dict:
    from channels.layers import get_channel_layer
    from django.core.management import call_command

    from trading import events
    from trading.models import WhaleTrade

    # Each run's simulator starts from the same seed, so its trade ids repeat: a whale
    # left from an earlier run would make an injected one a replay (not announced).
    await asyncio.to_thread(call_command, "flush", interactive=False, verbosity=0)
    port = free_port()
    env = {**os.environ, **FEED_ENV, "SIM_PORT": str(port), "KALSHI_ENV": "sim"}
    sim = await _spawn(env, *_simulator_args(port, rate))
    feed = None
    layer = get_channel_layer()
    rest_url = f"http://127.0.0.1:{port}/trade-api/v2"
    received: list[tuple[float, bytes]] = []
    injected: dict[str, float] = {}
    try:
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            markets = (await _wait_http(http, f"{rest_url}/markets?status=open")).json()["markets"]
            tickers = [m["ticker"] for m in markets]
            channel = await layer.new_channel("bench.")
            for group in [events.EVENTS_GROUP, *(events.market_group(t) for t in tickers)]:
                await layer.group_add(group, channel)

            async def listen() -> None:
                while True:
                    message = await layer.receive(channel)
                    received.append((time.time(), message["text"]))

            listener = asyncio.create_task(listen())
            recording = ("--record", str(record)) if record is not None else ()
            feed = await _spawn(env, "run_feeds", "--count", str(MARKETS), *recording)
            await asyncio.sleep(WARMUP)
            whales_before = await WhaleTrade.objects.acount()
            start, end, start_cpu, end_cpu, rss, peak, generated = await _measure(
                http, port, tickers, seconds, feed.pid, injected
            )
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
        recorded = await WhaleTrade.objects.filter(trade_id__in=list(injected)).acount()
        whales_total = await WhaleTrade.objects.acount() - whales_before
    finally:
        for process in (feed, sim):
            if process is not None and process.returncode is None:
                process.send_signal(signal.SIGTERM)
                await process.wait()
    return _summarise(
        rate,
        start,
        end,
        received,
        injected,
        recorded,
        whales_total,
        end_cpu - start_cpu,
        rss,
        peak,
        generated,
    )


def bare_relay(ws_url: str, key_id: str, key_path: str, tickers: list[str], redis_url: str) -> None:
    """The limit: read the feed and forward the least a browser needs, with nothing of ours in between."""
    from trading.kalshi.signing import Signer

    async def relay() -> None:
        signer = Signer.from_files(key_id, key_path)
        publisher = aioredis.Redis.from_url(redis_url)
        newest: dict[str, int] = {}
        messages = 0

        async def flush() -> None:
            while True:
                await asyncio.sleep(1 / 4)
                for ticker, ts_ms in newest.items():
                    body = {"type": "market", "data": {"ticker": ticker, "source_ts": ts_ms / 1000}}
                    await publisher.publish(BARE_CHANNEL, orjson.dumps(body))
                newest.clear()
                await publisher.publish(BARE_CHANNEL, orjson.dumps({"type": "status", "data": {"messages": messages}}))

        headers = signer.headers("GET", "/trade-api/ws/v2")
        async with connect(ws_url, additional_headers=headers, compression=None, max_size=2**24, proxy=None) as ws:
            params = {"channels": ["orderbook_delta", "trade"], "market_tickers": tickers}
            await ws.send(orjson.dumps({"id": 1, "cmd": "subscribe", "params": params}))
            flusher = asyncio.create_task(flush())
            async for frame in ws:
                messages += 1
                body = orjson.loads(frame)
                msg = body.get("msg") or {}
                if body.get("type") == "trade":
                    whale = {"type": "whale", "data": {"trade_id": msg["trade_id"]}}
                    await publisher.publish(BARE_CHANNEL, orjson.dumps(whale))
                elif "ts_ms" in msg:
                    newest[msg["market_ticker"]] = msg["ts_ms"]
            flusher.cancel()

    asyncio.run(relay())


async def run_bare(rate: int, seconds: float) -> dict:
    import multiprocessing

    from django.conf import settings

    from trading.kalshi.environments import sim_urls
    from trading.kalshi.sim_keys import ensure_sim_keys

    port = free_port()
    sim = await _spawn({**os.environ, "SIM_PORT": str(port), "KALSHI_ENV": "sim"}, *_simulator_args(port, rate))
    rest_url, ws_url = sim_urls("127.0.0.1", port)
    keys = ensure_sim_keys(Path(settings.KALSHI.sim_dir))
    subscriber = aioredis.Redis.from_url(os.environ["REDIS_URL"]).pubsub()
    await subscriber.subscribe(BARE_CHANNEL)
    received: list[tuple[float, bytes]] = []
    injected: dict[str, float] = {}
    relay = None
    try:
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            markets = (await _wait_http(http, f"{rest_url}/markets?status=open")).json()["markets"]
            tickers = [m["ticker"] for m in markets]

            async def listen() -> None:
                while True:
                    message = await subscriber.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        received.append((time.time(), message["data"]))

            listener = asyncio.create_task(listen())
            relay = multiprocessing.get_context("spawn").Process(
                target=bare_relay,
                args=(ws_url, keys.key_id, str(keys.private_key_path), tickers, os.environ["REDIS_URL"]),
            )
            relay.start()
            await asyncio.sleep(WARMUP)
            start, end, start_cpu, end_cpu, rss, peak, generated = await _measure(
                http, port, tickers, seconds, relay.pid or 0, injected
            )
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
    finally:
        if relay is not None:
            relay.terminate()
            relay.join(5)
        await subscriber.aclose()
        sim.send_signal(signal.SIGTERM)
        await sim.wait()
    return _summarise_bare(rate, start, end, received, injected, end_cpu - start_cpu, rss, peak, generated)


def _summarise_bare(rate, start, end, received, injected, cpu, rss, peak, generated) -> dict:
    latencies: list[float] = []
    counts: list[tuple[Any, Any]] = []
    announced: dict[str, float] = {}
    for at, text in received:
        body = orjson.loads(text)
        kind, data = body["type"], body["data"]
        if kind == "market" and start <= at <= end:
            latencies.append((at - data["source_ts"]) * 1000)
        elif kind == "status" and start <= at <= end:
            counts.append((at, data["messages"]))
        elif kind == "whale" and data["trade_id"] in injected:
            announced.setdefault(data["trade_id"], at)
    sustained = (counts[-1][1] - counts[0][1]) / (counts[-1][0] - counts[0][0]) if len(counts) >= 2 else float("nan")
    whale_latency = [(announced[t] - injected[t]) * 1000 for t in announced]
    return {
        "rate": rate,
        "offered": generated / (end - start),
        "sustained": sustained,
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "whales_injected": len(injected),
        "whales_announced": len(announced),
        "whale_p50_ms": percentile(whale_latency, 0.50),
        "whale_p99_ms": percentile(whale_latency, 0.99),
        "cpu_pct": 100 * cpu / (end - start),
        "rss_mb": rss,
    }


def _summarise(rate, start, end, received, injected, recorded, whales_total, cpu, rss, peak, generated) -> dict:
    from trading import events

    latencies: list[float] = []
    statuses: list[Any] = []
    announced: dict[str, float] = {}
    for at, text in received:
        body = orjson.loads(text)
        kind, data = body["type"], body["data"]
        if kind == events.MARKET and start <= at <= end and data.get("source_ts"):
            latencies.append((at - data["source_ts"]) * 1000)
        elif kind == events.TRADER_STATUS:
            statuses.append((at, data))
        elif kind == events.SYSTEM_ACTIVITY and data["source"] == "whale" and data["details"]["trade_id"] in injected:
            announced.setdefault(data["details"]["trade_id"], at)
    window = [(at, s) for at, s in statuses if start <= at <= end]
    sustained = float("nan")
    if len(window) >= 2:
        (t0, first), (t1, last) = window[0], window[-1]
        sustained = (last["feed"]["messages"] - first["feed"]["messages"]) / (t1 - t0)
    last = statuses[-1][1] if statuses else {"feed": {}, "components": []}
    metrics = {c["name"]: c.get("metrics", {}) for c in last.get("components", [])}
    whale_latency = [(announced[t] - injected[t]) * 1000 for t in announced]
    return {
        "rate": rate,
        "offered": generated / (end - start),
        "sustained": sustained,
        "market_events": len(latencies),
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "whales_injected": len(injected),
        "whales_recorded": recorded,
        "whales_announced": len(announced),
        "other_whales": whales_total - recorded,
        "whale_p50_ms": percentile(whale_latency, 0.50),
        "whale_p99_ms": percentile(whale_latency, 0.99),
        "listener_drops": last["feed"].get("drops"),
        "dropped_deltas": last["feed"].get("dropped_deltas"),
        "gaps": last["feed"].get("gaps"),
        "bus_dropped": last.get("bus", {}).get("dropped"),
        "publisher_dropped": metrics.get("publisher", {}).get("dropped"),
        "cpu_pct": 100 * cpu / (end - start),
        "rss_mb": rss,
        "peak_rss_mb": peak,
        "state": last.get("state"),
    }


def _print(result: dict) -> None:
    print(
        f"\n== {result['rate'] or 'as many'} msgs/s requested ==\n"
        f"offered {result['offered']:,.0f} msgs/s; sustained by the runner {result['sustained']:,.0f} msgs/s"
        f" (state {result['state']})\n"
        f"market events: {result['market_events']:,}; freshness p50 {result['p50_ms']:.1f} ms,"
        f" p99 {result['p99_ms']:.1f} ms\n"
        f"whales: injected {result['whales_injected']}, recorded {result['whales_recorded']},"
        f" announced {result['whales_announced']} (others {result['other_whales']});"
        f" injection -> group p50 {result['whale_p50_ms']:.1f} ms, p99 {result['whale_p99_ms']:.1f} ms\n"
        f"drops: listener {result['listener_drops']}, resync deltas {result['dropped_deltas']},"
        f" gaps {result['gaps']}, bus {result['bus_dropped']}, publisher {result['publisher_dropped']}\n"
        f"runner: CPU {result['cpu_pct']:.0f}% of a core, RSS {result['rss_mb']:.0f} MB"
        f" (peak {result['peak_rss_mb']:.0f} MB)"
    )


def recorder_cpu_per_frame(folder: Path) -> float:
    """CPU seconds the recorder spends on one frame: the recorded run's own frames written
    again through ``FrameRecorder`` (same code, same flushes), timed by process CPU time."""
    from trading.feed.recording import FrameRecorder, read_frames

    frames = [frame for _, frame in read_frames(folder)]
    with tempfile.TemporaryDirectory(prefix="v3-bench-rewrite-") as out:
        recorder = FrameRecorder(Path(out), keep_hours=2)
        started = time.process_time()
        for frame in frames:
            recorder.write(frame)
        recorder.close()
        return (time.process_time() - started) / max(len(frames), 1)


def _print_recording_cost(plain: dict, recorded: dict, size: int, per_frame: float) -> None:
    """The recorder's share of the runner's CPU, two ways: its own CPU per frame at the plain
    run's rate against the plain run's CPU (steady on a shared machine), and the two runs'
    CPU per message compared (noisy on a shared machine: the other engineers' load moves it)."""
    rate = plain["sustained"]
    share = 100 * per_frame * rate / (plain["cpu_pct"] / 100)
    per_plain = plain["cpu_pct"] / plain["sustained"]
    per_recorded = recorded["cpu_pct"] / recorded["sustained"]
    print(
        f"recording: {per_frame * 1e6:.1f} us of CPU a frame = {100 * per_frame * rate:.1f}% of a core at"
        f" {rate:,.0f} msgs/s, {share:.1f}% of the runner's {plain['cpu_pct']:.0f}% (limit 10%);"
        f" A/B runs: {plain['cpu_pct']:.0f}% -> {recorded['cpu_pct']:.0f}% of a core,"
        f" {100 * (per_recorded / per_plain - 1):+.1f}% a message; {size / 1e6:.1f} MB written"
    )


def _print_bare(result: dict) -> None:
    print(
        f"limit (bare relay): offered {result['offered']:,.0f} msgs/s, relayed {result['sustained']:,.0f} msgs/s;"
        f" freshness p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms;"
        f" whales {result['whales_announced']}/{result['whales_injected']},"
        f" p50 {result['whale_p50_ms']:.1f} ms, p99 {result['whale_p99_ms']:.1f} ms;"
        f" CPU {result['cpu_pct']:.0f}% of a core, RSS {result['rss_mb']:.0f} MB"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rates", default="2000,10000,0", help="comma-separated simulator rates (msgs/s; 0 = as fast as it can)"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per rate")
    parser.add_argument(
        "--record",
        action="store_true",
        help="also run each rate with run_feeds --record, and print the recorder's CPU cost (issue: under 10 %%)",
    )
    parser.add_argument("--no-bare", action="store_true", help="skip the bare relay (the machine's limit)")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        sys.exit("bench/pipeline.py needs DATABASE_URL (Postgres) and REDIS_URL: it measures the services shape.")
    import django
    from django.core.management import call_command

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    await asyncio.to_thread(call_command, "migrate", verbosity=0)
    print(f"{MARKETS} markets, {args.seconds:.0f} s measured per rate after {WARMUP:.0f} s warm-up, 2 shared cores")
    for rate in (int(r) for r in args.rates.split(",")):
        plain = await run_rate(rate, args.seconds)
        _print(plain)
        if args.record:
            with tempfile.TemporaryDirectory(prefix="v3-bench-record-") as folder:
                recorded = await run_rate(rate, args.seconds, Path(folder))
                size = sum(f.stat().st_size for f in Path(folder).iterdir())
                per_frame = recorder_cpu_per_frame(Path(folder))
            _print(recorded)
            _print_recording_cost(plain, recorded, size, per_frame)
        if not args.no_bare:
            _print_bare(await run_bare(rate, args.seconds))


if __name__ == "__main__":
    asyncio.run(main())
