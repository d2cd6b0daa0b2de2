"""Whale decision benchmark: whales through real Celery workers and Postgres, with
the books read from the simulator over HTTP, as in the services shape.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/v3_bench REDIS_URL=redis://127.0.0.1:6379/5 \\
        .venv/bin/python bench/decisions.py [--whales 1000] [--rate 20] [--concurrency 2] [--order-concurrency 2]

This process migrates the database, starts the simulator (its own thread and loop,
127.0.0.1:0) and two ``celery -A v3site worker`` subprocesses (``-Q celery`` deciding with
``--concurrency`` children, ``-Q orders`` placing with ``--order-concurrency``), then records
``--whales`` whales at ``--rate`` a second the way the feed does (row committed, then
``process_whale.delay`` after commit), spread over the simulator's markets, each at
the market's current ask so most are followed and their orders placed (the limits are
opened up so the risk checks run but rarely stop a follow). It prints decisions/s
and the p50/p99 of whale detected -> decision persisted (``WhaleDecision.decided_at``
minus ``WhaleTrade.detected_at``), split into the wait for a worker (detected ->
``started_at``) and the decision itself (``started_at`` -> ``decided_at``).
Then, in the same run, the limit row: as many whales at the same rate through tasks that
do only what a followed whale needs (bench/decision_limit.py: one signed book read, one
transaction locking the risk row and inserting the decision, one signed POST of the order
and its row update), on the same pools; it prints ``limit: deciding X ms, placing Y ms``
per whale and the real tasks' CPU as a multiple of it.
Targets: p99 < 250 ms at 20 whales/s; deciding + placing CPU within 2x the limit row.
Results: bench/README.md ("decisions").

The database in DATABASE_URL is emptied first (created if missing): use a scratch one.
The Redis database in REDIS_URL is flushed first.
"""

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.measure import cpu_seconds, machine_cpu, percentile, process_tree  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "v3site.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
os.environ.setdefault("ALLOWED_HOSTS", "localhost")
os.environ.setdefault("V3_DATA_DIR", tempfile.mkdtemp(prefix="v3-bench-decisions-"))
os.environ.setdefault("LOG_LEVEL", "WARNING")
# Open limits: every check runs, few stop a follow, so most whales also place an order.
LIMITS = {
    "EXEC_MAX_SPREAD": "0.50",
    "EXEC_COOLDOWN": "0",
    "EXEC_FIXED_COUNT": "1",
    "EXEC_MAX_ORDERS_PER_MINUTE": "100000",
    "EXEC_MAX_OPEN_ORDERS": "100000",
    "EXEC_MAX_POSITION": "100000",
    "EXEC_MAX_EXPOSURE": "10000000",
    "EXEC_MAX_BOOK_AGE": "5",
    "EXEC_MIN_WHALE_NOTIONAL": "100",
}
os.environ.update(LIMITS)
WORKER = [sys.executable, "-m", "celery", "-A", "v3site", "worker", "-l", "WARNING"]
WORKER += ["--without-mingle", "--without-gossip", "--without-heartbeat", "--include", "bench.decision_limit"]


def ensure_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
            conn.execute(f'create database "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--whales", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="whales per second")
    parser.add_argument("--concurrency", type=int, default=2, help="prefork children deciding (queue celery)")
    parser.add_argument("--order-concurrency", type=int, default=2, help="prefork children placing (queue orders)")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        sys.exit("Set DATABASE_URL (Postgres) and REDIS_URL: the benchmark measures the services shape.")
    ensure_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    import redis
    from django.core.management import call_command
    from django.db import transaction

    from bench.decision_limit import limit_decide
    from trading.models import Order, RiskAccount, WhaleDecision, WhaleTrade
    from trading.simulator.server import SimConfig, SimulatorServer
    from trading.tasks import process_whale

    call_command("migrate", verbosity=0)
    # A scratch database: a clean start, so no earlier run's whales or orders weigh on this one.
    call_command("flush", interactive=False, verbosity=0)
    RiskAccount.objects.get_or_create(name="default")
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="simulator", daemon=True).start()
    server = SimulatorServer(SimConfig(markets=5, seed=3, whale_rate=0.0, paused=True, balance_cents=10**10))
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)

    def best(ticker: str) -> tuple:
        async def read() -> tuple:
            return server.exchange.best(ticker)

        return asyncio.run_coroutine_threadsafe(read(), loop).result(5)

    env = {**os.environ, "KALSHI_ENV": "sim", "KALSHI_API_URL": server.rest_url, "TRADING_MODE": "paper"}
    workers = [
        subprocess.Popen(
            [*WORKER, "-Q", queue, "-c", str(n), "-n", f"bench-{queue}-{os.getpid()}@%h"],
            cwd=ROOT,
            env=env,
        )
        for queue, n in (("celery", args.concurrency), ("orders", args.order_concurrency))
    ]
    try:
        tickers = list(server.exchange.tickers)
        asks = {t: best(t)[2] for t in tickers}
        run = uuid.uuid4().hex[:8]

        def send(i: int, label: str, task: Any) -> WhaleTrade:
            ticker = tickers[i % len(tickers)]
            with transaction.atomic():
                now = time.time()
                whale = WhaleTrade.objects.create(
                    trade_id=f"bench-{run}-{label}-{i}",
                    market_ticker=ticker,
                    taker_side="yes",
                    yes_price=asks[ticker],
                    count=1_000_000,
                    notional=asks[ticker] * 1_000_000,
                    traded_at=now,
                    detected_at=now,
                )
                transaction.on_commit(lambda pk=whale.pk: task.delay(pk))
            return whale

        # Warm up, not measured: every worker child's first task imports the rest of
        # the code, opens its connections and builds its REST client.
        for label, task in (("warm", process_whale), ("warm-limit", limit_decide)):
            warm = [send(i, label, task).pk for i in range(4 * (args.concurrency + args.order_concurrency))]
            deadline = time.monotonic() + 90
            while WhaleDecision.objects.filter(whale_id__in=warm).count() < len(warm) and time.monotonic() < deadline:
                time.sleep(0.2)
        time.sleep(2)
        trees = [process_tree(worker.pid) for worker in workers]

        def cpu_sample() -> list[float]:
            """CPU seconds of the deciding and placing workers, this process, and the machine (busy, all)."""
            return [*(cpu_seconds(tree) for tree in trees), cpu_seconds([os.getpid()]), *machine_cpu()]

        def timed(label: str, task: Any) -> Timed:
            """``args.whales`` whales at ``args.rate`` through ``task``; waits for their decisions and orders."""
            cpu_before = cpu_sample()
            started = time.monotonic()
            first_id = None
            for i in range(args.whales):
                delay = started + i / args.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                whale = send(i, label, task)
                first_id = first_id or whale.pk
            sent = time.monotonic() - started
            deadline = time.monotonic() + 120
            decisions = WhaleDecision.objects.filter(whale_id__gte=first_id)
            while decisions.count() < args.whales and time.monotonic() < deadline:
                time.sleep(0.5)
            rows = list(decisions.values_list("started_at", "decided_at", "whale__detected_at", "decision"))
            decided = time.monotonic()
            mine = Order.objects.filter(decision__whale_id__gte=first_id)
            while mine.filter(status=Order.Status.PENDING).exists() and time.monotonic() < decided + 60:
                time.sleep(0.5)
            drained = time.monotonic() - decided
            cpu_used = [after - before for after, before in zip(cpu_sample(), cpu_before, strict=True)]
            placed = mine.exclude(exchange_order_id="")
            return Timed(
                rows, cpu_used, sent, drained, placed.count(), placed.filter(status=Order.Status.EXECUTED).count()
            )

        measured = timed("timed", process_whale)
        limit = timed("limit", limit_decide)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)

    print(
        f"whales {args.whales} at {args.rate:g}/s (sent in {measured.sent:.1f} s), "
        f"worker children: {args.concurrency} deciding, {args.order_concurrency} placing"
    )
    rows = measured.rows
    total = [(decided - detected) * 1000 for _, decided, detected, _ in rows]
    queued = [(start - detected) * 1000 for start, _, detected, _ in rows]
    deciding = [(decided - start) * 1000 for start, decided, _, _ in rows]
    span = max(d for _, d, _, _ in rows) - min(w for _, _, w, _ in rows)
    follows = sum(1 for *_, decision in rows if decision == "follow")
    print(f"decisions {len(rows)} ({follows} follow), {len(rows) / span:.1f} decisions/s")
    print(
        f"orders acknowledged {measured.orders} ({measured.filled} executed), "
        f"the last {measured.drained:.1f} s after the last decision"
    )
    cores = os.cpu_count() or 1
    deciding_cpu, placing_cpu, own_cpu, busy, every = measured.cpu
    rest_cpu = busy - deciding_cpu - placing_cpu - own_cpu
    print(
        f"CPU per whale: deciding worker {1000 * deciding_cpu / len(rows):.1f} ms, "
        f"placing worker {1000 * placing_cpu / max(measured.orders, 1):.1f} ms per order, "
        f"this process (simulator, whales) {1000 * own_cpu / len(rows):.1f} ms, "
        f"the rest (Postgres, Redis, anything else) {1000 * rest_cpu / len(rows):.1f} ms"
    )
    print(
        f"machine: {cores} cores {100 * busy / every:.0f} % busy over the timed part "
        f"({busy / (every / cores):.2f} of {cores} cores)"
    )
    for name, values in (
        ("detected -> persisted", total),
        ("  waiting for a worker", queued),
        ("  deciding", deciding),
    ):
        print(
            f"{name:24s} p50 {percentile(values, 0.5):7.1f} ms  p99 {percentile(values, 0.99):7.1f} ms  "
            f"max {max(values):7.1f} ms  mean {statistics.fmean(values):6.1f} ms"
        )
    limit_deciding, limit_placing, _, limit_busy, limit_every = limit.cpu
    per_decision = 1000 * limit_deciding / max(len(limit.rows), 1)
    per_order = 1000 * limit_placing / max(limit.orders, 1)
    limit_total = [(decided - detected) * 1000 for _, decided, detected, _ in limit.rows]
    print(
        f"limit: deciding {per_decision:.1f} ms, placing {per_order:.1f} ms per whale "
        f"({len(limit.rows)} decisions, {limit.orders} orders; machine {100 * limit_busy / limit_every:.0f} % busy; "
        f"detected -> persisted p50 {percentile(limit_total, 0.5):.1f} ms p99 {percentile(limit_total, 0.99):.1f} ms)"
    )
    real = 1000 * deciding_cpu / len(rows) + 1000 * placing_cpu / max(measured.orders, 1)
    print(f"deciding + placing / limit = {real / (per_decision + per_order):.2f}x")


@dataclass
class Timed:
    """One timed part: its decisions' (started, decided, detected, decision) rows, the CPU
    used (deciding, placing, this process, machine busy, machine all), how long sending
    took, how long the orders took to drain after the last decision, orders acknowledged
    and executed."""

    rows: list[tuple[float, float, float, str]]
    cpu: list[float]
    sent: float
    drained: float
    orders: int
    filled: int


if __name__ == "__main__":
    main()
