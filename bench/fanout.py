"""Fan-out to browsers: N logged-in WebSocket clients through the web process's ASGI
server (``--server``: uvicorn, the default, or daphne) and the Redis channel layer,
broadcasts at a fixed rate (docs/architecture.md pitfalls on channels_redis fan-out).

Each configuration runs five servers under the same load, one after another:

* ``once``: the project's path. The publisher serializes each event once
  (trading.events.envelope) and every consumer forwards the finished text.
* ``per_client``: the same server, Redis layer and consumer, but the group message
  carries the event as data and every consumer serializes it (stdlib json, as
  Channels' ``send_json`` does): the cost the project's design avoids.
* ``stock``: the textbook Channels way, for comparison: each browser's own channel
  in the group (channels_redis decodes and dispatches every message once per
  browser) and ``send_json`` per browser.
* ``floor``: the same ASGI server with a bare application (bench/fanout_floor.py)
  that serializes once and awaits every socket's ``send``: no Django, no Channels,
  no Redis, no auth. The server's own cost, the floor under the first three.
* ``bare``: a ``websockets`` server that serializes once and calls
  ``websockets.broadcast``: no Django, no Redis, no auth. The limit of this
  machine for this many sockets, with the load generator on the same cores.

Prints, per run: deliveries expected and made, messages lost, delivered
messages/s, p50/p99 publish -> receive latency, the server process's CPU (share
of one core, seconds, and microseconds per delivered message), the load
generator's CPU (``load %``) and the whole machine's (``all %``, of 200 on two
cores): the clients share the two cores with the server they measure; and the
server processes' resident memory with every client connected (``RSS MB``).

Needs DATABASE_URL (Postgres) and REDIS_URL; migrates that database and adds a
``bench`` user. Usage::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/v3_bench REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python bench/fanout.py --clients 100 500 1000 --rate 10 --seconds 10 [--server daphne]
"""

import argparse
import asyncio
import multiprocessing as mp
import os
import re
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.measure import cpu_seconds, machine_cpu, memory_mb, percentile  # noqa: E402

MODES = ("once", "per_client", "stock", "floor", "bare")
SERVERS = ("uvicorn", "daphne")
# Client processes: one per core, so the load generator can use the whole machine.
WORKERS = 2
# Handshakes in flight per client process while connecting. Each one costs the
# server a session lookup and a replay query, done one at a time on its database
# thread; with 50 in flight some waited past daphne's 5 s handshake timeout.
CONNECT_CONCURRENCY = 10
# After the last broadcast, how long to wait for stragglers before counting them lost.
DRAIN_SECONDS = 10.0
# The body of a real trader_status (trading.feed.runner.status(): components with
# metrics, feed and bus counters, the last whales), about 3 KB serialized: the
# largest event every browser receives.
PAYLOAD = {
    "state": "trading",
    "mode": "paper",
    "uptime": 1234.5,
    "started_at": 1795540000.0,
    "exchange_connected": True,
    "markets": [f"KXBENCH-26DEC31-T{n}" for n in range(8)],
    "components": [
        {
            "name": name,
            "healthy": True,
            "criticality": "critical" if n < 4 else "non_critical",
            "detail": "",
            "metrics": {"age": 0.12, "messages": 123456, "errors": 0, "rate": 812.5},
        }
        for n, name in enumerate(("kalshi_ws", "orderbooks", "whale_tracker", "database", "trades", "fills", "bus"))
    ],
    "feed": {"messages": 1234567, "gaps": 0, "resyncs": 1, "malformed": 0, "changes": 98765, "events_sent": 4321},
    "bus": {"queue_utilization": 0.0123, "published": 123456, "dropped": 0},
    "whales": {
        "detected": 42,
        "recent": [
            {
                "whale_id": 1000 + n,
                "trade_id": f"5f8d7c2e-0000-4000-8000-{n:012d}",
                "market_ticker": f"KXBENCH-26DEC31-T{n % 8}",
                "taker_side": "yes" if n % 2 else "no",
                "yes_price": 4500 + n,
                "count": 250_000,
                "notional": 1_125_000_000,
                "median_notional": 2_250_000,
                "rule": "absolute",
                "traded_at": 1795540000.0 + n,
                "detected_at": 1795540000.2 + n,
            }
            for n in range(10)
        ],
    },
}


# The sequence number and send time sit at the front of every broadcast (both
# encoders keep key order), so clients read them without parsing 4 KB each time:
# the load generator shares the two cores with the server it measures.
STAMP = re.compile(r'"bench_seq": ?(\d+), ?"sent": ?([\d.e+-]+)')


# ---- client processes -------------------------------------------------------------------------


def client_process(url: str, headers: list[tuple[str, str]], count: int, replay: bool, conn, counter) -> None:
    asyncio.run(_clients(url, headers, count, replay, conn, counter))


async def _clients(url: str, headers: list[tuple[str, str]], count: int, replay: bool, conn, counter) -> None:
    from websockets.asyncio.client import connect

    latencies: list[float] = []
    unique: list[set[int]] = [set() for _ in range(count)]
    ready = 0
    failed = 0
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    all_ready = asyncio.Event()

    async def one(index: int) -> None:
        nonlocal ready, failed
        seen = unique[index]
        try:
            async with gate:
                ws = await connect(
                    url,
                    additional_headers=headers,
                    compression=None,
                    max_size=None,
                    open_timeout=120,
                    ping_interval=None,
                )
                if replay:
                    # The connection ack, then the history replay: the socket is live.
                    while orjson.loads(await ws.recv())["type"] != "history_replay":
                        pass
        except Exception as exc:
            failed += 1
            print(f"client {index}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return
        finally:
            ready += 1
            if ready == count:
                all_ready.set()
        async with ws:
            async for frame in ws:
                now = time.time()
                raw = frame if isinstance(frame, str) else frame.decode()
                if stamp := STAMP.search(raw, 0, 200):
                    latencies.append(now - float(stamp.group(2)))
                    seen.add(int(stamp.group(1)))
                    counter.value += 1
                elif raw.startswith('{"type":"ping"'):
                    seq = orjson.loads(raw)["data"]["seq"]
                    await ws.send(orjson.dumps({"type": "pong", "seq": seq}).decode())

    tasks = [asyncio.create_task(one(i)) for i in range(count)]
    await all_ready.wait()
    loop = asyncio.get_running_loop()
    conn.send(("ready", failed))
    await loop.run_in_executor(None, conn.recv)  # "stop"
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    conn.send({"latencies": latencies, "unique": sum(len(s) for s in unique), "failed": failed})


def bare_text(seq: int) -> str:
    """Broadcast ``seq`` serialized once, as the ``floor`` and ``bare`` servers send it."""
    data = {"bench_seq": seq, "sent": time.time(), **PAYLOAD}
    return orjson.dumps({"type": "system_activity", "id": 0, "ts": time.time(), "data": data}).decode()


# ---- the bare websockets server ---------------------------------------------------------------


def bare_server_process(conn) -> None:
    asyncio.run(_bare_server(conn))


async def _bare_server(conn) -> None:
    from websockets.asyncio.server import broadcast, serve

    clients = set()

    async def handler(ws) -> None:
        clients.add(ws)
        try:
            await ws.wait_closed()
        finally:
            clients.discard(ws)

    async with serve(handler, "127.0.0.1", 0, compression=None, ping_interval=None, max_queue=None) as server:
        conn.send(next(iter(server.sockets)).getsockname()[1])
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command is None:
                return
            messages, rate = command
            start = time.monotonic()
            for seq in range(messages):
                await asyncio.sleep(max(0.0, start + seq / rate - time.monotonic()))
                broadcast(clients, bare_text(seq))
            conn.send("published")


# ---- the run ----------------------------------------------------------------------------------


@dataclass
class Result:
    mode: str
    clients: int
    rate: float
    messages: int
    delivered: int
    lost: int
    per_second: float
    p50_ms: float
    p99_ms: float
    cpu_percent: float
    cpu_seconds: float
    load_percent: float
    machine_percent: float
    failed_connects: int
    # Resident memory of the server processes with every client connected, after the broadcasts.
    rss_mb: float

    @property
    def cpu_us_per_message(self) -> float:
        """Server CPU per delivered message: comparable even when a run lost messages."""
        return 1e6 * self.cpu_seconds / self.delivered if self.delivered else float("nan")


async def publish(mode: str, messages: int, rate: float) -> None:
    """Broadcast through the Redis layer at a fixed rate, the way trading.publisher does."""
    from channels.layers import get_channel_layer

    from trading import events

    layer = get_channel_layer()
    start = time.monotonic()
    for seq in range(messages):
        await asyncio.sleep(max(0.0, start + seq / rate - time.monotonic()))
        now = time.time()
        data = {"bench_seq": seq, "sent": now, **PAYLOAD}
        if mode == "once":
            message = events.group_message(events.envelope(events.SYSTEM_ACTIVITY, data, ts=now))
        else:
            message = {
                "type": "broadcast.data",
                "event": {"type": events.SYSTEM_ACTIVITY, "id": 0, "ts": now, "data": data},
            }
        await layer.group_send(events.EVENTS_GROUP, message)


def run_one(mode: str, clients: int, rate: float, seconds: float, servers: list, cookie: str) -> Result:
    ctx = mp.get_context("spawn")
    bare_conn = None
    if mode == "bare":
        bare_conn, child = ctx.Pipe()
        bare = ctx.Process(target=bare_server_process, args=(child,), daemon=True)
        bare.start()
        port = bare_conn.recv()
        url, headers, pids = f"ws://127.0.0.1:{port}/", [], [pid for pid in [bare.pid] if pid is not None]
    else:
        for server in servers:
            server.start()
        base = servers[0].url
        url = base.replace("http", "ws") + {"stock": "/ws/stock/", "floor": "/"}.get(mode, "/ws/events/")
        headers = [] if mode == "floor" else [("Cookie", cookie), ("Origin", base)]
        pids = [server.pid for server in servers if server.pid is not None]

    counters = [ctx.RawValue("q", 0) for _ in range(WORKERS)]
    pipes, workers = [], []
    for w in range(WORKERS):
        share = clients // WORKERS + (1 if w < clients % WORKERS else 0)
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=client_process, args=(url, headers, share, mode in ("once", "per_client"), child, counters[w])
        )
        proc.start()
        pipes.append(parent)
        workers.append(proc)
    failed = sum(p.recv()[1] for p in pipes)

    messages = int(rate * seconds)
    expected = messages * (clients - failed)
    cpu_before, wall_before = cpu_seconds(pids), time.monotonic()
    load_pids = [p.pid for p in workers if p.pid is not None]
    load_before = cpu_seconds(load_pids)
    busy_before, total_before = machine_cpu()
    if bare_conn is not None:
        bare_conn.send((messages, rate))
        bare_conn.recv()
    elif mode == "floor":
        httpx.post(f"{base}/broadcast", params={"messages": messages, "rate": rate}, timeout=seconds + 60)
    else:
        asyncio.run(publish(mode, messages, rate))
    deadline = time.monotonic() + DRAIN_SECONDS
    while sum(c.value for c in counters) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    wall = time.monotonic() - wall_before
    cpu = cpu_seconds(pids) - cpu_before
    rss = sum(memory_mb(pid)[0] for pid in pids)
    load = cpu_seconds(load_pids) - load_before
    busy_after, total_after = machine_cpu()
    machine = 100 * (os.cpu_count() or 1) * (busy_after - busy_before) / (total_after - total_before)

    results = []
    for pipe in pipes:
        pipe.send("stop")
        results.append(pipe.recv())
    for proc in workers:
        proc.join(30)
    if bare_conn is not None:
        bare_conn.send(None)
        bare.join(10)
    else:
        for server in servers:
            server.stop()

    latencies = [x for r in results for x in r["latencies"]]
    delivered = sum(r["unique"] for r in results)
    return Result(
        mode=mode,
        clients=clients,
        rate=rate,
        messages=messages,
        delivered=delivered,
        lost=expected - delivered,
        per_second=delivered / wall,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        cpu_percent=100 * cpu / wall,
        cpu_seconds=cpu,
        load_percent=100 * load / wall,
        machine_percent=machine,
        rss_mb=rss,
        failed_connects=failed,
    )


def prepare(server: str, processes: int) -> tuple[str, list, list]:
    """Django on the services shape, the bench user's session cookie, the project's web
    processes under ``server`` and the bare ASGI application's."""
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        sys.exit("bench/fanout.py needs DATABASE_URL (Postgres) and REDIS_URL")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(40))
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    os.environ.setdefault("CHANNELS_PREFIX", f"bench{os.getpid()}")
    os.environ.setdefault("V3_DATA_DIR", tempfile.mkdtemp(prefix="v3-bench-"))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # Every simulated browser is the one bench user: lift the per-user socket limit.
    os.environ.setdefault("WS_MAX_CONNECTIONS_PER_USER", "1000000")
    os.environ["DJANGO_SETTINGS_MODULE"] = "v3site.settings"
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from tests.browser.server import web_servers

    call_command("migrate", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="bench")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    log = Path(os.environ["V3_DATA_DIR"]) / "web.log"
    env = dict(os.environ)
    servers = web_servers(env, log=log, server=server, app="bench.fanout_server:application", processes=processes)
    floor = web_servers(env, log=log, server=server, app="bench.fanout_floor:application")
    return f"sessionid={session.session_key}", servers, floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--rate", type=float, default=10.0, help="broadcasts a second")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each broadcast run")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument(
        "--server",
        choices=SERVERS,
        default=os.environ.get("WEB_SERVER", "uvicorn"),
        help="the ASGI server (WEB_SERVER)",
    )
    parser.add_argument("--processes", type=int, default=1, help="web processes sharing the listening socket")
    args = parser.parse_args()

    cookie, servers, floor = prepare(args.server, args.processes)
    print(f"server: {args.server}, {args.processes} process(es)")
    header = (
        f"{'mode':<11}{'clients':>8}{'rate/s':>7}{'sent':>6}{'delivered':>10}{'lost':>7}"
        f"{'msgs/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU %':>7}{'CPU s':>7}{'us/msg':>7}"
        f"{'load %':>7}{'all %':>7}{'RSS MB':>7}"
    )
    print(header)
    results: dict[tuple[str, int], Result] = {}
    try:
        for clients in args.clients:
            for mode in args.modes:
                r = results[mode, clients] = run_one(
                    mode, clients, args.rate, args.seconds, floor if mode == "floor" else servers, cookie
                )
                note = f"  ({r.failed_connects} clients failed to connect)" if r.failed_connects else ""
                print(
                    f"{r.mode:<11}{r.clients:>8}{r.rate:>7g}{r.messages:>6}{r.delivered:>10}{r.lost:>7}"
                    f"{r.per_second:>9.0f}{r.p50_ms:>9.1f}{r.p99_ms:>9.1f}{r.cpu_percent:>7.0f}{r.cpu_seconds:>7.2f}"
                    f"{r.cpu_us_per_message:>7.0f}{r.load_percent:>7.0f}{r.machine_percent:>7.0f}{r.rss_mb:>7.0f}{note}",
                    flush=True,
                )
    finally:
        for server in servers + floor:
            server.close()
    for clients in args.clients:
        once, per_client, stock, floor_run, bare = (results.get((mode, clients)) for mode in MODES)
        if not once:
            continue
        ratios = []
        if bare:
            ratios.append(f"p99 once / bare = {once.p99_ms / bare.p99_ms:.1f}x")
        # Per delivered message: a mode that lost messages did less work, not cheaper work.
        if per_client:
            ratios.append(
                f"server CPU per_client / once = {per_client.cpu_us_per_message / once.cpu_us_per_message:.2f}x"
            )
        if stock:
            ratios.append(f"server CPU stock / once = {stock.cpu_us_per_message / once.cpu_us_per_message:.2f}x")
        if per_client and floor_run:
            # What per-client serialization adds, over the server alone: the ratio if the
            # project's own path cost nothing.
            added = per_client.cpu_us_per_message - once.cpu_us_per_message
            ceiling = (floor_run.cpu_us_per_message + added) / floor_run.cpu_us_per_message
            ratios.append(f"per_client / once at most {ceiling:.2f}x over this server")
        print(f"{clients} clients: " + "; ".join(ratios))


if __name__ == "__main__":
    main()
