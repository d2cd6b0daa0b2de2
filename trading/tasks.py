"""Celery tasks: thin adapters that load ids, call a service and return.

Two queues: ``celery`` (the default) decides whales and reconciles; ``orders``
places follow orders. Deciding takes a few queries and one book read; placing
waits on the exchange and then records fills, so on one queue a whale's decision
would wait behind the previous whale's placement. A plain ``celery -A v3site
worker`` consumes both (settings.CELERY_TASK_QUEUES); production can run
``-Q celery`` and ``-Q orders`` pools apart.

``place_order`` is retried when the exchange could not be reached: the retry
resends the same client order id, so it can never make a second order. acks_late
(settings) means a task whose worker died is delivered again, within a minute
(settings.CELERY_BROKER_TRANSPORT_OPTIONS); both services are idempotent, so that
is safe.
"""

from celery import shared_task
from celery.signals import task_postrun, task_prerun, worker_ready
from django.conf import settings
from django.db import close_old_connections

from trading import retention
from trading.exchange import ExchangeError
from trading.execution import reconciliation, services
from trading.outcomes.services import fill_outcomes as fill_outcomes_now


@shared_task
def process_whale(whale_id: int) -> int | None:
    decision = services.process_whale(whale_id=whale_id, place=place_order.delay)
    return decision.pk if decision is not None else None


@shared_task(autoretry_for=(ExchangeError,), retry_backoff=1, retry_backoff_max=15, max_retries=5)
def place_order(order_id: int) -> str:
    order = services.execute_order(order_id=order_id)
    return order.status


@shared_task
def reconcile() -> int:
    report = reconciliation.reconcile()
    return len(report.changes)


@shared_task
def fill_outcomes() -> int:
    return fill_outcomes_now()


@shared_task
def prune_activity() -> int:
    return retention.prune_activity(keep_seconds=settings.RETENTION.activity_retention)


@worker_ready.connect
def reconcile_at_startup(**_kwargs: object) -> None:
    """A worker that starts (maybe after a crash) first brings local records in line with the exchange."""
    reconcile.delay()


@task_prerun.connect
@task_postrun.connect
def close_old_connections_around_tasks(sender: object = None, **_kwargs: object) -> None:
    """A task is a worker's request: Django's request-boundary check, so a kept connection
    (settings.CELERY_DB_REUSE_MAX stops Celery closing it) obeys CONN_MAX_AGE and one a
    Postgres restart broke is replaced (CONN_HEALTH_CHECKS). Not for eager tasks: they
    run inside their caller, maybe in its transaction."""
    if not getattr(getattr(sender, "request", None), "is_eager", False):
        close_old_connections()
