"""Real Celery workers (subprocesses) on the Redis broker and the test database,
placing orders on the simulator: duplicate deliveries, and a worker killed
between the exchange taking an order and our recording it."""

import os
import threading

import pytest
import redis
from django.db import connection

from tests.services import delete_own_redis_keys
from tests.trading.execution.conftest import make_whale
from tests.waiting import wait_for
from trading.models import Order, RiskAccount, WhaleDecision
from trading.tasks import place_order, process_whale

pytestmark = [pytest.mark.needs_postgres, pytest.mark.needs_redis, pytest.mark.django_db(transaction=True)]


def test_duplicate_task_places_one_order(simulator, celery_worker):
    celery_worker()
    _, _, ask, _ = simulator.best()
    whale = make_whale(simulator.ticker, yes_price=ask)

    results = [process_whale.delay(whale.pk) for _ in range(3)]

    decision_ids = {result.get(timeout=60) for result in results}
    assert decision_ids == {WhaleDecision.objects.get(whale=whale).pk}
    # The decision hands the order to the ``orders`` queue; wait for its fills.
    wait_for(lambda: Order.objects.get().filled_count == 500, what="the order's fills")
    assert Order.objects.get().status == Order.Status.EXECUTED
    assert len(simulator.orders()) == 1


def test_worker_killed_between_order_and_record_is_repaired_without_a_second_order(simulator, celery_worker):
    placed, release = threading.Event(), threading.Event()
    original = simulator.exchange.place_order

    def place_then_hang(**kwargs):
        order = original(**kwargs)
        placed.set()
        release.wait(30)  # the worker waits for an answer it will never read
        return order

    simulator.exchange.place_order = place_then_hang
    first = celery_worker()
    _, _, ask, _ = simulator.best()
    whale = make_whale(simulator.ticker, yes_price=ask)

    process_whale.delay(whale.pk)
    assert placed.wait(60), "the order never reached the exchange"
    first.kill()
    release.set()
    simulator.exchange.place_order = original

    order = Order.objects.get()
    assert order.status == Order.Status.PENDING and not order.exchange_order_id
    assert len(simulator.orders(order.client_order_id)) == 1

    # The next worker reconciles at start-up and finds the order by its client order id.
    RiskAccount.objects.update(reconciled_at=None)
    celery_worker(EXEC_PENDING_GRACE="0")
    wait_for(lambda: RiskAccount.objects.get().reconciled_at is not None, what="start-up reconciliation")
    order.refresh_from_db()
    assert order.status == Order.Status.EXECUTED and order.exchange_order_id and order.filled_count == 500

    # Redeliveries of the killed tasks change nothing.
    process_whale.delay(whale.pk).get(timeout=60)
    assert place_order.delay(order.pk).get(timeout=60) == Order.Status.EXECUTED
    assert len(simulator.orders()) == 1 and Order.objects.count() == 1


def test_worker_keeps_its_database_connection_and_replaces_one_a_restart_cut(simulator, celery_worker):
    celery_worker()
    first = make_whale(simulator.ticker, notional=1)  # skipped (below the threshold): no order to wait for
    assert process_whale.delay(first.pk).get(timeout=60) is not None
    with connection.cursor() as cursor:  # what a Postgres restart does to the worker's session
        cursor.execute(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()) AS cut"
        )
        assert cursor.fetchone()[0] >= 1, "the worker closed its connection after the task"
    second = make_whale(simulator.ticker, notional=1)
    assert process_whale.delay(second.pk).get(timeout=60) == WhaleDecision.objects.get(whale=second).pk


def test_celery_keys_stay_under_the_run_prefix_and_nothing_else_is_deleted(simulator, celery_worker):
    """The Redis database may be a developer's own: the run adds only prefixed keys, deletes only those."""
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.set("someone-else:data", "keep me")
    before = set(client.keys("*"))
    celery_worker()
    _, _, ask, _ = simulator.best()

    process_whale.delay(make_whale(simulator.ticker, yes_price=ask).pk).get(timeout=60)

    added = {key.decode() for key in set(client.keys("*")) - before}
    prefix = os.environ["REDIS_KEY_PREFIX"]
    assert added and all(key.startswith(prefix) for key in added), added
    assert delete_own_redis_keys() >= 1
    assert client.keys(f"{prefix}*") == []
    assert client.get("someone-else:data") == b"keep me"
    client.delete("someone-else:data")
