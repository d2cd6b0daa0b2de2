"""A real Celery worker (Redis broker) killed with SIGKILL while it places an order:
the placement runs again promptly, re-sends the same client order id, and the
follow is placed once (settings.CELERY_TASK_REJECT_ON_WORKER_LOST and
CELERY_BROKER_TRANSPORT_OPTIONS)."""

import os
import signal
import threading

import pytest

from tests.trading.execution.conftest import make_whale
from tests.waiting import wait_for
from trading.models import Order
from trading.tasks import process_whale

pytestmark = [pytest.mark.needs_postgres, pytest.mark.needs_redis, pytest.mark.django_db(transaction=True)]

# The settings promise a re-run within 55 s of a whole worker's death; the margin
# covers the second worker's start-up.
REDELIVERY_WAIT = 90.0


def hold_first_order(simulator) -> tuple[threading.Event, threading.Event]:
    """The exchange holds the first order request until ``release``, then loses it (as if
    the connection broke before it was taken): the killed worker's order never lands."""
    reached, release = threading.Event(), threading.Event()
    original = simulator.exchange.place_order

    def hold_then_lose(**kwargs):
        simulator.exchange.place_order = original
        reached.set()
        release.wait(30)
        raise ConnectionResetError("the request died with its client")

    simulator.exchange.place_order = hold_then_lose
    return reached, release


def follow_in_flight(simulator) -> threading.Event:
    """A follow decided by a worker, whose placement now waits on the exchange; set the
    returned event to let the exchange lose that request."""
    reached, release = hold_first_order(simulator)
    _, _, ask, _ = simulator.best()
    process_whale.delay(make_whale(simulator.ticker, yes_price=ask).pk)
    assert reached.wait(60), "the placement never reached the exchange"
    return release


def test_placement_killed_with_its_worker_runs_again_on_another_worker(simulator, celery_worker):
    first = celery_worker()
    release = follow_in_flight(simulator)

    first.kill()  # SIGKILL: its message stays unacked in Redis
    release.set()
    order = Order.objects.get()
    assert order.status == Order.Status.PENDING and simulator.orders() == []

    # Reconciliation must not be what repairs it here: only the redelivered task.
    celery_worker(EXEC_PENDING_GRACE="3600")
    wait_for(lambda: Order.objects.get().status != Order.Status.PENDING, REDELIVERY_WAIT, "the redelivered placement")
    order.refresh_from_db()
    assert order.status == Order.Status.EXECUTED and order.filled_count == 500
    assert len(simulator.orders(order.client_order_id)) == 1 and len(simulator.orders()) == 1


def test_placement_whose_pool_process_died_runs_again_at_once(simulator, celery_worker):
    worker = celery_worker(pool="prefork", EXEC_PENDING_GRACE="3600")
    release = follow_in_flight(simulator)

    os.kill(worker.pool_process(), signal.SIGKILL)
    release.set()

    # Well inside the visibility timeout: the worker itself put the message back.
    wait_for(lambda: Order.objects.get().status != Order.Status.PENDING, 40.0, "the requeued placement")
    order = Order.objects.get()
    assert order.status == Order.Status.EXECUTED and order.filled_count == 500
    assert len(simulator.orders()) == 1
