"""Pipeline benchmark: simulator -> `manage.py run_feeds` -> Redis channel groups -> a listener.

    DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python bench/pipeline.py [--rates 2000,10000]

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

Results are recorded in bench/README.md ("pipeline").
"""

import argparse
import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
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
TICKS = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _memory_mb(pid: int) -> tuple[float, float]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


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


async def run_rate(rate: int, seconds: float) -> dict:
    from channels.layers import get_channel_layer

    from trading import events
    from trading.models import WhaleTrade

    port = _free_port()
    env = {**os.environ, **FEED_ENV, "SIM_PORT": str(port), "KALSHI_ENV": "sim"}
    sim = await _spawn(
        env,
        "simulate_exchange",
        "--port",
        str(port),
        "--markets",
        str(MARKETS),
        "--rate",
        str(rate),
        "--whale-rate",
        "0",
    )
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
            feed = await _spawn(env, "run_feeds", "--count", str(MARKETS))
            await asyncio.sleep(WARMUP)
            whales_before = await WhaleTrade.objects.acount()
            start_cpu, start = _cpu_seconds(feed.pid), time.time()
            start_generated = (
                await http.post(f"http://127.0.0.1:{port}/sim/control", json={"action": "status"})
            ).json()
            n = 0
            while time.time() - start < seconds:
                ticker = tickers[n % len(tickers)]
                sent = time.time()
                reply = await http.post(
                    f"http://127.0.0.1:{port}/sim/control",
                    json={"action": "whale", "market_ticker": ticker, "count": WHALE_COUNT},
                )
                injected[reply.json()["trade"]["trade_id"]] = sent
                n += 1
                await asyncio.sleep(WHALE_EVERY)
            end = time.time()
            end_cpu = _cpu_seconds(feed.pid)
            rss, peak = _memory_mb(feed.pid)
            end_generated = (await http.post(f"http://127.0.0.1:{port}/sim/control", json={"action": "status"})).json()
            await asyncio.sleep(2.0)  # whales still in flight
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
        end_generated["messages_generated"] - start_generated["messages_generated"],
    )


def _summarise(rate, start, end, received, injected, recorded, whales_total, cpu, rss, peak, generated) -> dict:
    from trading import events

    latencies, statuses, announced = [], [], {}
    for at, text in received:
        body = orjson.loads(text)
        kind, data = body["type"], body["data"]
        if kind == events.MARKET and start <= at <= end and data.get("source_ts"):
            latencies.append((at - data["source_ts"]) * 1000)
        elif kind == events.TRADER_STATUS:
            statuses.append((at, data))
        elif kind == events.SYSTEM_ACTIVITY and data.get("kind") == "whale" and data.get("trade_id") in injected:
            announced.setdefault(data["trade_id"], at)
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
        "p50_ms": _percentile(latencies, 0.50),
        "p99_ms": _percentile(latencies, 0.99),
        "whales_injected": len(injected),
        "whales_recorded": recorded,
        "whales_announced": len(announced),
        "other_whales": whales_total - recorded,
        "whale_p50_ms": _percentile(whale_latency, 0.50),
        "whale_p99_ms": _percentile(whale_latency, 0.99),
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
        f"\n== {result['rate']:,} msgs/s requested ==\n"
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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="2000,10000", help="comma-separated simulator rates (msgs/s)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per rate")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        sys.exit("bench/pipeline.py needs DATABASE_URL (Postgres) and REDIS_URL: it measures the services shape.")
    import django

    django.setup()
    print(f"{MARKETS} markets, {args.seconds:.0f} s measured per rate after {WARMUP:.0f} s warm-up, 2 shared cores")
    for rate in (int(r) for r in args.rates.split(",")):
        _print(await run_rate(rate, args.seconds))


if __name__ == "__main__":
    asyncio.run(main())
