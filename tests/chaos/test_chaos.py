"""Chaos: the services shape (simulator, an active and a standby feed runner, the
decision and the placement worker pools, beat) on its own Postgres and Redis, while
whales are injected, survives in turn: the placing worker killed mid-placement, the
active runner killed, the exchange connection gone for seconds with a whale traded
meanwhile, a Redis restart and a Postgres restart. Afterwards every whale is
recorded and decided once, no decision has two orders, every follow is on the
exchange once, and nothing is left pending."""

import asyncio
import time
from collections import Counter

import pytest

from tests.chaos.stack import Stack
from tests.configs import configure
from tests.waiting import wait_for
from trading.kalshi import rest

pytestmark = [pytest.mark.chaos]

# Far above WHALE_MIN_NOTIONAL at any price.
WHALE_COUNT = "5000000.00"
ENV = {
    "TRADING_MODE": "paper",
    "FEED_STATUS_INTERVAL": "1",
    "WHALE_MIN_NOTIONAL": "10000",
    "WHALE_RELATIVE_FACTOR": "1000000000",  # only the injected whales
    # Every injected whale is followed unless it is late: the limits stay out of the way.
    "EXEC_MAX_SPREAD": "0.50",
    "EXEC_COOLDOWN": "0",
    "EXEC_FIXED_COUNT": "1",
    "EXEC_MAX_BOOK_AGE": "30",
    "EXEC_ORDER_TTL": "0",
    "EXEC_MAX_ORDERS_PER_MINUTE": "1000",
    "EXEC_MAX_OPEN_ORDERS": "1000",
    "EXEC_MAX_POSITION": "100000",
    "EXEC_MAX_EXPOSURE": "100000",
    # Reconciliation settles what the faults leave behind within seconds, not minutes.
    "EXEC_RECONCILE_INTERVAL": "5",
    "EXEC_PENDING_GRACE": "5",
}
# The longest the stack may take to settle after the last fault: a placement whose
# worker died runs again within 55 s (settings.CELERY_BROKER_TRANSPORT_OPTIONS).
SETTLE = 90.0
PENDING = "SELECT client_order_id FROM trading_order WHERE status = 'pending'"


class Chaos:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.whales: list[str] = []
        self.tickers = stack.tickers()[:2]

    def whale(self) -> str:
        ticker = self.tickers[len(self.whales) % len(self.tickers)]
        trade = self.stack.control(action="whale", market_ticker=ticker, count=WHALE_COUNT, taker_side="yes")["trade"]
        self.whales.append(trade["trade_id"])
        return trade["trade_id"]

    def recorded(self, trade_id: str) -> bool:
        return bool(self.stack.postgres.query("SELECT 1 FROM trading_whaletrade WHERE trade_id = %s", (trade_id,)))

    def wait_recorded(self, trade_id: str, timeout: float = 30.0) -> None:
        wait_for(lambda: self.recorded(trade_id), timeout, f"whale {trade_id} recorded")


def exchange_orders(stack: Stack, settings) -> list:
    configure(
        settings, "KALSHI", env="sim", sim_port=stack.sim_port, sim_dir=stack.directory / "data" / "sim", api_url=""
    )

    async def read() -> list:
        async with rest.KalshiRestClient.from_settings() as client:
            return await client.orders()

    return asyncio.run(read())


def settled(stack: Stack, chaos: Chaos) -> bool:
    q = stack.postgres.query
    decided = q(
        "SELECT count(*) FROM trading_whaletrade w JOIN trading_whaledecision d ON d.whale_id = w.id"
        " WHERE w.trade_id = ANY(%s)",
        (chaos.whales,),
    )[0][0]
    return decided == len(chaos.whales) and not q(PENDING)


def test_services_survive_kills_drops_and_restarts(tmp_path, settings):
    stack = Stack(tmp_path, ENV)
    try:
        stack.start_stores()
        stack.simulator("--markets", "2", "--seed", "5", "--whale-rate", "0", "--rate", "20")
        chaos = Chaos(stack)
        stack.worker("decisions", "celery")
        orders_pool = stack.worker("orders", "orders")
        stack.beat()
        active = stack.runner("runner-a", chaos.tickers)
        wait_for(lambda: "this runner is active" in active.output(), 60, "the first runner to be active")
        standby = stack.runner("runner-b", chaos.tickers)
        wait_for(lambda: "standby" in standby.output(), 60, "the second runner to stand by")
        wait_for(
            lambda: stack.postgres.query("SELECT 1 FROM trading_statetransition WHERE to_state = 'trading'"),
            60,
            "trading",
        )
        chaos.wait_recorded(chaos.whale())

        # 1. The placing worker killed mid-placement: the exchange holds the request longer
        # than EXEC_PENDING_GRACE, so reconciliation looks for the order before it lands.
        wait_for(lambda: not stack.postgres.query(PENDING), 30, "the first follow placed")
        stack.control(action="delay", target="orders", ms=15_000)
        chaos.whale()
        wait_for(lambda: stack.postgres.query(PENDING), 30, "an order in flight")
        time.sleep(0.5)  # the request is on its way
        orders_pool.kill()
        assert stack.postgres.query(PENDING), "the placement ended before its worker was killed"
        stack.control(action="delay", target="orders", ms=0)
        orders_pool = stack.worker("orders", "orders")

        # 2. The active runner killed: the standby takes over; a whale in between is backfilled.
        active.kill()
        chaos.whale()
        wait_for(lambda: "this runner is active" in standby.output(), 30, "the standby to take over")
        active = standby
        standby = stack.runner("runner-c", chaos.tickers)
        chaos.wait_recorded(chaos.whale())

        # 3. The exchange connection gone for seconds (handshakes refused), a whale traded meanwhile.
        stack.control(action="reject", target="ws", count=2)
        stack.control(action="drop")
        time.sleep(1)
        traded_offline = chaos.whale()
        time.sleep(3)
        chaos.wait_recorded(traded_offline)

        # 4. Redis restarted: queued tasks are lost; reconciliation decides the whales late.
        stack.redis.stop()
        chaos.whale()
        time.sleep(2)
        stack.redis.start()
        chaos.wait_recorded(chaos.whale())

        # 5. Postgres restarted: every process replaces its broken connections.
        stack.postgres.restart()
        chaos.wait_recorded(chaos.whale())

        wait_for(lambda: settled(stack, chaos), SETTLE, "every whale decided and no order pending")

        q = stack.postgres.query
        recorded = q("SELECT trade_id FROM trading_whaletrade WHERE trade_id = ANY(%s)", (chaos.whales,))
        whales = Counter(t for (t,) in recorded)
        decisions = q(
            "SELECT w.trade_id, d.decision, d.reason_code FROM trading_whaledecision d"
            " JOIN trading_whaletrade w ON w.id = d.whale_id WHERE w.trade_id = ANY(%s)",
            (chaos.whales,),
        )
        orders = q(
            "SELECT o.client_order_id, o.status, o.error, o.decision_id FROM trading_order o"
            " WHERE o.decision_id IS NOT NULL"
        )
        follows = [d for d in decisions if d[1] == "follow"]
        on_exchange = Counter(o.client_order_id for o in exchange_orders(stack, settings))
        print(
            f"\nchaos: {len(chaos.whales)} whales injected, {sum(whales.values())} recorded,"
            f" {len(decisions)} decided ({len(follows)} follows,"
            f" skips {dict(Counter(d[2] for d in decisions if d[1] != 'follow'))}),"
            f" {len(orders)} orders {dict(Counter(o[1] for o in orders))},"
            f" {sum(on_exchange.values())} on the exchange"
        )
        assert whales == Counter(chaos.whales), "a whale lost or recorded twice"
        assert Counter(d[0] for d in decisions) == Counter(chaos.whales), "a whale undecided or decided twice"
        assert len({o[3] for o in orders}) == len(orders), "a decision with two orders"
        assert len(orders) == len(follows), "a follow without its order"
        assert all(n == 1 for n in on_exchange.values()), "an order placed twice"
        assert all(o[1] != "pending" for o in orders)
        placed = {o[0] for o in orders if o[1] != "rejected"}
        assert placed == set(on_exchange), f"local and exchange orders differ: {orders} / {on_exchange}"
        assert all(o[2].startswith("decision_expired") for o in orders if o[1] == "rejected")
    except BaseException:
        print(stack.logs())
        raise
    finally:
        stack.close()
