"""Feed ingest benchmark: how many Kalshi WebSocket messages a second our client parses
and applies to its order books, against the machine's limit in the same run.

    .venv/bin/python bench/feed_ingest.py [--messages 1000000] [--markets 20]

The simulator (trading.simulator, ``rate=0``: as fast as the reader takes frames) runs
in a child process, so it has the other core; this process is the reader. Two readers
in turn, each over its own signed loopback connection, subscribed to the order books of
every market:

1. ``KalshiWebSocket``: typed msgspec parse, unit conversion, per-sid seq checks, book
   updates (trading.orderbook), metrics — what the feed runner uses.
2. the limit: a bare ``websockets`` loop that only ``orjson.loads`` each frame and adds
   the delta to a dict.

It prints messages/s for both, the reader's CPU use (below 100 % when the 2 shared cores
are busy with other work: messages per CPU-second is then the steadier figure), and its
resident memory at each tenth of the client run (flat = nothing grows per message) and
at its peak. Results are
recorded in bench/README.md ("feed_ingest").
"""

import argparse
import asyncio
import multiprocessing
import os
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

import orjson
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve as websockets_serve

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trading.kalshi.signing import Signer, generate_key_pair
from trading.kalshi.ws import KalshiWebSocket
from trading.simulator.streams import encode_frame

KEY_ID = "bench-feed-ingest"
# Frames before timing starts: the connection, subscriptions and snapshots settle.
WARMUP = 20_000
# Frames recorded from the simulator for the replay sender (snapshots first, then deltas).
RECORDED = 200_000
_SEQ = re.compile(rb'(.*?"seq":)(\d+)(.*)', re.DOTALL)


def serve(conn, source: str, key_id: str, public_key: str, markets: int, seed: int) -> None:
    """Child process: the sender. Runs until the parent sends anything on ``conn``."""
    from trading.simulator.server import SimConfig, SimulatorServer

    async def main() -> None:
        config = SimConfig(markets=markets, seed=seed, rate=0, key_id=key_id, public_key_path=Path(public_key))
        server = SimulatorServer(config)
        await server.start()
        tickers = list(server.exchange.tickers)
        if source == "sim":
            conn.send((server.ws_url, tickers))
        else:
            frames = await record(server.ws_url, tickers, key_id, config)
            await server.stop()
            replay = await websockets_serve(
                lambda ws: push(ws, frames), "127.0.0.1", 0, compression=None, ping_interval=None
            )
            port = next(iter(replay.sockets)).getsockname()[1]
            conn.send((f"ws://127.0.0.1:{port}/trade-api/ws/v2", tickers))
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await server.stop()

    asyncio.run(main())


async def record(url: str, tickers: list[str], key_id: str, config) -> list[tuple[bytes, bytes]]:
    """RECORDED frames of the simulator's own stream, split around their seq number."""
    private = Path(config.public_key_path).with_suffix(".key")
    signer = Signer.from_files(key_id, str(private))
    async with connect(
        url, additional_headers=signer.headers("GET", "/trade-api/ws/v2"), compression=None, proxy=None
    ) as ws:
        params = {"channels": ["orderbook_delta"], "market_tickers": tickers}
        await ws.send(orjson.dumps({"id": 1, "cmd": "subscribe", "params": params}), text=True)
        await ws.recv()  # subscribed
        frames = [await ws.recv(decode=False) for _ in range(RECORDED)]
    matches = [_SEQ.fullmatch(frame) for frame in frames]
    return [(m.group(1), m.group(3)) for m in matches if m is not None]


async def push(ws, frames: list[tuple[bytes, bytes]]) -> None:
    """The minimal sender: answer the subscribe, then replay the recorded frames forever with
    continuous seq numbers, pre-framed and written straight to the socket in batches."""
    command = orjson.loads(await ws.recv())
    await ws.send(
        orjson.dumps({"type": "subscribed", "id": command["id"], "msg": {"channel": "orderbook_delta", "sid": 1}}),
        text=True,
    )
    transport, seq = ws.transport, 0
    while True:
        for start in range(0, len(frames), 1000):
            batch = []
            for prefix, suffix in frames[start : start + 1000]:
                seq += 1
                batch.append(encode_frame(b"%s%d%s" % (prefix, seq, suffix)))
            if transport.is_closing():
                return
            try:
                transport.write(b"".join(batch))
            except RuntimeError:  # the reader closed: websockets already sent its EOF
                return
            # Keep a few MiB queued (a raw transport has no drain event): the reader never
            # waits, and memory stays bounded.
            while transport.get_write_buffer_size() > 4 * 2**20 and not transport.is_closing():  # noqa: ASYNC110
                await asyncio.sleep(0.0005)


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def run_client(url: str, signer: Signer, tickers: list[str], messages: int) -> dict:
    client = KalshiWebSocket(url, signer)
    client.start()
    await client.connected.wait()
    await client.subscribe(["orderbook_delta"], tickers)
    metrics = client.metrics
    # Polling a counter costs the reader nothing; an event set per message would.
    while metrics.messages < WARMUP:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    start_count, start, cpu = metrics.messages, time.perf_counter(), time.process_time()
    samples = []
    for tenth in range(1, 11):
        while metrics.messages - start_count < messages * tenth // 10:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        samples.append(round(rss_mib(), 1))
    elapsed, cpu_used, done = time.perf_counter() - start, time.process_time() - cpu, metrics.messages - start_count
    books_ok = all(not book.stale for book in client.books.values())
    await client.close()
    return {
        "rate": done / elapsed,
        "cpu": cpu_used / elapsed,
        "rss": samples,
        "gaps": metrics.gaps,
        "parse_errors": metrics.parse_errors,
        "books_ok": books_ok,
        "levels": sum(len(b.yes) + len(b.no) for b in client.books.values()),
    }


async def run_bare(url: str, signer: Signer, tickers: list[str], messages: int) -> dict:
    """The limit: websockets + orjson + a dict, nothing else."""
    headers = signer.headers("GET", "/trade-api/ws/v2")
    async with connect(url, additional_headers=headers, compression=None, max_size=2**24, proxy=None) as ws:
        subscribe = {
            "id": 1,
            "cmd": "subscribe",
            "params": {"channels": ["orderbook_delta"], "market_tickers": tickers},
        }
        await ws.send(orjson.dumps(subscribe), text=True)
        levels: dict[tuple[str, str, str], float] = {}
        loads, recv = orjson.loads, ws.recv
        for _ in range(WARMUP):
            await recv(decode=False)
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(messages):
            msg = loads(await recv(decode=False))
            body = msg.get("msg")
            if msg["type"] == "orderbook_delta":
                key = (body["market_ticker"], body["side"], body["price_dollars"])
                levels[key] = levels.get(key, 0.0) + float(body["delta_fp"])
            elif msg["type"] == "orderbook_snapshot":
                for side in ("yes", "no"):
                    for price, count in body.get(f"{side}_dollars_fp", ()):
                        levels[(body["market_ticker"], side, price)] = float(count)
        elapsed = time.perf_counter() - start
        return {"rate": messages / elapsed, "cpu": (time.process_time() - cpu) / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000, help="timed messages per reader")
    parser.add_argument("--markets", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--source",
        choices=("replay", "sim"),
        default="replay",
        help="replay: a minimal sender replays frames recorded from the simulator (it outruns any reader); "
        "sim: the simulator itself, whose random walk tops out below the readers",
    )
    args = parser.parse_args()

    keys = Path(tempfile.mkdtemp(prefix="bench-keys-"))
    private, public = generate_key_pair(keys, KEY_ID)
    signer = Signer.from_files(KEY_ID, str(private))
    ours, theirs = multiprocessing.Pipe()
    sim = multiprocessing.get_context("spawn").Process(
        target=serve, args=(theirs, args.source, KEY_ID, str(public), args.markets, args.seed), daemon=True
    )
    sim.start()
    try:
        url, tickers = ours.recv()
        print(f"sender ({args.source}, child process): {url}, {len(tickers)} markets, pushing as fast as read")
        bare = asyncio.run(run_bare(url, signer, tickers, args.messages))
        client = asyncio.run(run_client(url, signer, tickers, args.messages))
    finally:
        ours.send("stop")
        sim.join(5)
        if sim.is_alive():
            sim.terminate()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"messages timed per reader: {args.messages:,}")
    print(
        f"KalshiWebSocket (parse + units + seq + books): {client['rate']:,.0f} msgs/s "
        f"(reader CPU {client['cpu']:.0%} of one core = {client['rate'] / client['cpu']:,.0f} msgs per CPU-second); "
        f"gaps {client['gaps']}, parse errors {client['parse_errors']}, books fresh: {client['books_ok']}, "
        f"{client['levels']} levels"
    )
    print(f"  resident memory at each tenth of the run (MiB): {client['rss']}")
    print(
        f"bare websockets + orjson + dict (the limit):     {bare['rate']:,.0f} msgs/s "
        f"(CPU {bare['cpu']:.0%} = {bare['rate'] / bare['cpu']:,.0f} msgs per CPU-second)"
    )
    print(f"client / limit: {client['rate'] / bare['rate']:.0%}; peak resident memory of the reader: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
